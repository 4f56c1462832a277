/* Measuring a profile with real packets (the keys and how: classify.h). This file builds the
 * lab, prepares its nodes, runs the tests in their order (mapping and ports here; the inbound
 * tests in classify_inbound.c, the timeout in classify_timeout.c, on the plumbing of
 * classify_ctx.c); classify_verdict.c turns the rounds into values and compares them with the
 * header. */
#include "lab/classify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "lab/classify_internal.h"
#include "nft/ruleset.h"

bool cl_fds_high;

static pthread_once_t fd_plan_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_freed = PTHREAD_COND_INITIALIZER;
static int budget_used, running, running_max, budget_each;

/* Once per process: room for the sockets above FD_SETSIZE (classify_internal.h). Raising the
 * soft RLIMIT_NOFILE to the hard one is what a program that never select()s itself should do
 * anyway; it changes nothing for the rest of punchlab. */
static void fd_plan(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	running_max = (int)((rl.rlim_cur > FD_SETSIZE ? rl.rlim_cur - FD_SETSIZE : 0) / MAX_FDS);
	cl_fds_high = running_max > 0;
	budget_each = cl_fds_high ? LAB_FDS : FD_BUDGET_LOW;
	if (!cl_fds_high || running_max > FD_LOW_TOTAL / budget_each)
		running_max = FD_LOW_TOTAL / budget_each;
}

/* Wait for a classification's share of the fds (classifications end, so this ends). */
static void budget_take(void)
{
	pthread_once(&fd_plan_once, fd_plan);
	pthread_mutex_lock(&budget_lock);
	while (running >= running_max || budget_used + budget_each > FD_LOW_TOTAL)
		pthread_cond_wait(&budget_freed, &budget_lock);
	budget_used += budget_each;
	running++;
	pthread_mutex_unlock(&budget_lock);
}

static void budget_give(void)
{
	pthread_mutex_lock(&budget_lock);
	budget_used -= budget_each;
	running--;
	pthread_cond_broadcast(&budget_freed);
	pthread_mutex_unlock(&budget_lock);
}

enum profile_dependency classify_mapping_of(const uint32_t addr[4], const uint16_t port[4])
{
#define SAME(i, j) (addr[i] == addr[j] && port[i] == port[j])
	/* Four observations, not three: a NAT drawing random ports from a narrow range gives the
	 * same port to two remotes now and then (1 in 256 for 256 ports, seen here); calling it
	 * address-dependent then needs two such coincidences at once. */
	if (SAME(0, 1) && SAME(0, 2) && SAME(0, 3))
		return PROFILE_ENDPOINT_INDEPENDENT;
	if (SAME(0, 1) && SAME(2, 3))
		return PROFILE_ADDRESS_DEPENDENT;
	return PROFILE_ADDRESS_AND_PORT_DEPENDENT;
#undef SAME
}

enum profile_ports classify_ports_of(const uint16_t *internal, const uint16_t *pub, int n,
				     int *stride)
{
	bool preserved = true, constant = true;
	int d0 = n > 1 ? (int)pub[1] - (int)pub[0] : 0;

	for (int i = 0; i < n; i++)
		preserved = preserved && internal[i] == pub[i];
	if (preserved)
		return PROFILE_PORTS_PRESERVE;
	for (int i = 1; i < n; i++)
		constant = constant && (int)pub[i] - (int)pub[i - 1] == d0;
	if (n >= 3 && constant && d0 >= 1 && d0 <= PROFILE_STRIDE_MAX) {
		*stride = d0;
		return PROFILE_PORTS_SEQUENTIAL;
	}
	return PROFILE_PORTS_RANDOM;
}

enum profile_dependency classify_hairpin_filtering_of(bool control, bool ei, bool ad)
{
	if (!control)
		return PROFILE_DEPENDENCY_NONE;
	return ei ? PROFILE_ENDPOINT_INDEPENDENT
	       : ad ? PROFILE_ADDRESS_DEPENDENT
		    : PROFILE_ADDRESS_AND_PORT_DEPENDENT;
}

/* Mapping, and whether the NAT handles the transport at all: the server must see the traffic
 * from the NAT's public address and its answer must come back. */
