#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/paths.h"
#include "lab/shellway.h"

#define MAX_ARGS 32

/* Run one command, quietly, the way `set -e` scripts do: wait for it, fail on non-zero. With
 * ns, inside the pinned namespace /run/netns/<ns> through nsenter: `ip -n` and `ip netns exec`
 * also remount /sys, which needs / to be a mount point (it is not in a chroot). */
static int vrun(const char *ns, const char *first, va_list ap)
{
	char *argv[MAX_ARGS], netarg[128];
	int argc = 0, status;
	pid_t pid;

	if (ns) {
		snprintf(netarg, sizeof(netarg), "--net=/run/netns/%s", ns);
		argv[argc++] = "nsenter";
		argv[argc++] = netarg;
	}
	argv[argc++] = (char *)first;
	while (argc < MAX_ARGS - 1 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int run(const char *first, ...)
{
	va_list ap;
	int ret;

	va_start(ap, first);
	ret = vrun(NULL, first, ap);
	va_end(ap);
	return ret;
}

static int run_in(const char *ns, const char *first, ...)
{
	va_list ap;
	int ret;

	va_start(ap, first);
	ret = vrun(ns, first, ap);
	va_end(ap);
	return ret;
}

static void ns_name(const char *lab, const struct topo *t, int n, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", lab, t->nodes[n].name);
}

/* The same settings as lab.c's node_sysctls(), in one sysctl process. */
static int node_setup(const struct topo *t, const char *lab, int n, bool ipv6)
{
	bool router = t->nodes[n].kind == NODE_NAT || t->nodes[n].kind == NODE_INET;
	char ns[64];
	char *kv[8];
	int ret, k = 0;

	ns_name(lab, t, n, ns, sizeof(ns));
	if ((ret = run("ip", "netns", "add", ns, NULL)))
		return ret;
	kv[k++] = "net.ipv4.conf.all.rp_filter=0";
	kv[k++] = "net.ipv4.conf.default.rp_filter=0";
	if (router)
		kv[k++] = "net.ipv4.ip_forward=1";
	if (!ipv6) {
		kv[k++] = "net.ipv6.conf.default.disable_ipv6=1";
	} else {
		kv[k++] = "net.ipv6.conf.default.accept_ra=0";
		kv[k++] = "net.ipv6.conf.default.accept_dad=0";
		if (router)
			kv[k++] = "net.ipv6.conf.all.forwarding=1";
	}
	while (k < 8)
		kv[k++] = NULL;
	ret = run_in(ns, "sysctl", "-qw", kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6], kv[7],
		     NULL);
	for (int li = 0; !ret && li < t->nlinks; li++)
		if (t->links[li].nends > 2 && t->links[li].ends[0].node == n)
			ret = run_in(ns, "sysctl", "-qew",
				  "net.bridge.bridge-nf-call-iptables=0",
				  "net.bridge.bridge-nf-call-ip6tables=0",
				  "net.bridge.bridge-nf-call-arptables=0", NULL);
	if (ret)
		return ret;
	return run_in(ns, "ip", "link", "set", "lo", "up", NULL);
}

static int veth(const char *ns_a, const char *if_a, const char *ns_b, const char *if_b,
		const char *master)
{
	int ret = run_in(ns_a, "ip", "link", "add", if_a, "type", "veth", "peer", "name", if_b,
		      "netns", ns_b, NULL);
	if (!ret && master)
		ret = run_in(ns_a, "ip", "link", "set", if_a, "master", master, NULL);
	if (!ret)
		ret = run_in(ns_a, "ip", "link", "set", if_a, "up", NULL);
	if (!ret)
		ret = run_in(ns_b, "ip", "link", "set", if_b, "up", NULL);
	return ret;
}

static int links_setup(const struct topo *t, const char *lab)
{
	int ret = 0;

	for (int li = 0; li < t->nlinks && !ret; li++) {
		const struct topo_link *l = &t->links[li];
		char hub[64], other[64];

		ns_name(lab, t, l->ends[0].node, hub, sizeof(hub));
		if (l->nends == 2) {
			ns_name(lab, t, l->ends[1].node, other, sizeof(other));
			ret = veth(hub, l->ends[0].ifname, other, l->ends[1].ifname, NULL);
			continue;
		}
		ret = run_in(hub, "ip", "link", "add", l->bridge, "type", "bridge", NULL);
		if (!ret)
			ret = run_in(hub, "ip", "link", "set", l->bridge, "up", NULL);
		for (int e = 1; e < l->nends && !ret; e++) {
			ns_name(lab, t, l->ends[e].node, other, sizeof(other));
			ret = veth(hub, l->ends[e].hub_ifname, other, l->ends[e].ifname, l->bridge);
		}
	}
	return ret;
}

static int addrs_routes_setup(const struct topo *t, const char *lab)
{
	int ret = 0;

	for (int li = 0; li < t->nlinks && !ret; li++)
		for (int e = 0; e < t->links[li].nends && !ret; e++) {
			const struct topo_end *end = &t->links[li].ends[e];
			char ns[64], a[64];
			ns_name(lab, t, end->node, ns, sizeof(ns));
			for (int ai = 0; ai < end->naddrs && !ret; ai++) {
				net_addr_format(&end->addrs[ai], true, a, sizeof(a));
				ret = end->addrs[ai].family == AF_INET6
					? run_in(ns, "ip", "addr", "add", a, "dev",
					      topo_end_ifname(&t->links[li], e), "nodad", NULL)
					: run_in(ns, "ip", "addr", "add", a, "dev",
					      topo_end_ifname(&t->links[li], e), NULL);
			}
		}
	for (int n = 0; n < t->nnodes && !ret; n++) {
		int g = t->nodes[n].gateway;
		if (g < 0)
			continue;
		for (int li = 0; li < t->nlinks && !ret; li++) {
			const struct topo_link *l = &t->links[li];
			int en = topo_link_end_of(l, n), eg = topo_link_end_of(l, g);
			char ns[64], via[64];
			if (en < 0 || eg < 0)
				continue;
			ns_name(lab, t, n, ns, sizeof(ns));
			for (int fam = 0; fam < 2 && !ret; fam++) {
				int family = fam ? AF_INET6 : AF_INET;
				const struct net_addr *gw = topo_end_addr(&l->ends[eg], family);
				if (!gw || !topo_end_addr(&l->ends[en], family))
					continue;
				net_addr_format(gw, false, via, sizeof(via));
				ret = run_in(ns, "ip", fam ? "-6" : "-4", "route", "add", "default",
					  "via", via, "dev", topo_end_ifname(l, en), NULL);
			}
			break;
		}
	}
	return ret;
}

static int rulesets_setup(const struct topo *t, const char *lab, char profiles[][4096])
{
	int ret = 0;

	for (int n = 0; n < t->nnodes && !ret; n++) {
		const struct topo_node *node = &t->nodes[n];
		const struct topo_link *wan, *lan;
		char ns[64], d[5][96], net[64], a[64];

		if (!profiles[n][0])
			continue;
		wan = &t->links[node->wan_link];
		lan = &t->links[node->lan_link];
		ns_name(lab, t, n, ns, sizeof(ns));
		snprintf(d[0], sizeof(d[0]), "WAN_IF=%s", topo_end_ifname(wan, node->wan_end));
		snprintf(d[1], sizeof(d[1]), "LAN_IF=%s", topo_end_ifname(lan, node->lan_end));
		net_addr_format(topo_end_addr(&wan->ends[node->wan_end], AF_INET), false, a, sizeof(a));
		snprintf(d[2], sizeof(d[2]), "WAN_ADDR=%s", a);
		net_addr_format(topo_end_addr(&lan->ends[node->lan_end], AF_INET), false, a, sizeof(a));
		snprintf(d[3], sizeof(d[3]), "LAN_ADDR=%s", a);
		net_addr_network(topo_end_addr(&lan->ends[node->lan_end], AF_INET), net, sizeof(net));
		snprintf(d[4], sizeof(d[4]), "LAN_NET=%s", net);
		ret = run_in(ns, "nft", "-D", d[0], "-D", d[1], "-D", d[2], "-D",
			  d[3], "-D", d[4], "-f", profiles[n], NULL);
	}
	/* isolated LANs: the lab's own rule in the hub, as lab_up() loads it */
	for (int li = 0; li < t->nlinks && !ret; li++) {
		const struct topo_link *l = &t->links[li];
		char ns[64], path[4096], d[2][192];
		size_t used;

		if (!l->isolate)
			continue;
		ns_name(lab, t, l->ends[0].node, ns, sizeof(ns));
		snprintf(path, sizeof(path), "%s/topologies/rules/isolate.nft", paths_data_dir());
		snprintf(d[0], sizeof(d[0]), "LAN_IF=%s", l->bridge);
		used = (size_t)snprintf(d[1], sizeof(d[1]), "LAN_PORTS={ ");
		for (int e = 1; e < l->nends && used < sizeof(d[1]); e++)
			used += (size_t)snprintf(d[1] + used, sizeof(d[1]) - used, "%s\"%s\"",
						 e > 1 ? ", " : "", l->ends[e].hub_ifname);
		if (used < sizeof(d[1]))
			snprintf(d[1] + used, sizeof(d[1]) - used, " }");
		ret = run_in(ns, "nft", "-D", d[0], "-D", d[1], "-f", path, NULL);
	}
	return ret;
}

int shellway_up(const struct topo *t, const char *name, char profiles[][4096])
{
	int ret = 0;

	bool ipv6 = false;

	for (int li = 0; li < t->nlinks; li++)
		for (int e = 0; e < t->links[li].nends; e++)
			ipv6 |= topo_end_addr(&t->links[li].ends[e], AF_INET6) != NULL;
	for (int n = 0; n < t->nnodes && !ret; n++)
		ret = node_setup(t, name, n, ipv6);
	if (!ret)
		ret = links_setup(t, name);
	if (!ret)
		ret = addrs_routes_setup(t, name);
	if (!ret)
		ret = rulesets_setup(t, name, profiles);
	if (ret)
		shellway_down(t, name);
	return ret;
}

int shellway_down(const struct topo *t, const char *name)
{
	int ret = 0;

	for (int n = 0; n < t->nnodes; n++) {
		char ns[64];
		ns_name(name, t, n, ns, sizeof(ns));
		if (access(strcat(strcpy((char[128]){ 0 }, "/run/netns/"), ns), F_OK) == 0)
			ret |= run("ip", "netns", "del", ns, NULL);
	}
	return ret;
}
