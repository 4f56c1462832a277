/* Topology files: YAML (libyaml's document API, for line numbers) into struct topo, then every
 * semantic check, all before anything is created. Format: docs/topology-format.md.
 *
 * Errors are collected, not returned at the first one, so a user fixes a file in one pass: a
 * mistake in one part does not stop the checks of the others. What a mistake left unknown (a
 * node's kind, an address, which nodes a broken link joins, a role) is remembered, and the
 * checks that would need it are skipped, so one mistake gives one error, not a cascade. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/yaml_doc.h"

#include "lab/topo.h"

/* The parser's state; y comes first so that the yaml_doc callbacks' context is the parse. */
struct parse {
	struct yaml_ctx y;
	struct topo *t;
	struct diag_list *dl;
	const char *file;
	/* what earlier mistakes left unknown (see the top of this file) */
	bool kind_unknown[TOPO_MAX_NODES];
	bool addr_unknown[TOPO_MAX_NODES]; /* an address of this node did not parse */
	bool key_unknown[TOPO_MAX_NODES];  /* a misspelt key: perhaps its gateway */
	bool links_unknown;                /* a link whose ends are not all known */
	bool role_given[ROLE_COUNT];       /* named in roles:, even if wrongly */
	bool roles_unknown;                /* a role name that is none of ours */
	const char *rejected[32];          /* node names refused (invalid, one too many): a */
	int nrejected;                     /* reference to one is no mistake of its own */
};

#define P(yc) ((struct parse *)(yc))
#define line_of yaml_line
#define scalar yaml_scalar
#define ERR(p, n, ...) diag_add((p)->dl, (p)->file, line_of(n), __VA_ARGS__)

static yaml_node_t *node_at(struct parse *p, int id)
{
	return yaml_node_at(&p->y, id);
}

static void for_each_pair(struct parse *p, yaml_node_t *map, const char *what, yaml_pair_fn fn,
			  void *arg)
{
	yaml_for_each_pair(&p->y, map, what, fn, arg);
}

static bool name_rejected(const struct parse *p, const char *name)
{
	for (int i = 0; i < p->nrejected; i++)
		if (strcmp(p->rejected[i], name) == 0)
			return true;
	return false;
}

static void name_reject(struct parse *p, const char *name)
{
	if (p->nrejected < (int)(sizeof(p->rejected) / sizeof(p->rejected[0])))
		p->rejected[p->nrejected++] = name;
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TOPO_NODE_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int kind_parse(const char *s, enum node_kind *k)
{
	for (int i = NODE_HOST; i <= NODE_SERVER; i++)
		if (strcmp(s, topo_kind_name(i)) == 0) {
			*k = i;
			return 0;
		}
	return -EINVAL;
}

/* --- nodes ------------------------------------------------------------------------------ */

struct node_pending {
	const char *gateway; /* resolved after all nodes are known */
	int gateway_line;
};

struct node_ctx {
	struct topo_node *node;
	struct node_pending *pend;
	bool has_kind;
};

static void node_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
		 yaml_node_t *v, void *arg)
{
	struct parse *p = P(yc);
	struct node_ctx *c = arg;
	const char *val = scalar(v);

	if (!val || !*val) {
		ERR(p, v, "node \"%s\": %s needs a single value, expected %s: WORD",
		    c->node->name, key, key);
		if (strcmp(key, "kind") == 0) {
			c->has_kind = true;
			p->kind_unknown[c->node - p->t->nodes] = true;
		}
		return;
	}
	if (strcmp(key, "kind") == 0) {
		c->has_kind = true;
		if (kind_parse(val, &c->node->kind) < 0) {
			p->kind_unknown[c->node - p->t->nodes] = true;
			ERR(p, v, "node \"%s\": unknown kind \"%s\", expected host, nat, inet or server",
			    c->node->name, val);
		}
	} else if (strcmp(key, "gateway") == 0) {
		c->pend->gateway = val;
		c->pend->gateway_line = line_of(v);
	} else if (strcmp(key, "profile") == 0) {
		snprintf(c->node->profile, sizeof(c->node->profile), "%s", val);
	} else if (strcmp(key, "nat64") == 0) {
		struct net_addr a;
		const char *why = NULL;
		int l;

		c->node->nat64_line = line_of(v);
		/* RFC 6052 section 2.2: the prefix lengths an IPv4 address can be embedded at */
		if (net_addr_parse(val, &a, &why) < 0 || a.family != AF_INET6 ||
		    ((l = a.prefix) != 32 && l != 40 && l != 48 && l != 56 && l != 64 && l != 96))
			ERR(p, v, "node \"%s\": nat64 \"%s\"%s%s, expected an IPv6 prefix of length "
			    "32, 40, 48, 56, 64 or 96 (RFC 6052), e.g. 2001:db8:64::/96", c->node->name,
			    val, why ? ": " : "", why ? why : "");
		else
			c->node->nat64 = a;
	} else {
		ERR(p, k, "node \"%s\": unknown key \"%s\", expected kind, gateway or profile "
		    "(nat nodes: also nat64)", c->node->name, key);
		p->key_unknown[c->node - p->t->nodes] = true;
	}
}

