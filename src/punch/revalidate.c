/* Path revalidation in --hold mode (--revalidate S, docs/punch.md "Revalidation").
 *
 * A held path can die under the peers: the NAT reboots, rebinds the flow to another public
 * port, gets another public address, or a link goes down. Every S both peers send a PROBE on
 * the verified channel and answer the other's with a PROBE_ACK (peer.c already does). The path
 * is alive while both hold: our probes are acknowledged, and the other peer's probes arrive on
 * the channel. Checking both directions matters: when only one side's mapping moved (a full
 * cone on the other side still accepts it), one peer still sees its acks while the other hears
 * nothing; each side watching the other's probes makes both notice, so both re-register.
 *
 * After REVAL_MISSES intervals without either, the path is lost: `path-lost`, then the peer
 * registers again with the rendezvous in a new round (both peers count their losses alike, so
 * they meet in the same round and the server hands each the other's current endpoints),
 * measuring its NAT again (a rebooted NAT allocates anew: a sequential one restarts its
 * counter) and retransmitting at most every revalidation interval (a NAT that comes back is
 * found within one), and runs the technique that had worked. When that has no verified path after REVAL_DIRECT_MS and
 * the server relays, the relay is tried. A verified path ends it: `path-recovered` with `via`
 * (direct or relay) and `after_ms` (since the loss was declared). */
#include "peer.h"

#include <string.h>

#include "endpoint.h"

#define REVAL_MISSES 4              /* intervals of silence that make a path lost */
#define REVAL_DIRECT_MS 4000        /* re-punch budget before the relay is tried */
#define REVAL_ROUND_BASE 100        /* above every round auto's steps use (round = step) */

static uint64_t interval_us(const struct peer *p)
{
	return (uint64_t)p->o->revalidate_ms * 1000u;
}

static bool same_chan(const struct peer *p, const struct chan *c)
{
	if (c->kind != p->chan.kind)
		return false;
	if (c->kind == CHAN_UDP)
		return c->s == p->chan.s && ep_equal(&c->to, &p->chan.to, true);
	if (c->kind == CHAN_TCP)
		return c->tc == p->chan.tc;
	return true;
}

static uint16_t reval_round(const struct peer *p)
{
	return (uint16_t)(REVAL_ROUND_BASE + 2 * p->reval_losses + (p->reval_relay ? 1 : 0));
}

static void send_probe(struct peer *p)
{
	struct wire_msg m;

	peer_msg_init(p, &m, WIRE_PROBE);
	m.seq = ++p->seq;
	m.time_us = loop_now_us();
	m.present = WA_BIT(WA_SEQ) | WA_BIT(WA_TIME);
	peer_chan_send(p, &p->chan, &m);
}

static void repunch(struct peer *p, enum technique t)
{
	int err = peer_repunch(p, t, reval_round(p));

	if (err)
		evout_warn(&p->ev, "re-punch: register again: %s", strerror(-err));
}

static void path_lost(struct peer *p, uint64_t now)
{
	uint64_t last = p->reval_ack_us < p->reval_heard_us ? p->reval_ack_us : p->reval_heard_us;
	char b[EP_STRLEN];

	p->reval_lost = true;
	p->reval_relay = false;
	p->reval_lost_us = now;
	p->reval_losses++;
	snprintf(p->fail_reason, sizeof(p->fail_reason), "path lost (silent %llu ms), not "
		 "recovered before the end of --hold", (unsigned long long)((now - last) / 1000));
	evout_begin(&p->ev, "path-lost");
	evout_str(&p->ev, "via", p->chan.kind == CHAN_RELAY ? "relay" : "direct");
	evout_str(&p->ev, "peer", p->chan.kind == CHAN_RELAY ? ep_format(&p->rdv, b)
							     : ep_format(&p->chan.to, b));
	evout_ms(&p->ev, "silent_ms", now - last);
	evout_ms(&p->ev, "ack_silent_ms", now - p->reval_ack_us);
	evout_ms(&p->ev, "peer_silent_ms", now - p->reval_heard_us);
	evout_int(&p->ev, "losses", p->reval_losses);
	evout_end(&p->ev);
	repunch(p, p->tech->id);
}

static void fall_back_to_relay(struct peer *p)
{
	evout_begin(&p->ev, "failed");
	evout_str(&p->ev, "technique", technique_name(p->tech->id));
	evout_str(&p->ev, "phase", "probing");
	evout_str(&p->ev, "reason", "re-punch: no verified direct path, trying the relay");
	evout_end(&p->ev);
	p->reval_relay = true;
	repunch(p, TECH_RELAY);
}

static void on_reval_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;
	uint64_t now = loop_now_us(), limit = REVAL_MISSES * interval_us(p);

	if (p->finished)
		return;
	if (!p->reval_lost) {
		if (now - p->reval_ack_us > limit || now - p->reval_heard_us > limit) {
			path_lost(p, now);
		} else {
			send_probe(p);
		}
	} else if (!p->reval_relay && p->relay_ok && p->tech->id != TECH_RELAY &&
		   now - p->reval_lost_us > (uint64_t)REVAL_DIRECT_MS * 1000u) {
		fall_back_to_relay(p);
	}
	loop_timer_in(&p->reval_timer, interval_us(p));
}

void reval_init(struct peer *p)
{
	loop_timer_init(&p->loop, &p->reval_timer, on_reval_timer, p);
}

bool reval_on_verified(struct peer *p)
{
	uint64_t now = loop_now_us();
	bool recovered = p->reval_lost;

	if (!p->o->revalidate_ms)
		return false;
	p->reval_ack_us = p->reval_heard_us = now;
	if (!p->reval_on) {
		p->reval_on = true;
		send_probe(p);
		loop_timer_in(&p->reval_timer, interval_us(p));
		return false;
	}
	if (!recovered)
		return false;
	p->reval_lost = false;
	p->fail_reason[0] = '\0';
	evout_begin(&p->ev, "path-recovered");
	evout_str(&p->ev, "via", p->chan.kind == CHAN_RELAY ? "relay" : "direct");
	evout_str(&p->ev, "technique", technique_name(p->tech->id));
	evout_ms(&p->ev, "after_ms", now - p->reval_lost_us);
	evout_int(&p->ev, "round", p->round);
	evout_end(&p->ev);
	send_probe(p);
	return true;
}

void reval_on_msg(struct peer *p, const struct chan *c, const struct wire_msg *m)
{
	if (!p->reval_on || p->reval_lost || p->phase != PH_DONE || !same_chan(p, c))
		return;
	if (m->type == WIRE_PROBE_ACK)
		p->reval_ack_us = loop_now_us();
	else if (m->type == WIRE_PROBE)
		p->reval_heard_us = loop_now_us();
}

bool reval_step_timeout(struct peer *p)
{
	if (!p->reval_lost)
		return false;
	/* The re-punch's own step deadline passed: the relay next if it may, else keep
	 * waiting (the hold's end or --timeout bounds it). */
	if (!p->reval_relay && p->relay_ok && p->tech->id != TECH_RELAY)
		fall_back_to_relay(p);
	return true;
}

bool reval_lost_now(const struct peer *p)
{
	return p->reval_lost;
}
