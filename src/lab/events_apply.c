/* Applying a NAT event (lab/events.h) to a running lab: conntrack over libmnl, rulesets over
 * libnftables, addresses and links over libnl, each inside the node's namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct/conntrack.h"
#include "lab/events.h"
#include "lab/lab_internal.h"
#include "lab/nat64.h"
#include "lab/sysctl.h"
#include "nft/profile.h"
#include "nft/ruleset.h"
#include "nl/nl.h"

/* The lab's own tables, which a reboot keeps (the isolation of a LAN belongs to the topology,
 * not to the profile), and the table where a rebind pins ports. */
#define LAB_TABLE "punchlab_lab"
#define EVENTS_TABLE "punchlab_events"

/* A rebind moves a public port by this much (mod the unprivileged range): far enough that no
 * engine mistakes it for a sequential NAT's next port, prime so repeated rebinds cycle long. */
#define REBIND_PORT_SHIFT 10007

struct node_ctx {
	struct lab *lab;
	int n;
	const struct topo_node *node;
	const char *wan_if, *lan_if;
	int wan_ifindex;
	struct net_addr wan_addr; /* as the kernel has it now */
};

static int enter(const struct lab *lab, int n, int *home)
{
	int ret;

	*home = netns_current();
	if (*home < 0)
		return *home;
	ret = netns_enter(lab->nodes[n].netns);
	if (ret < 0) {
		close(*home);
		*home = -1;
	}
	return ret;
}

static void leave(int home)
{
	if (home < 0)
		return;
	if (netns_enter(home) < 0)
		abort(); /* a thread stranded in a lab namespace would corrupt later work (lab.c) */
	close(home);
}

static int nat_ctx(struct lab *lab, const char *name, enum lab_event_kind kind,
		   struct node_ctx *c, char *detail, size_t len)
{
	const struct topo *t = &lab->topo;
	int ret;

	memset(c, 0, sizeof(*c));
	c->lab = lab;
	c->n = topo_node_find(t, name);
	if (c->n < 0 || t->nodes[c->n].kind != NODE_NAT) {
		snprintf(detail, len, "no nat node \"%s\"", name);
		return -EINVAL;
	}
	/* rebind and wan-address move IPv4 state (public ports of IPv4 flows, the WAN's IPv4
	 * address): on a node with an IPv6 ruleset (family 6, or a dual node's companion) they
	 * would leave its IPv6 side as it was. A reboot reloads every ruleset the node runs
	 * (docs/events.md "Address families"). */
	if (kind != LAB_EV_REBOOT && lab->nodes[c->n].profile[0] &&
	    (lab->nodes[c->n].family == AF_INET6 || lab->nodes[c->n].companion[0])) {
		snprintf(detail, len, "node %s runs an IPv6 ruleset (%s): %s acts on IPv4-only NATs; "
			 "reboot and link down work in every family", name,
			 lab->nodes[c->n].companion[0] ? lab->nodes[c->n].companion
						       : lab->nodes[c->n].profile,
			 lab_event_kind_name(kind));
		return -EINVAL;
	}
	c->node = &t->nodes[c->n];
	c->wan_if = topo_end_ifname(&t->links[c->node->wan_link], c->node->wan_end);
	c->lan_if = topo_end_ifname(&t->links[c->node->lan_link], c->node->lan_end);
	if (!lab->nodes[c->n].sk) {
		snprintf(detail, len, "node %s has no rtnetlink socket", name);
		return -EINVAL;
	}
	c->wan_ifindex = nl_link_index(lab->nodes[c->n].sk, c->wan_if);
	if (c->wan_ifindex < 0) {
		snprintf(detail, len, "find %s in node %s: %s", c->wan_if, name,
			 strerror(-c->wan_ifindex));
		return c->wan_ifindex;
	}
	/* an IPv6 profile is reloaded with the topology's IPv6 addresses (reload_profile()) */
	if (lab->nodes[c->n].family == AF_INET6)
		return 0;
	ret = nl_addr_first_ipv4(lab->nodes[c->n].sk, c->wan_ifindex, &c->wan_addr);
	if (ret < 0)
		snprintf(detail, len, "read the address of %s in node %s: %s", c->wan_if, name,
			 strerror(-ret));
	return ret;
}

