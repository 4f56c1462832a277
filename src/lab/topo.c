/* Pure helpers of the topology model (no I/O, no kernel). */
#include "lab/topo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
	[NODE_HOST] = "host", [NODE_NAT] = "nat", [NODE_INET] = "inet", [NODE_SERVER] = "server",
};

static const char *const role_names[] = {
	[ROLE_PEER_A] = "peer-a", [ROLE_PEER_B] = "peer-b", [ROLE_NAT_A] = "nat-a",
	[ROLE_NAT_B] = "nat-b", [ROLE_RENDEZVOUS] = "rendezvous",
};

const char *topo_kind_name(enum node_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

const char *topo_role_name(enum topo_role r)
{
	return (unsigned)r < ROLE_COUNT ? role_names[r] : "?";
}

int topo_node_find(const struct topo *t, const char *name)
{
	for (int i = 0; i < t->nnodes; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return i;
	return -1;
}

int topo_link_end_of(const struct topo_link *l, int n)
{
	for (int e = 0; e < l->nends; e++)
		if (l->ends[e].node == n)
			return e;
	return -1;
}

const char *topo_end_ifname(const struct topo_link *l, int end)
{
	if (end == 0 && l->nends > 2)
		return l->bridge;
	return l->ends[end].ifname;
}

const struct net_addr *topo_end_addr(const struct topo_end *e, int family)
{
	for (int i = 0; i < e->naddrs; i++)
		if (e->addrs[i].family == family)
			return &e->addrs[i];
	return NULL;
}

/* A link is private when a NAT node sits on it on any side but its WAN. */
static bool link_private(const struct topo *t, int link)
{
	for (int n = 0; n < t->nnodes; n++)
		if (t->nodes[n].kind == NODE_NAT && t->nodes[n].wan_link != link &&
		    topo_link_end_of(&t->links[link], n) >= 0)
			return true;
	return false;
}

bool topo_expect_reachable(const struct topo *t, int from, int link)
{
	int cur = from;

	for (int steps = 0; cur >= 0 && steps <= t->nnodes; steps++) {
		if (topo_link_end_of(&t->links[link], cur) >= 0)
			return true;
		cur = t->nodes[cur].gateway;
	}
	return !link_private(t, link);
}

bool topo_expect_reachable_end(const struct topo *t, int from, int link, int end)
{
	const struct topo_link *l = &t->links[link];

	/* Members of an isolated LAN: the lab drops what they send each other unless the hub
	 * translated it, and a probe to a member's own address is never translated. */
	if (l->isolate && end > 0 && topo_link_end_of(l, from) > 0 && l->ends[end].node != from)
		return false;
	return topo_expect_reachable(t, from, link);
}
