/* Measuring a profile with real packets (the keys and how: classify.h). This file sends and
 * waits; classify_verdict.c turns the rounds into values and compares them with the header. */
#include "lab/classify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab.h"

/* The probe server's two ports (on each of its two addresses), for UDP and TCP alike. */
#define SRV_P1 3478
#define SRV_P2 3479

/* Internal ports of the tests, per round ROUND_PORTS apart. Chosen apart from every port range
 * a shipped or test profile allocates from (20000-21023, 30000-33069, 49152-49407,
 * 61000-61999), so that "preserved" can not happen by chance. */
#define ROUND_PORTS 100
#define PORT_MAPPING 40001
#define PORT_FILTER 40011   /* three */
#define PORT_PORTS 40021    /* PORTS_N consecutive */
#define PORT_HAIRPIN 40031  /* seven: A, P; T, S; U, V, W */
#define PORT_MAPPED 40041   /* the mapped public port an unsolicited probe goes to */
#define PORT_CT 40051       /* the UDP mapping whose conntrack timeout is read */
#define PORT_LIFETIME 40801 /* up to LIFETIME_MAX */
#define PORT_UNSOLICITED 40900 /* on the NAT's public address: nothing ever maps it */
#define PORT_CLOSED 40950   /* on the NAT's upstream router: nothing listens there */
#define PORT_WARMUP 40999
#define WARMUP_MS 3000
#define WARMUP_RESEND_MS 50

#define PORTS_N 4
#define LIFETIME_MAX 12
/* A classification's own sockets. Every classification in the process reserves FD_BUDGET
 * (these and its lab's namespaces and netlink sockets) out of FD_BUDGET_TOTAL before it builds
 * its lab: libnftables waits on its netlink socket with select(), and a socket numbered
 * FD_SETSIZE (1024) or more aborts the process (fortified FD_SET), so the lab_up() of one
 * classification must not come while parallel ones hold a thousand fds. */
#define MAX_FDS 98
#define FD_BUDGET 112
#define FD_BUDGET_TOTAL 960
#define MAX_WAITERS 96
#define DEFAULT_WAIT_MS 500
/* Between a first contact and the probe that depends on it: the NAT must have seen the first
 * before the second (both cross the same veth from one thread, but nothing promises order
 * across CPUs). */
#define FIRST_CONTACT_MS 10
/* The TCP filtering control's SYN: past the NAT (one hop), gone at the next router. */
#define CONTROL_TTL 2
#define CT_POLL_MS 2

struct ep {
	struct in_addr a;
	uint16_t port; /* host order */
};

/* What a waiter saw by the deadline. */
enum wait_state { W_NOTHING, W_ANSWER, W_REFUSED, W_ERROR };
enum wait_kind { W_UDP_RECV, W_UDP_ERR, W_TCP_CONNECT, W_TCP_ACCEPT };

struct waiter {
	int fd;
	enum wait_kind kind;
	enum wait_state state;
	struct ep from; /* W_UDP_RECV, W_TCP_ACCEPT: the source seen */
	int err;
};

/* The inbound probes of one round and transport: waiter indexes (-1: not sent), and the
 * public endpoints they involve. */
struct probes {
	int filter[3];          /* from S2:P2, from S1:P2, the control */
	struct ep filter_pub[3];
	int hp_control;         /* A's side of the mutual exchange with P */
	int hp_control_src;     /* TCP: P's listener, when A's SYN was let straight in */
	int hp_ei, hp_ad;
	struct ep hp_pub[7];    /* A, P, T, S, U, V, W */
	int hp_fd[7];           /* their sockets (TCP: the one bound for the second phase) */
	int unsolicited, closed, mapped_srv, mapped_host;
	struct ep mapped_pub;
	/* TCP filtering control, between its two halves */
	int ctl_sfd, ctl_hfd, ctl_hfd_waiter;
	struct ep ctl_rem;
	/* UDP conntrack timeout reading, between its halves */
	int ct_fd;
	struct ep ct_pub;
	int64_t ct_t0;
};

/* One measurement: the lab, the nodes and addresses it probes between, the fds it opened. */
struct ctx {
	struct lab *lab;
	int host, nat, server;
	struct in_addr srv[2];  /* S1, S2 */
	struct in_addr wan;     /* the NAT's public address */
	struct in_addr up;      /* the NAT's upstream router on its WAN link */
	int wait_ms;
	int srv_udp[2][2];      /* [address][port] */
	int srv_tcp[2][2];      /* listeners */
	int fds[MAX_FDS];
	int nfds;
	unsigned seq;
	struct mnl_socket *ct;  /* conntrack of the NAT node */
	struct classify_result *r;
	struct waiter w[MAX_WAITERS];
	int nw;
	struct probes pr[CLASSIFY_ROUNDS][CLASSIFY_NTRANSPORTS];
};

static const uint16_t srv_port[2] = { SRV_P1, SRV_P2 };
static const char *const tr_name[CLASSIFY_NTRANSPORTS] = { "udp", "tcp" };

static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_freed = PTHREAD_COND_INITIALIZER;
static int budget_used;

/* Wait for FD_BUDGET fds of FD_BUDGET_TOTAL (classifications end, so this ends). */
static void budget_take(void)
{
	pthread_mutex_lock(&budget_lock);
	while (budget_used + FD_BUDGET > FD_BUDGET_TOTAL)
		pthread_cond_wait(&budget_freed, &budget_lock);
	budget_used += FD_BUDGET;
	pthread_mutex_unlock(&budget_lock);
}

static void budget_give(void)
{
	pthread_mutex_lock(&budget_lock);
	budget_used -= FD_BUDGET;
	pthread_cond_broadcast(&budget_freed);
	pthread_mutex_unlock(&budget_lock);
}


static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	int64_t until = now_ms() + ms;

	while (now_ms() < until)
		poll(NULL, 0, (int)(until - now_ms()));
}

static char *ep_str(const struct ep *e, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &e->a, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, e->port);
	return buf;
}

static struct sockaddr_in sin_of(struct in_addr a, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a };
	return s;
}

static struct ep ep_of(const struct sockaddr_in *s)
{
	struct ep e = { .a = s->sin_addr, .port = ntohs(s->sin_port) };
	return e;
}

static uint16_t rport(int round, int port)
{
	return (uint16_t)(port + round * ROUND_PORTS);
}