void measure_mapping(struct ctx *c, int round, enum classify_transport tr)
{
	static const int dst[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } };
	struct classify_measure *m = &c->r->round[round][tr];
	uint16_t port = cl_rport(round, PORT_MAPPING);
	int mark = c->nfds, fd = -1, ret = 0, must_ms = c->must_ms;
	struct ep seen[4];
	uint32_t a[4];
	uint16_t p[4];
	char b[4][64];

	/* round 1 waited the must-come bound for nothing: the NAT does not pass this transport,
	 * and the later rounds confirm it without waiting as long again */
	if (round > 0 && c->r->round[0][tr].handled_known && !c->r->round[0][tr].handled)
		c->must_ms = c->wait_ms;
	m->handled_known = true;
	for (int i = 0; i < 4 && ret >= 0; i++) {
		if (tr == CLASSIFY_UDP) {
			/* one socket to four remotes */
			if (i == 0)
				fd = cl_host_socket(c, tr, port, false);
			ret = fd < 0 ? fd : cl_udp_observe(c, fd, dst[i][0], dst[i][1], &seen[i]);
		} else {
			/* TCP: one connection per remote, all from the same internal port */
			ret = cl_observe(c, tr, port, dst[i][0], dst[i][1], &seen[i]);
		}
		if (ret >= 0 && !cl_addr_eq(&seen[i].a, &c->wan)) {
			cl_note(m, "transports: the server saw %s, not the NAT's public address",
			     cl_ep_str(&seen[i], b[0], sizeof(b[0])));
			ret = -EPROTO;
		}
	}
	if (ret >= 0 && tr == CLASSIFY_UDP) {
		ret = cl_udp_answer(c, fd, 0, 0, seen[0]);
		if (ret < 0)
			cl_note(m, "transports: the server's answer did not come back (%s)",
			     strerror(-ret));
	}
	if (ret < 0) {
		if (ret != -EPROTO)
			cl_note(m, "transports: no %s through the NAT (%s)", tr_name[tr],
			     strerror(-ret));
		m->handled = false;
		cl_evidence(c, "r%d %s: not handled: %s", round + 1, tr_name[tr], m->note);
		cl_ctx_close_from(c, mark);
		c->must_ms = must_ms;
		return;
	}
	c->must_ms = must_ms;
	m->handled = true;
	m->no_translation = true;
	for (int i = 0; i < 4; i++) {
		/* classify_mapping_of() compares numbers: each address is the index of its first
		 * occurrence, which works for both families */
		a[i] = (uint32_t)i;
		for (int j = 0; j < i; j++)
			if (cl_addr_eq(&seen[j].a, &seen[i].a)) {
				a[i] = (uint32_t)j;
				break;
			}
		p[i] = seen[i].port;
		m->no_translation = m->no_translation && cl_addr_eq(&seen[i].a, &c->hostaddr) &&
				    seen[i].port == port;
	}
	m->mapping = classify_mapping_of(a, p);
	m->mapping_known = true;
	cl_evidence(c, "r%d %s mapping: internal port %d seen by S1:%d as %s, S1:%d as %s, S2:%d as "
		 "%s, S2:%d as %s", round + 1, tr_name[tr], port, SRV_P1,
		 cl_ep_str(&seen[0], b[0], sizeof(b[0])), SRV_P2, cl_ep_str(&seen[1], b[1], sizeof(b[1])),
		 SRV_P1, cl_ep_str(&seen[2], b[2], sizeof(b[2])), SRV_P2,
		 cl_ep_str(&seen[3], b[3], sizeof(b[3])));
	cl_ctx_close_from(c, mark);
}

void measure_ports(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	uint16_t in[PORTS_N], pub[PORTS_N];
	char list[128] = "";
	size_t used = 0;
	int mark = c->nfds;

	for (int i = 0; i < PORTS_N; i++) {
		struct ep seen;
		int ret;

		in[i] = cl_rport(round, PORT_PORTS + i);
		ret = cl_observe(c, tr, in[i], 0, 0, &seen);
		if (ret < 0) {
			cl_note(m, "ports: no answer from the server (%s)", strerror(-ret));
			cl_ctx_close_from(c, mark);
			return;
		}
		pub[i] = seen.port;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u->%u", i ? ", " : "",
					 in[i], pub[i]);
	}
	m->stride = 1;
	m->ports = classify_ports_of(in, pub, PORTS_N, &m->stride);
	m->ports_known = true;
	cl_evidence(c, "r%d %s ports: internal -> public, one new internal endpoint after another: %s",
		 round + 1, tr_name[tr], list);
	cl_ctx_close_from(c, mark);
}