/* How many NATed IPv4 flows the node's conntrack holds (-errno on failure). */
static int nat_flows(const struct lab *lab, int n, struct ct_mappings *keep)
{
	struct mnl_socket *nl = ct_socket_open(lab->nodes[n].netns);
	struct ct_mappings m = { 0 };
	int ret;

	if (!nl)
		return -errno;
	ret = ct_dump_mappings(nl, &m);
	ct_socket_close(nl);
	if (ret == 0)
		ret = (int)m.n;
	if (keep)
		*keep = m;
	else
		ct_mappings_free(&m);
	return ret;
}

/* How many conntrack entries of both families the node holds, translated or not (-errno on
 * failure): what a reboot of a node with an IPv6 ruleset flushes. */
static int all_flows(const struct lab *lab, int n)
{
	struct mnl_socket *nl = ct_socket_open(lab->nodes[n].netns);
	struct ct_mappings m = { 0 };
	int ret;

	if (!nl)
		return -errno;
	ret = ct_dump_flows(nl, AF_UNSPEC, &m);
	ct_socket_close(nl);
	if (ret == 0)
		ret = (int)m.n;
	ct_mappings_free(&m);
	return ret;
}

static int flush_ct(const struct lab *lab, int n)
{
	struct mnl_socket *nl = ct_socket_open(lab->nodes[n].netns);
	int ret;

	if (!nl)
		return -errno;
	ret = ct_flush(nl);
	ct_socket_close(nl);
	return ret;
}

/* Which tables delete_tables_cmds() deletes: a dual node holds its IPv4 profile's tables (ip,
 * inet) and its IPv6 companion's (ip6), each reloaded with its own variables. */
enum tables_which { TABLES_ALL, TABLES_IP6, TABLES_NOT_IP6 };

/* nft commands that delete every table of the node (of the families `which` says) but the
 * lab's own: appended to buf. Runs inside the node. */
static int delete_tables_cmds(char *buf, size_t len, enum tables_which which, char *err,
			      size_t elen)
{
	char *out = NULL;
	json_t *root, *arr;
	size_t used = strlen(buf), i;
	int ret = nft_ruleset_run("list tables", true, &out, err, elen);

	if (ret < 0)
		return ret;
	root = json_loads(out, 0, NULL);
	free(out);
	arr = root ? json_object_get(root, "nftables") : NULL;
	if (!json_is_array(arr)) {
		json_decref(root);
		snprintf(err, elen, "libnftables listed tables in an unexpected form");
		return -EIO;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *tb = json_object_get(json_array_get(arr, i), "table");
		const char *fam = json_string_value(json_object_get(tb, "family"));
		const char *name = json_string_value(json_object_get(tb, "name"));
		if (!fam || !name || strcmp(name, LAB_TABLE) == 0)
			continue;
		if ((which == TABLES_IP6 && strcmp(fam, "ip6") != 0) ||
		    (which == TABLES_NOT_IP6 && strcmp(fam, "ip6") == 0))
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
					 "delete table %s %s\n", fam, name);
	}
	json_decref(root);
	if (used >= len) {
		snprintf(err, elen, "too many tables");
		return -ENOSPC;
	}
	return 0;
}

/* "flush set|map FAMILY TABLE NAME" for every dynamic set and map (the cones' learnt mappings),
 * appended to buf. Static maps (a sequential profile's port table) are data, not state.
 * libnftables 1.0.6's JSON leaves "dynamic" out of a set's flags (the text listing has it):
 * elements with a timeout are learnt state too, so either flag counts. */
