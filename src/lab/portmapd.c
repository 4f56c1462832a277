/* Port-mapping routers: miniupnpd confined to a NAT node (portmapd.h, docs/portmap.md). */
#include "lab/portmapd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lab/daemon.h"
#include "lab/lab_internal.h"
#include "nft/ruleset.h"
#include "nft/profile.h"

/* miniupnpd's address check asks this responder in the node (portmapd/stun_answer.h). Below
 * 1024: the config lets LAN hosts map 1024-65535 only, so no mapping can take the port. */
#define STUNECHO_PORT 478
#define NATPMP_PORT 5351 /* RFC 6886; PCP (RFC 6887) shares it */
#define UPNP_HTTP_PORT 5000
#define SSDP_PORT 1900
/* How long a daemon may take to answer: its STUN check waits up to 3 s for an answer that
 * comes from the same node in well under a millisecond, so 5 s only bounds a broken start. */
#define READY_TIMEOUT_MS 5000
#define READY_POLL_MS 5

/* Files of the per-node directory, removed with it. */
static const char *const dir_files[] = { "miniupnpd.conf", "miniupnpd.pid", "miniupnpd.leases",
					 "miniupnpd.log", "stunecho.log" };
static const struct lab_daemon_kind kind = { "portmap", dir_files,
					     sizeof(dir_files) / sizeof(dir_files[0]) };

const char *lab_portmapd_program(void)
{
	const char *p = getenv("PUNCHLAB_MINIUPNPD");

	return p && *p ? p : "/usr/sbin/miniupnpd";
}

int lab_portmapd_dir(const char *lab_name, const char *node_name, char *buf, size_t len)
{
	return lab_daemon_dir(&kind, lab_name, node_name, buf, len);
}

void lab_portmapd_remove(const char *lab_name, const char *node_name)
{
	lab_daemon_remove(&kind, lab_name, node_name);
}

void lab_portmapd_cleanup(const struct lab *lab)
{
	for (int n = 0; n < lab->topo.nnodes; n++)
		if (lab->nodes[n].profile[0])
			lab_portmapd_remove(lab->name, lab->topo.nodes[n].name);
}

/* miniupnpd.conf for one node: the NAT's interfaces, the protocols the profile offers, its
 * chains in the profile's table, and mappings only for the LAN's own addresses (secure mode:
 * a host maps ports to itself only). */
static int write_config(const char *path, const char *dir, const struct profile_header *h,
			char vals[5][64], const char *lab_name, int node)
{
	FILE *f = fopen(path, "we");
	unsigned char rnd[6] = { 0 };

	if (!f)
		return -errno;
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)(rand() ^ node);
	fprintf(f, "# punchlab: miniupnpd of lab %s, profile %s (docs/portmap.md)\n", lab_name,
		h->file);
	fprintf(f, "ext_ifname=%s\nlistening_ip=%s\n", vals[0], vals[1]);
	fprintf(f, "http_port=%d\n", UPNP_HTTP_PORT);
	fprintf(f, "enable_upnp=%s\n", (h->portmap & PROFILE_PORTMAP_UPNP) ? "yes" : "no");
	/* one switch for both: miniupnpd answers NAT-PMP and PCP on the same socket */
	fprintf(f, "enable_natpmp=%s\n",
		(h->portmap & (PROFILE_PORTMAP_NATPMP | PROFILE_PORTMAP_PCP)) ? "yes" : "no");
	fprintf(f, "secure_mode=yes\nsystem_uptime=no\n");
	fprintf(f, "lease_file=%s/miniupnpd.leases\n", dir);
	fprintf(f, "upnp_table_name=punchlab_nat\nupnp_nat_table_name=punchlab_nat\n");
	fprintf(f, "upnp_forward_chain=miniupnpd\nupnp_nat_chain=prerouting_miniupnpd\n");
	fprintf(f, "upnp_nat_postrouting_chain=postrouting_miniupnpd\n");
	fprintf(f, "ext_perform_stun=yes\next_stun_host=%s\next_stun_port=%d\n", vals[2],
		STUNECHO_PORT);
	fprintf(f, "uuid=%08x-%04x-4000-8000-%02x%02x%02x%02x%02x%02x\n",
		(unsigned)time(NULL), (unsigned)node, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		rnd[5]);
	fprintf(f, "allow 1024-65535 %s 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n", vals[4]);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Does the node hold a socket on port (UDP, or a listening TCP one)? Read from the node's
 * own table, /proc/PID/net/{udp,tcp} of a program in it: binding the port to see whether it
 * is taken would hold it for a moment, and the daemon's own bind could fail right then.
 * 1 yes, 0 no, -errno. */