static void node_entry(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
		 yaml_node_t *v, void *arg)
{
	struct parse *p = P(yc);
	struct node_pending *pend = arg;
	struct topo *t = p->t;
	struct topo_node *n;
	struct node_ctx c;

	if (!name_valid(key)) {
		ERR(p, k, "node name \"%s\" is not valid, expected 1-%d characters of a-z, 0-9 and "
		    "inner dashes", key, TOPO_NODE_NAME_MAX);
		name_reject(p, key);
		return;
	}
	if (t->nnodes >= TOPO_MAX_NODES) {
		ERR(p, k, "too many nodes, expected at most %d", TOPO_MAX_NODES);
		name_reject(p, key);
		return;
	}
	n = &t->nodes[t->nnodes];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", key);
	n->gateway = -1;
	n->wan_link = n->lan_link = -1;
	n->line = line_of(k);
	c = (struct node_ctx){ .node = n, .pend = &pend[t->nnodes] };
	memset(c.pend, 0, sizeof(*c.pend));
	t->nnodes++;
	for_each_pair(p, v, "a node", node_attr, &c);
	if (!c.has_kind) {
		p->kind_unknown[t->nnodes - 1] = true;
		if (v && v->type == YAML_MAPPING_NODE)
			ERR(p, k, "node \"%s\" has no kind, expected kind: host, nat, inet or server",
			    key);
	}
}

/* --- links ------------------------------------------------------------------------------ */

static void end_addr(struct parse *p, struct topo_end *e, yaml_node_t *v, const char *node)
{
	const char *s = scalar(v), *why;

	if (!s) {
		ERR(p, v, "link end \"%s\": not an address, expected ADDR/PREFIX", node);
		goto unknown;
	}
	if (e->naddrs >= TOPO_MAX_ADDRS) {
		ERR(p, v, "link end \"%s\": too many addresses, expected at most %d", node,
		    TOPO_MAX_ADDRS);
		goto unknown;
	}
	if (net_addr_parse(s, &e->addrs[e->naddrs], &why) < 0) {
		ERR(p, v, "bad address \"%s\" (%s), expected ADDR/PREFIX such as 10.0.1.1/24", s,
		    why);
		goto unknown;
	}
	e->addrs[e->naddrs++].line = line_of(v);
	return;
unknown:
	p->addr_unknown[e->node] = true;
}