static int flush_dynamic_cmds(char *buf, size_t len, char *err, size_t elen)
{
	static const char *const kinds[] = { "set", "map" };
	size_t used = strlen(buf);

	for (int k = 0; k < 2; k++) {
		char cmd[16], *out = NULL;
		json_t *root, *arr;
		int ret;

		snprintf(cmd, sizeof(cmd), "list %ss", kinds[k]);
		ret = nft_ruleset_run(cmd, true, &out, err, elen);
		if (ret < 0)
			return ret;
		root = json_loads(out, 0, NULL);
		free(out);
		arr = root ? json_object_get(root, "nftables") : NULL;
		for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
			json_t *s = json_object_get(json_array_get(arr, i), kinds[k]);
			json_t *flags = json_object_get(s, "flags");
			const char *fam = json_string_value(json_object_get(s, "family"));
			const char *table = json_string_value(json_object_get(s, "table"));
			const char *name = json_string_value(json_object_get(s, "name"));
			bool dynamic = false;

			if (json_is_string(flags))
				dynamic = strcmp(json_string_value(flags), "dynamic") == 0 ||
					  strcmp(json_string_value(flags), "timeout") == 0;
			for (size_t f = 0; json_is_array(flags) && f < json_array_size(flags); f++) {
				const char *v = json_string_value(json_array_get(flags, f));
				dynamic |= v && (strcmp(v, "dynamic") == 0 || strcmp(v, "timeout") == 0);
			}
			if (!dynamic || !fam || !table || !name)
				continue;
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
						 "flush %s %s %s %s\n", kinds[k], fam, table, name);
		}
		json_decref(root);
	}
	if (used >= len) {
		snprintf(err, elen, "too many sets");
		return -ENOSPC;
	}
	return 0;
}

/* One transaction inside the node: delete its tables of the families `which` says and load
 * profile with vars. Variables apply to files only (BRIEF.md), so the transaction is a small
 * file that deletes the old tables and includes the profile: errors still name its line. */
static int load_transaction(struct node_ctx *c, enum tables_which which, const char *profile,
			    struct nft_var *vars, int nvars, char *detail, size_t len)
{
	char wrapper[] = "/tmp/punchlab-reload-XXXXXX", cmds[4096] = "", err[300];
	struct diag_list *dl = NULL;
	FILE *f = NULL;
	int fd = -1, ret;

	ret = delete_tables_cmds(cmds, sizeof(cmds), which, err, sizeof(err));
	if (ret < 0) {
		snprintf(detail, len, "list the tables of node %s: %s", c->node->name, err);
		return ret;
	}
	fd = mkstemp(wrapper);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	dl = calloc(1, sizeof(*dl));
	if (!f || !dl) {
		ret = -errno ? -errno : -ENOMEM;
		snprintf(detail, len, "write %s: %s", wrapper, strerror(-ret));
		goto out;
	}
	fprintf(f, "%sinclude \"%s\"\n", cmds, profile);
	if (fclose(f) != 0) {
		f = NULL;
		ret = -errno;
		snprintf(detail, len, "write %s: %s", wrapper, strerror(-ret));
		goto out;
	}
	f = NULL;
	fd = -1;
	ret = nft_ruleset_load(wrapper, vars, nvars, dl);
	if (ret < 0)
		snprintf(detail, len, "reload %s in node %s: %s:%d: %s", profile, c->node->name,
			 dl->count ? dl->items[0].file : "?", dl->count ? dl->items[0].line : 0,
			 dl->count ? dl->items[0].msg : "rejected");
out:
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	unlink(wrapper);
	free(dl);
	return ret;
}

/* Reload the node's profile (delete its tables, load the file again with the WAN address the
 * kernel has now), each family in one transaction: no packet ever crosses the node without
 * rules of its family. A dual node reloads its IPv4 profile (ip and inet tables) and then its
 * IPv6 companion (ip6 tables) with the node's IPv6 addresses, as lab.c loaded them; an IPv6
 * profile (family 6) is loaded with the IPv6 addresses. Runs inside the node. */
