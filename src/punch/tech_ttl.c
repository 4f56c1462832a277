/* tcp-ttl (seed 003): before the simultaneous open, each peer sends one SYN with a TTL that
 * lets it through its own NAT(s), which creates the mapping and the conntrack entry for the
 * 4-tuple, but makes it die at the first router beyond them, so it never reaches the other
 * NAT, which would answer it with RST. When both peers have sent theirs (each tells the other
 * through the rendezvous), the real SYNs find an entry on both NATs and pass.
 *
 * The TTL is measured, never assumed: UDP probes towards the other peer's public address with
 * TTL 1, 2, ... one at a time, ICMP time-exceeded read from the error queue (IP_RECVERR) with
 * the offending router's address. Hops that answer from private addresses (or from our own
 * public address) are our side; the first one that answers from a public address is where the
 * SYN must die. Probing stops there, so no probe ever reaches the other NAT and hits its
 * reject rule.
 *
 * BRIEF: an ICMP time-exceeded for a SYN aborts a connect() in SYN_SENT (EHOSTUNREACH). So the
 * low-TTL SYN leaves from a throwaway socket bound to the same port, closed at once (a socket
 * in SYN_SENT closes silently); the real socket that later uses the same 4-tuple has another
 * initial sequence number, and tcp_v4_err ignores an ICMP error quoting a sequence number
 * outside its window. */
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "endpoint.h"
#include "peer.h"

#define TTL_MAX_HOPS 16
#define TTL_TRACE_PORT 33434
#define HOP_TIMEOUT_MIN_US 100000
#define HOP_TIMEOUT_MAX_US 1000000
#define READY_WAIT_MIN_US 500000

struct ttl_state {
	int fd;
	struct loop_io io;
	struct loop_timer hop_timer, ready_timer;
	int ttl;                          /* TTL of the probe in flight */
	bool hop_private[TTL_MAX_HOPS];
	int n;                            /* hops 1..n answered */
	bool reached, measured, ready_sent, peer_ready, connecting;
};

int ttl_choose(const bool *hop_private, int n, bool reached)
{
	int i;

	(void)reached;
	for (i = 0; i < n; i++)
		if (!hop_private[i])
			return i >= 1 ? i + 1 : -1;  /* hop 1 public: no NAT of ours to pass */
	/* Every answering hop was ours: the SYN would have to die at the other NAT itself. */
	return -1;
}

static void ttl_connect(struct peer *p)
{
	struct ttl_state *s = p->ts;
	struct sockaddr_storage t[1 + WIRE_MAX_EPS];
	int n, i;

	if (s->connecting || p->phase != PH_PROBING)
		return;
	s->connecting = true;
	loop_timer_stop(&s->ready_timer);
	n = peer_targets(p, t);
	for (i = 0; i < n; i++)
		if (!tcp_punch_connect(p, &t[i], false))
			peer_step_fail(p, "cannot open TCP sockets");
}

static void on_ready_timer(struct loop_timer *t)
{
	ttl_connect(t->arg);
}

static void prime(struct peer *p, int ttl)
{
	int fd = sock_open_bound(p->family, SOCK_STREAM, &p->o->bind, p->local_port, true);

	if (fd < 0)
		return;
	if (sock_set_ttl(fd, p->family, ttl) == 0 &&
	    (connect(fd, (const struct sockaddr *)&p->peer_pub, ep_len(&p->peer_pub)) == 0 ||
	     errno == EINPROGRESS)) {
		p->ttl_used = (uint32_t)ttl;
		p->attempts++;
	}
	/* connect() has handed the SYN to the device; closing in SYN_SENT sends nothing. */
	close(fd);
}

static void measured(struct peer *p)
{
	struct ttl_state *s = p->ts;
	struct wire_msg m;
	uint64_t wait;
	int ttl;

	if (s->measured)
		return;
	s->measured = true;
	loop_timer_stop(&s->hop_timer);
	if (s->fd >= 0) {
		loop_io_del(&s->io);
		close(s->fd);
		s->fd = -1;
	}
	ttl = ttl_choose(s->hop_private, s->n, s->reached);
	p->hops = s->n;
	evout_begin(&p->ev, "ttl");
	evout_int(&p->ev, "hops_answered", s->n);
	evout_bool(&p->ev, "reached_peer", s->reached);
	if (ttl > 0)
		evout_int(&p->ev, "ttl", ttl);
	else
		evout_str(&p->ev, "ttl", NULL);
	evout_end(&p->ev);
	if (ttl > 0)
		prime(p, ttl);
	else
		evout_warn(&p->ev, "tcp-ttl: no router found between the NATs; plain simultaneous "
			   "open");

	/* Tell the other peer our low-TTL SYN is out; start for real when it says the same. */
	peer_msg_init(p, &m, WIRE_READY);
	m.round = p->round;
	m.present = WA_BIT(WA_ROUND);
	if (p->relay_ok && peer_relay_send(p, &m) == 0)
		s->ready_sent = true;
	if (s->peer_ready) {
		ttl_connect(p);
		return;
	}
	/* Without the relay (or if its READY is lost) wait a bounded while, then go anyway. */
	wait = p->rtt_rdv_us * 8;
	if (wait < READY_WAIT_MIN_US || !s->ready_sent)
		wait = s->ready_sent ? READY_WAIT_MIN_US : 50000 + p->rtt_rdv_us * 4;
	loop_timer_in(&s->ready_timer, wait);
}