static void link_end(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
		 yaml_node_t *v, void *arg)
{
	struct parse *p = P(yc);
	struct topo_link *l = arg;
	struct topo_end *e;
	int n = topo_node_find(p->t, key);

	if (n < 0) {
		if (!name_rejected(p, key))
			ERR(p, k, "link to unknown node \"%s\", expected a node declared under nodes:",
			    key);
		p->links_unknown = true;
		return;
	}
	if (l->nends >= TOPO_MAX_ENDS) {
		ERR(p, k, "link has too many ends, expected at most %d", TOPO_MAX_ENDS);
		p->links_unknown = true;
		return;
	}
	e = &l->ends[l->nends++];
	memset(e, 0, sizeof(*e));
	e->node = n;
	e->line = line_of(k);
	if (v->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
		     i++)
			end_addr(p, e, node_at(p, *i), key);
	} else if (v->type == YAML_SCALAR_NODE && *scalar(v)) {
		end_addr(p, e, v, key);
	} else if (v->type != YAML_SCALAR_NODE) {
		ERR(p, v, "link end \"%s\": expected an address or a list of addresses", key);
		p->addr_unknown[n] = true;
	}
}

static void link_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
		 yaml_node_t *v, void *arg)
{
	struct parse *p = P(yc);
	struct topo_link *l = arg;

	if (strcmp(key, "ends") == 0) {
		for_each_pair(p, v, "ends", link_end, l);
	} else if (strcmp(key, "isolate") == 0) {
		const char *val = scalar(v);

		l->isolate_line = line_of(v);
		if (val && (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0))
			l->isolate = true;
		else if (!val || (strcmp(val, "no") != 0 && strcmp(val, "false") != 0))
			ERR(p, v, "link: isolate: unknown value \"%s\", expected yes or no",
			    val ? val : "");
	} else if (strcmp(key, "impair") == 0) {
		char why[256];

		l->impair_line = line_of(v);
		if (!scalar(v) || impair_spec_parse(scalar(v), &l->impair, why, sizeof(why)) < 0)
			ERR(p, v, "link: impair: %s", scalar(v) ? why : "expected a spec such as "
			    "\"delay 40ms jitter 5ms loss 2%\"");
	} else {
		ERR(p, k, "link: unknown key \"%s\", expected ends, isolate or impair", key);
		p->links_unknown = true;
	}
}

static void links_parse(struct parse *p, yaml_node_t *seq)
{
	struct topo *t = p->t;

	if (!seq || seq->type != YAML_SEQUENCE_NODE) {
		ERR(p, seq, "links must be a list, expected lines starting with -");
		p->links_unknown = true;
		return;
	}
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = node_at(p, *i);
		bool before = p->links_unknown;
		struct topo_link *l;

		if (t->nlinks >= TOPO_MAX_LINKS) {
			ERR(p, item, "too many links, expected at most %d", TOPO_MAX_LINKS);
			p->links_unknown = true;
			return;
		}
		l = &t->links[t->nlinks++];
		memset(l, 0, sizeof(*l));
		l->line = line_of(item);
		p->links_unknown = false;
		for_each_pair(p, item, "a link", link_attr, l);
		/* after an error in this link's ends, their count is that error's consequence */
		if (l->nends < 2 && !p->links_unknown)
			ERR(p, item, "link has %d end(s), expected at least two nodes under ends:",
			    l->nends);
		p->links_unknown = before || p->links_unknown || l->nends < 2;
		if (l->impair.active && l->nends > 2)
			diag_add(p->dl, p->file, l->impair_line, "link: impair: on a LAN of %d ends, "
				 "expected a link of two ends (a veth pair)",
				 l->nends);
		for (int a = 0; a < l->nends; a++)
			for (int b = 0; b < a; b++)
				if (l->ends[a].node == l->ends[b].node)
					ERR(p, item, "link lists node \"%s\" twice, expected distinct nodes",
					    t->nodes[l->ends[a].node].name);
	}
}

/* --- roles ------------------------------------------------------------------------------ */