static void evidence(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void evidence(struct ctx *c, const char *fmt, ...)
{
	struct classify_result *r = c->r;
	va_list ap;

	if (r->nevidence >= CLASSIFY_EVIDENCE_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->evidence[r->nevidence++], sizeof(r->evidence[0]), fmt, ap);
	va_end(ap);
}

static void note(struct classify_measure *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct classify_measure *m, const char *fmt, ...)
{
	size_t used = strlen(m->note);
	va_list ap;

	if (used + 3 >= sizeof(m->note))
		return;
	if (used)
		used += (size_t)snprintf(m->note + used, sizeof(m->note) - used, "; ");
	va_start(ap, fmt);
	vsnprintf(m->note + used, sizeof(m->note) - used, fmt, ap);
	va_end(ap);
}

/* A socket in a node, bound to a:port (port 0: any), non-blocking, closed with the ctx. */
static int ctx_socket(struct ctx *c, int node, int type, struct in_addr a, uint16_t port,
		      bool reuse)
{
	struct sockaddr_in sa = sin_of(a, port);
	int one = 1, fd;

	if (c->nfds >= MAX_FDS)
		return -EMFILE;
	fd = lab_socket(c->lab, node, AF_INET, type | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	c->fds[c->nfds++] = fd;
	if (reuse && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return fd;
}

/* Close every fd opened since mark (a finished test's sockets: the fds of parallel labs add
 * up against RLIMIT_NOFILE). */
static void ctx_close_from(struct ctx *c, int mark)
{
	while (c->nfds > mark)
		close(c->fds[--c->nfds]);
}

/* Close one fd of the ctx (a socket that has done its part). */
static void ctx_close(struct ctx *c, int fd)
{
	for (int i = 0; i < c->nfds; i++)
		if (c->fds[i] == fd) {
			close(fd);
			memmove(&c->fds[i], &c->fds[i + 1], (size_t)(c->nfds - i - 1) * sizeof(int));
			c->nfds--;
			return;
		}
}

static int host_socket(struct ctx *c, enum classify_transport tr, uint16_t port, bool reuse)
{
	struct in_addr any = { htonl(INADDR_ANY) };

	return ctx_socket(c, c->host, tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM, any, port,
			  reuse || tr == CLASSIFY_TCP);
}

/* A TCP listener on an internal port (it shares the port with the connections made from it). */
static int host_listener(struct ctx *c, uint16_t port)
{
	int fd = host_socket(c, CLASSIFY_TCP, port, true);

	if (fd >= 0 && listen(fd, 8) < 0)
		return -errno;
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &l) < 0)
		return 0;
	return ntohs(sa.sin_port);
}

static int poll_one(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return p.revents;
	}
}

static int send_to(int fd, struct ep to, const char *msg)
{
	struct sockaddr_in dst = sin_of(to.a, to.port);

	return sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0 ? -errno
											 : 0;
}

/* Send a token from host UDP socket hfd to server socket [s][p] and return the source the
 * server saw it from: the public endpoint of hfd towards that remote. */
static int udp_observe(struct ctx *c, int hfd, int s, int p, struct ep *seen)
{
	struct sockaddr_in dst = sin_of(c->srv[s], srv_port[p]);
	int64_t deadline = now_ms() + c->wait_ms;
	char tok[16], buf[64];
	int len = snprintf(tok, sizeof(tok), "pl%u", ++c->seq);

	if (sendto(hfd, tok, (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return -errno;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		int ret = poll_one(c->srv_udp[s][p], POLLIN, deadline);
		ssize_t n;

		if (ret < 0)
			return ret;
		n = recvfrom(c->srv_udp[s][p], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n == len && memcmp(buf, tok, (size_t)len) == 0) {
			*seen = ep_of(&from);
			return 0;
		}
		/* a late datagram of an earlier test: skip it */
	}
}

/* The server socket [s][p] answers `seen` and host socket hfd must hear it. */
static int udp_answer(struct ctx *c, int hfd, int s, int p, struct ep seen)
{
	char buf[16];
	int ret = send_to(c->srv_udp[s][p], seen, "ans");

	if (ret < 0)
		return ret;
	for (int i = 0; i < 8; i++) {
		ret = poll_one(hfd, POLLIN, now_ms() + c->wait_ms);
		if (ret < 0)
			return ret;
		if (recv(hfd, buf, sizeof(buf), 0) == 3 && memcmp(buf, "ans", 3) == 0)
			return 0;
	}
	return -EPROTO;
}

/* Start a non-blocking connect. Returns 0 or -errno. */
static int tcp_connect_start(int fd, struct in_addr a, uint16_t port)
{
	struct sockaddr_in dst = sin_of(a, port);

	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)
		return -errno;
	return 0;
}

static int tcp_connect_result(int fd)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return -errno;
	return -err;
}

/* Connect host TCP socket hfd to server listener [s][p], accept there, and return the source
 * the server saw. The connection stays open (both fds belong to the ctx). */
