/* Keep-alives and the idle gap after verification (see idle.h for the probe's design). */
#include "idle.h"

#include <string.h>

#include "peer.h"

#define IDLE_SEQ_BASE 0x1d1e0000u  /* probe sequence numbers of the idle gap, for the logs */

static void idle_decide(struct peer *p, bool survived)
{
	struct idle *id = &p->idle;

	if (id->state == IDLE_DONE)
		return;
	id->state = IDLE_DONE;
	id->survived = survived;
	loop_timer_stop(&id->try_timer);
	loop_timer_stop(&id->gap_timer);
	evout_begin(&p->ev, "idle-gap");
	evout_bool(&p->ev, "survived", survived);
	evout_end(&p->ev);
	if (!survived) {
		snprintf(p->fail_reason, sizeof(p->fail_reason), "the path did not survive %.1f s of "
			 "silence: %s", p->o->idle_gap_ms / 1000.0,
			 p->role == WIRE_ROLE_B ? "no answer to the probe" : "no probe arrived");
		peer_finish(p, PEER_EXIT_FAILED);
		return;
	}
	peer_finish(p, p->chan.kind == CHAN_RELAY ? PEER_EXIT_RELAYED : PEER_EXIT_DIRECT);
}

static void silence_begin(struct peer *p);

static void send_probe(struct peer *p)
{
	struct idle *id = &p->idle;
	struct wire_msg m;

	peer_msg_init(p, &m, WIRE_PROBE);
	m.seq = IDLE_SEQ_BASE + id->tries++;
	m.time_us = loop_now_us();
	m.present = WA_BIT(WA_SEQ) | WA_BIT(WA_TIME);
	peer_chan_send(p, &p->chan, &m);
	p->probes_sent++;
}

/* b: the next try, or the verdict when the window is over; a: the window is over. */
static void on_try(struct loop_timer *t)
{
	struct peer *p = t->arg;
	struct idle *id = &p->idle;
	uint64_t end = id->t_probe_us + (uint64_t)IDLE_PROBE_WINDOW_MS * 1000u;

	if (id->state == IDLE_WARM) {
		struct wire_msg m;

		if (loop_now_us() >= id->t_silent_us) {
			silence_begin(p);
			return;
		}
		peer_msg_init(p, &m, WIRE_KEEPALIVE);
		peer_chan_send(p, &p->chan, &m);
		loop_timer_in(&id->try_timer, (uint64_t)IDLE_WARM_KEEPALIVE_MS * 1000u);
		return;
	}
	if (id->state != IDLE_PROBING)
		return;
	if (loop_now_us() >= end) {
		/* a answered b's probe already (decided then); here nothing came */
		idle_decide(p, false);
		return;
	}
	if (p->role == WIRE_ROLE_B)
		send_probe(p);
	loop_timer_in(&id->try_timer, p->role == WIRE_ROLE_B ?
		      (uint64_t)IDLE_PROBE_GAP_MS * 1000u : end - loop_now_us());
}

static void on_gap_over(struct loop_timer *t)
{
	struct peer *p = t->arg;
	struct idle *id = &p->idle;

	if (id->state != IDLE_SILENT)
		return;
	id->state = IDLE_PROBING;
	id->t_probe_us = loop_now_us();
	/* a listens a little longer than b tries: b's last try may leave at the window's end */
	if (p->role != WIRE_ROLE_B)
		id->t_probe_us += (uint64_t)IDLE_PROBE_GAP_MS * 1000u;
	on_try(&id->try_timer);
}

void idle_init(struct peer *p)
{
	loop_timer_init(&p->loop, &p->idle.gap_timer, on_gap_over, p);
	loop_timer_init(&p->loop, &p->idle.try_timer, on_try, p);
}

bool idle_stays(const struct peer *p)
{
	return p->o->hold_ms || p->o->idle_gap_ms;
}

uint64_t idle_keepalive_us(const struct peer *p)
{
	return (uint64_t)p->o->keepalive_ms * 1000u;
}

