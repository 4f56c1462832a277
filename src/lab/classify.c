#include "lab/classify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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

/* Internal ports of the tests. Chosen apart from every port range a shipped or test profile
 * allocates from (20000-21023, 30000-33069, 49152-49407, 61000-61999), so that "preserved"
 * can not happen by chance. */
#define PORT_MAPPING 40001
#define PORT_FILTER 40011   /* three */
#define PORT_PORTS 40021    /* PORTS_N consecutive */
#define PORT_HAIRPIN 40031  /* two */
#define PORT_LIFETIME 40101 /* up to LIFETIME_MAX */
#define PORT_UNSOLICITED 40900 /* on the NAT's public address: nothing ever maps it */
#define PORT_WARMUP 40999
#define WARMUP_MS 3000
#define WARMUP_RESEND_MS 50

#define PORTS_N 4
#define LIFETIME_MAX 12
#define MAX_FDS 128
#define DEFAULT_WAIT_MS 500

struct ep {
	struct in_addr a;
	uint16_t port; /* host order */
};

/* One measurement: the lab, the nodes and addresses it probes between, the fds it opened. */
struct ctx {
	struct lab *lab;
	int host, nat, server;
	struct in_addr srv[2];  /* S1, S2 */
	struct in_addr wan;     /* the NAT's public address */
	int wait_ms;
	int srv_udp[2][2];      /* [address][port] */
	int srv_tcp[2][2];      /* listeners */
	int fds[MAX_FDS];
	int nfds;
	unsigned seq;
	struct classify_result *r;
};

/* What a waiter saw by the deadline. */
enum wait_state { W_NOTHING, W_ANSWER, W_REFUSED, W_ERROR };
enum wait_kind { W_UDP_RECV, W_UDP_ERR, W_TCP_CONNECT };

struct waiter {
	int fd;
	enum wait_kind kind;
	enum wait_state state;
	struct ep from; /* W_UDP_RECV: the source seen */
	int err;
};

static const uint16_t srv_port[2] = { SRV_P1, SRV_P2 };
static const char *const tr_name[CLASSIFY_NTRANSPORTS] = { "udp", "tcp" };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static int host_socket(struct ctx *c, enum classify_transport tr, uint16_t port, bool reuse)
{
	struct in_addr any = { htonl(INADDR_ANY) };

	return ctx_socket(c, c->host, tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM, any, port,
			  reuse || tr == CLASSIFY_TCP);
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
	if (c->nfds < MAX_FDS)
		c->fds[c->nfds++] = afd;
	else
		close(afd);
	*seen = ep_of(&from);
	return 0;
}

/* One internal endpoint to a server endpoint: open (UDP: bind; TCP: bind with SO_REUSEPORT so
 * that several connections and a listener share the port) and observe. */
static int observe(struct ctx *c, enum classify_transport tr, uint16_t port, int s, int p,
		   struct ep *seen)
{
	int fd = host_socket(c, tr, port, false);

	if (fd < 0)
		return fd;
	return tr == CLASSIFY_UDP ? udp_observe(c, fd, s, p, seen) : tcp_observe(c, fd, s, p, seen);
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

static void measure_mapping(struct ctx *c, enum classify_transport tr)
{
	static const int dst[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } };
	struct classify_measure *m = &c->r->m[tr];
	struct ep seen[4];
	uint32_t a[4];
	uint16_t p[4];
	char b[4][32];
	int fd = tr == CLASSIFY_UDP ? host_socket(c, tr, PORT_MAPPING, false) : 0;

	for (int i = 0; i < 4; i++) {
		int ret;

		if (tr == CLASSIFY_UDP) {
			/* one socket to four remotes */
			ret = fd < 0 ? fd : udp_observe(c, fd, dst[i][0], dst[i][1], &seen[i]);
		} else {
			/* TCP: one connection per remote, all from the same internal port */
			ret = observe(c, tr, PORT_MAPPING, dst[i][0], dst[i][1], &seen[i]);
		}
		if (ret < 0) {
			note(m, "mapping: no answer from the server (%s)", strerror(-ret));
			return;
		}
		a[i] = seen[i].a.s_addr;
		p[i] = seen[i].port;
	}
	m->mapping = classify_mapping_of(a, p);
	m->mapping_known = true;
	evidence(c, "%s mapping: internal port %d seen by S1:%d as %s, S1:%d as %s, S2:%d as %s, "
		 "S2:%d as %s", tr_name[tr], PORT_MAPPING, SRV_P1,
		 ep_str(&seen[0], b[0], sizeof(b[0])), SRV_P2, ep_str(&seen[1], b[1], sizeof(b[1])),
		 SRV_P1, ep_str(&seen[2], b[2], sizeof(b[2])), SRV_P2,
		 ep_str(&seen[3], b[3], sizeof(b[3])));
}