static uint64_t hop_timeout(struct peer *p)
{
	uint64_t t = p->rtt_rdv_us * 4;

	if (t < HOP_TIMEOUT_MIN_US)
		t = HOP_TIMEOUT_MIN_US;
	if (t > HOP_TIMEOUT_MAX_US)
		t = HOP_TIMEOUT_MAX_US;
	return t;
}

static void send_hop_probe(struct peer *p)
{
	struct ttl_state *s = p->ts;
	uint8_t b[8] = { 'p', 'u', 'n', 'c', 'h', 't', 't', 0 };

	b[7] = (uint8_t)s->ttl;
	if (sock_set_ttl(s->fd, p->family, s->ttl) < 0 ||
	    send(s->fd, b, sizeof(b), MSG_DONTWAIT) < 0) {
		measured(p);
		return;
	}
	loop_timer_in(&s->hop_timer, hop_timeout(p));
}

static void on_hop_timer(struct loop_timer *t)
{
	measured(t->arg);     /* a silent hop: stop here rather than risk the other NAT */
}

static void on_err(struct loop_io *io, uint32_t events)
{
	struct peer *p = io->arg;
	struct ttl_state *s = p->ts;
	int i;

	(void)events;
	for (i = 0; i < 8 && s->fd >= 0 && !s->measured; i++) {
		uint8_t data[64], ctl[512];
		struct sockaddr_storage name;
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh = { .msg_name = &name, .msg_namelen = sizeof(name), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct cmsghdr *c;
		ssize_t n = recvmsg(s->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (n < 0) {
			/* Drain a plain datagram (or a pending error) so epoll does not spin. */
			if (recv(s->fd, data, sizeof(data), MSG_DONTWAIT) < 0 && errno == EAGAIN)
				return;
			continue;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			struct sock_extended_err *ee;
			struct sockaddr_storage off = { 0 };
			bool te, unreach;
			int ttl;

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (struct sock_extended_err *)CMSG_DATA(c);
			memcpy(&off, SO_EE_OFFENDER(ee),
			       ee->ee_origin == SO_EE_ORIGIN_ICMP6 ? sizeof(struct sockaddr_in6) :
								      sizeof(struct sockaddr_in));
			te = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_TIME_EXCEEDED) ||
			     (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == ICMP6_TIME_EXCEEDED);
			unreach = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_DEST_UNREACH) ||
				  (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == ICMP6_DST_UNREACH);
			ttl = n >= 8 ? data[7] : s->ttl;
			if (ttl != s->ttl)
				continue;           /* a late answer to an earlier probe */
			if (te && ttl <= TTL_MAX_HOPS) {
				bool priv = ep_is_private(&off) || ep_equal(&off, &p->public1, false);

				s->hop_private[ttl - 1] = priv;
				s->n = ttl;
				if (!priv || ttl >= TTL_MAX_HOPS) {
					measured(p);
					return;
				}
				s->ttl++;
				send_hop_probe(p);
				return;     /* @s may be gone if sending failed */
			} else if (unreach) {
				s->reached = ep_equal(&off, &p->peer_pub, false);
				measured(p);
				return;
			}
		}
	}
}

static int ttl_start(struct peer *p)
{
	struct ttl_state *s;
	struct sockaddr_storage to = p->peer_pub;
	int one = 1, err;

	err = tcp_punch_begin(p);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	p->ts = s;
	s->fd = -1;
	loop_timer_init(&p->loop, &s->hop_timer, on_hop_timer, p);
	loop_timer_init(&p->loop, &s->ready_timer, on_ready_timer, p);
	s->fd = sock_open_bound(p->family, SOCK_DGRAM, &p->o->bind, 0, false);
	if (s->fd < 0)
		goto no_trace;
	ep_set_port(&to, TTL_TRACE_PORT);
	if ((p->family == AF_INET6 ?
	     setsockopt(s->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one)) :
	     setsockopt(s->fd, SOL_IP, IP_RECVERR, &one, sizeof(one))) < 0 ||
	    connect(s->fd, (struct sockaddr *)&to, ep_len(&to)) < 0 ||
	    loop_io_add(&p->loop, &s->io, s->fd, EPOLLIN | EPOLLERR, on_err, p) < 0) {
		close(s->fd);
		s->fd = -1;
		goto no_trace;
	}
	s->ttl = 1;
	send_hop_probe(p);
	return 0;
no_trace:
	measured(p);
	return 0;
}

static void ttl_stop(struct peer *p)
{
	struct ttl_state *s = p->ts;

	tcp_punch_close_all(p);
	if (!s)
		return;
	loop_timer_stop(&s->hop_timer);
	loop_timer_stop(&s->ready_timer);
	if (s->fd >= 0) {
		loop_io_del(&s->io);
		close(s->fd);
	}
	free(s);
	p->ts = NULL;
}

static void ttl_on_relay_msg(struct peer *p, const struct wire_msg *m)
{
	struct ttl_state *s = p->ts;

	if (!s || m->type != WIRE_READY || m->round != p->round)
		return;
	s->peer_ready = true;
	if (s->measured)
		ttl_connect(p);
}

const struct tech_ops tech_ttl_ops = {
	.id = TECH_TCP_TTL,
	.start = ttl_start,
	.stop = ttl_stop,
	.on_relay_msg = ttl_on_relay_msg,
};
