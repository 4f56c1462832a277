/* What the attestation needs from a lab (attest.h): each peer's gateway node's conntrack, the
 * addresses of both families of the peers, of what stands between them and of the relay, and
 * the endpoints the engine reported; then the pure attest_path(). */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "ct/conntrack.h"
#include "engine/reach.h"
#include "lab/lab.h"
#include "lab/nat64.h"
#include "matrix/attest.h"

void attest_lab_read(const struct lab *lab, struct ct_mappings *flows)
{
	const struct topo *t = lab_topo(lab);

	for (int n = 0; n < t->nnodes; n++) {
		struct mnl_socket *nl;

		if (t->nodes[n].kind != NODE_NAT)
			continue;
		nl = ct_socket_open(lab_node_netns(lab, n));
		if (!nl)
			continue;
		/* both families, translated or not: an IPv6 cell's flows, a firewall's flows */
		ct_dump_flows(nl, AF_UNSPEC, &flows[n]);
		ct_socket_close(nl);
	}
}

/* Every address of a node, of both families, on every link it has. */
static void add_node_addrs(const struct topo *t, int node, struct net_addr *set, int *n)
{
	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];
		int e = topo_link_end_of(l, node);

		for (int a = 0; e >= 0 && a < l->ends[e].naddrs && *n < ATTEST_MAX_ADDRS; a++) {
			set[*n] = l->ends[e].addrs[a];
			set[*n].line = 0;
			(*n)++;
		}
	}
}

/* The addresses host may show outside through NPTv6 (nat-profiles/nptv6.nft) in the router
 * nat (attest.h). For a router that does not translate prefixes they are addresses nobody
 * uses: harmless. */
void attest_nptv6_addrs(const struct topo *t, int host, int nat, struct net_addr *set, int *n)
{
	const struct topo_node *nd = &t->nodes[nat];
	const struct topo_end *lan;

	if (nd->kind != NODE_NAT || nd->lan_link < 0)
		return;
	lan = &t->links[nd->lan_link].ends[nd->lan_end];
	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], host);

		for (int a = 0; e >= 0 && a < t->links[li].ends[e].naddrs; a++) {
			const struct net_addr *h = &t->links[li].ends[e].addrs[a];

			for (int k = 0; h->family == AF_INET6 && k < lan->naddrs; k++) {
				const struct net_addr *x = &lan->addrs[k];
				struct net_addr ext = *h;

				if (x->family != AF_INET6 || x->prefix != h->prefix || x->prefix % 8 ||
				    memcmp(&x->a.v6, &h->a.v6, (size_t)x->prefix / 8) == 0 ||
				    *n >= ATTEST_MAX_ADDRS)
					continue;
				memcpy(&ext.a.v6, &x->a.v6, (size_t)x->prefix / 8);
				ext.line = 0;
				set[(*n)++] = ext;
			}
		}
	}
}

void attest_nat64_addrs(const struct topo *t, int host, int node, struct net_addr *set, int *n)
{
	struct net_addr p;

	if (node < 0 || engine_nat64_prefix(t, host, &p) < 0)
		return;
	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], node);

		for (int a = 0; e >= 0 && a < t->links[li].ends[e].naddrs; a++)
			if (t->links[li].ends[e].addrs[a].family == AF_INET &&
			    *n < ATTEST_MAX_ADDRS)
				engine_nat64_embed(&p, &t->links[li].ends[e].addrs[a],
						   &set[(*n)++]);
	}
}

/* What the peer `self`'s NAT may see of the other peer: the other host and every NAT on its way
 * out, except this peer's own NAT (in same-nat the one NAT's own addresses prove nothing: the
 * flow must reach the other host). Routers and servers are never the other side. */
static void other_side(const struct topo *t, int self, int other, int own_nat,
		       struct attest_side *s)
{
	for (int n = other, guard = 0; n >= 0 && guard < t->nnodes;
	     n = t->nodes[n].gateway, guard++) {
		enum node_kind k = t->nodes[n].kind;
		if ((k == NODE_HOST || k == NODE_NAT) && n != own_nat && n != self)
			add_node_addrs(t, n, s->other, &s->nother);
		/* the other host behind an NPTv6 router shows its external address */
		if (k == NODE_NAT && n != own_nat)
			attest_nptv6_addrs(t, other, n, s->other, &s->nother);
		/* an IPv6-only peer behind NAT64 aims at the other side's IPv4 addresses embedded
		 * in the prefix: its NAT holds that IPv6 flow, before tayga (whose IPv4 flow from
		 * the pool follows it, stateless, one for one) */
		if ((k == NODE_HOST || k == NODE_NAT) && n != own_nat && n != self)
			attest_nat64_addrs(t, self, n, s->other, &s->nother);
	}
}