static int tcp_observe(struct ctx *c, int hfd, int s, int p, struct ep *seen)
{
	int64_t deadline = now_ms() + c->wait_ms;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	int ret, afd;

	ret = tcp_connect_start(hfd, c->srv[s], srv_port[p]);
	if (ret < 0)
		return ret;
	ret = poll_one(hfd, POLLOUT, deadline);
	if (ret < 0)
		return ret;
	ret = tcp_connect_result(hfd);
	if (ret < 0)
		return ret;
	ret = poll_one(c->srv_tcp[s][p], POLLIN, deadline);
	if (ret < 0)
		return ret;
	afd = accept4(c->srv_tcp[s][p], (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (afd < 0)
		return -errno;
	/* Only its source was wanted. Closing ends the connection (FIN), not the NAT's mapping:
	 * conntrack keeps the entry through the close states, and that keeps the fds of
	 * parallel labs in check (see CLASSIFY_FD_BUDGET). */
	close(afd);
	*seen = ep_of(&from);
	return 0;
}

/* One internal endpoint to a server endpoint: open (UDP: bind; TCP: bind with SO_REUSEPORT so
 * that several connections and a listener share the port) and observe. Returns the UDP socket
 * (TCP: 0, its socket is closed) or -errno. */
static int observe(struct ctx *c, enum classify_transport tr, uint16_t port, int s, int p,
		   struct ep *seen)
{
	int fd = host_socket(c, tr, port, false), ret;

	if (fd < 0)
		return fd;
	if (tr == CLASSIFY_UDP) {
		ret = udp_observe(c, fd, s, p, seen);
		return ret < 0 ? ret : fd;
	}
	/* TCP: the connection has served its purpose (the mapping outlives it in conntrack);
	 * later connections from the port and its listener use sockets of their own */
	ret = tcp_observe(c, fd, s, p, seen);
	ctx_close_from(c, c->nfds - 1);
	return ret < 0 ? ret : 0;
}

static int add_waiter(struct ctx *c, int fd, enum wait_kind kind)
{

	if (fd < 0 || c->nw >= MAX_WAITERS)
		return -1;
	c->w[c->nw] = (struct waiter){ .fd = fd, .kind = kind, .state = W_NOTHING };
	return c->nw++;
}

static enum wait_state wstate(const struct ctx *c, int i)
{
	return i >= 0 ? c->w[i].state : W_ERROR;
}

/* --- conntrack ------------------------------------------------------------------------------ */

/* One look at the NAT's conntrack. A dump walks the whole hash table (about 10 ms here,
 * whatever the number of entries), so the tests that read conntrack share each dump: their
 * flows are made for every round first, then looked up in one snapshot. */
static int ct_snapshot(struct ctx *c, struct ct_mappings *all)
{
	ct_mappings_free(all);
	if (!c->ct)
		return -ENOTCONN;
	return ct_dump_mappings(c->ct, all);
}

/* The entry of the flow from internal port `port` to remote rem (proto: IPPROTO_*), NULL when
 * the snapshot has none. */
static const struct ct_mapping *ct_lookup(const struct ct_mappings *all, uint8_t proto,
					  uint16_t port, struct ep rem)
{
	for (size_t i = 0; i < all->n; i++) {
		const struct ct_mapping *m = &all->v[i];

		if (m->proto == proto && m->internal_port == port && !m->inbound &&
		    m->remote_addr.s_addr == rem.a.s_addr && m->remote_port == rem.port)
			return m;
	}
	return NULL;
}

/* --- the tests -------------------------------------------------------------------------------- */

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
static void measure_mapping(struct ctx *c, int round, enum classify_transport tr)
{
	static const int dst[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } };
	struct classify_measure *m = &c->r->round[round][tr];
	uint16_t port = rport(round, PORT_MAPPING);
	int mark = c->nfds, fd = -1, ret = 0;
	struct ep seen[4];
	uint32_t a[4];
	uint16_t p[4];
	char b[4][32];

	m->handled_known = true;
	for (int i = 0; i < 4 && ret >= 0; i++) {
		if (tr == CLASSIFY_UDP) {
			/* one socket to four remotes */
			if (i == 0)
				fd = host_socket(c, tr, port, false);
			ret = fd < 0 ? fd : udp_observe(c, fd, dst[i][0], dst[i][1], &seen[i]);
		} else {
			/* TCP: one connection per remote, all from the same internal port */
			ret = observe(c, tr, port, dst[i][0], dst[i][1], &seen[i]);
		}
		if (ret >= 0 && seen[i].a.s_addr != c->wan.s_addr) {
			note(m, "transports: the server saw %s, not the NAT's public address",
			     ep_str(&seen[i], b[0], sizeof(b[0])));
			ret = -EPROTO;
		}
	}
	if (ret >= 0 && tr == CLASSIFY_UDP) {
		ret = udp_answer(c, fd, 0, 0, seen[0]);
		if (ret < 0)
			note(m, "transports: the server's answer did not come back (%s)",
			     strerror(-ret));
	}
	if (ret < 0) {
		if (ret != -EPROTO)
			note(m, "transports: no %s through the NAT (%s)", tr_name[tr],
			     strerror(-ret));
		m->handled = false;
		evidence(c, "r%d %s: not handled: %s", round + 1, tr_name[tr], m->note);
		ctx_close_from(c, mark);
		return;
	}
	m->handled = true;
	for (int i = 0; i < 4; i++) {
		a[i] = seen[i].a.s_addr;
		p[i] = seen[i].port;
	}
	m->mapping = classify_mapping_of(a, p);
	m->mapping_known = true;
	evidence(c, "r%d %s mapping: internal port %d seen by S1:%d as %s, S1:%d as %s, S2:%d as "
		 "%s, S2:%d as %s", round + 1, tr_name[tr], port, SRV_P1,
		 ep_str(&seen[0], b[0], sizeof(b[0])), SRV_P2, ep_str(&seen[1], b[1], sizeof(b[1])),
		 SRV_P1, ep_str(&seen[2], b[2], sizeof(b[2])), SRV_P2,
		 ep_str(&seen[3], b[3], sizeof(b[3])));
	ctx_close_from(c, mark);
}

static void measure_ports(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	uint16_t in[PORTS_N], pub[PORTS_N];
	char list[128] = "";
	size_t used = 0;
	int mark = c->nfds;

	for (int i = 0; i < PORTS_N; i++) {
		struct ep seen;
		int ret;

		in[i] = rport(round, PORT_PORTS + i);
		ret = observe(c, tr, in[i], 0, 0, &seen);
		if (ret < 0) {
			note(m, "ports: no answer from the server (%s)", strerror(-ret));
			ctx_close_from(c, mark);
			return;
		}
		pub[i] = seen.port;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u->%u", i ? ", " : "",
					 in[i], pub[i]);
	}
	m->stride = 1;
	m->ports = classify_ports_of(in, pub, PORTS_N, &m->stride);
	m->ports_known = true;
	evidence(c, "r%d %s ports: internal -> public, one new internal endpoint after another: %s",
		 round + 1, tr_name[tr], list);
	ctx_close_from(c, mark);
}

/* The TCP filtering control: a SYN that every filter lets in. The host's SYN to S1:PC (a port
 * nobody listens on) leaves with TTL CONTROL_TTL: it passes the NAT, which maps it, and dies at
 * the next router, so the server never answers it with a reset. The server then connects from
 * S1:PC to the public endpoint conntrack shows for that flow (control_finish()): a SYN in the
 * reply direction of a flow the host opened (a simultaneous open), which even
 * address-and-port-dependent filtering admits. */
