/* The classifier's plumbing: sockets opened inside the lab's nodes and owned by the ctx,
 * observing a public endpoint from the probe server, waiting for many inbound probes at once,
 * and reading the NAT's conntrack (classify_internal.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/classify_internal.h"

const uint16_t srv_port[2] = { SRV_P1, SRV_P2 };
const char *const tr_name[CLASSIFY_NTRANSPORTS] = { "udp", "tcp" };

int64_t cl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cl_sleep_ms(int ms)
{
	int64_t until = cl_now_ms() + ms;

	while (cl_now_ms() < until)
		poll(NULL, 0, (int)(until - cl_now_ms()));
}

char *cl_addr_str(const struct in6_addr *a, char *buf, size_t len)
{
	char t[INET6_ADDRSTRLEN];

	if (IN6_IS_ADDR_V4MAPPED(a))
		inet_ntop(AF_INET, &a->s6_addr[12], t, sizeof(t));
	else
		inet_ntop(AF_INET6, a, t, sizeof(t));
	snprintf(buf, len, "%s", t);
	return buf;
}

char *cl_ep_str(const struct ep *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	cl_addr_str(&e->a, a, sizeof(a));
	/* an IPv6 address in brackets (RFC 3986), so that the port reads as one */
	snprintf(buf, len, IN6_IS_ADDR_V4MAPPED(&e->a) ? "%s:%u" : "[%s]:%u", a, e->port);
	return buf;
}

bool cl_addr_eq(const struct in6_addr *x, const struct in6_addr *y)
{
	return memcmp(x, y, sizeof(*x)) == 0;
}

static struct in6_addr mapped_of(struct in_addr v4)
{
	struct in6_addr a = { 0 };

	a.s6_addr[10] = a.s6_addr[11] = 0xff;
	memcpy(&a.s6_addr[12], &v4, 4);
	return a;
}

struct in6_addr cl_addr_of(const struct net_addr *na)
{
	return na->family == AF_INET6 ? na->a.v6 : mapped_of(na->a.v4);
}

socklen_t cl_sa_of(int family, const struct in6_addr *a, uint16_t port,
		   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = *a;
		return sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		/* the mapped address' last four bytes; the unspecified :: gives INADDR_ANY */
		memcpy(&s4->sin_addr, &a->s6_addr[12], 4);
		return sizeof(*s4);
	}
}

struct ep cl_ep_of(const struct sockaddr_storage *s)
{
	struct ep e = { .port = 0 };

	if (s->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)s;

		e.a = s6->sin6_addr;
		e.port = ntohs(s6->sin6_port);
	} else if (s->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)s;

		e.a = mapped_of(s4->sin_addr);
		e.port = ntohs(s4->sin_port);
	}
	return e;
}

uint16_t cl_rport(int round, int port)
{
	return (uint16_t)(port + round * ROUND_PORTS);
}

void cl_evidence(struct ctx *c, const char *fmt, ...)
{
	struct classify_result *r = c->r;
	va_list ap;

	if (r->nevidence >= CLASSIFY_EVIDENCE_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->evidence[r->nevidence++], sizeof(r->evidence[0]), fmt, ap);
	va_end(ap);
}

/* A socket in a node, bound to a:port (port 0: any), non-blocking, closed with the ctx. */
int cl_ctx_socket(struct ctx *c, int node, int type, const struct in6_addr *a, uint16_t port,
		  bool reuse)
{
	struct sockaddr_storage sa;
	socklen_t sl = cl_sa_of(c->family, a, port, &sa);
	int one = 1, fd;

	if (c->nfds >= MAX_FDS)
		return -EMFILE;
	fd = lab_socket(c->lab, node, c->family, type | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	if (cl_fds_high) {
		/* above the numbers libnftables' select() can take (classify_internal.h) */
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);

		close(fd);
		if (hi < 0)
			return -errno;
		fd = hi;
	}
	c->fds[c->nfds++] = fd;
	if (reuse && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
		return -errno;
	/* an IPv6 socket of the lab speaks IPv6 only: no IPv4-mapped traffic sneaks in */
	if (c->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sl) < 0)
		return -errno;
	return fd;
}

