/* portmap: udp's punching, from a socket whose port the router mapped on request. The mapping
 * is asked for when registration begins (peer.c, portmap.h) and registered next to the private
 * endpoint, so the other peer probes the mapped endpoint too: it lets in whoever sends to it,
 * so one mapped side suffices even when both NATs are symmetric. */
#include "peer.h"

static int portmap_start(struct peer *p)
{
	struct sockaddr_storage t[1 + WIRE_MAX_EPS];
	int n = peer_targets(p, t), i;

	for (i = 0; i < n; i++)
		peer_cand_add(p, p->socks[0], &t[i], false, false);
	peer_probe_schedule_start(p);
	return 0;
}

static void portmap_stop(struct peer *p)
{
	peer_cands_clear(p);
}

const struct tech_ops tech_portmap_ops = {
	.id = TECH_PORTMAP,
	.start = portmap_start,
	.stop = portmap_stop,
};
