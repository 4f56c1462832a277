/* Whether a NAT node's addressing fits what its profile does to addresses (header key
 * translation, docs/profile-format.md): a firewall that translates nothing needs a home on
 * addresses the internet routes to it, NPTv6 needs an external prefix beside the internal one.
 * Without this check both build fine and fail later as a cell that never connects. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab_internal.h"
#include "nft/profile.h"

bool lab_addr_v4_private(const struct net_addr *a)
{
	uint32_t h = ntohl(a->a.v4.s_addr);

	return (h >> 24) == 10 || (h >> 20) == (172u << 4 | 1) || (h >> 16) == (192u << 8 | 168) ||
	       (h >> 22) == (100u << 2 | 1);
}

/* The number of distinct IPv6 prefixes among the end's addresses. */
static int v6_prefixes(const struct topo_end *e)
{
	int n = 0;

	for (int i = 0; i < e->naddrs; i++) {
		char a[64], b[64];
		bool seen = false;

		if (e->addrs[i].family != AF_INET6)
			continue;
		net_addr_network(&e->addrs[i], a, sizeof(a));
		for (int k = 0; k < i && !seen; k++)
			seen = e->addrs[k].family == AF_INET6 &&
			       strcmp(net_addr_network(&e->addrs[k], b, sizeof(b)), a) == 0;
		n += !seen;
	}
	return n;
}

int lab_translation_check(const struct topo *t, int n, const char *profile, const char *file,
			  int line, struct diag_list *dl)
{
	const struct topo_node *node = &t->nodes[n];
	struct diag_list *scratch = calloc(1, sizeof(*scratch));
	const struct topo_end *lan;
	const struct net_addr *a;
	struct profile_header h;
	char net[64];
	int ok;

	/* a header that does not parse is left to whoever reads it (as profile_family_check) */
	ok = scratch && profile_header_parse_file(&h, profile, scratch) == 0;
	free(scratch);
	if (!ok || node->lan_link < 0 || h.translation == PROFILE_TRANSLATION_NAPT)
		return 0;
	lan = &t->links[node->lan_link].ends[node->lan_end];
	if (h.translation == PROFILE_TRANSLATION_NONE && h.family == PROFILE_FAMILY_IPV4) {
		a = topo_end_addr(lan, AF_INET);
		if (!a || !lab_addr_v4_private(a))
			return 0;
		return diag_add(dl, file, line, "node \"%s\": profile %s translates nothing (header "
				"\"translation: none\") but its LAN %s is private address space that "
				"no router routes to it: expected a LAN on public addresses (e.g. "
				"topologies/two-firewalls.yaml) or a profile that translates",
				node->name, profile, net_addr_network(a, net, sizeof(net)));
	}
	if (h.translation == PROFILE_TRANSLATION_PREFIX && v6_prefixes(lan) < 2) {
		a = topo_end_addr(lan, AF_INET6);
		return diag_add(dl, file, line, "node \"%s\": profile %s translates its LAN prefix "
				"(header \"translation: prefix\") but its LAN link has one IPv6 prefix "
				"(%s): expected a second IPv6 address on the node's LAN link, in the "
				"external prefix the internet router then routes to it (e.g. "
				"topologies/two-nats-dual.yaml)", node->name, profile,
				a ? net_addr_network(a, net, sizeof(net)) : "none");
	}
	return 0;
}