static void measure_ports(struct ctx *c, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->m[tr];
	uint16_t in[PORTS_N], pub[PORTS_N];
	char list[128] = "";
	size_t used = 0;

	for (int i = 0; i < PORTS_N; i++) {
		struct ep seen;
		int ret;

		in[i] = (uint16_t)(PORT_PORTS + i);
		ret = observe(c, tr, in[i], 0, 0, &seen);
		if (ret < 0) {
			note(m, "ports: no answer from the server (%s)", strerror(-ret));
			return;
		}
		pub[i] = seen.port;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u->%u", i ? ", " : "",
					 in[i], pub[i]);
	}
	m->stride = 1;
	m->ports = classify_ports_of(in, pub, PORTS_N, &m->stride);
	m->ports_known = true;
	evidence(c, "%s ports: internal -> public, one new internal endpoint after another: %s",
		 tr_name[tr], list);
}

/* Filtering and hairpinning need an inbound probe after the outbound setup; the probes of
 * every test (and the unsolicited ones) are sent together and waited for together, so that
 * the waits for what never comes overlap. */
struct inbound {
	struct waiter w[16];
	int n;
	int filter[CLASSIFY_NTRANSPORTS][3]; /* waiter index per filtering probe, -1 none */
	int hairpin[CLASSIFY_NTRANSPORTS];
	int unsolicited[CLASSIFY_NTRANSPORTS];
	struct ep filter_pub[CLASSIFY_NTRANSPORTS][3];
	struct ep hairpin_pub[CLASSIFY_NTRANSPORTS][2];
};

static int add_waiter(struct inbound *in, int fd, enum wait_kind kind)
{
	if (in->n >= (int)(sizeof(in->w) / sizeof(in->w[0])))
		return -1;
	in->w[in->n] = (struct waiter){ .fd = fd, .kind = kind, .state = W_NOTHING };
	return in->n++;
}

/* Filtering: three fresh internal endpoints each talk to S1:P1; then S2:P2 writes to the first,
 * S1:P2 to the second and (UDP only) S1:P1 to the third. */
static void start_filtering(struct ctx *c, enum classify_transport tr, struct inbound *in)
{
	static const int from[3][2] = { { 1, 1 }, { 0, 1 }, { 0, 0 } };
	struct classify_measure *m = &c->r->m[tr];
	int hfd[3];

	for (int i = 0; i < 3; i++) {
		uint16_t port = (uint16_t)(PORT_FILTER + i);
		int ret;

		in->filter[tr][i] = -1;
		if (tr == CLASSIFY_UDP) {
			hfd[i] = host_socket(c, tr, port, false);
			ret = hfd[i] < 0 ? hfd[i] : udp_observe(c, hfd[i], 0, 0, &in->filter_pub[tr][i]);
		} else {
			/* a listener on the internal port takes what the filter lets through */
			hfd[i] = host_socket(c, tr, port, true);
			ret = hfd[i] < 0 ? hfd[i] : listen(hfd[i], 8) < 0 ? -errno : 0;
			if (ret == 0)
				ret = observe(c, tr, port, 0, 0, &in->filter_pub[tr][i]);
		}
		if (ret < 0) {
			note(m, "filtering: setup failed (%s)", strerror(-ret));
			return;
		}
	}
	for (int i = 0; i < 3; i++) {
		const struct ep *to = &in->filter_pub[tr][i];
		int s = from[i][0], p = from[i][1];

		if (tr == CLASSIFY_UDP) {
			struct sockaddr_in dst = sin_of(to->a, to->port);

			if (sendto(c->srv_udp[s][p], "in", 2, 0, (struct sockaddr *)&dst,
				   sizeof(dst)) < 0) {
				note(m, "filtering: send: %s", strerror(errno));
				return;
			}
			in->filter[tr][i] = add_waiter(in, hfd[i], W_UDP_RECV);
		} else if (i < 2) {
			/* TCP has no control probe: a SYN from the very remote endpoint of the open
			 * connection would belong to that connection. A fresh port of the remote. */
			int fd = ctx_socket(c, c->server, SOCK_STREAM, c->srv[s], 0, false);

			if (fd < 0 || tcp_connect_start(fd, to->a, to->port) < 0) {
				note(m, "filtering: connect from the server failed");
				return;
			}
			in->filter[tr][i] = add_waiter(in, fd, W_TCP_CONNECT);
		}
	}
}

