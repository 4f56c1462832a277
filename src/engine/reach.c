/* {{NODE.reach}} (reach.h): pure, from the topology and what each node's profile says it does
 * to addresses, so the unit tests check it without a lab. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/reach.h"

/* The host's first address of the family, in link order (what NODE.addr is). */
static int own_addr(const struct topo *t, int node, int family, struct net_addr *out)
{
	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], node);

		for (int a = 0; e >= 0 && a < t->links[li].ends[e].naddrs; a++)
			if (t->links[li].ends[e].addrs[a].family == family) {
				*out = t->links[li].ends[e].addrs[a];
				return 0;
			}
	}
	return -ENOENT;
}

/* NPTv6: addr's prefix replaced by the LAN link's other prefix of the same length (the
 * external one the internet routes to the node; lab_translation_check() made sure there is
 * one). Prefixes on byte boundaries only, as attest_nptv6_addrs() assumes. */
static int prefix_translate(const struct topo *t, int nat, struct net_addr *addr)
{
	const struct topo_node *nd = &t->nodes[nat];
	const struct topo_end *lan;

	if (nd->lan_link < 0 || addr->family != AF_INET6)
		return -ENOENT;
	lan = &t->links[nd->lan_link].ends[nd->lan_end];
	for (int k = 0; k < lan->naddrs; k++) {
		const struct net_addr *x = &lan->addrs[k];

		if (x->family != AF_INET6 || x->prefix != addr->prefix || x->prefix % 8 ||
		    memcmp(&x->a.v6, &addr->a.v6, (size_t)x->prefix / 8) == 0)
			continue;
		memcpy(&addr->a.v6, &x->a.v6, (size_t)x->prefix / 8);
		return 0;
	}
	return -ENOENT;
}

int engine_reach(const struct topo *t, int host, int family, const struct reach_translations *x,
		 struct net_addr *out)
{
	struct net_addr addr;

	if (host < 0 || host >= t->nnodes || own_addr(t, host, family, &addr) < 0)
		return -ENOENT;
	/* bounded by the node count: a gateway loop cannot hold us */
	for (int n = t->nodes[host].gateway, guard = 0; n >= 0 && guard < t->nnodes;
	     n = t->nodes[n].gateway, guard++) {
		const struct topo_node *nd = &t->nodes[n];
		const struct net_addr *wan;

		if (nd->kind != NODE_NAT)
			continue;
		switch (x->tr[n]) {
		case PROFILE_TRANSLATION_NAPT:
			wan = nd->wan_link >= 0 ? topo_end_addr(&t->links[nd->wan_link]
									 .ends[nd->wan_end], family)
						: NULL;
			if (!wan)
				return -ENOENT;
			addr = *wan;
			break;
		case PROFILE_TRANSLATION_PREFIX:
			if (prefix_translate(t, n, &addr) < 0)
				return -ENOENT;
			break;
		case PROFILE_TRANSLATION_NONE:
			break;
		}
	}
	addr.line = 0;
	*out = addr;
	return 0;
}

int engine_nat64_prefix(const struct topo *t, int host, struct net_addr *out)
{
	struct net_addr v4;

	if (host < 0 || host >= t->nnodes || own_addr(t, host, AF_INET, &v4) == 0)
		return -ENOENT;
	for (int n = t->nodes[host].gateway, guard = 0; n >= 0 && guard < t->nnodes;
	     n = t->nodes[n].gateway, guard++)
		if (t->nodes[n].kind == NODE_NAT && t->nodes[n].nat64.family == AF_INET6) {
			*out = t->nodes[n].nat64;
			out->line = 0;
			return 0;
		}
	return -ENOENT;
}

void engine_nat64_embed(const struct net_addr *prefix, const struct net_addr *v4,
			struct net_addr *out)
{
	const uint8_t *b = (const uint8_t *)&v4->a.v4;
	int at = prefix->prefix / 8;

	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	out->prefix = 128;
	memcpy(&out->a.v6, &prefix->a.v6, (size_t)at);
	for (int i = 0; i < 4 && at < 16; i++, at++) {
		if (at == 8)
			at++; /* bits 64-71 (the "u" octet) stay zero */
		out->a.v6.s6_addr[at] = b[i];
	}
}

int engine_nat64_extract(const struct net_addr *prefix, const struct net_addr *v6,
			 struct net_addr *out)
{
	uint8_t *b = (uint8_t *)&out->a.v4;
	int at = prefix->prefix / 8;

	if (v6->family != AF_INET6 || prefix->family != AF_INET6 ||
	    memcmp(&v6->a.v6, &prefix->a.v6, (size_t)at) != 0)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	out->prefix = 32;
	for (int i = 0; i < 4 && at < 16; i++, at++) {
		if (at == 8)
			at++;
		b[i] = v6->a.v6.s6_addr[at];
	}
	return 0;
}