const char *classify_default_topology(const struct profile_header *h)
{
	return h && h->translation == PROFILE_TRANSLATION_NONE && h->family == PROFILE_FAMILY_IPV4
		       ? "two-firewalls" : "two-nats";
}

static const char *family_word(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* The nodes and addresses of the measurement, of the ctx's family, from topology t. */
static int find_addrs(const struct topo *t, struct ctx *c, struct diag_list *dl)
{
	int nsrv = 0, fam = c->family;
	bool have_host = false;
	const struct topo_node *nat;
	const struct topo_link *wl;
	const struct net_addr *wan = NULL;

	c->host = t->roles[ROLE_PEER_A];
	c->nat = t->roles[ROLE_NAT_A];
	c->server = t->roles[ROLE_RENDEZVOUS];
	if (c->host < 0 || c->nat < 0 || c->server < 0)
		return diag_add(dl, t->file, 0, "classify needs a topology with the roles peer-a, "
				"nat-a and rendezvous (e.g. two-nats)");
	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];
		int e = topo_link_end_of(l, c->server);

		for (int k = 0; e >= 0 && k < l->ends[e].naddrs && nsrv < 2; k++)
			if (l->ends[e].addrs[k].family == fam)
				c->srv[nsrv++] = cl_addr_of(&l->ends[e].addrs[k]);
	}
	for (int li = 0; li < t->nlinks && !have_host; li++) {
		int e = topo_link_end_of(&t->links[li], c->host);
		const struct net_addr *a = e >= 0 ? topo_end_addr(&t->links[li].ends[e], fam) : NULL;

		if (a) {
			c->hostaddr = cl_addr_of(a);
			have_host = true;
		}
	}
	if (!have_host)
		return diag_add(dl, t->file, t->nodes[c->host].line,
				"classify needs an %s address on the host \"%s\"", family_word(fam),
				t->nodes[c->host].name);
	if (nsrv < 2)
		return diag_add(dl, t->file, t->nodes[c->server].line,
				"classify needs two %s addresses on the rendezvous server \"%s\"",
				family_word(fam), t->nodes[c->server].name);
	nat = &t->nodes[c->nat];
	wl = &t->links[nat->wan_link];
	wan = topo_end_addr(&wl->ends[nat->wan_end], fam);
	if (!wan)
		return diag_add(dl, t->file, nat->line, "nat node \"%s\" has no %s WAN address",
				nat->name, family_word(fam));
	c->wan = cl_addr_of(wan);
	/* the unsolicited probes' control needs a router that answers on the WAN link */
	c->up = c->srv[0];
	for (int e = 0; e < wl->nends; e++) {
		const struct net_addr *a = topo_end_addr(&wl->ends[e], fam);

		if (e != nat->wan_end && a && wl->ends[e].node == nat->gateway)
			c->up = cl_addr_of(a);
	}
	return 0;
}

/* Whether topology t gives every node classify probes from an address of family fam. */
static bool topo_has_family(const struct topo *t, int fam)
{
	struct ctx probe = { .family = fam };
	struct diag_list dl = { .count = 0 };

	return find_addrs(t, &probe, &dl) == 0;
}

static int open_servers(struct ctx *c)
{
	for (int s = 0; s < 2; s++)
		for (int p = 0; p < 2; p++) {
			c->srv_udp[s][p] = cl_ctx_socket(c, c->server, SOCK_DGRAM, &c->srv[s],
							 srv_port[p], false);
			if (c->srv_udp[s][p] < 0)
				return c->srv_udp[s][p];
			c->srv_tcp[s][p] = cl_ctx_socket(c, c->server, SOCK_STREAM, &c->srv[s],
							 srv_port[p], true);
			if (c->srv_tcp[s][p] < 0)
				return c->srv_tcp[s][p];
			if (listen(c->srv_tcp[s][p], 64) < 0)
				return -errno;
		}
	return 0;
}

/* Right after lab_up() a veth may not pass packets yet: the kernel activates a device's queue
 * asynchronously (linkwatch, which batches events up to a second apart), and until then it
 * drops what it is given. Seen here under load: the first datagrams of a test lost, 1.5 s after
 * lab_up(). So before measuring anything, the host talks to both server addresses (through the
 * NAT) until both answers came back, resending, bounded by WARMUP_MS.
 * What the server sees tells a node that translates from one that only filters (an IPv6
 * firewall, RFC 6092): the host's own address and port, unchanged, make the host's address the
 * public one (c->wan) and set c->no_translation. */