static void role_entry(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
		 yaml_node_t *v, void *arg)
{
	struct parse *p = P(yc);
	static const enum node_kind want[ROLE_COUNT] = {
		[ROLE_PEER_A] = NODE_HOST, [ROLE_PEER_B] = NODE_HOST, [ROLE_NAT_A] = NODE_NAT,
		[ROLE_NAT_B] = NODE_NAT, [ROLE_RENDEZVOUS] = NODE_SERVER,
	};
	const char *val = scalar(v);
	int r, n;

	(void)arg;
	for (r = 0; r < ROLE_COUNT; r++)
		if (strcmp(key, topo_role_name(r)) == 0)
			break;
	if (r == ROLE_COUNT) {
		ERR(p, k, "unknown role \"%s\", expected peer-a, peer-b, nat-a, nat-b or rendezvous",
		    key);
		p->roles_unknown = true;
		return;
	}
	p->role_given[r] = true;
	n = val ? topo_node_find(p->t, val) : -1;
	if (n < 0 && val && name_rejected(p, val))
		return;
	if (n < 0) {
		ERR(p, v, "role %s names unknown node \"%s\", expected a node declared under nodes:",
		    key, val ? val : "");
		return;
	}
	if (p->kind_unknown[n])
		return; /* its kind's error is the one to fix */
	if (p->t->nodes[n].kind != want[r]) {
		ERR(p, v, "role %s is node \"%s\" of kind %s, expected a %s node", key, val,
		    topo_kind_name(p->t->nodes[n].kind), topo_kind_name(want[r]));
		return;
	}
	p->t->roles[r] = n;
}

/* --- semantic checks --------------------------------------------------------------------- */

/* Addresses this machine or the brief keep out of the lab: the host's own networks. */
static const char *addr_forbidden(const struct net_addr *a)
{
	const uint8_t *b = (const uint8_t *)&a->a;

	if (a->family == AF_INET) {
		if (b[0] == 192 && b[1] == 0 && b[2] == 2)
			return "192.0.2.0/24 is this machine's own network, expected 198.51.100.0/24 "
			       "or 203.0.113.0/24 for the public side";
		if (b[0] == 127 || b[0] == 0 || b[0] >= 224)
			return "loopback, zero and multicast/reserved addresses cannot be a node's, "
			       "expected a unicast address";
	} else {
		static const uint8_t fd00[8] = { 0xfd };
		if (memcmp(b, fd00, 8) == 0)
			return "fd00::/64 is this machine's own network, expected 2001:db8::/32";
		if (b[0] == 0xff)
			return "multicast addresses cannot be a node's, expected a unicast address";
	}
	return NULL;
}

/* An IPv4 address that is its subnet's network or broadcast address. */
static bool v4_not_a_host(const struct net_addr *a)
{
	uint32_t x = ntohl(a->a.v4.s_addr), host_mask;

	if (a->prefix >= 31)
		return false;
	host_mask = (1u << (32 - a->prefix)) - 1;
	return (x & host_mask) == 0 || (x & host_mask) == host_mask;
}

static bool same_subnet(const struct net_addr *x, const struct net_addr *y)
{
	char a[64], b[64];

	if (x->family != y->family || x->prefix != y->prefix)
		return false;
	return strcmp(net_addr_network(x, a, sizeof(a)), net_addr_network(y, b, sizeof(b))) == 0;
}

static int shared_link(const struct topo *t, int a, int b);

/* The nat node that link li is a LAN of (the link is on one of its ends and is not the link to
 * its gateway), -1 when none: the link is then on the public side of every NAT. */
static int link_lan_of(const struct parse *p, const struct node_pending *pend, int li)
{
	const struct topo *t = p->t;

	for (int ei = 0; ei < t->links[li].nends; ei++) {
		int n = t->links[li].ends[ei].node, g;

		if (t->nodes[n].kind != NODE_NAT || !pend[n].gateway)
			continue;
		g = topo_node_find(t, pend[n].gateway);
		if (g >= 0 && shared_link(t, n, g) != li)
			return n;
	}
	return -1;
}

