#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/out.h"
#include "base/paths.h"
#include "cli/cli.h"
#include "lab/topo.h"

/* nf_tables is usable when the kernel answers a read-only query of its nftables generation
 * (NFT_MSG_GETGEN): built in, loaded, or autoloaded by the request. Nothing is changed. */
static int nf_tables_available(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int ok = 0, n;

	if (!nl)
		return 0;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n > 0) {
		struct nlmsghdr *r = (struct nlmsghdr *)buf;
		ok = !(r->nlmsg_type == NLMSG_ERROR &&
		       ((struct nlmsgerr *)mnl_nlmsg_get_payload(r))->error != 0);
	}
out:
	mnl_socket_close(nl);
	return ok;
}

int preflight_check(void)
{
	if (geteuid() != 0) {
		out_warnx(&out_std, "this needs root to create network namespaces and load "
			  "nftables rulesets: run it again with sudo (or as root)");
		return EXIT_SETUP;
	}
	if (access("/proc/self/ns/net", F_OK) < 0) {
		out_warnx(&out_std, "this kernel has no network namespaces: boot a kernel built with "
			  "CONFIG_NET_NS=y");
		return EXIT_SETUP;
	}
	if (!nf_tables_available()) {
		out_warnx(&out_std, "this kernel has no nf_tables: load it with `modprobe nf_tables` "
			  "or boot a kernel built with CONFIG_NF_TABLES");
		return EXIT_SETUP;
	}
	return 0;
}

int cli_load_topology(const char *arg, struct topo *t)
{
	struct diag_list dl = { .count = 0 };
	char path[512];

	if (paths_resolve("topologies", ".yaml", arg, path, sizeof(path)) < 0) {
		out_warnx(&out_std, "topology \"%s\" not found (looked for %s): give a name from "
			  "topologies/ or a path to a .yaml file", arg, path);
		return EXIT_SETUP;
	}
	if (topo_parse_file(t, path, &dl) < 0) {
		diag_print(&dl, &out_std);
		return EXIT_SETUP;
	}
	return 0;
}