static int warm_up(struct ctx *c)
{
	int64_t start = cl_now_ms(), deadline = start + WARMUP_MS;
	/* one internal endpoint per server address: a second remote address would make an
	 * address-dependent mapping draw a random public port before the tests begin */
	int hfd[2] = { cl_host_socket(c, CLASSIFY_UDP, PORT_WARMUP, false),
		       cl_host_socket(c, CLASSIFY_UDP, PORT_WARMUP - 1, false) };
	bool got[2] = { false, false }, seen = false;
	struct ep src = { .port = 0 };
	char b[2][64];
	int sends = 0;

	if (hfd[0] < 0 || hfd[1] < 0)
		return hfd[0] < 0 ? hfd[0] : hfd[1];
	while (!(got[0] && got[1])) {
		struct pollfd p[4] = {
			{ .fd = c->srv_udp[0][0], .events = POLLIN },
			{ .fd = c->srv_udp[1][0], .events = POLLIN },
			{ .fd = hfd[0], .events = POLLIN },
			{ .fd = hfd[1], .events = POLLIN },
		};
		int64_t until = cl_now_ms() + WARMUP_RESEND_MS;

		if (cl_now_ms() >= deadline)
			return -ETIMEDOUT;
		for (int s = 0; s < 2; s++)
			if (!got[s] && cl_send_to(hfd[s], (struct ep){ c->srv[s], SRV_P1 }, "wu") < 0)
				return -errno;
		sends++;
		while (!(got[0] && got[1]) && cl_now_ms() < until) {
			int n = poll(p, 4, (int)(until - cl_now_ms()));

			if (n < 0 && errno != EINTR)
				return -errno;
			for (int i = 0; n > 0 && i < 4; i++) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				struct ep fe;
				char buf[16];

				if (!(p[i].revents & POLLIN))
					continue;
				if (recvfrom(p[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) < 0)
					continue;
				fe = cl_ep_of(&from);
				if (i < 2) { /* the server answers every warm-up datagram */
					sendto(p[i].fd, "wr", 2, 0, (struct sockaddr *)&from, fl);
					if (i == 0) {
						src = fe;
						seen = true;
					}
				} else {
					got[i - 2] = got[i - 2] || cl_addr_eq(&fe.a, &c->srv[i - 2]);
				}
			}
		}
	}
	cl_ctx_close(c, hfd[1]);
	cl_ctx_close(c, hfd[0]);
	cl_evidence(c, "path: the host reached both server addresses and heard back after %d ms "
		 "(%d send%s)", (int)(cl_now_ms() - start), sends, sends == 1 ? "" : "s");
	if (seen && cl_addr_eq(&src.a, &c->hostaddr) && src.port == PORT_WARMUP) {
		c->no_translation = true;
		c->wan = c->hostaddr;
		cl_evidence(c, "path: the server saw the host's own endpoint %s: no translation, the "
			    "host's address is the public one", cl_ep_str(&src, b[0], sizeof(b[0])));
	} else if (seen && src.port == PORT_WARMUP &&
		   c->r->declared.translation == PROFILE_TRANSLATION_PREFIX) {
		/* NPTv6 (nptv6.nft): the host's address with the prefix translated, its port kept;
		 * that address, not the node's WAN address, is the public one */
		c->wan = src.a;
		cl_evidence(c, "path: the server saw %s: the host's prefix translated (header "
			    "translation: prefix), the public address", cl_ep_str(&src, b[0],
										sizeof(b[0])));
	} else if (seen) {
		struct ep in = { c->hostaddr, PORT_WARMUP };

		cl_evidence(c, "path: the server saw %s for the host's %s: translated",
			    cl_ep_str(&src, b[0], sizeof(b[0])), cl_ep_str(&in, b[1], sizeof(b[1])));
	}
	return 0;
}

/* Write a sysctl of one node (/proc/sys/net belongs to the namespace of whoever opens it;
 * the thread returns to its own namespace). */
