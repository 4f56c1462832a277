/* NAT64 address synthesis (RFC 6052) for a peer on an IPv6-only network: the rendezvous hands
 * it the other peer's IPv4 endpoints, which it cannot send to; through a NAT64 it reaches
 * them at the IPv4 address embedded in the NAT64's prefix (docs/punch.md "Through NAT64"). The
 * prefix is given (--nat64-prefix); RFC 7050's discovery needs a DNS64 resolver, which the
 * lab has not. */
#ifndef PUNCH_NAT64_H
#define PUNCH_NAT64_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

struct nat64_prefix {
	struct in6_addr addr;
	int len;                      /* 32, 40, 48, 56, 64 or 96; 0: none */
};

/* Parse "2001:db8:64::/96". The length must be one RFC 6052 section 2.2 has, and bits 64 to
 * 71 (the "u" octet) zero when the prefix covers them. Returns 0, or -EINVAL. */
int nat64_prefix_parse(const char *s, struct nat64_prefix *p);

/* The IPv6 endpoint for the IPv4 endpoint v4 through prefix p (RFC 6052 section 2.2: the
 * IPv4 address after the prefix, skipping bits 64 to 71; the suffix zero), port kept. */
void nat64_synthesize(const struct nat64_prefix *p, const struct sockaddr_storage *v4,
		      struct sockaddr_storage *out);

/* Whether this host has a route to the IPv4 address of v4 (a UDP connect(), which sends
 * nothing). An IPv6-only host has none: then, and only then, a peer synthesizes. */
bool nat64_ipv4_routed(const struct sockaddr_storage *v4);

#endif
