/* NAT64 in a node with Debian's tayga (lab/nat64.h). */
#include "lab/nat64.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/daemon.h"
#include "lab/lab_internal.h"
#include "nl/nl.h"

#define TUN "nat64"
/* The IPv4 side of the translation lives inside the node only: tayga's own address, the pool
 * it maps IPv6 hosts to, and the node's address on the TUN device (whose /24 routes the pool to
 * tayga). RFC 1918 space that no shipped topology uses; the node's profile NATs it. */
#define TAYGA_V4 "10.64.64.1"
#define POOL "10.64.64.0/25"
#define NODE_V4 "10.64.64.254/24"
#define READY_TIMEOUT_MS 5000
#define READY_POLL_MS 5

static const char *const dir_files[] = { "tayga.conf", "tayga.log", "mktun.log", "dynamic.map" };
static const struct lab_daemon_kind kind = { "nat64", dir_files,
					     sizeof(dir_files) / sizeof(dir_files[0]) };

const char *lab_nat64_program(void)
{
	const char *p = getenv("PUNCHLAB_TAYGA");

	return p && *p ? p : "/usr/sbin/tayga";
}

void lab_nat64_lan_if(const struct topo *t, int n, const char *lan_if, char *val, size_t len)
{
	if (t->nodes[n].nat64.family)
		snprintf(val, len, "{ \"%s\", \"%s\" }", lan_if, TUN);
	else if (val != lan_if)
		snprintf(val, len, "%s", lan_if);
}

void lab_nat64_pool(struct net_addr *out)
{
	const char *why;

	/* a constant this file wrote: it parses */
	(void)net_addr_parse(POOL, out, &why);
	out->line = 0;
}

void lab_nat64_remove(const char *lab_name, const char *node_name)
{
	lab_daemon_remove(&kind, lab_name, node_name);
}

void lab_nat64_cleanup(const struct lab *lab)
{
	for (int n = 0; n < lab->topo.nnodes; n++)
		if (lab->topo.nodes[n].nat64.family)
			lab_nat64_remove(lab->name, lab->topo.nodes[n].name);
}

static int write_config(const char *path, const char *dir, const char *prefix)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "# punchlab: tayga of one lab node (lab/nat64.h)\n");
	fprintf(f, "tun-device %s\nipv4-addr %s\nprefix %s\ndynamic-pool %s\ndata-dir %s\n", TUN,
		TAYGA_V4, prefix, POOL, dir);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Run argv in node n to its end (bounded), its output into log. 0, or -errno with why. */
static int run_once(struct lab *lab, int n, char *const argv[], const char *log, char *why,
		    size_t wlen)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), h, status = 0, ret;
	struct lab_spawn_opts o = { .stdin_fd = -1, .stdout_fd = fd, .stderr_fd = fd,
				    .timeout_ms = READY_TIMEOUT_MS };

	if (fd < 0)
		return snprintf(why, wlen, "%s: %s", log, strerror(errno)), -EIO;
	h = lab_spawn(lab, n, argv, &o);
	close(fd);
	if (h < 0)
		return snprintf(why, wlen, "%s", strerror(-h)), h;
	ret = lab_wait(lab, h, READY_TIMEOUT_MS + 1000, &status);
	if (ret == 0 && status == 0)
		return 0;
	lab_daemon_last_line(log, why, wlen);
	return ret < 0 ? ret : -ECHILD;
}

/* The TUN device up with an IPv4 address whose /24 routes the pool to tayga, and an IPv6
 * address whose prefix (the NAT64 prefix) routes every translated destination to it. */
static int tun_configure(struct lab *lab, int n, const struct net_addr *prefix, char *why,
			 size_t wlen)
{
	struct nl_sock *sk = lab->nodes[n].sk;
	struct nl_err err = { "" };
	struct net_addr v4, v6 = *prefix;
	const char *bad;
	int idx = nl_link_index(sk, TUN);

	if (idx < 0)
		return snprintf(why, wlen, "no device %s after tayga --mktun", TUN), -ENODEV;
	if (net_addr_parse(NODE_V4, &v4, &bad) < 0)
		return snprintf(why, wlen, "%s: %s", NODE_V4, bad), -EINVAL;
	/* the prefix's last address (IPv4 255.255.255.255 embedded: never a peer) */
	v6.a.v6.s6_addr[15] = 0xfe;
	v6.a.v6.s6_addr[14] = v6.a.v6.s6_addr[13] = v6.a.v6.s6_addr[12] = 0xff;
	if (nl_link_set_up(sk, idx, TUN, &err) < 0 || nl_addr_add(sk, idx, TUN, &v4, &err) < 0 ||
	    nl_addr_add(sk, idx, TUN, &v6, &err) < 0)
		return snprintf(why, wlen, "%s", err.msg), -EIO;
	return 0;
}