static int node_sysctl(struct ctx *c, int node, const char *path, const char *value)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), fd = -1, ret = 0;

	if (self < 0)
		return -errno;
	if (setns(lab_node_netns(c->lab, node), CLONE_NEWNET) < 0) {
		ret = -errno;
		goto out;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		ret = -errno;
	if (setns(self, CLONE_NEWNET) < 0 && ret == 0)
		ret = -errno;
out:
	if (fd >= 0)
		close(fd);
	close(self);
	return ret;
}

/* Run nft commands in one node (libnftables opens its socket in the thread's namespace). */
static int node_nft(struct ctx *c, int node, const char *cmds, char *err, size_t len)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), ret;

	if (self < 0)
		return -errno;
	ret = setns(lab_node_netns(c->lab, node), CLONE_NEWNET) < 0 ? -errno : 0;
	if (ret == 0)
		ret = nft_ruleset_run(cmds, false, NULL, err, len);
	if (setns(self, CLONE_NEWNET) < 0 && ret == 0)
		ret = -errno;
	close(self);
	return ret;
}

/* The TCP filtering control (classify_inbound.c) is a simultaneous open: the host's SYN dies
 * one hop past the NAT (CONTROL_TTL), then the server's SYN must come in. The host's socket
 * retransmits its SYN after a second, and once its hop limit is restored (for the SYN-ACK it
 * owes the server) that retransmission reaches the server and completes the connection from
 * the inside: a NAT that lets no SYN in passed the control whenever the waits lasted more
 * than a second (under load, or with a longer --wait). So the host lets a control port's bare
 * SYN to a control's remote port (PORT_CTL_REMOTE) out only with the control's hop limit;
 * answers pass. */
static int guard_controls(struct ctx *c)
{
	char cmds[1024], ports[64], err[256];
	int ret;

	snprintf(ports, sizeof(ports), "%d-%d", PORT_CTL_REMOTE,
		 PORT_CTL_REMOTE + CLASSIFY_ROUNDS - 1);
	snprintf(cmds, sizeof(cmds),
		 "table inet punchlab_classify {\n"
		 "  chain control_syn {\n"
		 "    type filter hook output priority filter; policy accept;\n"
		 "    tcp dport { %s } tcp flags & (syn | ack) == syn ip ttl != %d drop\n"
		 "    tcp dport { %s } tcp flags & (syn | ack) == syn ip6 hoplimit != %d drop\n"
		 "  }\n"
		 "}\n", ports, CONTROL_TTL, ports, CONTROL_TTL);
	ret = node_nft(c, c->host, cmds, err, sizeof(err));
	if (ret < 0)
		cl_evidence(c, "control guard: %s", err);
	return ret;
}

/* The sysctls the measurement depends on, in the lab's own nodes only:
 * - the host's accept_local: a hairpinned packet that keeps its private source comes back to
 *   the host from the host's own address, which the kernel drops as a martian unless
 *   accept_local is on; with it on, the receiver sees (and classify reports) the source;
 * - the NAT's icmp_ratelimit: an rst profile answers every unsolicited datagram with ICMP port
 *   unreachable, and the kernel lets 6 such errors a second through to one remote (the
 *   inet_peer token bucket); three rounds of probes send that many to each server address. */
static int prepare_nodes(struct ctx *c)
{
	int ret = node_sysctl(c, c->host, "/proc/sys/net/ipv4/conf/all/accept_local", "1");

	if (ret == 0)
		ret = node_sysctl(c, c->nat, "/proc/sys/net/ipv4/icmp_ratelimit", "0");
	/* IPv6 has its own bucket (icmpv6_xrlim_allow(), the same burst of 6 per remote) */
	if (ret == 0 && c->family == AF_INET6)
		ret = node_sysctl(c, c->nat, "/proc/sys/net/ipv6/icmp/ratelimit", "0");
	if (ret == 0)
		ret = guard_controls(c);
	return ret;
}

/* The warm-up's S2 endpoint (PORT_WARMUP - 1) is the one internal endpoint whose first flow
 * went elsewhere than S1:P1, and the NAT keeps a public port unique only per remote: its port
 * could later be given to a test endpoint toward S1:P1 as well. A NAT that learns "public port
 * -> internal endpoint" from the first flow (a dynamic map, as in generated profiles) then
 * hairpins that test endpoint's port to the warm-up endpoint (seen: docs/walkthrough.md's
 * cgn-pba.nft, a 64-port block for about 50 endpoints, measured hairpin "no" or
 * hairpin-filtering "address-dependent" in one round in 3 classifications of 20; the port was
 * shared in 3 of 4). So, before any endpoint that a verdict rests on is made, the S2 endpoint
 * talks to S1:P1 too, which takes its port toward S1:P1 away from later endpoints. Not in
 * warm_up(): with an address-dependent mapping this second remote draws a port, which must
 * not be one a ports test wants preserved (the ports tests have run by now). */
