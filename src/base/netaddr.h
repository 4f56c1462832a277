/* An address with its prefix length, IPv4 or IPv6: the type the topology model declares and
 * the netlink layer configures, so it lives below both. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

struct net_addr {
	int family;          /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
	int prefix;
	int line;            /* the line of the file it was read from (0: none) */
};

/* Format "ADDR/PREFIX", or "ADDR" without with_prefix. buf needs INET6_ADDRSTRLEN + 4. */
char *net_addr_format(const struct net_addr *a, bool with_prefix, char *buf, size_t len);

/* Parse "ADDR/PREFIX" (IPv4 or IPv6). Returns 0 or -EINVAL with why in *why. */
int net_addr_parse(const char *s, struct net_addr *a, const char **why);

/* The network of an address ("10.0.1.0/24") into buf. */
char *net_addr_network(const struct net_addr *a, char *buf, size_t len);
