/* Building and tearing down a lab: namespaces, links, addresses, routes, sysctls, rulesets.
 *
 * The order matters: every namespace first (each with its own rtnetlink socket, opened while
 * the thread is inside it), then links (each veth pair in one message, its peer placed
 * straight into the other namespace), then addresses and routes through the node's socket, and
 * the NAT rulesets last, once the interfaces they name exist; then it waits until every link is
 * up and the kernel has finished every IPv6 address (wait_addrs6()), so the first packet a
 * program sends crosses. The thread leaves each namespace before returning, on every path. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>

#include "base/paths.h"
#include "lab/lab_internal.h"
#include "lab/nat64.h"
#include "lab/portmapd.h"
#include "lab/sysctl.h"
#include "nft/profile.h"
#include "nft/ruleset.h"
#include "nl/nl.h"

static void lab_close_nodes(struct lab *lab)
{
	for (int n = 0; n < TOPO_MAX_NODES; n++) {
		nl_route_close(lab->nodes[n].sk);
		lab->nodes[n].sk = NULL;
		if (lab->nodes[n].netns >= 0)
			close(lab->nodes[n].netns);
		lab->nodes[n].netns = -1;
		if (lab->nodes[n].watch >= 0)
			close(lab->nodes[n].watch);
		lab->nodes[n].watch = -1;
	}
	lab_forwarders_close(lab);
}

/* The family of node n's profile (header key "family", default ipv4) into lab->nodes[n].family,
 * and an error (at file:line, where the topology or --set named the profile) when the node has
 * no address of that family on its WAN or LAN side: the ruleset's $WAN_ADDR, $LAN_ADDR and
 * $LAN_NET would have nothing to stand for. A header that does not parse is left to whoever
 * reads it (matrix, classify): the lab only loads the ruleset, which then still loads as IPv4. */
static int profile_family_check(struct lab *lab, int n, const char *file, int line,
				struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	const struct topo_node *node = &t->nodes[n];
	struct diag_list *scratch = calloc(1, sizeof(*scratch));
	struct profile_header h;
	int family = AF_INET;
	const char *side = NULL;

	if (scratch && profile_header_parse_file(&h, lab->nodes[n].profile, scratch) == 0 &&
	    h.family == PROFILE_FAMILY_IPV6)
		family = AF_INET6;
	free(scratch);
	lab->nodes[n].family = family;
	if (node->wan_link < 0 || node->lan_link < 0)
		return 0; /* the topology parser already said what is missing */
	if (!topo_end_addr(&t->links[node->wan_link].ends[node->wan_end], family))
		side = "WAN";
	else if (!topo_end_addr(&t->links[node->lan_link].ends[node->lan_end], family))
		side = "LAN";
	if (!side)
		return 0;
	return diag_add(dl, file, line, "node \"%s\": profile %s is for %s (header \"family: "
			"%s\") but the node has no %s address on its %s link: expected an %s "
			"address on both its WAN and LAN links, or a profile of family %s",
			node->name, lab->nodes[n].profile, family == AF_INET6 ? "IPv6" : "IPv4",
			family == AF_INET6 ? "ipv6" : "ipv4", family == AF_INET6 ? "IPv6" : "IPv4",
			side, family == AF_INET6 ? "IPv6" : "IPv4",
			family == AF_INET6 ? "ipv4" : "ipv6");
}

/* The IPv6 companion profiles (lab_options.companion_*): each on a NAT node whose own profile
 * is an IPv4 one, itself of family ipv6, on a node with IPv6 addresses on both sides. Every
 * mistake is the option's (companion_what), said once per node. */