static void hold_warmup_port(struct ctx *c)
{
	int fd = cl_host_socket(c, CLASSIFY_UDP, PORT_WARMUP - 1, false);
	struct ep seen;
	char b[64];
	int ret = fd < 0 ? fd : cl_udp_observe(c, fd, 0, 0, &seen);

	if (ret < 0)
		cl_evidence(c, "warm-up: the S2 endpoint's flow to S1:P1 failed (%s)", strerror(-ret));
	else
		cl_evidence(c, "warm-up: the S2 endpoint's flow to S1:P1 seen as %s",
			    cl_ep_str(&seen, b, sizeof(b)));
	if (fd >= 0)
		cl_ctx_close(c, fd);
}

static void dump_conntrack(struct ctx *c)
{
	if (!c->ct) {
		cl_evidence(c, "conntrack: cannot open a socket in the NAT node");
		return;
	}
	/* the profile's family, translated or not (a firewall's flows are not) */
	if (ct_dump_flows(c->ct, c->family, &c->r->conntrack) < 0)
		cl_evidence(c, "conntrack: dump failed");
}

static void measure(struct ctx *c)
{
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			struct probes *pr = &c->pr[rd][tr];

			pr->filter[0] = pr->filter[1] = pr->filter[2] = -1;
			pr->hp_control = pr->hp_ei = pr->hp_ad = pr->hp_control_src = -1;
			pr->hp_fd[0] = pr->mapped_srv = pr->mapped_host = -1;
			pr->ctl_pending = false;
			pr->ct_fd = -1;
		}
	/* The unsolicited probes first, before any mapping exists on the NAT, and judged before
	 * the first one is made: a NAT that draws random public ports may map the very port a
	 * probe went to, and the server's SYN retransmitted into that mapping (1 s later, which
	 * under load falls inside the tests) came back as a reset from the host (seen: a drop
	 * profile with random ports measured "rst" in 1 round of 3, 1 classification in 300). */
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			start_unsolicited(c, rd, (enum classify_transport)tr);
	cl_wait_all(c);
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			end_unsolicited(c, rd, (enum classify_transport)tr);
	/* Port allocation of every round next, before any internal endpoint talks to a second
	 * remote address: an address-dependent mapping gives that second flow a random public
	 * port, which may be an internal port a later ports test wants preserved (then held,
	 * and rightly not preserved: "random" measured for a preserving NAT). A round whose
	 * first ports test got no answer at all (the transport is not handled) is not repeated. */
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			if (rd == 0 || c->r->round[0][tr].ports_known)
				measure_ports(c, rd, (enum classify_transport)tr);
	hold_warmup_port(c);
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			enum classify_transport t = (enum classify_transport)tr;

			measure_mapping(c, rd, t);
			if (!c->r->round[rd][tr].handled)
				continue;
			start_filtering(c, rd, t);
			/* without translation there is no public endpoint to hairpin through */
			if (!c->no_translation)
				hairpin_setup(c, rd, t);
			start_mapped_unsolicited(c, rd, t);
		}
		if (c->r->round[rd][CLASSIFY_UDP].handled)
			ct_timeout_begin(c, rd);
	}
	ct_timeout_read(c, false);
	finish_controls(c); /* also the pause before the hairpin probes (FIRST_CONTACT_MS) */
	ct_timeout_read(c, true);
	cl_sleep_ms(FIRST_CONTACT_MS);
	for (int rd = 0; rd < CLASSIFY_ROUNDS && !c->no_translation; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			if (c->r->round[rd][tr].handled)
				hairpin_probe(c, rd, (enum classify_transport)tr);
	cl_wait_all(c);
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			enum classify_transport t = (enum classify_transport)tr;

			finish_unsolicited(c, rd, t);
			if (!c->r->round[rd][tr].handled)
				continue;
			finish_filtering(c, rd, t);
			finish_hairpin(c, rd, t);
		}
}