static int control_begin(struct ctx *c, struct probes *pr, uint16_t port)
{
	int ttl = CONTROL_TTL, minttl = 255, ret;

	pr->ctl_sfd = ctx_socket(c, c->server, SOCK_STREAM, c->srv[0], 0, false);
	if (pr->ctl_sfd < 0)
		return pr->ctl_sfd;
	pr->ctl_rem = (struct ep){ .a = c->srv[0], .port = local_port(pr->ctl_sfd) };
	pr->ctl_hfd = host_socket(c, CLASSIFY_TCP, port, true);
	if (pr->ctl_hfd < 0)
		return pr->ctl_hfd;
	/* The router's time-exceeded would abort the connect (tcp_v4_err in SYN_SENT); a
	 * listener answering the server's SYN instead would start a sequence conntrack never
	 * saw (BRIEF.md: the low-TTL SYN must come from the real socket). IP_MINTTL makes the
	 * socket ignore the ICMP error; both options are reset before the server's SYN. */
	if (setsockopt(pr->ctl_hfd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(pr->ctl_hfd, IPPROTO_IP, IP_MINTTL, &minttl, sizeof(minttl)) < 0)
		return -errno;
	ret = tcp_connect_start(pr->ctl_hfd, pr->ctl_rem.a, pr->ctl_rem.port);
	return ret;
}

/* The second half, once conntrack has the host's flow (cm). */
static int control_finish(struct probes *pr, const struct ct_mapping *cm, struct ep *pub)
{
	int dflt = -1, zero = 0, ret;

	if (setsockopt(pr->ctl_hfd, IPPROTO_IP, IP_MINTTL, &zero, sizeof(zero)) < 0 ||
	    setsockopt(pr->ctl_hfd, IPPROTO_IP, IP_TTL, &dflt, sizeof(dflt)) < 0)
		return -errno;
	*pub = (struct ep){ .a = cm->public_addr, .port = cm->public_port };
	ret = tcp_connect_start(pr->ctl_sfd, pub->a, pub->port);
	return ret < 0 ? ret : pr->ctl_sfd;
}

/* Filtering: three fresh internal endpoints each talk to S1:P1; then S2:P2 writes to the
 * first, S1:P2 to the second, and the control to the third. */
static void start_filtering(struct ctx *c, int round, enum classify_transport tr)
{
	static const int from[2][2] = { { 1, 1 }, { 0, 1 } };
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	int hfd[3], ret = 0;

	for (int i = 0; i < 3 && ret >= 0; i++) {
		uint16_t port = rport(round, PORT_FILTER + i);

		if (tr == CLASSIFY_UDP) {
			hfd[i] = host_socket(c, tr, port, false);
			ret = hfd[i] < 0 ? hfd[i] : udp_observe(c, hfd[i], 0, 0, &pr->filter_pub[i]);
		} else {
			/* a listener on the internal port takes what the filter lets through */
			hfd[i] = host_listener(c, port);
			ret = hfd[i] < 0 ? hfd[i] : observe(c, tr, port, 0, 0, &pr->filter_pub[i]);
		}
	}
	if (ret < 0) {
		note(m, "filtering: setup failed (%s)", strerror(-ret));
		return;
	}
	for (int i = 0; i < 2; i++) {
		const struct ep *to = &pr->filter_pub[i];
		int s = from[i][0], p = from[i][1], fd;

		if (tr == CLASSIFY_UDP) {
			ret = send_to(c->srv_udp[s][p], *to, "in");
			pr->filter[i] = ret < 0 ? -1 : add_waiter(c, hfd[i], W_UDP_RECV);
		} else {
			/* A SYN from the very remote endpoint of the open connection would belong to
			 * that connection: a fresh port of the remote address. */
			fd = ctx_socket(c, c->server, SOCK_STREAM, c->srv[s], 0, false);
			ret = fd < 0 ? fd : tcp_connect_start(fd, to->a, to->port);
			pr->filter[i] = ret < 0 ? -1 : add_waiter(c, fd, W_TCP_CONNECT);
		}
		if (ret < 0)
			note(m, "filtering: probe %d not sent (%s)", i + 1, strerror(-ret));
	}
	if (tr == CLASSIFY_UDP) {
		/* the control: a reply from the contacted endpoint itself */
		ret = send_to(c->srv_udp[0][0], pr->filter_pub[2], "in");
		pr->filter[2] = ret < 0 ? -1 : add_waiter(c, hfd[2], W_UDP_RECV);
	} else {
		/* the control: its first half now, the rest in finish_controls() */
		ret = control_begin(c, pr, rport(round, PORT_FILTER + 2));
		if (ret == 0)
			pr->ctl_hfd_waiter = 1; /* pending */
	}
	if (ret < 0)
		note(m, "filtering: the control probe not sent (%s)", strerror(-ret));
}

/* The second half of every round's TCP filtering control and the readings of every round's
 * UDP conntrack timeout, from shared conntrack snapshots (bounded: a flow not in conntrack
 * within wait_ms fails its test). */
static void finish_controls(struct ctx *c)
{
	struct ct_mappings all = { 0 };
	int64_t deadline = now_ms() + c->wait_ms;
	bool pending = true;

	while (pending) {
		int ret = ct_snapshot(c, &all);

		pending = false;
		for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
			struct probes *pr = &c->pr[rd][CLASSIFY_TCP];
			struct classify_measure *m = &c->r->round[rd][CLASSIFY_TCP];
			const struct ct_mapping *cm;
			int fd;

			if (pr->ctl_hfd_waiter != 1)
				continue;
			cm = ret < 0 ? NULL : ct_lookup(&all, IPPROTO_TCP,
							 rport(rd, PORT_FILTER + 2), pr->ctl_rem);
			if (!cm && ret == 0 && now_ms() < deadline) {
				pending = true;
				continue;
			}
			pr->ctl_hfd_waiter = 0;
			fd = cm ? control_finish(pr, cm, &pr->filter_pub[2]) : ret < 0 ? ret : -ENOENT;
			pr->filter[2] = fd < 0 ? -1 : add_waiter(c, fd, W_TCP_CONNECT);
			if (fd < 0)
				note(m, "filtering: the control's flow not in conntrack (%s)",
				     strerror(-fd));
		}
		if (pending)
			sleep_ms(CT_POLL_MS);
	}
	ct_mappings_free(&all);
}

/* Hairpinning, first phase: seven internal endpoints get public endpoints (via S1:P1); A writes
 * to P's, U to V's (first contacts). The probes follow in hairpin_probe(). */
static void hairpin_setup(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	int ret = 0;

	pr->hp_control = pr->hp_control_src = pr->hp_ei = pr->hp_ad = -1;
	for (int i = 0; i < 7; i++)
		pr->hp_fd[i] = -1;
	for (int i = 0; i < 7 && ret >= 0; i++) {
		uint16_t port = rport(round, PORT_HAIRPIN + i);
		/* TCP: P, T and U receive connections: listeners on their ports (V's SYN from U
		 * only has to pass the NAT) */
		bool listens = tr == CLASSIFY_TCP && (i == 1 || i == 2 || i == 4);
		int lfd = listens ? host_listener(c, port) : 0;

		ret = lfd < 0 ? lfd : observe(c, tr, port, 0, 0, &pr->hp_pub[i]);
		pr->hp_fd[i] = listens ? lfd : ret;
		if (tr == CLASSIFY_UDP && i == 5 && ret > 0) {
			/* V only needs its mapping (kept by conntrack), not a socket */
			ctx_close(c, ret);
			pr->hp_fd[i] = 0;
		}
	}
	if (ret < 0) {
		note(m, "hairpin: setup failed (%s)", strerror(-ret));
		pr->hp_fd[0] = -1;
		return;
	}
	if (tr == CLASSIFY_UDP) {
		ret = send_to(pr->hp_fd[0], pr->hp_pub[1], "hA");
		if (ret == 0)
			ret = send_to(pr->hp_fd[4], pr->hp_pub[5], "hU");
	} else {
		/* A connects to P's public endpoint: straight in, or the first half of a
		 * simultaneous open that P completes in the second phase. U to V likewise. */
		int a2 = host_socket(c, tr, rport(round, PORT_HAIRPIN + 0), true);
		int u2 = host_socket(c, tr, rport(round, PORT_HAIRPIN + 4), true);

		pr->hp_fd[5] = u2; /* closed once the NAT has seen its SYN (hairpin_probe()) */

		ret = a2 < 0 ? a2 : u2 < 0 ? u2 : tcp_connect_start(a2, pr->hp_pub[1].a, pr->hp_pub[1].port);
		if (ret == 0)
			ret = tcp_connect_start(u2, pr->hp_pub[5].a, pr->hp_pub[5].port);
		if (ret == 0) {
			pr->hp_control = add_waiter(c, a2, W_TCP_CONNECT);
			pr->hp_control_src = add_waiter(c, pr->hp_fd[1], W_TCP_ACCEPT);
		}
	}
	if (ret < 0) {
		note(m, "hairpin: first contact failed (%s)", strerror(-ret));
		pr->hp_fd[0] = -1;
	}
}