static int resolve_companions(struct lab *lab, const struct lab_options *opts,
			      struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	const char *what = opts && opts->companion_what ? opts->companion_what : "companion profile";
	int ret = 0;

	for (int i = 0; opts && i < opts->ncompanions; i++) {
		int n = topo_node_find(t, opts->companion_node[i]);
		struct lab_node_rt *rt = n >= 0 ? &lab->nodes[n] : NULL;
		const struct topo_node *node = n >= 0 ? &t->nodes[n] : NULL;
		char arg[600];

		snprintf(arg, sizeof(arg), "%s %s", what, opts->companion_profile[i]);
		if (!node || node->kind != NODE_NAT || !rt->profile[0]) {
			ret = diag_add(dl, arg, 0, "node \"%s\" of topology %s is no NAT node with a "
				       "profile: an IPv6 companion goes beside a NAT node's IPv4 "
				       "profile", opts->companion_node[i], t->name);
			continue;
		}
		if (rt->family != AF_INET) {
			ret = diag_add(dl, arg, 0, "node \"%s\" runs %s, an IPv6 profile: a companion "
				       "goes beside an IPv4 profile (family ipv4)", node->name,
				       rt->profile);
			continue;
		}
		if (paths_resolve("nat-profiles", ".nft", opts->companion_profile[i], rt->companion,
				  sizeof(rt->companion)) < 0) {
			ret = diag_add(dl, arg, 0, "profile not found (looked for %s), expected a name "
				       "from nat-profiles/ or a path to a .nft file", rt->companion);
			rt->companion[0] = '\0';
			continue;
		}
		if (profile_family_of_file(rt->companion) != PROFILE_FAMILY_IPV6) {
			ret = diag_add(dl, arg, 0, "profile %s is for IPv4 (its header has no "
				       "\"family: ipv6\"), expected an IPv6 profile such as "
				       "ipv6-firewall, ipv6-firewall-ad or nat66", rt->companion);
			rt->companion[0] = '\0';
			continue;
		}
		if (node->wan_link < 0 || node->lan_link < 0 ||
		    !topo_end_addr(&t->links[node->wan_link].ends[node->wan_end], AF_INET6) ||
		    !topo_end_addr(&t->links[node->lan_link].ends[node->lan_end], AF_INET6)) {
			ret = diag_add(dl, t->file, node->line, "node \"%s\": the IPv6 companion %s "
				       "needs an IPv6 address on both its WAN and LAN links, expected "
				       "a dual-stack topology (two-nats-dual)", node->name,
				       rt->companion);
			rt->companion[0] = '\0';
		}
	}
	return ret;
}

/* A profile that an override names is the argument's mistake, not the topology file's: the
 * error names the --set option as the user typed it. */
static int resolve_profiles(struct lab *lab, const struct lab_options *opts, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	char set[600];
	int ret = 0;

	for (int i = 0; opts && i < opts->noverrides; i++) {
		int n = topo_node_find(t, opts->override_node[i]);
		char nats[200] = "";

		if (n >= 0 && t->nodes[n].kind == NODE_NAT)
			continue;
		for (int k = 0; k < t->nnodes; k++)
			if (t->nodes[k].kind == NODE_NAT)
				snprintf(nats + strlen(nats), sizeof(nats) - strlen(nats), "%s%s",
					 nats[0] ? ", " : "", t->nodes[k].name);
		snprintf(set, sizeof(set), "--set %s=%s", opts->override_node[i],
			 opts->override_profile[i]);
		ret = diag_add(dl, set, 0, "topology %s has no nat node \"%s\", expected one of: %s",
			       t->name, opts->override_node[i], nats[0] ? nats : "(none)");
	}
	for (int n = 0; n < t->nnodes; n++) {
		const char *want = t->nodes[n].profile, *file = t->file;
		int line = t->nodes[n].line;

		for (int i = 0; opts && i < opts->noverrides; i++)
			if (strcmp(opts->override_node[i], t->nodes[n].name) == 0) {
				want = opts->override_profile[i];
				snprintf(set, sizeof(set), "--set %s=%s", t->nodes[n].name, want);
				file = set;
				line = 0;
			}
		if (t->nodes[n].kind != NODE_NAT || !want || !*want)
			continue;
		if (paths_resolve("nat-profiles", ".nft", want, lab->nodes[n].profile,
				  sizeof(lab->nodes[n].profile)) < 0)
			ret = diag_add(dl, file, line,
				       "node \"%s\": profile \"%s\" not found (looked for %s), expected "
				       "a name from nat-profiles/ or a path to a .nft file",
				       t->nodes[n].name, want, lab->nodes[n].profile);
		else if (profile_family_check(lab, n, file, line, dl) < 0 ||
			 lab_translation_check(t, n, lab->nodes[n].profile, file, line, dl) < 0)
			ret = -EINVAL;
	}
	return ret < 0 ? ret : resolve_companions(lab, opts, dl);
}

static bool topo_has_ipv6(const struct topo *t)
{
	for (int li = 0; li < t->nlinks; li++)
		for (int e = 0; e < t->links[li].nends; e++)
			if (topo_end_addr(&t->links[li].ends[e], AF_INET6))
				return true;
	return false;
}

/* Settings every node gets, whatever the host has: new namespaces copy some of them from the
 * initial namespace (rp_filter, on Debian), and the lab must not depend on the host. Only
 * "default" and "all" are set, before any interface exists, so every interface inherits them.
 * Without IPv6 in the topology IPv6 is off: link-local addresses, router solicitations and
 * MLD reports would be noise in captures and cost time for every interface. */