int classify_profile(const struct topo *t, const char *profile, const struct classify_opts *opts,
		     struct classify_result *r, struct diag_list *dl)
{
	struct lab_options lo = { .noverrides = 1 };
	struct ctx *c = calloc(1, sizeof(*c));
	struct topo *own = NULL;
	int64_t start = cl_now_ms();
	int ret, base;

	memset(r, 0, sizeof(*r));
	r->lifetime_lo = r->lifetime_hi = -1;
	r->nrounds = CLASSIFY_ROUNDS;
	if (!c)
		return diag_add(dl, profile, 0, "classify: out of memory"), -ENOMEM;
	c->r = r;
	c->wait_ms = opts && opts->wait_ms > 0 ? opts->wait_ms : DEFAULT_WAIT_MS;
	c->must_ms = c->wait_ms > MUST_WAIT_MS ? c->wait_ms : MUST_WAIT_MS;
	ret = profile_header_parse_file(&r->declared, profile, dl);
	if (ret < 0)
		goto out_free;
	if (r->declared.outbound_no_udp || r->declared.outbound_nports) {
		r->unmeasured = true;
		goto out_free;
	}
	c->family = r->declared.family == PROFILE_FAMILY_IPV6 ? AF_INET6 : AF_INET;
	if (c->family == AF_INET6 && !topo_has_family(t, AF_INET6)) {
		/* an IPv6 profile in a lab without IPv6 (the matrix's two-nats): its dual-stack
		 * twin */
		char path[PATH_MAX];

		own = calloc(1, sizeof(*own));
		if (!own) {
			ret = diag_add(dl, profile, 0, "classify: out of memory");
			goto out_free;
		}
		if (paths_resolve("topologies", ".yaml", CLASSIFY_TOPOLOGY_IPV6, path,
				  sizeof(path)) < 0) {
			ret = diag_add(dl, profile, r->declared.line[PROFILE_KEY_FAMILY],
				       "family ipv6: classify's IPv6 lab " CLASSIFY_TOPOLOGY_IPV6
				       " not found (looked for %s)", path);
			goto out_free;
		}
		ret = topo_parse_file(own, path, dl);
		if (ret < 0)
			goto out_free;
		t = own;
	}
	r->family = c->family;
	snprintf(r->topology, sizeof(r->topology), "%s", t->name);
	ret = find_addrs(t, c, dl);
	if (ret < 0)
		goto out_free;
	lo.override_node[0] = t->nodes[c->nat].name;
	lo.override_profile[0] = profile;
	budget_take();
	ret = lab_up(t, &lo, &c->lab, dl);
	if (ret < 0)
		goto out_budget;
	ret = open_servers(c);
	if (ret < 0) {
		diag_add(dl, profile, 0, "classify: open the probe server's sockets: %s",
			 strerror(-ret));
		goto out;
	}
	c->ct = ct_socket_open(lab_node_netns(c->lab, c->nat));
	ret = c->ct ? prepare_nodes(c) : errno ? -errno : -EIO;
	if (ret < 0) {
		diag_add(dl, profile, 0, "classify: prepare the nodes (conntrack socket in the NAT, "
			 "sysctls): %s", strerror(-ret));
		goto out;
	}
	ret = warm_up(c);
	if (ret < 0) {
		diag_add(dl, profile, 0, "classify: the host behind the NAT can not reach the probe "
			 "server and hear back (%s): the ruleset blocks outbound traffic or its replies",
			 strerror(-ret));
		goto out;
	}
	base = c->nfds; /* the probe server's sockets */
	measure(c);
	classify_combine(r);
	r->timeouts = opts && opts->timeouts;
	if (r->timeouts && r->m[CLASSIFY_UDP].handled) {
		cl_ctx_close_from(c, base); /* the sockets of the tests are done */
		measure_lifetime(c);
	}
	dump_conntrack(c);
	classify_compare(r);
out:
	for (int i = c->nfds - 1; i >= 0; i--)
		close(c->fds[i]);
	ct_socket_close(c->ct);
	lab_down(c->lab);
out_budget:
	budget_give();
out_free:
	free(own);
	free(c);
	r->elapsed_ms = (double)(cl_now_ms() - start);
	return ret;
}

void classify_result_free(struct classify_result *r)
{
	if (r)
		ct_mappings_free(&r->conntrack);
}
