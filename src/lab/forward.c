/* Impaired links in a lab (docs/impairments.md): each is a veth pair split in two through a
 * namespace of its own, the forwarding point, where punchlab-impair (src/impair/fwd.c) reads
 * every frame from one side and writes it out on the other after its timer queue.
 *
 *   node A  <A's ifname> ==veth== to-a | forwarding namespace | to-b ==veth== <B's ifname>  node B
 *
 * This kernel has no netem (BRIEF.md: "Verified way: a bump-in-the-wire node"). The two nodes
 * see one link as before, with the same names and addresses; ARP and everything else crosses
 * the forwarder like any frame. The forwarding namespace has no addresses, IPv6 off and
 * forwarding off, so its own stack never answers or sends anything. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "lab/lab_internal.h"
#include "lab/proc.h"
#include "lab/sysctl.h"
#include "nl/nl.h"

#define SOCK_BUF_BYTES (8 << 20) /* 20k frames/s for a 200 ms backlog of start-up, with room */

/* Called from create_nodes() (the thread may be anywhere; the caller returns it home). */
int lab_forwarders_create(struct lab *lab, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;

	for (int li = 0; li < t->nlinks; li++) {
		struct lab_forwarder *f;

		if (!t->links[li].impair.active)
			continue;
		f = &lab->fwd[lab->nfwd++];
		f->link = li;
		f->child = -1;
		f->sk = NULL;
		f->watch = -1;
		f->netns = netns_unshare_new();
		if (f->netns < 0)
			return diag_add(dl, t->file, t->links[li].line, "create the forwarding "
					"namespace of an impaired link: %s", strerror(-f->netns));
		f->sk = nl_route_open();
		if (!f->sk)
			return diag_add(dl, t->file, t->links[li].line, "open rtnetlink socket in a "
					"forwarding namespace: %s", strerror(errno));
		if (sysctl_write("net/ipv6/conf/default/disable_ipv6", "1") < 0)
			return diag_add(dl, t->file, t->links[li].line, "turn IPv6 off in a "
					"forwarding namespace (is /proc/sys mounted?)");
		f->watch = nl_link_watch_open();
		if (f->watch < 0)
			return diag_add(dl, t->file, t->links[li].line, "open a link watch socket in "
					"a forwarding namespace: %s", strerror(-f->watch));
	}
	return 0;
}

/* The link's two veth pairs: ends[0]'s interface to the forwarder's to-a, to-b to ends[1]'s
 * interface. ids[] receives the ifindexes of the two nodes' interfaces. */
int lab_forwarder_link(struct lab *lab, struct lab_forwarder *f, int ids[2], int *next_id,
		       struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	const struct topo_link *l = &t->links[f->link];
	struct lab_node_rt *a = &lab->nodes[l->ends[0].node], *b = &lab->nodes[l->ends[1].node];
	struct nl_err err = { "" };

	ids[0] = (*next_id)++;
	f->ifindex[0] = (*next_id)++;
	f->ifindex[1] = (*next_id)++;
	ids[1] = (*next_id)++;
	if (nl_link_add_veth(a->sk, l->ends[0].ifname, ids[0], 0, "to-a", f->ifindex[0], f->netns,
			     f->sk, &err) < 0 ||
	    nl_link_add_veth(f->sk, "to-b", f->ifindex[1], 0, l->ends[1].ifname, ids[1], b->netns,
			     b->sk, &err) < 0)
		return diag_add(dl, t->file, l->line, "%s", err.msg);
	return 0;
}

/* A socket buffer of `bytes`: SO_*BUFFORCE passes net.core.[rw]mem_max but needs CAP_NET_ADMIN
 * over the machine's first user namespace, which a rootless lab never has (EPERM, docs/
 * rootless.md): there the plain option, capped at [rw]mem_max (4 MiB here: 8 MiB of buffer after
 * the kernel doubles it), is what a user can get. */
static int sock_buf_set(int fd, int force, int plain, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof(bytes)) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	return setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof(bytes));
}

/* A packet socket on one of the forwarder's interfaces, opened here (in the forwarding
 * namespace) so that it exists before lab_up() returns: frames queue in it until the
 * forwarder runs. See src/impair/fwd.c for the virtio-net header. */