static int reload_profile(struct node_ctx *c, char *detail, size_t len)
{
	const struct topo *t = &c->lab->topo;
	const struct net_addr *la = topo_end_addr(&t->links[c->node->lan_link].ends[c->node->lan_end],
						  AF_INET);
	const char *profile = c->lab->nodes[c->n].profile;
	const char *six = c->lab->nodes[c->n].companion;
	char wan[64], lan[64], net[64], lan_if[64], vals[5][64];
	struct nft_var vars[5], vars6[5];
	int ret, nvars;

	if (!profile[0]) {
		snprintf(detail, len, "node %s runs no profile to reload", c->node->name);
		return -EINVAL;
	}
	if (c->lab->nodes[c->n].family == AF_INET6) {
		nvars = lab_nat_vars(t, c->n, AF_INET6, vals, vars);
		return load_transaction(c, TABLES_ALL, profile, vars, nvars, detail, len);
	}
	net_addr_format(&c->wan_addr, false, wan, sizeof(wan));
	net_addr_format(la, false, lan, sizeof(lan));
	net_addr_network(la, net, sizeof(net));
	vars[0] = (struct nft_var){ "WAN_IF", c->wan_if };
	/* as lab.c loaded it: a NAT64 node's LAN includes tayga's TUN device */
	lab_nat64_lan_if(t, c->n, c->lan_if, lan_if, sizeof(lan_if));
	vars[1] = (struct nft_var){ "LAN_IF", lan_if };
	vars[2] = (struct nft_var){ "WAN_ADDR", wan };
	vars[3] = (struct nft_var){ "LAN_ADDR", lan };
	vars[4] = (struct nft_var){ "LAN_NET", net };
	if (!six[0])
		return load_transaction(c, TABLES_ALL, profile, vars, 5, detail, len);
	/* the companion first: booting after being off, the drop-all table (inet) goes with the
	 * IPv4 transaction, and by then IPv6 has its rules again (a firewall without its ruleset
	 * would forward everything) */
	nvars = lab_nat_vars(t, c->n, AF_INET6, vals, vars6);
	ret = load_transaction(c, TABLES_IP6, six, vars6, nvars, detail, len);
	if (ret == 0)
		ret = load_transaction(c, TABLES_NOT_IP6, profile, vars, 5, detail, len);
	return ret;
}

/* A NAT that is off: every table but the lab's replaced by one that drops what it would
 * forward or receive, in one transaction. */
static int power_off(struct node_ctx *c, char *detail, size_t len)
{
	char cmds[4096] = "", err[300];
	int ret = delete_tables_cmds(cmds, sizeof(cmds), TABLES_ALL, err, sizeof(err));
	size_t used = strlen(cmds);

	if (ret == 0 && used < sizeof(cmds))
		snprintf(cmds + used, sizeof(cmds) - used,
			 "table inet " EVENTS_TABLE " {\n"
			 " chain in { type filter hook prerouting priority -400; policy drop; }\n"
			 " chain out { type filter hook output priority -400; policy drop; }\n}\n");
	if (ret == 0)
		ret = nft_ruleset_run(cmds, false, NULL, err, sizeof(err));
	if (ret < 0)
		snprintf(detail, len, "switch node %s off: nftables: %s", c->node->name, err);
	return ret;
}