static int port_open_in(pid_t pid, const char *table, bool listen_only, int port)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, table);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned lport, state;

		/* "  0: 0101000A:14E7 00000000:0000 07 ..." (IPv6: 32 hex digits before ':') */
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &state) == 2 &&
		    (int)lport == port && (!listen_only || state == 0x0A))
			found = 1;
	}
	fclose(f);
	return found;
}

static int port_open(pid_t pid, int type, int port)
{
	/* a daemon may listen on IPv6's any address (dual stack): its IPv6 table has it */
	int r = port_open_in(pid, type == SOCK_STREAM ? "tcp" : "udp", type == SOCK_STREAM, port);

	if (r == 0)
		r = port_open_in(pid, type == SOCK_STREAM ? "tcp6" : "udp6", type == SOCK_STREAM,
				 port);
	return r;
}

/* What wait_ready asks for: a socket of type on port in the node. */
struct port_want {
	int type, port;
};

/* Is the port open in the node of handle? A lab_daemon_ready_fn. */
static int port_ready(struct lab *lab, int n, int handle, void *ctx)
{
	const struct port_want *w = ctx;

	(void)n;
	return port_open(lab_spawn_pid(lab, handle), w->type, w->port);
}

/* Wait until port (type) is open in the node while handle runs. 0, or -errno with the reason
 * in why. */
static int wait_ready(struct lab *lab, int handle, int type, const char *addr, int port,
		      const char *log, char *why, size_t wlen)
{
	struct port_want w = { type, port };
	char what[80];

	snprintf(what, sizeof(what), "%s:%d", addr, port);
	return lab_daemon_wait_ready(lab, -1, handle, port_ready, &w, what, "still not open", log,
				     READY_TIMEOUT_MS, READY_POLL_MS, why, wlen);
}

/* The responder punchlab-stunecho next to this binary, or in the build tree. */
static int stunecho_program(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(buf, len, "%s/punchlab-stunecho", exe);
		if (access(buf, X_OK) == 0)
			return 0;
		snprintf(buf, len, "%s/src/portmapd/punchlab-stunecho", exe);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, len, "%s/src/portmapd/punchlab-stunecho", PUNCHLAB_BUILD_DIR);
	return access(buf, X_OK) == 0 ? 0 : -ENOENT;
}

static int start_node(struct lab *lab, int n, const struct profile_header *h, bool keep,
		      struct diag_list *dl)
{
	const char *prog = lab_portmapd_program(), *node = lab->topo.nodes[n].name;
	int line = h->line[PROFILE_KEY_PORTMAP];
	char vals[5][64], dir[PATH_MAX], conf[PATH_MAX + 32], pid[PATH_MAX + 32];
	char log[PATH_MAX + 32], echo[PATH_MAX], port[8], why[512], offers[32];
	struct nft_var vars[5];
	int h_echo, h_upnp, ret;

