/* The address a peer is reached at from outside its home ({{NODE.reach}}, docs/engine-format.md):
 * what an engine without a rendezvous must aim at. It depends on what every NAT node on the
 * peer's way out does to addresses of the family (profile header key translation). */
#pragma once
#include "base/netaddr.h"
#include "lab/topo.h"
#include "nft/profile.h"

/* What each node does to addresses of one family: tr[n] for node n. A node that runs no
 * profile of that family (a router, an IPv4 NAT in an IPv6 cell) passes addresses on: none. */
struct reach_translations {
	enum profile_translation tr[TOPO_MAX_NODES];
};

/* The address host is reached at in family (AF_INET or AF_INET6): its own first address of the
 * family, then for each NAT node on its gateway chain: napt -> that node's WAN address of the
 * family (what its translated packets carry); none -> unchanged; prefix -> the same interface
 * identifier under the node's external prefix (the LAN link's other IPv6 prefix of the same
 * length, as nat-profiles/nptv6.nft rewrites it). Returns 0, or -ENOENT when host has no
 * address of the family or a NAT on its way has no WAN address (or external prefix) of it. */
int engine_reach(const struct topo *t, int host, int family, const struct reach_translations *x,
		 struct net_addr *out);

/* NAT64 (topology key nat64, docs/matrix.md "NAT64"): the prefix of the first NAT node on
 * host's gateway chain that runs a NAT64, when host has no IPv4 address of its own (an
 * IPv6-only host: one with IPv4 dials IPv4 itself and never needs the prefix). Returns 0, or
 * -ENOENT when host has IPv4 or no NAT64 on its way. */
int engine_nat64_prefix(const struct topo *t, int host, struct net_addr *out);

/* The IPv4 address v4 embedded in prefix (RFC 6052 section 2.2: after the prefix, skipping
 * bits 64 to 71, the suffix zero): the address an IPv6-only host reaches v4 at through the
 * NAT64. out is a /128. prefix's length must be one RFC 6052 has (the topology checked it). */
void engine_nat64_embed(const struct net_addr *prefix, const struct net_addr *v4,
			struct net_addr *out);

/* The IPv4 address embedded in v6 when v6 lies in prefix (engine_nat64_embed() undone).
 * Returns 0, or -ENOENT when v6 is not an IPv6 address under prefix. */
int engine_nat64_extract(const struct net_addr *prefix, const struct net_addr *v6,
			 struct net_addr *out);