/* The engine's word on this side's path, when it names endpoints we can read: the peer
 * endpoint, and the local address when it is one of the host's (an unspecified or foreign one
 * narrows nothing). */
static void claim(struct attest_side *s, const char *local, const char *peer)
{
	struct net_addr l;
	uint16_t port;

	if (!peer || attest_endpoint_parse(peer, &s->claimed_peer, &s->claimed_peer_port) < 0)
		return;
	s->claimed = true;
	if (!local || attest_endpoint_parse(local, &l, &port) < 0 ||
	    l.family != s->claimed_peer.family)
		return;
	for (int i = 0; i < s->nhost; i++)
		if (s->host[i].family == l.family &&
		    memcmp(&s->host[i].a, &l.a, l.family == AF_INET6 ? 16 : 4) == 0)
			s->claimed_local = l;
}

/* An IPv6-only peer behind NAT64: its NAT holds its flows as tayga makes them, IPv4 from the
 * pool (conntrack follows IPv6 in that node only when an IPv6 ruleset asks for it, and its
 * profile is IPv4), translated to the node's WAN address by the profile. So the pool sources of
 * those flows are the peer's own (only IPv6 hosts behind the node reach the pool), and the
 * endpoint it claims, the other peer's address embedded in the prefix, is the IPv4 one inside
 * (tayga keeps ports); its IPv6 local address then narrows nothing. */
static void nat64_side(const struct topo *t, int peer, struct attest_side *s)
{
	struct net_addr p, pool, v4;
	uint32_t mask;

	if (engine_nat64_prefix(t, peer, &p) < 0)
		return;
	lab_nat64_pool(&pool);
	mask = pool.prefix ? htonl(~0u << (32 - pool.prefix)) : 0;
	for (size_t i = 0; s->flows && i < s->flows->n; i++) {
		const struct ct_mapping *m = &s->flows->v[i];
		struct net_addr src = { .family = AF_INET, .a.v4 = m->orig_src, .prefix = 32 };
		bool known = false;

		if (m->family != AF_INET ||
		    (m->orig_src.s_addr & mask) != (pool.a.v4.s_addr & mask))
			continue;
		for (int k = 0; k < s->nhost; k++)
			known |= s->host[k].family == AF_INET &&
				 s->host[k].a.v4.s_addr == src.a.v4.s_addr;
		if (!known && s->nhost < ATTEST_MAX_ADDRS)
			s->host[s->nhost++] = src;
	}
	if (s->claimed && engine_nat64_extract(&p, &s->claimed_peer, &v4) == 0) {
		s->claimed_peer = v4;
		memset(&s->claimed_local, 0, sizeof(s->claimed_local));
	}
}

void attest_topo_input(const struct topo *t, uint8_t proto, const struct ct_mappings *flows,
		       const struct attest_report said[2], struct attest_input *out)
{
	struct attest_input in = { .proto = proto };
	int peers[2] = { t->roles[ROLE_PEER_A], t->roles[ROLE_PEER_B] };

	for (int i = 0; i < 2; i++) {
		struct attest_side *s = &in.side[i];
		int gw = peers[i] >= 0 ? t->nodes[peers[i]].gateway : -1;

		if (peers[i] < 0)
			continue;
		add_node_addrs(t, peers[i], s->host, &s->nhost);
		if (gw >= 0 && t->nodes[gw].kind == NODE_NAT) {
			s->nat_name = t->nodes[gw].name;
			s->flows = &flows[gw];
		}
		if (peers[1 - i] >= 0)
			other_side(t, peers[i], peers[1 - i], gw, s);
		if (said) {
			s->proto = said[i].proto;
			claim(s, said[i].local, said[i].peer);
		}
		nat64_side(t, peers[i], s);
	}
	if (t->roles[ROLE_RENDEZVOUS] >= 0)
		add_node_addrs(t, t->roles[ROLE_RENDEZVOUS], in.relay, &in.nrelay);
	/* the relay as an IPv6-only peer behind NAT64 reaches it: a relayed path stays relayed */
	for (int i = 0; i < 2; i++)
		if (peers[i] >= 0)
			attest_nat64_addrs(t, peers[i], t->roles[ROLE_RENDEZVOUS], in.relay,
					   &in.nrelay);
	*out = in;
}

void attest_lab(const struct lab *lab, uint8_t proto, const struct ct_mappings *flows,
		const struct attest_report said[2], struct run_attestation *out)
{
	struct attest_input in;

	attest_topo_input(lab_topo(lab), proto, flows, said, &in);
	attest_path(&in, out);
}