static int do_reboot(struct node_ctx *c, const struct lab_event *ev, bool up, char *detail,
		     size_t len)
{
	char rulesets[2 * PATH_MAX + 8];
	int home, before, after, ret;
	bool off = ev->for_ms > 0 && !up;

	/* an IPv6 ruleset translates nothing (a firewall) or IPv6 (nat66): its state is every
	 * flow of both families, not the NATed IPv4 ones */
	const bool six = c->lab->nodes[c->n].family == AF_INET6 || c->lab->nodes[c->n].companion[0];
	const char *flows = six ? "flows (both families)" : "NATed flows";

	before = six ? all_flows(c->lab, c->n) : nat_flows(c->lab, c->n, NULL);
	ret = enter(c->lab, c->n, &home);
	if (ret < 0) {
		snprintf(detail, len, "enter node %s: %s", c->node->name, strerror(-ret));
		return ret;
	}
	ret = off ? power_off(c, detail, len) : reload_profile(c, detail, len);
	leave(home);
	if (ret < 0)
		return ret;
	/* Booting after being off: conntrack was flushed when it went off and nothing passed
	 * since (the drop-all table runs before conntrack). Flushing again would kill the flows
	 * the peers open the moment the profile is back. */
	ret = ev->for_ms > 0 && up ? 0 : flush_ct(c->lab, c->n);
	if (ret < 0) {
		snprintf(detail, len, "flush conntrack in node %s: %s", c->node->name, strerror(-ret));
		return ret;
	}
	after = six ? all_flows(c->lab, c->n) : nat_flows(c->lab, c->n, NULL);
	/* a dual node reloads both its rulesets: the detail names both */
	snprintf(rulesets, sizeof(rulesets), "%s%s%s", c->lab->nodes[c->n].profile,
		 c->lab->nodes[c->n].companion[0] ? " and " : "", c->lab->nodes[c->n].companion);
	if (ev->for_ms > 0 && up)
		snprintf(detail, len, "ruleset %s reloaded (booted): %d %s before, %d after",
			 rulesets, before, flows, after);
	else if (off)
		snprintf(detail, len, "off (drops everything), conntrack flushed: %d %s before, %d "
			 "after", before, flows, after);
	else
		snprintf(detail, len, "ruleset %s reloaded, conntrack flushed: %d %s before, %d "
			 "after", rulesets, before, flows, after);
	return 0;
}

/* The pin table: every internal endpoint the NAT maps, moved to another public port, in a nat
 * chain that runs before the profile's (the first NAT binding of a hook wins); and inbound
 * packets to the old public ports dropped before conntrack sees them. Without that drop, a
 * packet from the other peer that arrives between the flush of the cone's map and the flush of
 * conntrack (or that meets an entry the old flow's last packets re-learnt) is DNATed to the old
 * mapping and opens a new entry that keeps the old port alive: the rebind would not take. */
static int pin_cmds(struct node_ctx *c, const struct ct_mappings *m, char *buf, size_t len,
		    char *summary, size_t slen)
{
	char drops[2048] = "";
	size_t used = strlen(buf), sused = 0, dused = 0;
	int pinned = 0;

	used += (size_t)snprintf(buf + used, len - used,
		"table ip " EVENTS_TABLE "\ndelete table ip " EVENTS_TABLE "\n"
		"table ip " EVENTS_TABLE " {\n chain rebind {\n  type nat hook postrouting priority "
		"srcnat - 1; policy accept;\n");
	summary[0] = '\0';
	for (size_t i = 0; i < m->n && used < len; i++) {
		const struct ct_mapping *f = &m->v[i];
		const char *proto = f->proto == IPPROTO_UDP ? "udp" : f->proto == IPPROTO_TCP ? "tcp" : NULL;
		char in[INET_ADDRSTRLEN];
		bool dup = false;
		unsigned np;

		if (!proto || f->inbound || f->hairpin)
			continue;
		for (size_t j = 0; j < i; j++)
			dup |= m->v[j].proto == f->proto && !m->v[j].inbound && !m->v[j].hairpin &&
			       m->v[j].internal_addr.s_addr == f->internal_addr.s_addr &&
			       m->v[j].internal_port == f->internal_port;
		if (dup)
			continue;
		np = f->public_port >= 1024 ? 1024u + (f->public_port - 1024u + REBIND_PORT_SHIFT) % 64512u
					    : 1024u + (f->public_port + REBIND_PORT_SHIFT) % 64512u;
		inet_ntop(AF_INET, &f->internal_addr, in, sizeof(in));
		used += (size_t)snprintf(buf + used, len - used,
					 "  oifname \"%s\" ip saddr %s %s sport %u masquerade to :%u\n",
					 c->wan_if, in, proto, f->internal_port, np);
		if (dused < sizeof(drops))
			dused += (size_t)snprintf(drops + dused, sizeof(drops) - dused,
						  "  iifname \"%s\" %s dport %u drop\n", c->wan_if,
						  proto, f->public_port);
		if (sused < slen)
			sused += (size_t)snprintf(summary + sused, slen - sused, "%s%s %s:%u %u->%u",
						  pinned ? ", " : "", proto, in, f->internal_port,
						  f->public_port, np);
		pinned++;
	}
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used, " }\n chain old_ports {\n  type "
					 "filter hook prerouting priority -300; policy accept;\n%s"
					 " }\n}\n", drops);
	return used < len && dused < sizeof(drops) ? pinned : -ENOSPC;
}