bool idle_after_verified(struct peer *p)
{
	struct idle *id = &p->idle;

	if (!idle_stays(p))
		return false;
	if (p->o->keepalive_ms)
		loop_timer_in(&p->keepalive_timer, idle_keepalive_us(p));
	if (p->o->hold_ms) {
		loop_timer_in(&p->linger_timer, (uint64_t)p->o->hold_ms * 1000u);
		return true;
	}
	/* The gap outlasts --timeout by design: the deadline bounded the connection, the warm-up,
	 * the gap and the probe window bound the rest. */
	loop_timer_stop(&p->deadline);
	if (p->o->idle_after_ms) {
		id->state = IDLE_WARM;
		id->t_silent_us = loop_now_us() + (uint64_t)p->o->idle_after_ms * 1000u;
		loop_timer_in(&id->try_timer, (uint64_t)IDLE_WARM_KEEPALIVE_MS * 1000u);
		return true;
	}
	silence_begin(p);
	return true;
}

static void silence_begin(struct peer *p)
{
	struct idle *id = &p->idle;

	id->state = IDLE_SILENT;
	id->t_silent_us = loop_now_us();
	evout_begin(&p->ev, "idle-gap-start");
	evout_ms(&p->ev, "gap", (uint64_t)p->o->idle_gap_ms * 1000u);
	evout_ms(&p->ev, "keepalive", idle_keepalive_us(p));
	evout_end(&p->ev);
	loop_timer_in(&id->gap_timer, (uint64_t)p->o->idle_gap_ms * 1000u);
}

void idle_on_msg(struct peer *p, uint8_t type)
{
	struct idle *id = &p->idle;

	/* The silence counts from the last packet on the path: a late DONE or an answer to a
	 * retransmission (the other peer verified after us) starts it again. Keep-alives do not:
	 * they are what --keepalive adds to the silence. */
	if (id->state != IDLE_SILENT || type == WIRE_PROBE || type == WIRE_KEEPALIVE)
		return;
	id->t_silent_us = loop_now_us();
	loop_timer_in(&id->gap_timer, (uint64_t)p->o->idle_gap_ms * 1000u);
}

void idle_on_probe(struct peer *p)
{
	struct idle *id = &p->idle;

	/* a: b's probe came through a's NAT (peer_on_peer_msg has answered it). A probe during
	 * the gap is b's clock running ahead of a's by a few milliseconds: the same answer. */
	if (p->role == WIRE_ROLE_B || (id->state != IDLE_PROBING && id->state != IDLE_SILENT))
		return;
	if (id->state == IDLE_SILENT)
		id->t_probe_us = loop_now_us();
	id->answered_after_us = loop_now_us() - id->t_probe_us;
	idle_decide(p, true);
}

void idle_on_probe_ack(struct peer *p, const struct wire_msg *m)
{
	struct idle *id = &p->idle;

	if (p->role != WIRE_ROLE_B || id->state != IDLE_PROBING || !(m->present & WA_BIT(WA_SEQ)) ||
	    m->seq < IDLE_SEQ_BASE || m->seq >= IDLE_SEQ_BASE + id->tries)
		return;
	id->answered_after_us = loop_now_us() - id->t_probe_us;
	idle_decide(p, true);
}

void idle_report(struct peer *p)
{
	struct idle *id = &p->idle;

	if (!p->o->idle_gap_ms)
		return;
	evout_ms(&p->ev, "idle_gap_ms", (uint64_t)p->o->idle_gap_ms * 1000u);
	evout_ms(&p->ev, "keepalive_ms", idle_keepalive_us(p));
	if (p->o->idle_after_ms)
		evout_ms(&p->ev, "idle_after_ms", (uint64_t)p->o->idle_after_ms * 1000u);
	if (id->state != IDLE_DONE) {
		evout_str(&p->ev, "idle_survived", NULL); /* never got that far */
		return;
	}
	evout_bool(&p->ev, "idle_survived", id->survived);
	evout_str(&p->ev, "idle_probe", p->role == WIRE_ROLE_B ? "sent" : "answered");
	evout_int(&p->ev, "idle_tries", id->tries);
	if (id->survived)
		evout_ms(&p->ev, "idle_answer_ms", id->answered_after_us);
}

const char *idle_phase(const struct peer *p)
{
	return p->idle.state == IDLE_OFF ? NULL : "idle-gap";
}