static void check_addresses(struct parse *p, const struct node_pending *pend)
{
	struct topo *t = p->t;
	char buf[64];

	for (int li = 0; li < t->nlinks; li++)
		for (int ei = 0; ei < t->links[li].nends; ei++) {
			struct topo_end *e = &t->links[li].ends[ei];
			for (int ai = 0; ai < e->naddrs; ai++) {
				struct net_addr *a = &e->addrs[ai];
				const char *why = addr_forbidden(a);

				net_addr_format(a, true, buf, sizeof(buf));
				if (why)
					diag_add(p->dl, p->file, a->line, "address %s not allowed: %s", buf,
						 why);
				if (a->family == AF_INET && v4_not_a_host(a))
					diag_add(p->dl, p->file, a->line,
						 "address %s is the network or broadcast address of its "
						 "subnet, expected a host address", buf);
				/* Duplicates anywhere in the topology (earlier entries only, so each
				 * duplicate is reported once, at its second appearance), except on the
				 * LANs of two different NATs: separate private address spaces, as two
				 * stock home routers that both hand out 10.0.1.10 (issue 5's test). */
				int lan = link_lan_of(p, pend, li);
				for (int lj = 0; lj <= li; lj++) {
					int lan_j = lj == li ? lan : link_lan_of(p, pend, lj);
					for (int ej = 0; ej < t->links[lj].nends; ej++) {
						struct topo_end *f = &t->links[lj].ends[ej];
						for (int aj = 0; aj < f->naddrs; aj++) {
							struct net_addr *b = &f->addrs[aj];
							if (b == a)
								goto next;
							if (lan >= 0 && lan_j >= 0 && lan != lan_j)
								continue;
							if (b->family == a->family &&
							    memcmp(&b->a, &a->a, sizeof(a->a)) == 0) {
								diag_add(p->dl, p->file, a->line,
									 "duplicate address %s (also on line %d), "
									 "expected each address once", buf,
									 b->line);
								goto next;
							}
						}
					}
				}
next:;
			}
		}
}

/* The link that nodes a and b share, -1 when none. */
static int shared_link(const struct topo *t, int a, int b)
{
	for (int li = 0; li < t->nlinks; li++)
		if (topo_link_end_of(&t->links[li], a) >= 0 && topo_link_end_of(&t->links[li], b) >= 0)
			return li;
	return -1;
}

static void check_gateways(struct parse *p, const struct node_pending *pend)
{
	struct topo *t = p->t;

	for (int n = 0; n < t->nnodes; n++) {
		struct topo_node *node = &t->nodes[n];
		int g, li;

		if (!pend[n].gateway) {
			if (p->kind_unknown[n] || p->key_unknown[n])
				continue;
			if (node->kind == NODE_NAT)
				diag_add(p->dl, p->file, node->line,
					 "nat node \"%s\" has no WAN link: expected gateway: naming the "
					 "upstream node it shares a link with", node->name);
			else if (node->kind == NODE_HOST || node->kind == NODE_SERVER)
				diag_add(p->dl, p->file, node->line,
					 "%s node \"%s\" has no gateway, expected gateway: naming its "
					 "router", topo_kind_name(node->kind), node->name);
			continue;
		}
		g = topo_node_find(t, pend[n].gateway);
		if (g < 0 && name_rejected(p, pend[n].gateway))
			continue;
		if (g < 0) {
			diag_add(p->dl, p->file, pend[n].gateway_line,
				 "node \"%s\": gateway \"%s\" is not a node, expected a declared node",
				 node->name, pend[n].gateway);
			continue;
		}
		if (g == n) {
			diag_add(p->dl, p->file, pend[n].gateway_line,
				 "node \"%s\" is its own gateway, expected its upstream router",
				 node->name);
			continue;
		}
		if (p->kind_unknown[g])
			continue;
		if (t->nodes[g].kind == NODE_HOST || t->nodes[g].kind == NODE_SERVER) {
			diag_add(p->dl, p->file, pend[n].gateway_line,
				 "node \"%s\": gateway \"%s\" is a %s, expected a nat or inet node",
				 node->name, pend[n].gateway, topo_kind_name(t->nodes[g].kind));
			continue;
		}
		li = shared_link(t, n, g);
		if (li < 0) {
			if (p->links_unknown)
				continue;
			diag_add(p->dl, p->file, pend[n].gateway_line,
				 "node \"%s\": gateway \"%s\" shares no link with it, expected a "
				 "directly linked router", node->name, pend[n].gateway);
			continue;
		}
		node->gateway = g;
	}

	/* A cycle of gateways makes routing loop: follow each chain for at most nnodes steps. */
	for (int n = 0; n < t->nnodes; n++) {
		int cur = t->nodes[n].gateway, steps = 0;

		while (cur >= 0 && cur != n && steps++ < t->nnodes)
			cur = t->nodes[cur].gateway;
		if (cur == n)
			diag_add(p->dl, p->file, pend[n].gateway_line,
				 "node \"%s\": gateways form a cycle back to it, expected a chain "
				 "that ends at an inet node", t->nodes[n].name);
	}
}