static int do_rebind(struct node_ctx *c, char *detail, size_t len)
{
	struct profile_header *h = calloc(1, sizeof(*h));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct ct_mappings m = { 0 };
	char cmds[8192] = "", err[300] = "", summary[600] = "";
	int home = -1, ret, pinned = 0, before;

	if (!h || !dl) {
		ret = -ENOMEM;
		snprintf(detail, len, "out of memory");
		goto out;
	}
	ret = profile_header_parse_file(h, c->lab->nodes[c->n].profile, dl);
	if (ret < 0) {
		snprintf(detail, len, "read the header of %s: %s", c->lab->nodes[c->n].profile,
			 dl->count ? dl->items[0].msg : strerror(-ret));
		goto out;
	}
	before = nat_flows(c->lab, c->n, &m);
	if (before < 0) {
		ret = before;
		snprintf(detail, len, "dump conntrack of node %s: %s", c->node->name, strerror(-ret));
		goto out;
	}
	ret = enter(c->lab, c->n, &home);
	if (ret < 0) {
		snprintf(detail, len, "enter node %s: %s", c->node->name, strerror(-ret));
		goto out;
	}
	/* A port-preserving NAT would give each flow its old port again after a flush: pin the
	 * flows elsewhere. Random and sequential NATs move by their own allocation. */
	if (h->ports == PROFILE_PORTS_PRESERVE) {
		pinned = pin_cmds(c, &m, cmds, sizeof(cmds), summary, sizeof(summary));
		if (pinned < 0) {
			ret = pinned;
			snprintf(detail, len, "too many flows to pin in node %s", c->node->name);
			goto out;
		}
	}
	ret = flush_dynamic_cmds(cmds, sizeof(cmds), err, sizeof(err));
	if (ret == 0 && cmds[0])
		ret = nft_ruleset_run(cmds, false, NULL, err, sizeof(err));
	leave(home);
	home = -1;
	if (ret < 0) {
		snprintf(detail, len, "rebind in node %s: nftables: %s", c->node->name, err);
		goto out;
	}
	ret = flush_ct(c->lab, c->n);
	if (ret < 0) {
		snprintf(detail, len, "flush conntrack in node %s: %s", c->node->name, strerror(-ret));
		goto out;
	}
	/* the old flows' last packets (before the conntrack flush) may have taught a cone's map
	 * their old ports again: forget those too */
	ret = enter(c->lab, c->n, &home);
	if (ret == 0) {
		cmds[0] = '\0';
		ret = flush_dynamic_cmds(cmds, sizeof(cmds), err, sizeof(err));
		if (ret == 0 && cmds[0])
			ret = nft_ruleset_run(cmds, false, NULL, err, sizeof(err));
		leave(home);
		home = -1;
	}
	if (ret < 0) {
		snprintf(detail, len, "rebind in node %s: flush maps again: %s", c->node->name, err);
		goto out;
	}
	if (h->ports == PROFILE_PORTS_PRESERVE)
		snprintf(detail, len, "%d internal endpoint(s) pinned to new public ports (%s), "
			 "inbound to the old ones dropped; dynamic maps and %d NATed flows flushed",
			 pinned, summary[0] ? summary : "none", before);
	else
		snprintf(detail, len, "dynamic maps and %d NATed flows flushed; %s ports: the "
			 "profile allocates new ones", before, profile_ports_name(h->ports));
out:
	leave(home);
	ct_mappings_free(&m);
	free(dl);
	free(h);
	return ret;
}