/* Close every fd opened since mark (a finished test's sockets: the fds of parallel labs add
 * up against RLIMIT_NOFILE). */
void cl_ctx_close_from(struct ctx *c, int mark)
{
	while (c->nfds > mark)
		close(c->fds[--c->nfds]);
}

/* Close one fd of the ctx (a socket that has done its part). */
void cl_ctx_close(struct ctx *c, int fd)
{
	for (int i = 0; i < c->nfds; i++)
		if (c->fds[i] == fd) {
			close(fd);
			memmove(&c->fds[i], &c->fds[i + 1], (size_t)(c->nfds - i - 1) * sizeof(int));
			c->nfds--;
			return;
		}
}

int cl_host_socket(struct ctx *c, enum classify_transport tr, uint16_t port, bool reuse)
{
	return cl_ctx_socket(c, c->host, tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM, &in6addr_any,
			     port, reuse || tr == CLASSIFY_TCP);
}

/* A TCP listener on an internal port (it shares the port with the connections made from it). */
int cl_host_listener(struct ctx *c, uint16_t port)
{
	int fd = cl_host_socket(c, CLASSIFY_TCP, port, true);

	if (fd >= 0 && listen(fd, 8) < 0)
		return -errno;
	return fd;
}

uint16_t cl_local_port(int fd)
{
	struct sockaddr_storage sa;
	socklen_t l = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &l) < 0)
		return 0;
	return cl_ep_of(&sa).port;
}

int cl_poll_one(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - cl_now_ms();
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

/* The family of a socket (every socket of a ctx has the ctx's). */
static int fd_family(int fd)
{
	int family = AF_INET;
	socklen_t l = sizeof(family);

	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l);
	return family;
}

int cl_send_to(int fd, struct ep to, const char *msg)
{
	struct sockaddr_storage dst;
	socklen_t dl = cl_sa_of(fd_family(fd), &to.a, to.port, &dst);

	return sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&dst, dl) < 0 ? -errno : 0;
}

/* Send a token from host UDP socket hfd to server socket [s][p] and return the source the
 * server saw it from: the public endpoint of hfd towards that remote. */
int cl_udp_observe(struct ctx *c, int hfd, int s, int p, struct ep *seen)
{
	struct sockaddr_storage dst;
	socklen_t dl = cl_sa_of(c->family, &c->srv[s], srv_port[p], &dst);
	/* it must come: the host talks to the server through the NAT (warm_up() proved it) */
	int64_t deadline = cl_now_ms() + c->must_ms;
	char tok[16], buf[64];
	int len = snprintf(tok, sizeof(tok), "pl%u", ++c->seq);

	if (sendto(hfd, tok, (size_t)len, 0, (struct sockaddr *)&dst, dl) < 0)
		return -errno;
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		int ret = cl_poll_one(c->srv_udp[s][p], POLLIN, deadline);
		ssize_t n;

		if (ret < 0)
			return ret;
		n = recvfrom(c->srv_udp[s][p], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n == len && memcmp(buf, tok, (size_t)len) == 0) {
			*seen = cl_ep_of(&from);
			return 0;
		}
		/* a late datagram of an earlier test: skip it */
	}
}

/* The server socket [s][p] answers `seen` and host socket hfd must hear it. */
int cl_udp_answer(struct ctx *c, int hfd, int s, int p, struct ep seen)
{
	char buf[16];
	int ret = cl_send_to(c->srv_udp[s][p], seen, "ans");

	if (ret < 0)
		return ret;
	for (int i = 0; i < 8; i++) {
		ret = cl_poll_one(hfd, POLLIN, cl_now_ms() + c->must_ms);
		if (ret < 0)
			return ret;
		if (recv(hfd, buf, sizeof(buf), 0) == 3 && memcmp(buf, "ans", 3) == 0)
			return 0;
	}
	return -EPROTO;
}