/* Hairpinning, second phase: P writes to A (the control), S to T (nobody of T wrote to the
 * public address: endpoint-independent), W to U (U wrote to the public address, another
 * port: address-dependent). */
static void hairpin_probe(struct ctx *c, int round, enum classify_transport tr)
{
	struct probes *pr = &c->pr[round][tr];
	int ret;

	if (pr->hp_fd[0] < 0)
		return;
	if (tr == CLASSIFY_UDP) {
		if (send_to(pr->hp_fd[1], pr->hp_pub[0], "hP") == 0)
			pr->hp_control = add_waiter(c, pr->hp_fd[0], W_UDP_RECV);
		if (send_to(pr->hp_fd[3], pr->hp_pub[2], "hS") == 0)
			pr->hp_ei = add_waiter(c, pr->hp_fd[2], W_UDP_RECV);
		if (send_to(pr->hp_fd[6], pr->hp_pub[4], "hW") == 0)
			pr->hp_ad = add_waiter(c, pr->hp_fd[4], W_UDP_RECV);
		/* the senders (and V, which only received) are done: conntrack keeps the flows */
		ctx_close(c, pr->hp_fd[1]);
		ctx_close(c, pr->hp_fd[3]);
		ctx_close(c, pr->hp_fd[6]);
		return;
	}
	if (pr->hp_fd[5] > 0)
		ctx_close(c, pr->hp_fd[5]);
	/* P completes the simultaneous open; when A's SYN was let straight in, P's port already
	 * has that connection and this connect fails at once, which is fine */
	{
		int p2 = host_socket(c, tr, rport(round, PORT_HAIRPIN + 1), true);

		if (p2 >= 0)
			(void)tcp_connect_start(p2, pr->hp_pub[0].a, pr->hp_pub[0].port);
	}
	{
		int s2 = host_socket(c, tr, rport(round, PORT_HAIRPIN + 3), true);
		int w2 = host_socket(c, tr, rport(round, PORT_HAIRPIN + 6), true);

		ret = s2 < 0 ? s2 : tcp_connect_start(s2, pr->hp_pub[2].a, pr->hp_pub[2].port);
		if (ret == 0)
			pr->hp_ei = add_waiter(c, pr->hp_fd[2], W_TCP_ACCEPT);
		ret = w2 < 0 ? w2 : tcp_connect_start(w2, pr->hp_pub[4].a, pr->hp_pub[4].port);
		if (ret == 0)
			pr->hp_ad = add_waiter(c, pr->hp_fd[4], W_TCP_ACCEPT);
	}
}

/* Unsolicited: from S1 to a public port nothing maps, and the control: to a closed port of the
 * NAT's upstream router, which must be refused. */
static void start_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	int type = tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM;
	enum wait_kind kind = tr == CLASSIFY_UDP ? W_UDP_ERR : W_TCP_CONNECT;
	const struct in_addr to[2] = { c->wan, c->up };
	const int port[2] = { PORT_UNSOLICITED, PORT_CLOSED };
	int *idx[2] = { &pr->unsolicited, &pr->closed };

	for (int i = 0; i < 2; i++) {
		int fd = ctx_socket(c, c->server, type, c->srv[0], 0, false), ret;

		*idx[i] = -1;
		/* UDP: connect() only sets the peer, so that an ICMP error is reported */
		ret = fd < 0 ? fd
			     : tcp_connect_start(fd, to[i], (uint16_t)(port[i] + round * 10 + (int)tr));
		if (ret == 0 && tr == CLASSIFY_UDP && send(fd, "un", 2, 0) < 0)
			ret = -errno;
		if (ret < 0) {
			note(m, "unsolicited: %s", strerror(-ret));
			continue;
		}
		*idx[i] = add_waiter(c, fd, kind);
	}
}

/* Unsolicited to a mapped port: an internal endpoint talks to S1:P1; the server's other
 * address then writes (UDP) or connects (TCP) to its public endpoint. A host-side receiver
 * (UDP socket, TCP listener) tells a probe the filter let in from one it answered or dropped. */
static void start_mapped_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	uint16_t port = rport(round, PORT_MAPPED);
	int hfd, fd, ret;

	pr->mapped_srv = pr->mapped_host = -1;
	hfd = tr == CLASSIFY_UDP ? 0 : host_listener(c, port);
	if (hfd >= 0)
		hfd = observe(c, tr, port, 0, 0, &pr->mapped_pub);
	fd = hfd < 0 ? hfd
		     : ctx_socket(c, c->server, tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM,
				  c->srv[1], 0, false);
	ret = fd < 0 ? fd : tcp_connect_start(fd, pr->mapped_pub.a, pr->mapped_pub.port);
	if (ret == 0 && tr == CLASSIFY_UDP && send(fd, "mu", 2, 0) < 0)
		ret = -errno;
	if (ret < 0) {
		note(m, "unsolicited to a mapped port: %s", strerror(-ret));
		return;
	}
	pr->mapped_srv = add_waiter(c, fd, tr == CLASSIFY_UDP ? W_UDP_ERR : W_TCP_CONNECT);
	if (tr == CLASSIFY_UDP)
		pr->mapped_host = add_waiter(c, hfd, W_UDP_RECV);
}

/* The UDP mapping's timeout as conntrack holds it (CTA_TIMEOUT), read right after the mapping
 * was made (unreplied) and right after the server answered (replied): the flows of every round
 * first (ct_timeout_begin()), then one snapshot for each reading (ct_timeout_read()). */
static void ct_timeout_begin(struct ctx *c, int round)
{
	struct classify_measure *m = &c->r->round[round][CLASSIFY_UDP];
	struct probes *pr = &c->pr[round][CLASSIFY_UDP];
	int ret;

	m->ct_unreplied = m->ct_replied = -1;
	pr->ct_fd = host_socket(c, CLASSIFY_UDP, rport(round, PORT_CT), false);
	pr->ct_t0 = now_ms();
	ret = pr->ct_fd < 0 ? pr->ct_fd : udp_observe(c, pr->ct_fd, 0, 0, &pr->ct_pub);
	if (ret < 0) {
		note(m, "udp-timeout: the mapping was not made (%s)", strerror(-ret));
		pr->ct_fd = -1;
	}
}

