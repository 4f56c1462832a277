#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/out.h"
#include "base/paths.h"
#include "base/userns.h"
#include "cli/cli.h"
#include "lab/registry.h"
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

/* Rootless, the init network namespace is not ours (nfnetlink wants CAP_NET_ADMIN over it):
 * ask from a child in a network namespace of its own, which is where every lab's rules go. */
static int nf_tables_available_rootless(void)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 && nf_tables_available() ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int kernel_check(void)
{
	if (access("/proc/self/ns/net", F_OK) < 0) {
		out_warnx(&out_std, "this kernel has no network namespaces: boot a kernel built with "
			  "CONFIG_NET_NS=y");
		return EXIT_SETUP;
	}
	if (!(userns_rootless() ? nf_tables_available_rootless() : nf_tables_available())) {
		out_warnx(&out_std, "this kernel has no nf_tables: load it with `modprobe nf_tables` "
			  "or boot a kernel built with CONFIG_NF_TABLES");
		return EXIT_SETUP;
	}
	return 0;
}

static bool lab_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 12 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* Join the keeper of kept lab `lab` when it has one that still runs: 1 joined, 0 not (no such
 * lab, or a record without keeper: the verb says so itself), or EXIT_SETUP. */
static int join_keeper(const char *lab)
{
	struct registry_record r;
	int fd, ret;

	/* read as the user, before any namespace: the record is the user's own file */
	if (!lab_name_ok(lab) || registry_read(lab, &r) < 0 || r.keeper <= 0)
		return 0;
	fd = (int)syscall(SYS_pidfd_open, r.keeper, 0);
	if (fd < 0)
		return 0;
	/* the pid was checked after the pidfd was taken: a reused pid is never joined */
	if (registry_proc_start(r.keeper) != r.keeper_start) {
		close(fd);
		return 0;
	}
	ret = userns_join(fd);
	close(fd);
	if (ret < 0) {
		out_warn(&out_std, ret, "join the namespaces of kept lab %s (its keeper, pid %d)", lab,
			 (int)r.keeper);
		return EXIT_SETUP;
	}
	return 1;
}

int preflight_enter(const char *lab, bool needs_state)
{
	int ret;

	if (userns_rootless())
		return 0; /* entered already */
	if (geteuid() == 0)
		return kernel_check();
	if (needs_state) {
		const char *x = getenv("XDG_RUNTIME_DIR");
		struct stat st;

		if (!x || x[0] != '/' || stat(x, &st) < 0 || !S_ISDIR(st.st_mode)) {
			out_warnx(&out_std, "without root, punchlab keeps its labs' records under "
				  "$XDG_RUNTIME_DIR/punchlab, and XDG_RUNTIME_DIR %s: set it to a "
				  "directory only you can write (a login session has /run/user/%u), or "
				  "run as root", x ? "names no directory" : "is not set",
				  (unsigned)geteuid());
			return EXIT_SETUP;
		}
		if (strlen(x) > PATHS_RUNTIME_DIR_MAX) {
			out_warnx(&out_std, "without root, punchlab keeps its labs' records under "
				  "$XDG_RUNTIME_DIR/punchlab, and XDG_RUNTIME_DIR is %zu bytes long "
				  "(%.40s...): the records' paths under it must fit in 300 bytes, so set "
				  "it to a directory of at most %d bytes (a login session has "
				  "/run/user/%u), or run as root", strlen(x), x, PATHS_RUNTIME_DIR_MAX,
				  (unsigned)geteuid());
			return EXIT_SETUP;
		}
	}
	if (lab) {
		ret = join_keeper(lab);
		if (ret == EXIT_SETUP)
			return ret;
		if (ret == 1)
			return kernel_check();
	}
	ret = userns_unshare();
	if (ret < 0) {
		out_warnx(&out_std, "without root, punchlab needs a user namespace and the kernel "
				  "refused one (%s): allow unprivileged user namespaces (sysctl "
				  "user.max_user_namespaces above 0, and kernel.unprivileged_userns_clone=1 "
				  "where it exists; not in a chroot), or run it as root with sudo",
				  strerror(-ret));
		return EXIT_SETUP;
	}
	return kernel_check();
}

int preflight_check(void)
{
	return preflight_enter(NULL, false);
}

const char *preflight_lab_of_exec(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0)
		i += strcmp(argv[i], "--timeout") == 0 ? 2 : 1;
	return i < argc ? argv[i] : NULL;
}

const char *preflight_lab_of_events(int argc, char **argv)
{
	return argc >= 3 && strcmp(argv[1], "apply") == 0 ? argv[2] : NULL;
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