static bool node_has_bridge(const struct topo *t, int n)
{
	for (int li = 0; li < t->nlinks; li++)
		if (t->links[li].nends > 2 && t->links[li].ends[0].node == n)
			return true;
	return false;
}

/* Whether a node forwards IPv4. Routers do, except a NAT node whose only ruleset is an IPv6
 * profile (a family 6 cell's home router): it has no IPv4 translation, its LAN is private
 * (RFC 1918, unrouted outside), so forwarding would only leak the LAN's private source
 * addresses to the emulated internet, where no answer can find its way back (measured before:
 * host-a's IPv4 datagram reached the server as 10.0.1.10, the reply was lost at inet). Such a
 * home is an IPv6-only service: its IPv4 is dropped at the home router, silently (a packet to
 * forward with forwarding off is dropped and counted, no ICMP), as a CPE without IPv4 service
 * does. docs/topology-format.md, "What the lab configures". */
static bool node_forwards_ipv4(const struct lab *lab, int n)
{
	const struct topo_node *node = &lab->topo.nodes[n];

	if (node->kind == NODE_INET)
		return true;
	if (node->kind != NODE_NAT)
		return false;
	return !(lab->nodes[n].profile[0] && lab->nodes[n].family == AF_INET6);
}

static int node_sysctls(const struct topo_node *node, bool ipv6, bool bridge, bool forward4)
{
	bool router = node->kind == NODE_NAT || node->kind == NODE_INET;
	int ret = 0;

	/* With br_netfilter loaded on the host, bridged frames would also traverse the node's
	 * IP hooks: a hairpinned packet would then be NATed on the bridge port it came in on and
	 * never reach its own host (seen with same-nat). A bridge in the lab is a plain switch. */
	if (bridge)
		for (int i = 0; i < 3; i++) {
			static const char *const keys[] = { "net/bridge/bridge-nf-call-iptables",
							    "net/bridge/bridge-nf-call-ip6tables",
							    "net/bridge/bridge-nf-call-arptables" };
			int r = sysctl_write(keys[i], "0");
			if (r < 0 && r != -ENOENT)
				ret |= r;
		}

	ret |= sysctl_write("net/ipv4/conf/all/rp_filter", "0");
	ret |= sysctl_write("net/ipv4/conf/default/rp_filter", "0");
	/* written either way: a new namespace may copy IPv4 settings from the host's
	 * (net.core.devconf_inherit_init_net), and a host that forwards must not make an
	 * IPv6-only home forward IPv4 */
	ret |= sysctl_write("net/ipv4/ip_forward", forward4 ? "1" : "0");
	if (!ipv6) {
		ret |= sysctl_write("net/ipv6/conf/default/disable_ipv6", "1");
	} else {
		ret |= sysctl_write("net/ipv6/conf/default/accept_ra", "0");
		ret |= sysctl_write("net/ipv6/conf/default/accept_dad", "0");
		if (router)
			ret |= sysctl_write("net/ipv6/conf/all/forwarding", "1");
	}
	return ret < 0 ? -EIO : 0;
}

/* The IPv6 addresses the lab adds and waits for (wait_addrs6()): one watch socket per node,
 * opened in create_nodes() before any address exists, and the node's addresses. */
struct addr6_watch {
	struct nl_addr6_wait w[TOPO_MAX_NODES];
	int n;
};

static void addr6_watch_close(struct addr6_watch *aw)
{
	for (int i = 0; i < aw->n; i++)
		if (aw->w[i].fd >= 0)
			close(aw->w[i].fd);
	aw->n = 0;
}