static void ct_timeout_read(struct ctx *c, bool replied)
{
	struct ep rem = { .a = c->srv[0], .port = SRV_P1 };
	struct ct_mappings all = { 0 };
	int ret;

	if (replied)
		for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
			struct probes *pr = &c->pr[rd][CLASSIFY_UDP];

			if (pr->ct_fd < 0)
				continue;
			pr->ct_t0 = now_ms();
			ret = udp_answer(c, pr->ct_fd, 0, 0, pr->ct_pub);
			if (ret < 0) {
				note(&c->r->round[rd][CLASSIFY_UDP], "udp-timeout: the answer did not "
				     "come back (%s)", strerror(-ret));
				pr->ct_fd = -1;
			}
		}
	ret = ct_snapshot(c, &all);
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
		struct probes *pr = &c->pr[rd][CLASSIFY_UDP];
		struct classify_measure *m = &c->r->round[rd][CLASSIFY_UDP];
		uint16_t port = rport(rd, PORT_CT);
		const struct ct_mapping *cm;
		/* whole seconds between the packet and the reading (beyond the truncation) */
		int slack = (int)((now_ms() - pr->ct_t0) / 1000);

		if (pr->ct_fd < 0)
			continue;
		cm = ret < 0 ? NULL : ct_lookup(&all, IPPROTO_UDP, port, rem);
		if (!cm) {
			note(m, "udp-timeout: no conntrack entry of the mapping (%s)",
			     ret < 0 ? strerror(-ret) : "not found");
			pr->ct_fd = -1;
			m->ct_unreplied = m->ct_replied = -1;
			continue;
		}
		if (slack > m->ct_slack)
			m->ct_slack = slack;
		if (!replied) {
			m->ct_unreplied = (int)cm->timeout;
			continue;
		}
		m->ct_replied = (int)cm->timeout;
		ctx_close(c, pr->ct_fd);
		pr->ct_fd = -1;
		evidence(c, "r%d udp-timeout: conntrack of %u -> %s: %d s left when made, %d s "
			 "left when replied", rd + 1, port, inet_ntoa(c->srv[0]), m->ct_unreplied,
			 m->ct_replied);
	}
	ct_mappings_free(&all);
}

