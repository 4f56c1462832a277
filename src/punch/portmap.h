/* portmap: ask the router for a mapping of the main socket's port before punching
 * (docs/punch.md "portmap"), with NAT-PMP (RFC 6886, Debian's libnatpmp) and then UPnP-IGD
 * (libminiupnpc). PCP (RFC 6887): Debian ships no client library, so punch does not speak it;
 * miniupnpd answers NAT-PMP on the same port.
 *
 * A mapping the router grants is endpoint-independent and unfiltered whatever the router's
 * NAT does for other flows: announced to the other peer next to the private endpoint, it is a
 * target that lets a symmetric NAT behave like a full cone for this one socket. */
#ifndef PUNCH_PORTMAP_H
#define PUNCH_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "opts.h"
#include "wire.h"

/* Bounds: a router that offers port mapping answers within a round trip on the LAN; one that
 * does not either refuses at once (ICMP port unreachable) or stays silent, and auto, which
 * asks every router, waits only AUTO_MS for it. */
#define PORTMAP_EXPLICIT_MS 1500
#define PORTMAP_AUTO_MS 250
#define PORTMAP_LIFETIME_S 3600

enum portmap_proto {
	PORTMAP_NONE,
	PORTMAP_NATPMP,
	PORTMAP_UPNP,
};

const char *portmap_proto_name(enum portmap_proto p);

/* Does this run ask for a mapping, and may it take UPnP's discovery time (UPnP waits for
 * SSDP answers whatever the router: only when portmap was asked for by name)? Pure. */
bool portmap_wanted(enum technique tech, int proto, int family, bool *try_upnp);

/* The endpoints to register (REGISTER's private list, at most max): the socket's own local
 * endpoint, then the mapped one when there is one and it differs. Returns the count. Pure. */
int portmap_announce(const struct sockaddr_storage *local, const struct sockaddr_storage *mapped,
		     struct wire_ep *out, int max);

/* The mapped endpoint from a public address (network order) and port (host order); -EINVAL
 * for the unspecified address or port 0 (a router that granted nothing). Pure. */
int portmap_endpoint(uint32_t addr_be, uint16_t port, struct sockaddr_storage *out);

/* Ask the default gateway to map port (UDP or TCP, proto) for timeout_ms at most: NAT-PMP,
 * then UPnP-IGD when try_upnp. Returns the protocol that granted it with *mapped set, or
 * PORTMAP_NONE with the reason in why. Blocks (registration waits for it). */
enum portmap_proto portmap_request(int proto, uint16_t port, bool try_upnp, int timeout_ms,
				   struct sockaddr_storage *mapped, char *why, size_t wlen);

#endif