static int create_nodes(struct lab *lab, struct addr6_watch *aw, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	struct nl_err err = { "" };
	bool ipv6 = topo_has_ipv6(t);

	for (int n = 0; n < t->nnodes; n++) {
		struct lab_node_rt *rt = &lab->nodes[n];
		int fd = netns_unshare_new();

		if (fd < 0)
			return diag_add(dl, t->file, t->nodes[n].line,
					"create network namespace for node \"%s\": %s",
					t->nodes[n].name, strerror(-fd));
		rt->netns = fd;
		rt->sk = nl_route_open();
		if (!rt->sk)
			return diag_add(dl, t->file, t->nodes[n].line,
					"open rtnetlink socket in node \"%s\": %s",
					t->nodes[n].name, strerror(errno));
		if (node_sysctls(&t->nodes[n], ipv6, node_has_bridge(t, n),
				 node_forwards_ipv4(lab, n)) < 0)
			return diag_add(dl, t->file, t->nodes[n].line,
					"set sysctls in node \"%s\" (is /proc/sys mounted?)",
					t->nodes[n].name);
		rt->watch = nl_link_watch_open();
		if (rt->watch < 0)
			return diag_add(dl, t->file, t->nodes[n].line,
					"open a link watch socket in node \"%s\": %s",
					t->nodes[n].name, strerror(-rt->watch));
		if (ipv6) {
			struct nl_addr6_wait *w = &aw->w[aw->n++];
			w->fd = nl_addr6_watch_open();
			if (w->fd < 0)
				return diag_add(dl, t->file, t->nodes[n].line,
						"open an IPv6 route watch socket in node \"%s\": %s",
						t->nodes[n].name, strerror(-w->fd));
		}
		if (nl_link_set_up(rt->sk, 1, "lo", &err) < 0)
			return diag_add(dl, t->file, t->nodes[n].line, "node \"%s\": %s",
					t->nodes[n].name, err.msg);
	}
	return lab_forwarders_create(lab, dl);
}

/* The ifindexes we give the interfaces (so no lookup round trip is needed before adding
 * addresses). They are unique across the whole lab, not only per namespace: the kernel treats a
 * veth whose peer has the same ifindex as itself as a non-urgent linkwatch event and activates
 * it only after a second (linkwatch_urgent_event() compares ifindex with iflink); with distinct
 * numbers both ends are up within a millisecond. */
struct if_ids {
	int next;
	int end[TOPO_MAX_LINKS][TOPO_MAX_ENDS];
	int bridge[TOPO_MAX_LINKS];
};

static int create_links(struct lab *lab, struct if_ids *ids, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	struct nl_err err = { "" };
	int ret;

	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];
		struct lab_node_rt *hub = &lab->nodes[l->ends[0].node];

		if (l->nends == 2 && l->impair.active) {
			for (int i = 0; i < lab->nfwd; i++)
				if (lab->fwd[i].link == li) {
					ret = lab_forwarder_link(lab, &lab->fwd[i], ids->end[li],
								 &ids->next, dl);
					if (ret < 0)
						return ret;
				}
			continue;
		}
		if (l->nends == 2) {
			struct lab_node_rt *other = &lab->nodes[l->ends[1].node];
			ids->end[li][0] = ids->next++;
			ids->end[li][1] = ids->next++;
			ret = nl_link_add_veth(hub->sk, l->ends[0].ifname, ids->end[li][0], 0,
					       l->ends[1].ifname, ids->end[li][1], other->netns, other->sk,
					       &err);
			if (ret < 0)
				return diag_add(dl, t->file, l->line, "%s", err.msg);
			continue;
		}
		/* A LAN: a bridge in the hub, one veth per member with the hub's end enslaved. */
		ids->bridge[li] = ids->next++;
		ids->end[li][0] = ids->bridge[li];
		ret = nl_link_add_bridge(hub->sk, l->bridge, ids->bridge[li], &err);
		if (ret < 0)
			return diag_add(dl, t->file, l->line, "%s", err.msg);
		for (int e = 1; e < l->nends; e++) {
			struct lab_node_rt *member = &lab->nodes[l->ends[e].node];
			int port = ids->next++;
			ids->end[li][e] = ids->next++;
			ret = nl_link_add_veth(hub->sk, l->ends[e].hub_ifname, port, ids->bridge[li],
					       l->ends[e].ifname, ids->end[li][e], member->netns,
					       member->sk, &err);
			if (ret < 0)
				return diag_add(dl, t->file, l->ends[e].line, "%s", err.msg);
		}
	}
	return 0;
}

static int add_addresses(struct lab *lab, const struct if_ids *ids, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	struct nl_err err = { "" };

	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];
		for (int e = 0; e < l->nends; e++) {
			const struct topo_end *end = &l->ends[e];
			for (int a = 0; a < end->naddrs; a++)
				if (nl_addr_add(lab->nodes[end->node].sk, ids->end[li][e],
						topo_end_ifname(l, e), &end->addrs[a], &err) < 0)
					return diag_add(dl, t->file, end->addrs[a].line, "%s", err.msg);
		}
	}
	return 0;
}

/* Homes on routed addresses: the router a NAT node hangs off (its gateway) gets a route to each
 * such prefix of the node's LAN via the node. IPv6 homes are routed (RFC 6092: the firewall
 * filters, it does not translate), every IPv6 prefix of the LAN end (nptv6 puts its external
 * prefix there, topologies/two-npt.yaml). IPv4 LANs on private space (RFC 1918, 100.64.0.0/10)
 * stay unrouted, as before: only translation reaches them; a LAN on public space (a firewall
 * that does not translate, topologies/two-firewalls.yaml) is routed like an IPv6 one. */
