/* tcp-ttl (seed 003): beat NATs that answer an unsolicited SYN with RST. The SYN that opens
 * a NAT's mapping must not reach the other NAT before that one has a mapping too, so one SYN
 * is sent with a TTL that takes it through its own NAT(s) and lets it die at the first router
 * beyond them.
 *
 * Who does what (roles from the rendezvous, so the order is deterministic, not a race):
 *  - b measures the hop count, then connects its real socket with the low TTL (its NAT now
 *    holds an entry for the 4-tuple, in SYN_SENT), sets the TTL back to the default and tells
 *    a "ready" through the rendezvous. The socket stays in SYN_SENT.
 *  - a, on "ready", connects normally. Its SYN passes its own NAT, finds b's entry on b's
 *    NAT, reaches b's socket in SYN_SENT: a simultaneous open, answered with b's own ISN.
 *
 * Two Linux facts shape this (measured in namespaces, kernel 6.18):
 *  - BRIEF: an ICMP time-exceeded for a SYN aborts connect() in SYN_SENT (EHOSTUNREACH).
 *    tcp_v4_err drops an ICMP error whose quoted IP header has a TTL below the socket's
 *    IP_MINTTL; the quoted TTL of an expired SYN is 1 while real segments arrive with more,
 *    so b's socket sets IP_MINTTL 2 and survives its own SYN's time-exceeded.
 *  - A throwaway socket for the low-TTL SYN does not work: conntrack on b's NAT records the
 *    throwaway's ISN, and once a's SYN has moved the entry to SYN_SENT2 it no longer
 *    re-initialises the window, so the handshake answered by another socket (the listener,
 *    new ISN) is judged out of window and its packets leave the NAT untranslated.
 *
 * The TTL is measured, never assumed: UDP probes towards a's public address with TTL 1, 2, ...
 * one at a time, ICMP time-exceeded read from the error queue (IP_RECVERR) with the offending
 * router's address. Hops answering from private addresses (or our own public address) are our
 * side; the first public one is where the SYN must die. Probing stops there, so no probe
 * reaches the other NAT (and its reject rule).
 *
 * Routers rate-limit ICMP errors: Linux sends at most one time-exceeded per second to one
 * destination after a burst of 6 (icmp_ratelimit 1000 ms), so a few attempts in a row from
 * one host leave hop 1 (our NAT, answering our private address) or hop 2 (answering our NAT's
 * public address) silent for up to a second. Measured in a kept lab: 20 back-to-back tcp-ttl
 * runs, every 4th one silent at hop 1 or 2, fell back to a plain simultaneous open and was
 * reset. So a silent hop is probed again with the same TTL for HOP_SILENT_US before it counts
 * as silent, and a waits for b's "ready" that long per hop. */
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
#define HOP_SILENT_US 1200000         /* re-probe a silent hop this long: one ICMP refill */
#define READY_WAIT_MIN_US (2 * HOP_SILENT_US + 100000)

struct ttl_state {
	int fd;
	struct loop_io io;
	struct loop_timer hop_timer, ready_timer;
	int ttl;                          /* TTL of the probe in flight */
	uint64_t ttl_since_us;            /* first probe with this TTL */
	bool hop_private[TTL_MAX_HOPS];
	int n;                            /* hops 1..n answered */
	bool reached, measured, ready_sent, peer_ready, connecting;
	struct tconn *primed;             /* b: the real socket, SYN sent with the low TTL */
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
	for (i = 0; i < n; i++) {
		/* b's public target is the primed socket; everything else connects normally. */
		if (s->primed && ep_equal(&t[i], &p->peer_pub, true))
			continue;
		if (!tcp_punch_connect(p, &t[i], false)) {
			peer_step_fail(p, "cannot open TCP sockets");
			return;
		}
	}
}

static void on_ready_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;

	/* a: no "ready" came (no relay, or it was lost): connect anyway, bounded. */
	evout_warn(&p->ev, "tcp-ttl: no ready from the other peer; connecting anyway");
	ttl_connect(p);
}

static void measured(struct peer *p)
{
	struct ttl_state *s = p->ts;
	struct wire_msg m;
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
	if (ttl > 0) {
		s->primed = tcp_punch_prime(p, &p->peer_pub, ttl);
		if (!s->primed) {
			peer_step_fail(p, "cannot open the primed TCP socket");
			return;
		}
		p->ttl_used = (uint32_t)ttl;
	} else {
		evout_warn(&p->ev, "tcp-ttl: no router found between the NATs; plain "
			   "simultaneous open");
	}
	ttl_connect(p);          /* private targets (and the public one when not primed) */
	/* Tell a that our NAT now holds the entry. */
	peer_msg_init(p, &m, WIRE_READY);
	m.round = p->round;
	m.present = WA_BIT(WA_ROUND);
	if (p->relay_ok && peer_relay_send(p, &m) == 0)
		s->ready_sent = true;
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

/* again: the same TTL once more (the hop was silent so far). */
static void send_hop_probe(struct peer *p, bool again)
{
	struct ttl_state *s = p->ts;
	uint8_t b[8] = { 'p', 'u', 'n', 'c', 'h', 't', 't', 0 };

	if (!again)
		s->ttl_since_us = loop_now_us();
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
	struct peer *p = t->arg;
	struct ttl_state *s = p->ts;

	/* Rate-limited (see the top): ask again, bounded. */
	if (loop_now_us() - s->ttl_since_us + hop_timeout(p) <= HOP_SILENT_US) {
		send_hop_probe(p, true);
		return;
	}
	measured(p);          /* a silent hop: stop here rather than risk the other NAT */
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
				send_hop_probe(p, false);
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
	uint64_t wait;
	int one = 1, err;

	err = tcp_punch_begin(p);         /* for private (same LAN) paths only */
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	p->ts = s;
	s->fd = -1;
	loop_timer_init(&p->loop, &s->hop_timer, on_hop_timer, p);
	loop_timer_init(&p->loop, &s->ready_timer, on_ready_timer, p);
	if (p->role != WIRE_ROLE_B) {
		/* a waits for b's "ready", at most a bounded while (the measurement takes a few
		 * round trips to the nearest routers). */
		wait = READY_WAIT_MIN_US + 8 * p->rtt_rdv_us;
		if (!p->relay_ok)
			wait = 50000 + 4 * p->rtt_rdv_us;
		loop_timer_in(&s->ready_timer, wait);
		return 0;
	}
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
	send_hop_probe(p, false);
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

	if (!s || m->type != WIRE_READY || m->round != p->round || p->role == WIRE_ROLE_B)
		return;
	s->peer_ready = true;
	ttl_connect(p);
}

const struct tech_ops tech_ttl_ops = {
	.id = TECH_TCP_TTL,
	.start = ttl_start,
	.stop = ttl_stop,
	.on_relay_msg = ttl_on_relay_msg,
};