static void wait_all(struct ctx *c)
{
	int64_t deadline = now_ms() + c->wait_ms;

	for (;;) {
		struct pollfd p[MAX_WAITERS];
		int map[MAX_WAITERS], np = 0, n;
		int64_t left = deadline - now_ms();

		for (int i = 0; i < c->nw; i++) {
			if (c->w[i].state != W_NOTHING)
				continue;
			p[np] = (struct pollfd){ .fd = c->w[i].fd,
						 .events = c->w[i].kind == W_TCP_CONNECT ? POLLOUT
											 : POLLIN };
			map[np++] = i;
		}
		if (np == 0 || left <= 0)
			return;
		n = poll(p, (nfds_t)np, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		for (int j = 0; j < np; j++) {
			struct waiter *w = &c->w[map[j]];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			char buf[64];
			int err, afd;

			if (!p[j].revents)
				continue;
			switch (w->kind) {
			case W_UDP_RECV:
			case W_UDP_ERR:
				if (recvfrom(w->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) >= 0) {
					w->state = W_ANSWER;
					w->from = ep_of(&from);
				} else if (errno == ECONNREFUSED) {
					w->state = W_REFUSED; /* ICMP port unreachable */
				} else if (errno != EAGAIN) {
					w->state = W_ERROR;
					w->err = errno;
				}
				break;
			case W_TCP_CONNECT:
				err = tcp_connect_result(w->fd);
				w->state = err == 0 ? W_ANSWER : err == -ECONNREFUSED ? W_REFUSED : W_ERROR;
				w->err = -err;
				break;
			case W_TCP_ACCEPT:
				afd = accept4(w->fd, (struct sockaddr *)&from, &fl,
					      SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (afd >= 0) {
					/* only its source is wanted */
					w->state = W_ANSWER;
					w->from = ep_of(&from);
					close(afd);
				} else if (errno != EAGAIN) {
					w->state = W_ERROR;
					w->err = errno;
				}
				break;
			}
		}
	}
}

static const char *state_word(enum wait_state s, enum classify_transport tr)
{
	switch (s) {
	case W_ANSWER:
		return "arrived";
	case W_REFUSED:
		return tr == CLASSIFY_TCP ? "RST" : "ICMP port unreachable";
	case W_NOTHING:
		return "nothing";
	default:
		return "error";
	}
}

static void finish_filtering(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	const struct probes *pr = &c->pr[round][tr];
	enum wait_state s0 = wstate(c, pr->filter[0]), s1 = wstate(c, pr->filter[1]);
	enum wait_state sc = wstate(c, pr->filter[2]);
	char b[3][32];

	if (pr->filter[0] < 0 || pr->filter[1] < 0)
		return; /* setup failed: noted */
	if (sc != W_ANSWER) {
		note(m, "filtering: the control probe did not get through (%s): no verdict",
		     state_word(sc, tr));
	} else {
		m->filtering = s0 == W_ANSWER ? PROFILE_ENDPOINT_INDEPENDENT
			       : s1 == W_ANSWER ? PROFILE_ADDRESS_DEPENDENT
						: PROFILE_ADDRESS_AND_PORT_DEPENDENT;
		m->filtering_known = true;
	}
	evidence(c, "r%d %s filtering: from the other address to %s: %s; from the same address, "
		 "other port to %s: %s; control (%s) to %s: %s", round + 1, tr_name[tr],
		 ep_str(&pr->filter_pub[0], b[0], sizeof(b[0])), state_word(s0, tr),
		 ep_str(&pr->filter_pub[1], b[1], sizeof(b[1])), state_word(s1, tr),
		 tr == CLASSIFY_UDP ? "a reply" : "simultaneous open",
		 ep_str(&pr->filter_pub[2], b[2], sizeof(b[2])), state_word(sc, tr));
}

/* Whether a hairpinned probe arrived from the sender's public endpoint: the public address, and
 * with an endpoint-independent mapping the very port the sender got (with any other mapping the
 * hairpinned flow has a mapping of its own). */
static bool from_public(const struct ctx *c, const struct classify_measure *m,
			const struct ep *from, const struct ep *sender_pub)
{
	if (from->a.s_addr != c->wan.s_addr)
		return false;
	return !(m->mapping_known && m->mapping == PROFILE_ENDPOINT_INDEPENDENT) ||
	       from->port == sender_pub->port;
}

static void finish_hairpin(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	const struct probes *pr = &c->pr[round][tr];
	enum wait_state sc = wstate(c, pr->hp_control);
	enum wait_state se = wstate(c, pr->hp_ei), sa = wstate(c, pr->hp_ad);
	bool control = false, ei = false, ad = false;
	char b[4][32], why[96] = "";

	if (pr->hp_control < 0)
		return; /* setup failed: noted */
	if (tr == CLASSIFY_UDP) {
		const struct waiter *w = &c->w[pr->hp_control];

		control = sc == W_ANSWER && from_public(c, m, &w->from, &pr->hp_pub[1]);
		if (sc == W_ANSWER && !control)
			snprintf(why, sizeof(why), " from %s, not the sender's public endpoint %s",
				 ep_str(&w->from, b[0], sizeof(b[0])),
				 ep_str(&pr->hp_pub[1], b[1], sizeof(b[1])));
	} else {
		/* A's connect completes only with segments from P's public endpoint (that is
		 * the peer it connected to); when P's listener took A's SYN, check its source */
		const struct waiter *ws = pr->hp_control_src >= 0 ? &c->w[pr->hp_control_src] : NULL;

		control = sc == W_ANSWER;
		if (control && ws && ws->state == W_ANSWER &&
		    !from_public(c, m, &ws->from, &pr->hp_pub[0])) {
			control = false;
			snprintf(why, sizeof(why), " but P saw it from %s, not A's public endpoint %s",
				 ep_str(&ws->from, b[0], sizeof(b[0])),
				 ep_str(&pr->hp_pub[0], b[1], sizeof(b[1])));
		}
	}
	ei = se == W_ANSWER && from_public(c, m, &c->w[pr->hp_ei].from, &pr->hp_pub[3]);
	ad = sa == W_ANSWER && from_public(c, m, &c->w[pr->hp_ad].from, &pr->hp_pub[6]);
	m->hairpin = control;
	m->hairpin_known = true;
	m->hairpin_filtering = classify_hairpin_filtering_of(control, ei, ad);
	m->hairpin_filtering_known = true;
	if (!control && (ei || ad)) {
		/* a probe got through where the exchange that any hairpin filter admits did not */
		m->hairpin_filtering_known = false;
		note(m, "hairpin: a probe got through but the control did not");
	}
	evidence(c, "r%d %s hairpin: A %s <-> P %s: %s%s; S -> T %s (T wrote to no public "
		 "endpoint): %s; W -> U %s (U wrote to V's): %s", round + 1, tr_name[tr],
		 ep_str(&pr->hp_pub[0], b[0], sizeof(b[0])), ep_str(&pr->hp_pub[1], b[1], sizeof(b[1])),
		 state_word(sc, tr), why, ep_str(&pr->hp_pub[2], b[2], sizeof(b[2])),
		 se == W_ANSWER && !ei ? "arrived from a private source" : state_word(se, tr),
		 ep_str(&pr->hp_pub[4], b[3], sizeof(b[3])),
		 sa == W_ANSWER && !ad ? "arrived from a private source" : state_word(sa, tr));
}

static void finish_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	const struct probes *pr = &c->pr[round][tr];
	enum wait_state su = wstate(c, pr->unsolicited), sk = wstate(c, pr->closed);
	enum wait_state ss = wstate(c, pr->mapped_srv), sh = wstate(c, pr->mapped_host);
	char b[2][32];

	if (pr->unsolicited >= 0 && pr->closed >= 0) {
		if (sk != W_REFUSED) {
			note(m, "unsolicited: the control to a closed port of the upstream router "
			     "was not refused (%s): silence proves nothing", state_word(sk, tr));
		} else if (su == W_REFUSED || su == W_NOTHING) {
			m->unsolicited = su == W_REFUSED ? PROFILE_UNSOLICITED_RST
							 : PROFILE_UNSOLICITED_DROP;
			m->unsolicited_known = true;
		} else {
			note(m, "unsolicited: %s", su == W_ANSWER ? "it was answered"
								  : strerror(c->w[pr->unsolicited].err));
		}
	}
	if (pr->mapped_srv >= 0 && sk == W_REFUSED) {
		if (ss == W_ANSWER || sh == W_ANSWER) {
			m->mapped_unsolicited_let_in = true;
			m->mapped_unsolicited_known = true;
		} else if (ss == W_REFUSED || ss == W_NOTHING) {
			m->mapped_unsolicited = ss == W_REFUSED ? PROFILE_UNSOLICITED_RST
								: PROFILE_UNSOLICITED_DROP;
			m->mapped_unsolicited_known = true;
		} else {
			note(m, "unsolicited to a mapped port: %s", strerror(c->w[pr->mapped_srv].err));
		}
	}
	evidence(c, "r%d %s unsolicited: to unmapped %s:%d: %s; to mapped %s from S2: %s; "
		 "control to closed %s:%d: %s", round + 1, tr_name[tr],
		 inet_ntop(AF_INET, &c->wan, b[0], sizeof(b[0])),
		 PORT_UNSOLICITED + round * 10 + (int)tr, state_word(su, tr),
		 ep_str(&pr->mapped_pub, b[1], sizeof(b[1])),
		 ss == W_ANSWER || sh == W_ANSWER ? "let in" : state_word(ss, tr),
		 inet_ntoa(c->up), PORT_CLOSED + round * 10 + (int)tr, state_word(sk, tr));
}

/* The UDP mapping lifetime end to end: mappings made at once, each probed once by its remote
 * after a growing delay (a probe refreshes the entry it reaches, hence one mapping per probe). */
static void measure_lifetime(struct ctx *c)
{
	struct classify_result *r = c->r;
	int d = r->declared.udp_timeout, n = 0;
	int delays[LIFETIME_MAX], fds[LIFETIME_MAX];
	int64_t t0[LIFETIME_MAX];
	struct ep pub[LIFETIME_MAX];
	int cand[] = { d / 4, d / 2, 3 * d / 4, d - 2, d - 1, d + 1, d + 2, d + d / 4, d + d / 2,
		       2 * d };
	int bound = d + (d < 30 ? (d > 2 ? d : 2) : 30);

	/* sorted, distinct, positive, bounded */
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]) && n < LIFETIME_MAX; i++)
		if (cand[i] > 0 && cand[i] <= bound && (n == 0 || cand[i] > delays[n - 1]))
			delays[n++] = cand[i];
	for (int i = 0; i < n; i++) {
		int ret;

		fds[i] = host_socket(c, CLASSIFY_UDP, (uint16_t)(PORT_LIFETIME + i), false);
		t0[i] = now_ms();
		ret = fds[i] < 0 ? fds[i] : udp_observe(c, fds[i], 0, 0, &pub[i]);
		if (ret < 0) {
			note(&r->m[CLASSIFY_UDP], "udp-timeout: setup failed (%s)", strerror(-ret));
			return;
		}
	}
	r->lifetime_lo = 0;
	r->lifetime_hi = -1;
	for (int i = 0; i < n; i++) {
		int64_t due = t0[i] + (int64_t)delays[i] * 1000, at;
		int ret;

		while (now_ms() < due)
			poll(NULL, 0, (int)(due - now_ms()));
		at = now_ms();
		if (send_to(c->srv_udp[0][0], pub[i], "lt") < 0)
			break;
		ret = poll_one(fds[i], POLLIN, now_ms() + c->wait_ms);
		if (ret > 0) {
			r->lifetime_lo = (int)((at - t0[i]) / 1000);
		} else {
			r->lifetime_hi = (int)((at - t0[i] + 999) / 1000);
			break; /* gone: every later one is too */
		}
	}
	evidence(c, "udp-timeout: probed after %d..%d s: alive after %d s, %s", delays[0],
		 delays[n - 1], r->lifetime_lo,
		 r->lifetime_hi < 0 ? "never gone within the bound" : "gone");
	if (r->lifetime_hi >= 0)
		evidence(c, "udp-timeout: gone after %d s", r->lifetime_hi);
}

