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
 * The TTL is measured, never assumed (hops.c: traceroute-style UDP probes that stop at the
 * first public router, so none reaches the other NAT; a silent hop, rate-limited ICMP, is
 * asked again for HOPS_SILENT_US, and a waits for b's "ready" that long per hop). */
#include <errno.h>
#include <stdlib.h>

#include "endpoint.h"
#include "hops.h"
#include "peer.h"

#define READY_WAIT_MIN_US (2 * HOPS_SILENT_US + 100000)

struct ttl_state {
	struct hops hops;
	struct loop_timer ready_timer;
	bool ready_sent, peer_ready, connecting;
	struct tconn *primed;             /* b: the real socket, SYN sent with the low TTL */
};

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

static void measured(struct peer *p, int ttl)
{
	struct ttl_state *s = p->ts;
	struct wire_msg m;

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

static int ttl_start(struct peer *p)
{
	struct ttl_state *s;
	uint64_t wait;
	int err;

	err = tcp_punch_begin(p);         /* for private (same LAN) paths only */
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	p->ts = s;
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
	hops_start(p, &s->hops, measured);
	return 0;
}

static void ttl_stop(struct peer *p)
{
	struct ttl_state *s = p->ts;

	tcp_punch_close_all(p);
	if (!s)
		return;
	hops_stop(&s->hops);
	loop_timer_stop(&s->ready_timer);
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