static void check_gateway_addresses(struct parse *p)
{
	struct topo *t = p->t;

	for (int n = 0; n < t->nnodes; n++) {
		int g = t->nodes[n].gateway, li, en, eg;
		const struct net_addr *mine, *theirs;

		if (g < 0)
			continue;
		li = shared_link(t, n, g);
		en = topo_link_end_of(&t->links[li], n);
		eg = topo_link_end_of(&t->links[li], g);
		mine = topo_end_addr(&t->links[li].ends[en], AF_INET);
		theirs = topo_end_addr(&t->links[li].ends[eg], AF_INET);
		/* an IPv6-only host (behind NAT64, topologies/nat64.yaml) routes over IPv6 */
		if (!mine && t->nodes[n].kind == NODE_HOST &&
		    topo_end_addr(&t->links[li].ends[en], AF_INET6) &&
		    topo_end_addr(&t->links[li].ends[eg], AF_INET6)) {
			mine = topo_end_addr(&t->links[li].ends[en], AF_INET6);
			theirs = topo_end_addr(&t->links[li].ends[eg], AF_INET6);
		}
		if (!mine || !theirs) {
			if (p->addr_unknown[n] || p->addr_unknown[g])
				continue;
			diag_add(p->dl, p->file, t->links[li].line,
				 "link between \"%s\" and its gateway \"%s\" needs an IPv4 address on "
				 "both ends (an IPv6-only host: IPv6 on both), expected ADDR/PREFIX on "
				 "each", t->nodes[n].name, t->nodes[g].name);
			continue;
		}
		if (!same_subnet(mine, theirs)) {
			char a[64], b[64];
			diag_add(p->dl, p->file, mine->line,
				 "node \"%s\" (%s) and its gateway \"%s\" (%s) are not on one subnet, "
				 "expected the same network and prefix", t->nodes[n].name,
				 net_addr_format(mine, true, a, sizeof(a)), t->nodes[g].name,
				 net_addr_format(theirs, true, b, sizeof(b)));
		}
	}
}

/* NAT nodes: WAN = the link to the gateway, LAN = the first other link with an IPv4 address. */
static void check_nats(struct parse *p)
{
	struct topo *t = p->t;

	for (int n = 0; n < t->nnodes; n++) {
		struct topo_node *node = &t->nodes[n];

		if (p->kind_unknown[n])
			continue;
		if (node->kind != NODE_NAT) {
			if (node->profile[0])
				diag_add(p->dl, p->file, node->line,
					 "node \"%s\" is a %s, expected profile: only on nat nodes",
					 node->name, topo_kind_name(node->kind));
			if (node->nat64.family)
				diag_add(p->dl, p->file, node->nat64_line,
					 "node \"%s\" is a %s, expected nat64: only on nat nodes",
					 node->name, topo_kind_name(node->kind));
			continue;
		}
		if (node->gateway < 0)
			continue; /* reported by check_gateways */
		node->wan_link = shared_link(t, n, node->gateway);
		node->wan_end = topo_link_end_of(&t->links[node->wan_link], n);
		for (int li = 0; li < t->nlinks; li++) {
			int e = topo_link_end_of(&t->links[li], n);
			if (li == node->wan_link || e < 0)
				continue;
			if (!topo_end_addr(&t->links[li].ends[e], AF_INET))
				continue;
			node->lan_link = li;
			node->lan_end = e;
			break;
		}
		if (node->lan_link < 0 && !p->links_unknown && !p->addr_unknown[n])
			diag_add(p->dl, p->file, node->line,
				 "nat node \"%s\" has no LAN link, expected a second link with an IPv4 "
				 "address for the hosts behind it", node->name);
		else if (node->lan_link >= 0 && node->nat64.family &&
			 !topo_end_addr(&t->links[node->lan_link].ends[node->lan_end], AF_INET6))
			diag_add(p->dl, p->file, node->nat64_line,
				 "nat node \"%s\" has nat64 but no IPv6 address on its LAN link, "
				 "expected one: NAT64 serves IPv6 hosts", node->name);
	}
}