	profile_portmap_format(h->portmap, offers, sizeof(offers));
	if (access(prog, X_OK) < 0)
		return diag_add(dl, h->file, line, "portmap: %s needs miniupnpd (Debian package "
				"miniupnpd-nftables) in node \"%s\": %s is missing, expected it "
				"installed (ci/bootstrap.sh installs it)", offers, node, prog);
	if (stunecho_program(echo, sizeof(echo)) < 0)
		return diag_add(dl, h->file, line, "portmap: the lab's STUN responder "
				"punchlab-stunecho is missing (looked for %s), expected it next to "
				"punchlab", echo);
	lab_nat_vars(&lab->topo, n, lab->nodes[n].family, vals, vars);
	if (lab_portmapd_dir(lab->name, node, dir, sizeof(dir)) < 0)
		return diag_add(dl, h->file, line, "portmap: $TMPDIR too long");
	lab_daemon_dir_remove(&kind, dir); /* a lab of this name that was killed left it */
	if (mkdir(dir, 0700) < 0)
		return diag_add(dl, h->file, line, "portmap: create %s: %s", dir, strerror(errno));
	snprintf(conf, sizeof(conf), "%s/miniupnpd.conf", dir);
	snprintf(pid, sizeof(pid), "%s/miniupnpd.pid", dir);
	ret = write_config(conf, dir, h, vals, lab->name, n);
	if (ret < 0)
		return diag_add(dl, h->file, line, "portmap: write %s: %s", conf, strerror(-ret));

	/* the responder first: miniupnpd asks it once, as it starts */
	snprintf(port, sizeof(port), "%d", STUNECHO_PORT);
	snprintf(log, sizeof(log), "%s/stunecho.log", dir);
	{
		char *argv[] = { echo, vals[2], port, NULL };

		h_echo = lab_daemon_spawn(lab, n, argv, log, keep);
	}
	if (h_echo < 0)
		return diag_add(dl, h->file, line, "portmap: start %s in node \"%s\": %s", echo,
				node, strerror(-h_echo));
	ret = wait_ready(lab, h_echo, SOCK_DGRAM, vals[2], STUNECHO_PORT, log, why,
			 sizeof(why));
	if (ret < 0)
		return diag_add(dl, h->file, line, "portmap: punchlab-stunecho in node \"%s\": %s",
				node, why);

	snprintf(log, sizeof(log), "%s/miniupnpd.log", dir);
	{
		/* -d: in the foreground (the lab's init holds it), its log on stderr */
		char *argv[] = { (char *)prog, "-d", "-f", conf, "-P", pid, NULL };

		h_upnp = lab_daemon_spawn(lab, n, argv, log, keep);
	}
	if (h_upnp < 0)
		return diag_add(dl, h->file, line, "portmap: start %s in node \"%s\": %s", prog,
				node, strerror(-h_upnp));
	if (h->portmap & (PROFILE_PORTMAP_NATPMP | PROFILE_PORTMAP_PCP))
		ret = wait_ready(lab, h_upnp, SOCK_DGRAM, vals[3], NATPMP_PORT, log, why,
				 sizeof(why));
	/* UPnP: the HTTP socket, then SSDP's (miniupnpd opens them in this order, before
	 * NAT-PMP's): a discovery before SSDP's socket is open finds no router */
	if (ret == 0 && (h->portmap & PROFILE_PORTMAP_UPNP))
		ret = wait_ready(lab, h_upnp, SOCK_STREAM, vals[3], UPNP_HTTP_PORT, log, why,
				 sizeof(why));
	if (ret == 0 && (h->portmap & PROFILE_PORTMAP_UPNP))
		ret = wait_ready(lab, h_upnp, SOCK_DGRAM, "239.255.255.250", SSDP_PORT, log, why,
				 sizeof(why));
	if (ret < 0)
		return diag_add(dl, h->file, line, "portmap: miniupnpd in node \"%s\": %s", node,
				why);
	return 0;
}

int lab_portmapd_start(struct lab *lab, bool keep, struct diag_list *dl)
{
	for (int n = 0; n < lab->topo.nnodes; n++) {
		struct profile_header h;
		int ret;

		if (!lab->nodes[n].profile[0])
			continue;
		/* the header of a profile that loaded: its errors are the file's, said as such */
		ret = profile_header_parse_file(&h, lab->nodes[n].profile, dl);
		if (ret < 0)
			return ret;
		if (!h.portmap)
			continue;
		ret = start_node(lab, n, &h, keep, dl);
		if (ret < 0)
			return ret;
	}
	return 0;
}