/* Another host address of the WAN subnet: from the top down, neither the current one nor one
 * the topology gives to an end of that link, nor the subnet's network or broadcast address. */
static int pick_wan_address(const struct node_ctx *c, struct net_addr *out)
{
	const struct topo_link *l = &c->lab->topo.links[c->node->wan_link];
	uint32_t cur = ntohl(c->wan_addr.a.v4.s_addr);
	uint32_t mask = c->wan_addr.prefix ? 0xffffffffu << (32 - c->wan_addr.prefix) : 0;
	uint32_t net = cur & mask, bcast = net | ~mask;

	if (c->wan_addr.prefix > 30)
		return -ENOSPC;
	for (uint32_t a = bcast - 1; a > net; a--) {
		bool used = a == cur;
		for (int e = 0; e < l->nends && !used; e++)
			for (int k = 0; k < l->ends[e].naddrs; k++)
				used |= l->ends[e].addrs[k].family == AF_INET &&
					ntohl(l->ends[e].addrs[k].a.v4.s_addr) == a;
		if (used)
			continue;
		*out = c->wan_addr;
		out->a.v4.s_addr = htonl(a);
		out->line = 0;
		return 0;
	}
	return -ENOSPC;
}

static int do_wan_address(struct node_ctx *c, char *detail, size_t len)
{
	const struct topo_link *l = &c->lab->topo.links[c->node->wan_link];
	const struct net_addr *gw = topo_end_addr(&l->ends[!c->node->wan_end], AF_INET);
	struct nl_sock *sk = c->lab->nodes[c->n].sk;
	struct nl_err nerr = { "" };
	struct net_addr old = c->wan_addr, neu;
	char key[128], a1[64], a2[64];
	int home, before, left, after, ret;

	if (pick_wan_address(c, &neu) < 0) {
		snprintf(detail, len, "the WAN subnet of %s has no free address", c->node->name);
		return -ENOSPC;
	}
	before = nat_flows(c->lab, c->n, NULL);
	ret = enter(c->lab, c->n, &home);
	if (ret < 0) {
		snprintf(detail, len, "enter node %s: %s", c->node->name, strerror(-ret));
		return ret;
	}
	/* The new address is added first (a secondary of the same subnet), then the old one
	 * deleted: with promote_secondaries the new one takes over instead of dying with the
	 * primary, and the interface never is without an address (which would drop its
	 * routes, the default one included). */
	snprintf(key, sizeof(key), "net/ipv4/conf/%s/promote_secondaries", c->wan_if);
	ret = sysctl_write(key, "1");
	if (ret == 0)
		ret = nl_addr_add(sk, c->wan_ifindex, c->wan_if, &neu, &nerr);
	if (ret == 0)
		ret = nl_addr_del(sk, c->wan_ifindex, c->wan_if, &old, &nerr);
	if (ret < 0) {
		leave(home);
		snprintf(detail, len, "node %s: %s", c->node->name,
			 nerr.msg[0] ? nerr.msg : strerror(-ret));
		return ret;
	}
	/* routes survive a promotion; if the kernel dropped the default one, it comes back */
	if (gw && c->node->gateway >= 0) {
		ret = nl_route_add_default(sk, c->wan_ifindex, gw, &nerr);
		if (ret < 0 && ret != -EEXIST) {
			leave(home);
			snprintf(detail, len, "node %s: %s", c->node->name, nerr.msg);
			return ret;
		}
	}
	c->wan_addr = neu;
	ret = reload_profile(c, detail, len);
	leave(home);
	if (ret < 0)
		return ret;
	/* what masquerade's own cleanup left (it drops the entries of a deleted address) */
	left = nat_flows(c->lab, c->n, NULL);
	ret = flush_ct(c->lab, c->n);
	if (ret < 0) {
		snprintf(detail, len, "flush conntrack in node %s: %s", c->node->name, strerror(-ret));
		return ret;
	}
	after = nat_flows(c->lab, c->n, NULL);
	snprintf(detail, len, "%s: %s -> %s, ruleset reloaded with the new $WAN_ADDR; NATed flows: "
		 "%d before, %d left after the address change, %d after the flush", c->wan_if,
		 net_addr_format(&old, true, a1, sizeof(a1)), net_addr_format(&neu, true, a2, sizeof(a2)),
		 before, left, after);
	return 0;
}