/* Hairpinning: the first internal endpoint talks to S1:P1; a second one talks to S1:P1 too
 * (so that it has a public endpoint of its own), then writes to the first's public endpoint. */
static void start_hairpin(struct ctx *c, enum classify_transport tr, struct inbound *in)
{
	struct classify_measure *m = &c->r->m[tr];
	struct ep *pub = in->hairpin_pub[tr];
	int h1, h2, ret;

	in->hairpin[tr] = -1;
	h1 = host_socket(c, tr, PORT_HAIRPIN, false);
	h2 = host_socket(c, tr, PORT_HAIRPIN + 1, false);
	ret = h1 < 0 ? h1 : h2 < 0 ? h2 : 0;
	if (ret == 0 && tr == CLASSIFY_UDP) {
		ret = udp_observe(c, h1, 0, 0, &pub[0]);
		if (ret == 0)
			ret = udp_observe(c, h2, 0, 0, &pub[1]);
		if (ret == 0) {
			struct sockaddr_in dst = sin_of(pub[0].a, pub[0].port);

			if (sendto(h2, "hp", 2, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
				ret = -errno;
		}
		if (ret == 0)
			in->hairpin[tr] = add_waiter(in, h1, W_UDP_RECV);
	} else if (ret == 0) {
		/* h1 listens on the internal port whose public endpoint h2 connects to */
		ret = listen(h1, 8) < 0 ? -errno : observe(c, tr, PORT_HAIRPIN, 0, 0, &pub[0]);
		if (ret == 0)
			ret = tcp_connect_start(h2, pub[0].a, pub[0].port);
		if (ret == 0)
			in->hairpin[tr] = add_waiter(in, h2, W_TCP_CONNECT);
	}
	if (ret < 0)
		note(m, "hairpin: setup failed (%s)", strerror(-ret));
}

/* Unsolicited: from the server to a public port nothing maps. */
static void start_unsolicited(struct ctx *c, enum classify_transport tr, struct inbound *in)
{
	struct classify_measure *m = &c->r->m[tr];
	uint16_t port = (uint16_t)(PORT_UNSOLICITED + tr);
	int fd, ret;

	in->unsolicited[tr] = -1;
	fd = ctx_socket(c, c->server, tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM, c->srv[0], 0,
			false);
	ret = fd < 0 ? fd : tcp_connect_start(fd, c->wan, port); /* UDP: connect() only sets the peer */
	if (ret == 0 && tr == CLASSIFY_UDP && send(fd, "un", 2, 0) < 0)
		ret = -errno;
	if (ret < 0) {
		note(m, "unsolicited: %s", strerror(-ret));
		return;
	}
	in->unsolicited[tr] = add_waiter(in, fd, tr == CLASSIFY_UDP ? W_UDP_ERR : W_TCP_CONNECT);
}

static void wait_all(struct ctx *c, struct inbound *in)
{
	int64_t deadline = now_ms() + c->wait_ms;

	for (;;) {
		struct pollfd p[16];
		int map[16], np = 0, n;
		int64_t left = deadline - now_ms();

		for (int i = 0; i < in->n; i++) {
			if (in->w[i].state != W_NOTHING)
				continue;
			p[np] = (struct pollfd){ .fd = in->w[i].fd,
						 .events = in->w[i].kind == W_TCP_CONNECT ? POLLOUT
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
			struct waiter *w = &in->w[map[j]];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			char buf[64];
			int err;

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
			}
		}
	}
}

static void finish_inbound(struct ctx *c, struct inbound *in)
{
	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
		struct classify_measure *m = &c->r->m[tr];
		char b[4][32];

		/* filtering: the first probe let through decides */
		if (in->filter[tr][0] >= 0 && in->filter[tr][1] >= 0) {
			enum wait_state s0 = in->w[in->filter[tr][0]].state;
			enum wait_state s1 = in->w[in->filter[tr][1]].state;
			int ci = in->filter[tr][2];
			bool control_ok = tr == CLASSIFY_TCP || (ci >= 0 && in->w[ci].state == W_ANSWER);

			if (!control_ok) {
				note(m, "filtering: even the reply from the contacted endpoint was lost");
			} else {
				m->filtering = s0 == W_ANSWER ? PROFILE_ENDPOINT_INDEPENDENT
					       : s1 == W_ANSWER ? PROFILE_ADDRESS_DEPENDENT
								: PROFILE_ADDRESS_AND_PORT_DEPENDENT;
				m->filtering_known = true;
			}
			evidence(c, "%s filtering: from the other address to %s: %s; from the same "
				 "address, other port to %s: %s%s", tr_name[tr],
				 ep_str(&in->filter_pub[tr][0], b[0], sizeof(b[0])),
				 s0 == W_ANSWER ? "arrived" : "not arrived",
				 ep_str(&in->filter_pub[tr][1], b[1], sizeof(b[1])),
				 s1 == W_ANSWER ? "arrived" : "not arrived",
				 tr == CLASSIFY_UDP ? (control_ok ? "; the reply arrived"
								  : "; the reply did not arrive")
						    : "");
		}
		if (in->hairpin[tr] >= 0) {
			const struct waiter *w = &in->w[in->hairpin[tr]];

			m->hairpin = w->state == W_ANSWER;
			m->hairpin_known = true;
			if (tr == CLASSIFY_UDP && m->hairpin)
				evidence(c, "udp hairpin: %s -> %s arrived from %s",
					 ep_str(&in->hairpin_pub[tr][1], b[0], sizeof(b[0])),
					 ep_str(&in->hairpin_pub[tr][0], b[1], sizeof(b[1])),
					 ep_str(&w->from, b[2], sizeof(b[2])));
			else
				evidence(c, "%s hairpin: to own public endpoint %s: %s", tr_name[tr],
					 ep_str(&in->hairpin_pub[tr][0], b[0], sizeof(b[0])),
					 w->state == W_ANSWER    ? "connected"
					 : w->state == W_REFUSED ? "refused (the NAT itself answered)"
								 : "nothing");
		}
		if (in->unsolicited[tr] >= 0) {
			const struct waiter *w = &in->w[in->unsolicited[tr]];

			if (w->state == W_REFUSED || w->state == W_NOTHING) {
				m->unsolicited = w->state == W_REFUSED ? PROFILE_UNSOLICITED_RST
								       : PROFILE_UNSOLICITED_DROP;
				m->unsolicited_known = true;
			} else {
				note(m, "unsolicited: %s", w->state == W_ANSWER ? "it was answered"
										 : strerror(w->err));
			}
			evidence(c, "%s unsolicited to %s:%d: %s", tr_name[tr],
				 inet_ntop(AF_INET, &c->wan, b[3], sizeof(b[3])), PORT_UNSOLICITED + tr,
				 w->state == W_REFUSED ? (tr == CLASSIFY_TCP ? "RST" : "ICMP port unreachable")
				 : w->state == W_NOTHING ? "no answer"
				 : w->state == W_ANSWER  ? "answered"
							 : "error");
		}
	}
}

/* The UDP mapping lifetime: mappings made at once, each probed once by its remote after a
 * growing delay (a probe refreshes the entry it reaches, hence one mapping per probe). */
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
		struct sockaddr_in dst = sin_of(pub[i].a, pub[i].port);
		int64_t due = t0[i] + (int64_t)delays[i] * 1000, at;
		int ret;

		while (now_ms() < due)
			poll(NULL, 0, (int)(due - now_ms()));
		at = now_ms();
		if (sendto(c->srv_udp[0][0], "lt", 2, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
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
	const struct topo_addr *wan;

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
	wan = topo_end_addr(&t->links[nat->wan_link].ends[nat->wan_end], AF_INET);
	if (!wan)
		return diag_add(dl, t->file, nat->line, "nat node \"%s\" has no IPv4 WAN address",
				nat->name);
	c->wan = wan->a.v4;
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
			if (listen(c->srv_tcp[s][p], 32) < 0)
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
	evidence(c, "path: the host reached both server addresses and heard back after %d ms "
		 "(%d send%s)", (int)(now_ms() - start), sends, sends == 1 ? "" : "s");
	return 0;
}

static void dump_conntrack(struct ctx *c)
{
	struct mnl_socket *nl = ct_socket_open(lab_node_netns(c->lab, c->nat));

	if (!nl) {
		evidence(c, "conntrack: cannot open a socket in the NAT node: %s", strerror(errno));
		return;
	}
	if (ct_dump_mappings(nl, &c->r->conntrack) < 0)
		evidence(c, "conntrack: dump failed");
	ct_socket_close(nl);
}

int classify_profile(const struct topo *t, const char *profile, const struct classify_opts *opts,
		     struct classify_result *r, struct diag_list *dl)
{
	struct lab_options lo = { .noverrides = 1 };
	struct ctx c = { .r = r };
	int64_t start = now_ms();
	struct inbound in;
	int ret;

	memset(r, 0, sizeof(*r));
	r->lifetime_lo = r->lifetime_hi = -1;
	c.wait_ms = opts && opts->wait_ms > 0 ? opts->wait_ms : DEFAULT_WAIT_MS;
	ret = profile_header_parse_file(&r->declared, profile, dl);
	if (ret < 0)
		return ret;
	ret = find_addrs(t, &c, dl);
	if (ret < 0)
		return ret;
	lo.override_node[0] = t->nodes[c.nat].name;
	lo.override_profile[0] = profile;
	ret = lab_up(t, &lo, &c.lab, dl);
	if (ret < 0)
		return ret;
	ret = open_servers(&c);
	if (ret < 0) {
		diag_add(dl, profile, 0, "classify: open the probe server's sockets: %s",
			 strerror(-ret));
		goto out;
	}

	ret = warm_up(&c);
	if (ret < 0) {
		diag_add(dl, profile, 0, "classify: the host behind the NAT can not reach the probe "
			 "server and hear back (%s): the ruleset blocks outbound traffic or its replies",
			 strerror(-ret));
		goto out;
	}

	memset(&in, 0, sizeof(in));
	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
		/* The unsolicited probes first, before any mapping exists on the NAT. */
		start_unsolicited(&c, (enum classify_transport)tr, &in);
	}
	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
		measure_mapping(&c, (enum classify_transport)tr);
		measure_ports(&c, (enum classify_transport)tr);
		start_filtering(&c, (enum classify_transport)tr, &in);
		start_hairpin(&c, (enum classify_transport)tr, &in);
	}
	wait_all(&c, &in);
	finish_inbound(&c, &in);
	if (opts && opts->timeouts)
		measure_lifetime(&c);
	dump_conntrack(&c);
	classify_compare(r);
out:
	for (int i = c.nfds - 1; i >= 0; i--)
		close(c.fds[i]);
	lab_down(c.lab);
	r->elapsed_ms = (double)(now_ms() - start);
	return ret;
}