static int route_home(struct lab *lab, const struct if_ids *ids, int n, int g,
		      struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	const struct topo_node *node = &t->nodes[n];
	const struct topo_end *le;
	struct nl_err err = { "" };
	int eg;

	if (node->lan_link < 0 || node->wan_link < 0)
		return 0;
	le = &t->links[node->lan_link].ends[node->lan_end];
	eg = topo_link_end_of(&t->links[node->wan_link], g);
	for (int i = 0; eg >= 0 && i < le->naddrs; i++) {
		const struct net_addr *lan = &le->addrs[i], *via;
		struct net_addr net;
		char text[64];
		const char *why;

		if (lan->family == AF_INET && lab_addr_v4_private(lan))
			continue;
		via = topo_end_addr(&t->links[node->wan_link].ends[node->wan_end], lan->family);
		if (!via)
			continue;
		net_addr_network(lan, text, sizeof(text));
		if (net_addr_parse(text, &net, &why) < 0)
			return diag_add(dl, t->file, lan->line, "node \"%s\": LAN prefix %s: %s",
					node->name, text, why);
		if (nl_route_add_via(lab->nodes[g].sk, ids->end[node->wan_link][eg], &net, via,
				     &err) < 0)
			return diag_add(dl, t->file, node->line, "node \"%s\": %s",
					t->nodes[g].name, err.msg);
	}
	return 0;
}

