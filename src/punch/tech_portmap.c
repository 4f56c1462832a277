/* portmap: udp's punching, from a socket whose port the router mapped on request. The mapping
 * is asked for when registration begins (peer.c, portmap.h) and registered next to the private
 * endpoint, so the other peer probes the mapped endpoint too: it lets in whoever sends to it,
 * so one mapped side suffices even when both NATs are symmetric. */
#include "peer.h"

/* The punching is udp's own (tech_udp.c): what differs is the socket's mapped endpoint,
 * registered before any probe. */
const struct tech_ops tech_portmap_ops = {
	.id = TECH_PORTMAP,
	.start = tech_udp_start,
	.stop = tech_udp_stop,
};