/* Whether the TUN device has carrier: a persistent TUN device has none until a program
 * attaches to it, so IFF_RUNNING says tayga holds it (and translates). 1, 0, or -errno.
 * A lab_daemon_ready_fn. */
static int tun_running(struct lab *lab, int n, int handle, void *ctx)
{
	struct ifreq ifr = { 0 };
	int fd = lab_socket(lab, n, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	(void)handle;
	(void)ctx;
	if (fd < 0)
		return fd;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TUN);
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -errno : (ifr.ifr_flags & IFF_RUNNING) != 0;
	close(fd);
	return ret;
}

static int start_node(struct lab *lab, int n, bool keep, struct diag_list *dl)
{
	const struct topo *t = &lab->topo;
	const struct topo_node *node = &t->nodes[n];
	const char *prog = lab_nat64_program();
	char dir[PATH_MAX], conf[PATH_MAX + 32], log[PATH_MAX + 32], prefix[64], why[512];
	int line = node->nat64_line, h, ret;

	net_addr_format(&node->nat64, true, prefix, sizeof(prefix));
	if (access(prog, X_OK) < 0)
		return diag_add(dl, t->file, line, "node \"%s\": nat64 %s needs tayga (Debian package "
				"tayga) in the node: %s is missing, expected it installed "
				"(ci/bootstrap.sh installs it)", node->name, prefix, prog);
	if (lab_daemon_dir(&kind, lab->name, node->name, dir, sizeof(dir)) < 0)
		return diag_add(dl, t->file, line, "nat64: $TMPDIR too long");
	lab_daemon_dir_remove(&kind, dir); /* a lab of this name that was killed left it */
	if (mkdir(dir, 0700) < 0)
		return diag_add(dl, t->file, line, "nat64: create %s: %s", dir, strerror(errno));
	snprintf(conf, sizeof(conf), "%s/tayga.conf", dir);
	ret = write_config(conf, dir, prefix);
	if (ret < 0)
		return diag_add(dl, t->file, line, "nat64: write %s: %s", conf, strerror(-ret));

	/* the TUN device first, made by tayga itself in the node (it lives in the namespace) */
	snprintf(log, sizeof(log), "%s/mktun.log", dir);
	{
		char *argv[] = { (char *)prog, "-c", conf, "--mktun", NULL };

		ret = run_once(lab, n, argv, log, why, sizeof(why));
	}
	if (ret == 0)
		ret = tun_configure(lab, n, &node->nat64, why, sizeof(why));
	if (ret < 0)
		return diag_add(dl, t->file, line, "node \"%s\": nat64 %s: tayga --mktun: %s",
				node->name, prefix, why);

	snprintf(log, sizeof(log), "%s/tayga.log", dir);
	{
		/* -d: in the foreground (the lab's init holds it), its log on stderr */
		char *argv[] = { (char *)prog, "-c", conf, "-d", NULL };

		h = lab_daemon_spawn(lab, n, argv, log, keep);
	}
	if (h < 0)
		return diag_add(dl, t->file, line, "node \"%s\": nat64: start %s: %s", node->name,
				prog, strerror(-h));
	/* until tayga holds its TUN device while it runs */
	ret = lab_daemon_wait_ready(lab, n, h, tun_running, NULL, TUN, "still has no carrier", log,
				    READY_TIMEOUT_MS, READY_POLL_MS, why, sizeof(why));
	if (ret < 0)
		return diag_add(dl, t->file, line, "node \"%s\": nat64 %s: tayga: %s", node->name,
				prefix, why);
	return 0;
}

int lab_nat64_start(struct lab *lab, bool keep, struct diag_list *dl)
{
	for (int n = 0; n < lab->topo.nnodes; n++) {
		int ret;

		if (!lab->topo.nodes[n].nat64.family)
			continue;
		ret = start_node(lab, n, keep, dl);
		if (ret < 0)
			return ret;
	}
	return 0;
}