void classify_result_free(struct classify_result *r)
{
	if (r)
		ct_mappings_free(&r->conntrack);
}

static char *ports_str(enum profile_ports p, int stride, char *buf, size_t len)
{
	if (p == PROFILE_PORTS_SEQUENTIAL && stride != 1)
		snprintf(buf, len, "sequential, stride %d", stride);
	else
		snprintf(buf, len, "%s", profile_ports_name(p));
	return buf;
}

char *classify_declared(const struct classify_result *r, enum profile_key k, char *buf,
			size_t len)
{
	const struct profile_header *h = &r->declared;

	switch (k) {
	case PROFILE_KEY_NAME:
		snprintf(buf, len, "%s", h->name);
		break;
	case PROFILE_KEY_RFC3489:
		snprintf(buf, len, "%s", profile_rfc3489_name(h->rfc3489));
		break;
	case PROFILE_KEY_MAPPING:
		snprintf(buf, len, "%s", profile_dependency_name(h->mapping));
		break;
	case PROFILE_KEY_FILTERING:
		snprintf(buf, len, "%s", profile_dependency_name(h->filtering));
		break;
	case PROFILE_KEY_PORTS:
		ports_str(h->ports, h->stride, buf, len);
		break;
	case PROFILE_KEY_STRIDE:
		snprintf(buf, len, "%d", h->stride);
		break;
	case PROFILE_KEY_HAIRPIN:
		snprintf(buf, len, "%s", h->hairpin ? "yes" : "no");
		break;
	case PROFILE_KEY_TCP_UNSOLICITED:
		snprintf(buf, len, "%s", profile_unsolicited_name(h->tcp_unsolicited));
		break;
	case PROFILE_KEY_PREDICTABLE:
		snprintf(buf, len, "%s", h->predictable ? "yes" : "no");
		break;
	case PROFILE_KEY_TRANSPORTS:
		profile_transports_format(h->transports, buf, len);
		break;
	case PROFILE_KEY_UDP_TIMEOUT:
		snprintf(buf, len, "%d", h->udp_timeout);
		break;
	case PROFILE_KEY_DESCRIPTION:
		snprintf(buf, len, "%s", h->description);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}

char *classify_measured(const struct classify_result *r, enum profile_key k,
			enum classify_transport tr, char *buf, size_t len)
{
	const struct classify_measure *m = &r->m[tr];

	snprintf(buf, len, "?");
	switch (k) {
	case PROFILE_KEY_RFC3489:
		if (m->mapping_known && m->filtering_known)
			snprintf(buf, len, "%s",
				 profile_rfc3489_name(profile_rfc3489_of(m->mapping, m->filtering)));
		break;
	case PROFILE_KEY_MAPPING:
		if (m->mapping_known)
			snprintf(buf, len, "%s", profile_dependency_name(m->mapping));
		break;
	case PROFILE_KEY_FILTERING:
		if (m->filtering_known)
			snprintf(buf, len, "%s", profile_dependency_name(m->filtering));
		break;
	case PROFILE_KEY_PORTS:
		if (m->ports_known)
			ports_str(m->ports, m->stride, buf, len);
		break;
	case PROFILE_KEY_HAIRPIN:
		if (m->hairpin_known)
			snprintf(buf, len, "%s", m->hairpin ? "yes" : "no");
		break;
	case PROFILE_KEY_TCP_UNSOLICITED:
		if (m->unsolicited_known)
			snprintf(buf, len, "%s", profile_unsolicited_name(m->unsolicited));
		break;
	case PROFILE_KEY_PREDICTABLE:
		if (m->mapping_known && m->ports_known)
			snprintf(buf, len, "%s",
				 profile_predictable_of(m->mapping, m->ports) ? "yes" : "no");
		break;
	case PROFILE_KEY_UDP_TIMEOUT:
		if (tr != CLASSIFY_UDP || r->lifetime_lo < 0)
			snprintf(buf, len, "-");
		else if (r->lifetime_hi < 0)
			snprintf(buf, len, "> %d", r->lifetime_lo);
		else
			snprintf(buf, len, "%d..%d", r->lifetime_lo, r->lifetime_hi);
		break;
	default:
		snprintf(buf, len, "-");
	}
	return buf;
}

bool classify_compared(const struct classify_result *r, enum profile_key k,
		       enum classify_transport tr)
{
	unsigned bit = tr == CLASSIFY_UDP ? PROFILE_UDP : PROFILE_TCP;

	if (!(r->declared.transports & bit))
		return false;
	switch (k) {
	case PROFILE_KEY_RFC3489:
	case PROFILE_KEY_MAPPING:
	case PROFILE_KEY_FILTERING:
	case PROFILE_KEY_PORTS:
	case PROFILE_KEY_HAIRPIN:
	case PROFILE_KEY_TCP_UNSOLICITED:
	case PROFILE_KEY_PREDICTABLE:
		return true;
	case PROFILE_KEY_UDP_TIMEOUT:
		return tr == CLASSIFY_UDP && r->lifetime_lo >= 0;
	default:
		return false;
	}
}

unsigned classify_compare(struct classify_result *r)
{
	r->mismatches = 0;
	for (int k = 0; k < PROFILE_KEY_COUNT; k++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			char d[64], m[64];
			bool same;

			if (!classify_compared(r, (enum profile_key)k, (enum classify_transport)tr))
				continue;
			if (k == PROFILE_KEY_UDP_TIMEOUT) {
				/* the lifetime L lies in (lo, hi]; allow a second for timing */
				int dt = r->declared.udp_timeout;
				same = r->lifetime_lo <= dt + 1 &&
				       (r->lifetime_hi < 0 || r->lifetime_hi >= dt - 1);
			} else {
				classify_declared(r, (enum profile_key)k, d, sizeof(d));
				classify_measured(r, (enum profile_key)k, (enum classify_transport)tr,
						  m, sizeof(m));
				same = strcmp(d, m) == 0;
			}
			if (!same)
				r->mismatches |= 1u << k;
		}
	return r->mismatches;
}