static int packet_socket(int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	/* Protocol 0 at socket(), ETH_P_ALL at bind(): a packet socket created with a protocol
	 * hooks into every device at once, and bind() would then unhook it first, which waits for
	 * an RCU grace period (synchronize_net(): tens of ms on a busy machine, per socket). */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), one = 1, buf = SOCK_BUF_BYTES, ret;

	if (fd < 0)
		return -errno;
	/* PACKET_IGNORE_OUTGOING: the frames the forwarder itself sends out of this interface
	 * would otherwise be read back from it and sent round again. */
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    sock_buf_set(fd, SO_RCVBUFFORCE, SO_RCVBUF, buf) < 0 ||
	    sock_buf_set(fd, SO_SNDBUFFORCE, SO_SNDBUF, buf) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* punchlab-impair next to this binary (installed), or in the build tree. */
static int forwarder_program(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(buf, len, "%s/punchlab-impair", exe);
		if (access(buf, X_OK) == 0)
			return 0;
		snprintf(buf, len, "%s/src/impair/punchlab-impair", exe);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, len, "%s/src/impair/punchlab-impair", PUNCHLAB_BUILD_DIR);
	return access(buf, X_OK) == 0 ? 0 : -ENOENT;
}

int lab_forwarders_start(struct lab *lab, bool keep, int home_netns, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	char prog[PATH_MAX];

	if (lab->nfwd == 0)
		return 0;
	if (forwarder_program(prog, sizeof(prog)) < 0)
		return diag_add(dl, t->file, 0, "the forwarder of impaired links, punchlab-impair, "
				"is missing (looked for %s), expected it next to punchlab", prog);
	for (int i = 0; i < lab->nfwd; i++) {
		struct lab_forwarder *f = &lab->fwd[i];
		const struct topo_link *l = &t->links[f->link];
		char spec[IMPAIR_SPEC_TEXT_MAX];
		char *argv[] = { prog, spec, NULL };
		struct lab_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
					    .detach = keep };
		int fd[2] = { -1, -1 }, ret;
		pid_t pid;

		if (impair_spec_format(&l->impair, spec, sizeof(spec)) < 0)
			return diag_add(dl, t->file, l->impair_line, "impair: spec too long");
		ret = netns_enter(f->netns);
		if (ret == 0) {
			for (int s = 0; s < 2; s++)
				fd[s] = packet_socket(f->ifindex[s]);
			if (netns_enter(home_netns) < 0)
				abort(); /* a thread stranded in a lab namespace would corrupt later work */
		}
		if (ret < 0 || fd[0] < 0 || fd[1] < 0) {
			ret = ret < 0 ? ret : fd[0] < 0 ? fd[0] : fd[1];
			for (int s = 0; s < 2; s++)
				if (fd[s] >= 0)
					close(fd[s]);
			return diag_add(dl, t->file, l->line, "open the packet sockets of the "
					"impaired link %s:%s: %s", t->nodes[l->ends[0].node].name,
					t->nodes[l->ends[1].node].name, strerror(-ret));
		}
		/* fds 0 and 1 of the forwarder (the spawner closes every other fd) */
		o.stdin_fd = fd[0];
		o.stdout_fd = fd[1];
		pid = proc_spawn(f->netns, argv, &o, false);
		close(fd[0]);
		close(fd[1]);
		if (pid < 0)
			return diag_add(dl, t->file, l->line, "start the forwarder of %s:%s: %s",
					t->nodes[l->ends[0].node].name,
					t->nodes[l->ends[1].node].name, strerror((int)-pid));
		f->child = lab_child_add(lab, pid);
		if (f->child >= 0)
			lab->children[f->child].forwarder = true;
		if (f->child < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return diag_add(dl, t->file, l->line, "too many programs in one lab");
		}
	}
	return 0;
}

void lab_forwarders_close(struct lab *lab)
{
	for (int i = 0; i < lab->nfwd; i++) {
		struct lab_forwarder *f = &lab->fwd[i];
		nl_route_close(f->sk);
		f->sk = NULL;
		if (f->netns >= 0)
			close(f->netns);
		f->netns = -1;
		if (f->watch >= 0)
			close(f->watch);
		f->watch = -1;
	}
	lab->nfwd = 0;
}