/* "isolate: yes" is enforced by a ruleset in the hub, between the ports of its bridge and on
 * its routing path from the LAN back into it: so it needs a LAN (a bridge) that is a NAT's LAN
 * (the hub translates, or nothing passes). */
static void check_isolation(struct parse *p)
{
	struct topo *t = p->t;

	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];
		int hub = l->ends[0].node;

		if (!l->isolate || hub < 0 || hub >= t->nnodes)
			continue; /* an end left unknown by an earlier mistake was reported there */
		if (l->nends < 3)
			diag_add(p->dl, p->file, l->isolate_line, "link: isolate: yes on a link with "
				 "%d ends, expected a LAN (three or more ends: a NAT and its hosts)",
				 l->nends);
		else if (t->nodes[hub].kind != NODE_NAT || t->nodes[hub].lan_link != li)
			diag_add(p->dl, p->file, l->isolate_line, "link: isolate: yes, but the first "
				 "node of the link, \"%s\", is not a nat whose LAN this is, expected the "
				 "NAT listed first under ends:", t->nodes[hub].name);
	}
}

static void check_nodes_linked(struct parse *p)
{
	struct topo *t = p->t;

	if (p->links_unknown)
		return; /* the broken link may be the one that was meant */
	for (int n = 0; n < t->nnodes; n++) {
		bool linked = false;
		for (int li = 0; li < t->nlinks && !linked; li++)
			linked = topo_link_end_of(&t->links[li], n) >= 0;
		if (!linked)
			diag_add(p->dl, p->file, t->nodes[n].line,
				 "node \"%s\" is on no link, expected it under some link's ends:",
				 t->nodes[n].name);
	}
}

static void check_roles(struct parse *p, yaml_node_t *roles_node)
{
	struct topo *t = p->t;

	if (t->roles[ROLE_PEER_A] < 0 && !p->role_given[ROLE_PEER_A] && !p->roles_unknown)
		ERR(p, roles_node, "roles: peer-a missing, expected the host that runs peer A");
	if (t->roles[ROLE_RENDEZVOUS] < 0 && !p->role_given[ROLE_RENDEZVOUS] && !p->roles_unknown)
		ERR(p, roles_node, "roles: rendezvous missing, expected the server node");
	if (t->roles[ROLE_NAT_B] >= 0 && t->roles[ROLE_NAT_B] == t->roles[ROLE_NAT_A])
		ERR(p, roles_node, "roles: nat-a and nat-b are one node, expected two NATs or no "
				   "nat-b");
}

/* Interface names: "<node>-eth<N>" in link order, "<node>-br<N>" for a LAN's bridge. */
static void assign_ifnames(struct topo *t)
{
	int nbr[TOPO_MAX_NODES] = { 0 };

	for (int n = 0; n < t->nnodes; n++)
		t->nodes[n].nifs = 0;
	for (int li = 0; li < t->nlinks; li++) {
		struct topo_link *l = &t->links[li];
		for (int e = 0; e < l->nends; e++) {
			struct topo_node *node = &t->nodes[l->ends[e].node];
			snprintf(l->ends[e].ifname, sizeof(l->ends[e].ifname), "%s-eth%d", node->name,
				 node->nifs++);
		}
		if (l->nends > 2) {
			struct topo_node *hub = &t->nodes[l->ends[0].node];
			snprintf(l->bridge, sizeof(l->bridge), "%s-br%d", hub->name,
				 nbr[l->ends[0].node]++);
			/* The hub's own veth (ends[0].ifname) is not used on a LAN: each member
			 * gets a port of its own on the hub. */
			hub->nifs--;
			for (int e = 1; e < l->nends; e++)
				snprintf(l->ends[e].hub_ifname, sizeof(l->ends[e].hub_ifname),
					 "%s-eth%d", hub->name, hub->nifs++);
		}
	}
}