static int add_routes(struct lab *lab, const struct if_ids *ids, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	struct nl_err err = { "" };

	for (int n = 0; n < t->nnodes; n++) {
		int g = t->nodes[n].gateway;
		if (g < 0)
			continue;
		for (int li = 0; li < t->nlinks; li++) {
			const struct topo_link *l = &t->links[li];
			int en = topo_link_end_of(l, n), eg = topo_link_end_of(l, g);
			if (en < 0 || eg < 0)
				continue;
			for (int fam = 0; fam < 2; fam++) {
				int family = fam ? AF_INET6 : AF_INET;
				const struct net_addr *via = topo_end_addr(&l->ends[eg], family);
				if (!via || !topo_end_addr(&l->ends[en], family))
					continue;
				if (nl_route_add_default(lab->nodes[n].sk, ids->end[li][en], via, &err) < 0)
					return diag_add(dl, t->file, t->nodes[n].line, "node \"%s\": %s",
							t->nodes[n].name, err.msg);
			}
			break;
		}
		if (t->nodes[n].kind == NODE_NAT && route_home(lab, ids, n, g, dl) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The variables of the profile contract for a NAT node (README: "Profile variables"), in the
 * profile's family (profile_family_check() made sure the node has those addresses). */
int lab_nat_vars(const struct topo *t, int n, int family, char vals[5][64], struct nft_var *vars)
{
	const struct topo_node *node = &t->nodes[n];
	const struct topo_link *wan = &t->links[node->wan_link], *lan = &t->links[node->lan_link];
	const struct net_addr *wa = topo_end_addr(&wan->ends[node->wan_end], family);
	const struct net_addr *la = topo_end_addr(&lan->ends[node->lan_end], family);

	snprintf(vals[0], 64, "%s", topo_end_ifname(wan, node->wan_end));
	snprintf(vals[1], 64, "%s", topo_end_ifname(lan, node->lan_end));
	net_addr_format(wa, false, vals[2], 64);
	net_addr_format(la, false, vals[3], 64);
	net_addr_network(la, vals[4], 64);
	vars[0] = (struct nft_var){ "WAN_IF", vals[0] };
	vars[1] = (struct nft_var){ "LAN_IF", vals[1] };
	vars[2] = (struct nft_var){ "WAN_ADDR", vals[2] };
	vars[3] = (struct nft_var){ "LAN_ADDR", vals[3] };
	vars[4] = (struct nft_var){ "LAN_NET", vals[4] };
	return 5;
}

/* Isolated LANs ("isolate: yes", docs/topology-format.md): the lab's own ruleset in the hub,
 * topologies/rules/isolate.nft, in tables of its own, loaded whatever profile the hub runs
 * (even none): the enforcement belongs to the topology, not to a profile. */
static int load_isolation(struct lab *lab, int li, int home_netns, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	const struct topo_link *l = &t->links[li];
	char path[PATH_MAX], ports[TOPO_MAX_ENDS * 20] = "{ ";
	struct nft_var vars[2] = { { "LAN_IF", l->bridge }, { "LAN_PORTS", ports } };
	size_t used = strlen(ports);
	int ret;

	snprintf(path, sizeof(path), "%s/topologies/rules/isolate.nft", paths_data_dir());
	if (access(path, R_OK) < 0)
		return diag_add(dl, t->file, l->isolate_line, "isolate: the lab's rule file %s is "
				"missing, expected it in the data directory", path);
	for (int e = 1; e < l->nends && used < sizeof(ports); e++)
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%s\"%s\"",
					 e > 1 ? ", " : "", l->ends[e].hub_ifname);
	if (used < sizeof(ports))
		snprintf(ports + used, sizeof(ports) - used, " }");
	ret = netns_enter(lab->nodes[l->ends[0].node].netns);
	if (ret < 0)
		return diag_add(dl, t->file, l->isolate_line, "enter node \"%s\": %s",
				t->nodes[l->ends[0].node].name, strerror(-ret));
	ret = nft_ruleset_load(path, vars, 2, dl);
	if (netns_enter(home_netns) < 0)
		abort(); /* see load_rulesets() */
	return ret;
}

static int load_rulesets(struct lab *lab, int home_netns, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	int ret = 0;

	for (int n = 0; n < t->nnodes && ret == 0; n++) {
		char vals[5][64];
		struct nft_var vars[5];
		int nvars;

		if (!lab->nodes[n].profile[0])
			continue;
		nvars = lab_nat_vars(t, n, lab->nodes[n].family, vals, vars);
		/* an IPv4 profile in a NAT64 node filters tayga's traffic as the LAN's too */
		if (lab->nodes[n].family == AF_INET) {
			char lan_if[64];

			snprintf(lan_if, sizeof(lan_if), "%s", vals[1]);
			lab_nat64_lan_if(t, n, lan_if, vals[1], sizeof(vals[1]));
		}
		ret = netns_enter(lab->nodes[n].netns);
		if (ret < 0)
			return diag_add(dl, t->file, t->nodes[n].line, "enter node \"%s\": %s",
					t->nodes[n].name, strerror(-ret));
		ret = nft_ruleset_load(lab->nodes[n].profile, vars, nvars, dl);
		/* the IPv6 companion: its own table (ip6 punchlab_nat), its own variables (the
		 * node's IPv6 addresses; the interface names are the same) */
		if (ret == 0 && lab->nodes[n].companion[0]) {
			nvars = lab_nat_vars(t, n, AF_INET6, vals, vars);
			ret = nft_ruleset_load(lab->nodes[n].companion, vars, nvars, dl);
		}
		/* Conntrack accounting (packets and bytes per direction of every flow) is how the
		 * matrix attests a path (src/matrix/attest.c). It only counts flows created after
		 * it is on, and its sysctl exists once the ruleset has pulled in conntrack: so here,
		 * before any traffic. */
		if (ret == 0) {
			int r = sysctl_write("net/netfilter/nf_conntrack_acct", "1");
			if (r < 0)
				ret = diag_add(dl, t->file, t->nodes[n].line, "turn on conntrack "
					       "accounting in node \"%s\": %s", t->nodes[n].name,
					       strerror(-r));
		}
		if (netns_enter(home_netns) < 0)
			abort(); /* a thread stranded in a lab namespace would corrupt later work */
	}
	for (int li = 0; li < t->nlinks && ret == 0; li++)
		if (t->links[li].isolate)
			ret = load_isolation(lab, li, home_netns, dl);
	return ret;
}

#define LINKS_UP_TIMEOUT_MS 5000
#define ADDRS6_READY_TIMEOUT_MS 5000

/* Every IPv6 address the lab added is finished by the kernel (its local route inserted, its
 * solicited-node group joined) before lab_up() returns: the kernel does that later, in its
 * addrconf work queue, and a neighbour solicitation for an address not yet finished goes
 * unanswered until the neighbour retransmits a second later (src/nl/addrwait.c). A fresh lab
 * whose first IPv6 packets waited that second lost the dual race to IPv4, or its registration
 * outright (issue 15; tests/lab/first_exchange.c). Event-driven and bounded. */
static int wait_addrs6(struct lab *lab, const struct if_ids *ids, struct addr6_watch *aw,
		       struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	char stuck[INET6_ADDRSTRLEN] = "?";
	int ret;

	if (aw->n == 0)
		return 0;
	for (int li = 0; li < t->nlinks; li++)
		for (int e = 0; e < t->links[li].nends; e++) {
			const struct topo_end *end = &t->links[li].ends[e];
			struct nl_addr6_wait *w = &aw->w[end->node];
			/* every interface with an address gets a link-local one (IPv6 is on in
			 * every node of a topology with IPv6) */
			if (w->npending_ll < NL_ADDR6_WAIT_ADDRS)
				w->pending_ll[w->npending_ll++] = ids->end[li][e];
			for (int a = 0; a < end->naddrs; a++)
				if (end->addrs[a].family == AF_INET6 &&
				    w->npending < NL_ADDR6_WAIT_ADDRS)
					w->pending[w->npending++] = end->addrs[a].a.v6;
		}
	ret = nl_addrs6_wait_ready(aw->w, aw->n, ADDRS6_READY_TIMEOUT_MS, stuck, sizeof(stuck));
	addr6_watch_close(aw); /* only needed while building */
	if (ret < 0)
		return diag_add(dl, t->file, 0, "IPv6 address %s still not ready after %d ms: %s",
				stuck, ADDRS6_READY_TIMEOUT_MS, strerror(-ret));
	return 0;
}

static int wait_links(struct lab *lab, struct diag_list *dl)
{
	int fds[TOPO_MAX_NODES + TOPO_MAX_LINKS], n = lab->topo.nnodes, ret;
	char stuck[IFNAMSIZ] = "?";

	for (int i = 0; i < n; i++)
		fds[i] = lab->nodes[i].watch;
	for (int i = 0; i < lab->nfwd; i++)
		fds[n + i] = lab->fwd[i].watch;
	ret = nl_links_wait_up(fds, n + lab->nfwd, LINKS_UP_TIMEOUT_MS, stuck, sizeof(stuck));
	for (int i = 0; i < n; i++) {
		close(lab->nodes[i].watch); /* only needed while building */
		lab->nodes[i].watch = -1;
	}
	for (int i = 0; i < lab->nfwd; i++) {
		close(lab->fwd[i].watch);
		lab->fwd[i].watch = -1;
	}
	if (ret < 0)
		return diag_add(dl, lab->topo.file, 0, "link %s still not up after %d ms: %s",
				stuck, LINKS_UP_TIMEOUT_MS, strerror(-ret));
	return 0;
}

static void random_name(char *buf, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(rand() ^ getpid());
	if (fd >= 0)
		close(fd);
	buf[0] = 'l';
	for (size_t i = 0; i < sizeof(rnd) && i + 2 < len; i++)
		buf[i + 1] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	buf[len < 8 ? len - 1 : 7] = '\0';
}

/* Adds the time since the previous call to opts->phase_ms[phase] (phase -1 starts the clock).
 * Per thread: cells are built in parallel threads. */
static void phase_clock(const struct lab_options *opts, int phase)
{
	static __thread struct timespec last;
	struct timespec now;

	if (!opts || !opts->phase_ms)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (phase >= 0)
		opts->phase_ms[phase] += (now.tv_sec - last.tv_sec) * 1e3 +
					 (now.tv_nsec - last.tv_nsec) / 1e6;
	last = now;
}

int lab_up(const struct topo *t, const struct lab_options *opts, struct lab **labp,
	   struct diag_list *dl)
{
	struct lab *lab = calloc(1, sizeof(*lab));
	struct if_ids *ids = calloc(1, sizeof(*ids));
	struct addr6_watch *aw = calloc(1, sizeof(*aw));
	int home = -1, ret;

	*labp = NULL;
	if (!lab || !ids || !aw) {
		ret = -ENOMEM;
		goto fail;
	}
	lab->topo = *t;
	proc_reap_later_collect();
	for (int n = 0; n < TOPO_MAX_NODES; n++)
		lab->nodes[n].netns = lab->nodes[n].watch = -1;
	if (opts && opts->name) {
		if (!lab_name_valid(opts->name)) {
			ret = diag_add(dl, "--name", 0, "lab name \"%s\" is not valid, expected 1-12 "
				       "characters of a-z and 0-9", opts->name);
			goto fail;
		}
		snprintf(lab->name, sizeof(lab->name), "%s", opts->name);
	} else {
		random_name(lab->name, sizeof(lab->name));
	}
	ret = resolve_profiles(lab, opts, dl);
	if (ret < 0)
		goto fail;

	home = netns_current();
	if (home < 0) {
		ret = diag_add(dl, t->file, 0, "open own network namespace: %s", strerror(-home));
		goto fail;
	}
	ids->next = 2; /* 1 is lo in every namespace */
	phase_clock(opts, -1);
	ret = create_nodes(lab, aw, dl);
	if (netns_enter(home) < 0)
		abort(); /* see load_rulesets() */
	phase_clock(opts, LAB_PHASE_NODES);
	if (ret == 0)
		ret = create_links(lab, ids, dl);
	phase_clock(opts, LAB_PHASE_LINKS);
	if (ret == 0)
		ret = add_addresses(lab, ids, dl);
	if (ret == 0)
		ret = add_routes(lab, ids, dl);
	phase_clock(opts, LAB_PHASE_ADDRS);
	if (ret == 0)
		ret = load_rulesets(lab, home, dl);
	phase_clock(opts, LAB_PHASE_RULESETS);
	if (ret == 0)
		ret = wait_links(lab, dl);
	if (ret == 0)
		ret = wait_addrs6(lab, ids, aw, dl);
	phase_clock(opts, LAB_PHASE_LINK_WAIT);
	if (ret == 0)
		ret = lab_forwarders_start(lab, opts && opts->keep, home, dl);
	phase_clock(opts, LAB_PHASE_IMPAIR);
	if (ret == 0)
		ret = lab_portmapd_start(lab, opts && opts->keep, dl);
	if (ret == 0)
		ret = lab_nat64_start(lab, opts && opts->keep, dl);
	if (ret < 0)
		goto fail;
	close(home);
	free(ids);
	free(aw);
	*labp = lab;
	return 0;
fail:
	if (home >= 0)
		close(home);
	free(ids);
	if (aw)
		addr6_watch_close(aw);
	free(aw);
	lab_down(lab);
	return ret;
}

void lab_down(struct lab *lab)
{
	if (!lab)
		return;
	/* Every program is asked to stop first, then each is waited for: their ends overlap.
	 * Forwarders are killed and not waited for: one ends only after RCU grace periods
	 * (closing a packet socket waits for one, synchronize_net()), tens of ms that would be
	 * every impaired cell's; they hold nothing but their forwarding namespace, which goes
	 * with them, and they are reaped by a later lab_down() or lab_up(). */
	proc_reap_later_collect();
	for (int i = 0; i < lab->nchildren; i++)
		if (!lab->children[i].reaped) {
			if (lab->children[i].forwarder)
				proc_reap_later(&lab->children[i]);
			else
				kill(lab->children[i].pid, SIGTERM);
		}
	for (int i = 0; i < lab->nchildren; i++)
		lab_stop(lab, i, 200, NULL);
	lab_portmapd_cleanup(lab);
	lab_nat64_cleanup(lab);
	if (lab->pinned)
		lab_unpin_nodes(lab);
	lab_close_nodes(lab);
	free(lab);
}

void lab_release(struct lab *lab)
{
	if (!lab)
		return;
	for (int i = 0; i < lab->nchildren; i++)
		if (lab->children[i].pidfd >= 0)
			close(lab->children[i].pidfd);
	lab_close_nodes(lab);
	free(lab);
}

const struct topo *lab_topo(const struct lab *lab)
{
	return &lab->topo;
}

const char *lab_name(const struct lab *lab)
{
	return lab->name;
}

int lab_node_netns(const struct lab *lab, int node)
{
	return (node >= 0 && node < lab->topo.nnodes) ? lab->nodes[node].netns : -1;
}

const char *lab_node_profile(const struct lab *lab, int node)
{
	return (node >= 0 && node < lab->topo.nnodes) ? lab->nodes[node].profile : "";
}

const char *lab_node_companion(const struct lab *lab, int node)
{
	return (node >= 0 && node < lab->topo.nnodes) ? lab->nodes[node].companion : "";
}

int lab_socket(const struct lab *lab, int node, int domain, int type, int protocol)
{
	int home, fd, ret;

	if (node < 0 || node >= lab->topo.nnodes)
		return -EINVAL;
	home = netns_current();
	if (home < 0)
		return home;
	ret = netns_enter(lab->nodes[node].netns);
	if (ret == 0) {
		fd = socket(domain, type | SOCK_CLOEXEC, protocol);
		ret = fd < 0 ? -errno : fd;
		if (netns_enter(home) < 0)
			abort(); /* see load_rulesets() */
	}
	close(home);
	return ret;
}

int lab_node_ipv4(const struct lab *lab, int node, char addrs[][64], int max)
{
	const struct topo *t = &lab->topo;
	int n = 0;

	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], node);
		if (e < 0)
			continue;
		for (int a = 0; a < t->links[li].ends[e].naddrs && n < max; a++)
			if (t->links[li].ends[e].addrs[a].family == AF_INET)
				net_addr_format(&t->links[li].ends[e].addrs[a], false, addrs[n++], 64);
	}
	return n;
}