/* The end a link goes down at: the one of the node that is the other's gateway (its routes
 * through the link are only connected ones, which come back when it is up again; the other
 * node keeps its default route, its carrier merely lost). */
static int do_link(struct lab *lab, const struct lab_event *ev, bool up, char *detail, size_t len)
{
	const struct topo *t = &lab->topo;
	int a = topo_node_find(t, ev->node), b = topo_node_find(t, ev->node2), li, e = -1, n, idx;
	struct nl_err nerr = { "" };
	const char *ifname;
	int ret;

	for (li = 0; li < t->nlinks; li++)
		if (a >= 0 && b >= 0 && t->links[li].nends == 2 &&
		    topo_link_end_of(&t->links[li], a) >= 0 && topo_link_end_of(&t->links[li], b) >= 0)
			break;
	if (li == t->nlinks) {
		snprintf(detail, len, "no two-ended link joins %s and %s", ev->node, ev->node2);
		return -EINVAL;
	}
	n = t->nodes[a].gateway == b ? b : a;
	e = topo_link_end_of(&t->links[li], n);
	ifname = topo_end_ifname(&t->links[li], e);
	idx = nl_link_index(lab->nodes[n].sk, ifname);
	if (idx < 0) {
		snprintf(detail, len, "find %s in node %s: %s", ifname, t->nodes[n].name,
			 strerror(-idx));
		return idx;
	}
	ret = up ? nl_link_set_up(lab->nodes[n].sk, idx, ifname, &nerr)
		 : nl_link_set_down(lab->nodes[n].sk, idx, ifname, &nerr);
	if (ret < 0) {
		snprintf(detail, len, "%s", nerr.msg);
		return ret;
	}
	snprintf(detail, len, "%s (node %s) set %s", ifname, t->nodes[n].name, up ? "up" : "down");
	return 0;
}

int lab_event_apply(struct lab *lab, const struct lab_event *ev, bool up, char *detail,
		    size_t len)
{
	struct node_ctx c;
	int ret;

	detail[0] = '\0';
	if (ev->kind == LAB_EV_LINK_DOWN)
		return do_link(lab, ev, up, detail, len);
	ret = nat_ctx(lab, ev->node, ev->kind, &c, detail, len);
	if (ret < 0)
		return ret;
	switch (ev->kind) {
	case LAB_EV_REBOOT:
		return do_reboot(&c, ev, up, detail, len);
	case LAB_EV_REBIND:
		return do_rebind(&c, detail, len);
	case LAB_EV_WAN_ADDRESS:
		return do_wan_address(&c, detail, len);
	default:
		snprintf(detail, len, "unknown event");
		return -EINVAL;
	}
}