static int find_addrs(const struct topo *t, struct ctx *c, struct diag_list *dl)
{
	int nsrv = 0;
	const struct topo_node *nat;
	const struct topo_link *wl;
	const struct topo_addr *wan = NULL;

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
			if (l->ends[e].addrs[k].family == AF_INET)
				c->srv[nsrv++] = l->ends[e].addrs[k].a.v4;
	}
	if (nsrv < 2)
		return diag_add(dl, t->file, t->nodes[c->server].line,
				"classify needs two IPv4 addresses on the rendezvous server \"%s\"",
				t->nodes[c->server].name);
	nat = &t->nodes[c->nat];
	wl = &t->links[nat->wan_link];
	wan = topo_end_addr(&wl->ends[nat->wan_end], AF_INET);
	if (!wan)
		return diag_add(dl, t->file, nat->line, "nat node \"%s\" has no IPv4 WAN address",
				nat->name);
	c->wan = wan->a.v4;
	/* the unsolicited probes' control needs a router that answers on the WAN link */
	c->up = c->srv[0];
	for (int e = 0; e < wl->nends; e++) {
		const struct topo_addr *a = topo_end_addr(&wl->ends[e], AF_INET);

		if (e != nat->wan_end && a && wl->ends[e].node == nat->gateway)
			c->up = a->a.v4;
	}
	return 0;
}

static int open_servers(struct ctx *c)
{
	for (int s = 0; s < 2; s++)
		for (int p = 0; p < 2; p++) {
			c->srv_udp[s][p] = ctx_socket(c, c->server, SOCK_DGRAM, c->srv[s], srv_port[p],
						      false);
			if (c->srv_udp[s][p] < 0)
				return c->srv_udp[s][p];
			c->srv_tcp[s][p] = ctx_socket(c, c->server, SOCK_STREAM, c->srv[s],
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
 * NAT) until both answers came back, resending, bounded by WARMUP_MS. */
static int warm_up(struct ctx *c)
{
	int64_t start = now_ms(), deadline = start + WARMUP_MS;
	int hfd = host_socket(c, CLASSIFY_UDP, PORT_WARMUP, false);
	bool got[2] = { false, false };
	int sends = 0;

	if (hfd < 0)
		return hfd;
	while (!(got[0] && got[1])) {
		struct pollfd p[3] = {
			{ .fd = c->srv_udp[0][0], .events = POLLIN },
			{ .fd = c->srv_udp[1][0], .events = POLLIN },
			{ .fd = hfd, .events = POLLIN },
		};
		int64_t until = now_ms() + WARMUP_RESEND_MS;

		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		for (int s = 0; s < 2; s++) {
			struct sockaddr_in dst = sin_of(c->srv[s], SRV_P1);

			if (!got[s] && sendto(hfd, "wu", 2, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
				return -errno;
		}
		sends++;
		while (!(got[0] && got[1]) && now_ms() < until) {
			int n = poll(p, 3, (int)(until - now_ms()));

			if (n < 0 && errno != EINTR)
				return -errno;
			for (int i = 0; n > 0 && i < 3; i++) {
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				char buf[16];

				if (!(p[i].revents & POLLIN))
					continue;
				if (recvfrom(p[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) < 0)
					continue;
				if (i < 2) /* the server answers every warm-up datagram */
					sendto(p[i].fd, "wr", 2, 0, (struct sockaddr *)&from, fl);
				else
					for (int s = 0; s < 2; s++)
						got[s] = got[s] || from.sin_addr.s_addr == c->srv[s].s_addr;
			}
		}
	}
	ctx_close(c, hfd);
	evidence(c, "path: the host reached both server addresses and heard back after %d ms "
		 "(%d send%s)", (int)(now_ms() - start), sends, sends == 1 ? "" : "s");
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
	return ret;
}

static void dump_conntrack(struct ctx *c)
{
	if (!c->ct) {
		evidence(c, "conntrack: cannot open a socket in the NAT node");
		return;
	}
	if (ct_dump_mappings(c->ct, &c->r->conntrack) < 0)
		evidence(c, "conntrack: dump failed");
}

static void measure(struct ctx *c)
{
	/* The unsolicited probes first, before any mapping exists on the NAT. */
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			start_unsolicited(c, rd, (enum classify_transport)tr);
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			enum classify_transport t = (enum classify_transport)tr;
			struct probes *pr = &c->pr[rd][tr];

			pr->filter[0] = pr->filter[1] = pr->filter[2] = -1;
			pr->hp_control = pr->hp_ei = pr->hp_ad = pr->hp_control_src = -1;
			pr->hp_fd[0] = pr->mapped_srv = pr->mapped_host = -1;
			pr->ctl_hfd_waiter = 0;
			pr->ct_fd = -1;
			measure_mapping(c, rd, t);
			if (!c->r->round[rd][tr].handled)
				continue;
			measure_ports(c, rd, t);
			start_filtering(c, rd, t);
			hairpin_setup(c, rd, t);
			start_mapped_unsolicited(c, rd, t);
		}
		if (c->r->round[rd][CLASSIFY_UDP].handled)
			ct_timeout_begin(c, rd);
	}
	ct_timeout_read(c, false);
	finish_controls(c); /* also the pause before the hairpin probes (FIRST_CONTACT_MS) */
	ct_timeout_read(c, true);
	sleep_ms(FIRST_CONTACT_MS);
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			if (c->r->round[rd][tr].handled)
				hairpin_probe(c, rd, (enum classify_transport)tr);
	wait_all(c);
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
	int64_t start = now_ms();
	int ret, base;

	memset(r, 0, sizeof(*r));
	r->lifetime_lo = r->lifetime_hi = -1;
	r->nrounds = CLASSIFY_ROUNDS;
	if (!c)
		return diag_add(dl, profile, 0, "classify: out of memory"), -ENOMEM;
	c->r = r;
	c->wait_ms = opts && opts->wait_ms > 0 ? opts->wait_ms : DEFAULT_WAIT_MS;
	ret = profile_header_parse_file(&r->declared, profile, dl);
	if (ret < 0)
		goto out_free;
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
		ctx_close_from(c, base); /* the sockets of the tests are done */
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
	free(c);
	r->elapsed_ms = (double)(now_ms() - start);
	return ret;
}

void classify_result_free(struct classify_result *r)
{
	if (r)
		ct_mappings_free(&r->conntrack);
}