/* Start a non-blocking connect. Returns 0 or -errno. */
int cl_tcp_connect_start(int fd, const struct in6_addr *a, uint16_t port)
{
	struct sockaddr_storage dst;
	socklen_t dl = cl_sa_of(fd_family(fd), a, port, &dst);

	if (connect(fd, (struct sockaddr *)&dst, dl) < 0 && errno != EINPROGRESS)
		return -errno;
	return 0;
}

int cl_set_hops(const struct ctx *c, int fd, int hops, int min_hops)
{
	bool v6 = c->family == AF_INET6;
	int lvl = v6 ? IPPROTO_IPV6 : IPPROTO_IP;

	/* IPV6_MINHOPCOUNT guards tcp_v6_err() as IP_MINTTL guards tcp_v4_err() */
	if (setsockopt(fd, lvl, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, lvl, v6 ? IPV6_MINHOPCOUNT : IP_MINTTL, &min_hops, sizeof(min_hops)) < 0)
		return -errno;
	return 0;
}

int cl_tcp_connect_result(int fd)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return -errno;
	return -err;
}

/* Connect host TCP socket hfd to server listener [s][p], accept there, and return the source
 * the server saw. The connection stays open (both fds belong to the ctx). */
int cl_tcp_observe(struct ctx *c, int hfd, int s, int p, struct ep *seen)
{
	int64_t deadline = cl_now_ms() + c->must_ms;
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	int ret, afd;

	ret = cl_tcp_connect_start(hfd, &c->srv[s], srv_port[p]);
	if (ret < 0)
		return ret;
	ret = cl_poll_one(hfd, POLLOUT, deadline);
	if (ret < 0)
		return ret;
	ret = cl_tcp_connect_result(hfd);
	if (ret < 0)
		return ret;
	ret = cl_poll_one(c->srv_tcp[s][p], POLLIN, deadline);
	if (ret < 0)
		return ret;
	afd = accept4(c->srv_tcp[s][p], (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (afd < 0)
		return -errno;
	/* Only its source was wanted. Closing ends the connection (FIN), not the NAT's mapping:
	 * conntrack keeps the entry through the close states, and that keeps the fds of
	 * parallel labs in check (classify_internal.h). */
	close(afd);
	*seen = cl_ep_of(&from);
	return 0;
}

/* One internal endpoint to a server endpoint: open (UDP: bind; TCP: bind with SO_REUSEPORT so
 * that several connections and a listener share the port) and observe. Returns the UDP socket
 * (TCP: 0, its socket is closed) or -errno. */
int cl_observe(struct ctx *c, enum classify_transport tr, uint16_t port, int s, int p,
		   struct ep *seen)
{
	int fd = cl_host_socket(c, tr, port, false), ret;

	if (fd < 0)
		return fd;
	if (tr == CLASSIFY_UDP) {
		ret = cl_udp_observe(c, fd, s, p, seen);
		return ret < 0 ? ret : fd;
	}
	/* TCP: the connection has served its purpose (the mapping outlives it in conntrack);
	 * later connections from the port and its listener use sockets of their own */
	ret = cl_tcp_observe(c, fd, s, p, seen);
	cl_ctx_close_from(c, c->nfds - 1);
	return ret < 0 ? ret : 0;
}

int cl_add_waiter(struct ctx *c, int fd, enum wait_kind kind)
{

	if (fd < 0 || c->nw >= MAX_WAITERS)
		return -1;
	c->w[c->nw] = (struct waiter){ .fd = fd, .kind = kind, .state = W_NOTHING };
	return c->nw++;
}

int cl_must(struct ctx *c, int i)
{
	if (i >= 0)
		c->w[i].must = true;
	return i;
}

void cl_waiter_done(struct ctx *c, int i)
{
	if (i < 0 || c->w[i].done)
		return;
	c->w[i].done = true;
	cl_ctx_close(c, c->w[i].fd);
}

enum wait_state cl_wstate(const struct ctx *c, int i)
{
	return i >= 0 ? c->w[i].state : W_ERROR;
}

/* --- conntrack ------------------------------------------------------------------------------ */

/* The NAT's conntrack entry of the flow from the host's internal port `port` to the remote
 * rem (proto: IPPROTO_*), looked up by its original tuple (ct_get_flow(): no walk of the
 * whole table). Returns 0, -ENOENT when there is none (yet), or -errno. */
int cl_ct_get(struct ctx *c, uint8_t proto, uint16_t port, struct ep rem, struct ep *pub,
	      uint32_t *timeout)
{
	struct net_addr src = { .family = c->family }, dst = { .family = c->family }, p;
	struct ct_mapping cm;
	int ret;

	if (!c->ct)
		return -ENOTCONN;
	if (c->family == AF_INET6) {
		src.a.v6 = c->hostaddr;
		dst.a.v6 = rem.a;
	} else {
		memcpy(&src.a.v4, &c->hostaddr.s6_addr[12], 4);
		memcpy(&dst.a.v4, &rem.a.s6_addr[12], 4);
	}
	/* either family, translated or not (a firewall's entry keeps the host's endpoint) */
	ret = ct_get_flow(c->ct, proto, &src, port, &dst, rem.port, &cm);
	if (ret < 0)
		return ret;
	p = ct_mapping_addr(&cm, CT_ADDR_PUBLIC);
	pub->a = cl_addr_of(&p);
	pub->port = cm.public_port;
	/* NPTv6 translates without conntrack (nptv6.nft: before and after it), so the entry
	 * holds the internal address; the public one is the host's external address (warm_up) */
	if (c->r->declared.translation == PROFILE_TRANSLATION_PREFIX && !(cm.status & IPS_NAT_MASK))
		pub->a = c->wan;
	*timeout = cm.timeout;
	return 0;
}

/* Wait for every pending waiter: wait_ms for what may never come, and while a control (must)
 * is still pending, up to must_ms: a control that is late says the lab is slow (load), and
 * the probes sent beside it get as long, so that a late answer is not read as silence. */
void cl_wait_all(struct ctx *c)
{
	int64_t start = cl_now_ms(), deadline = start + c->wait_ms, bound = start + c->must_ms;

	for (;;) {
		struct pollfd p[MAX_WAITERS];
		int map[MAX_WAITERS], np = 0, n;
		bool must = false;
		int64_t left;

		for (int i = 0; i < c->nw; i++) {
			if (c->w[i].state != W_NOTHING || c->w[i].done)
				continue;
			p[np] = (struct pollfd){ .fd = c->w[i].fd,
						 .events = c->w[i].kind == W_TCP_CONNECT ? POLLOUT
											 : POLLIN };
			map[np++] = i;
			must = must || c->w[i].must;
		}
		left = (must ? bound : deadline) - cl_now_ms();
		if (np == 0 || left <= 0)
			return;
		n = poll(p, (nfds_t)np, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		for (int j = 0; j < np; j++) {
			struct waiter *w = &c->w[map[j]];
			struct sockaddr_storage from;
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
					w->from = cl_ep_of(&from);
				} else if (errno == ECONNREFUSED) {
					w->state = W_REFUSED; /* ICMP port unreachable */
				} else if (errno != EAGAIN) {
					w->state = W_ERROR;
					w->err = errno;
				}
				break;
			case W_TCP_CONNECT:
				err = cl_tcp_connect_result(w->fd);
				w->state = err == 0 ? W_ANSWER : err == -ECONNREFUSED ? W_REFUSED : W_ERROR;
				w->err = -err;
				break;
			case W_TCP_ACCEPT:
				afd = accept4(w->fd, (struct sockaddr *)&from, &fl,
					      SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (afd >= 0) {
					/* only its source is wanted */
					w->state = W_ANSWER;
					w->from = cl_ep_of(&from);
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

const char *cl_state_word(enum wait_state s, enum classify_transport tr)
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