static void top_entry(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
		 yaml_node_t *v, void *arg)
{
	struct parse *p = P(yc);
	yaml_node_t **sections = arg;

	if (strcmp(key, "topology") == 0) {
		if (!scalar(v) || !*scalar(v))
			ERR(p, v, "topology: expected a name");
		else
			snprintf(p->t->name, sizeof(p->t->name), "%s", scalar(v));
	} else if (strcmp(key, "description") == 0) {
		if (scalar(v))
			snprintf(p->t->description, sizeof(p->t->description), "%s", scalar(v));
	} else if (strcmp(key, "nodes") == 0) {
		sections[0] = v;
	} else if (strcmp(key, "links") == 0) {
		sections[1] = v;
	} else if (strcmp(key, "roles") == 0) {
		sections[2] = v;
	} else {
		ERR(p, k, "unknown key \"%s\", expected topology, description, nodes, links or roles",
		    key);
	}
}

static int parse_document(struct parse *p)
{
	yaml_node_t *root = yaml_document_get_root_node(p->y.doc);
	yaml_node_t *sections[3] = { NULL, NULL, NULL };
	static const char *const section_name[3] = { "nodes:", "links:", "roles:" };
	struct node_pending pend[TOPO_MAX_NODES];
	int before = p->dl->count;

	if (!root) {
		diag_add(p->dl, p->file, 0, "empty file, expected a topology (nodes:, links:, roles:)");
		return -EINVAL;
	}
	for_each_pair(p, root, "the file", top_entry, sections);
	if (root->type != YAML_MAPPING_NODE)
		return -EINVAL; /* for_each_pair said so; there are no sections to look at */
	for (int i = 0; i < 3; i++)
		if (!sections[i])
			diag_add(p->dl, p->file, line_of(root), "missing %s, expected nodes:, links: "
				 "and roles: sections", section_name[i]);
	/* Each part is checked even when another has mistakes (see the top of this file). */
	if (sections[0])
		for_each_pair(p, sections[0], "nodes", node_entry, pend);
	if (sections[1])
		links_parse(p, sections[1]);
	if (sections[2])
		for_each_pair(p, sections[2], "roles", role_entry, NULL);
	if (sections[0] && sections[1]) {
		check_addresses(p, pend);
		check_nodes_linked(p);
		check_gateways(p, pend);
		check_gateway_addresses(p);
		check_nats(p);
		check_isolation(p);
	}
	if (sections[2])
		check_roles(p, sections[2]);
	if (p->dl->count > before)
		return -EINVAL;
	assign_ifnames(p->t);
	return 0;
}

int topo_parse_buffer(struct topo *t, const char *name, const char *buf, size_t len,
		      struct diag_list *dl)
{
	yaml_document_t doc;
	struct parse p = { .y = { .doc = &doc, .dl = dl, .file = name }, .t = t, .dl = dl,
			   .file = name };
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(t->file, sizeof(t->file), "%s", name);
	for (int r = 0; r < ROLE_COUNT; r++)
		t->roles[r] = -1;
	ret = yaml_load_buffer(&doc, name, buf, len, dl);
	if (ret < 0)
		return ret;
	ret = parse_document(&p);
	yaml_document_delete(&doc);
	return ret;
}

int topo_parse_file(struct topo *t, const char *path, struct diag_list *dl)
{
	char *buf;
	size_t len;
	int ret = yaml_read_file(path, "topology", &buf, &len, dl);

	if (ret < 0)
		return ret;
	ret = topo_parse_buffer(t, path, buf, len, dl);
	free(buf);
	return ret;
}
