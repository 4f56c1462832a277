/* auto's relay alongside the direct steps (race.h): from the first round on, the
 * verification payload also goes through the rendezvous relay, so the peers have a verified
 * path (the first byte) about one round trip through the server after they learn each
 * other's endpoints, while the direct techniques are still punching. It never decides the
 * outcome: a direct path verified later is the result (`direct`), and only when every direct
 * step has failed does auto's own relay step end the run `relayed` (time to connect is then
 * this first verification). It speaks only to the rendezvous, over the mapping registration
 * opened, so it disturbs no NAT state a direct technique relies on.
 *
 * The exchange is the one a relay step does (DATA, DATA_ACK with the echo), on its own state,
 * so the direct step's verification is untouched; messages arrive through peer.c's
 * peer_on_peer_msg, which hands relayed DATA, DATA_ACK and DONE here while a direct step
 * runs. */
#include <string.h>

#include "peer.h"
#include "race.h"

#define RR_RTO_MIN_US 20000
#define RR_RTO_MAX_US 500000

static uint64_t rr_rto_us(const struct peer *p)
{
	uint64_t r = 3 * p->rtt_rdv_us;

	return r < RR_RTO_MIN_US ? RR_RTO_MIN_US : r > RR_RTO_MAX_US ? RR_RTO_MAX_US : r;
}

static void rr_send_data(struct peer *p)
{
	uint8_t buf[WIRE_MAX_PAYLOAD];
	struct wire_msg m;

	payload_fill(buf, p->o->payload, p->token, p->role);
	peer_msg_init(p, &m, WIRE_DATA);
	m.payload = buf;
	m.payload_len = p->o->payload;
	m.present = WA_BIT(WA_PAYLOAD);
	peer_relay_send(p, &m);
}

/* Retransmission until verified: bounded by the run's deadline, which ends the loop. */
static void on_rr_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (!p->rr.active || p->rr.data_acked || p->finished)
		return;
	if (p->have_peer)
		rr_send_data(p);
	loop_timer_in(&p->rr.timer, rr_rto_us(p));
}

void race_relay_init(struct peer *p)
{
	memset(&p->rr, 0, sizeof(p->rr));
	loop_timer_init(&p->loop, &p->rr.timer, on_rr_timer, p);
}

void race_relay_start(struct peer *p)
{
	if (!race_relay_alongside(p->tech->id, p->relay_ok)) {
		/* auto's own relay step verifies on the step's state from here on */
		race_relay_stop(p);
		return;
	}
	if (p->rr.active || p->rr.verified)
		return;
	p->rr.active = true;
	rr_send_data(p);
	loop_timer_in(&p->rr.timer, rr_rto_us(p));
}

void race_relay_stop(struct peer *p)
{
	p->rr.active = false;
	loop_timer_stop(&p->rr.timer);
}

static void rr_check(struct peer *p)
{
	if (p->rr.verified || !p->rr.data_acked || !p->rr.peer_ok)
		return;
	p->rr.verified = true;
	p->rr.t_verified = loop_now_us();
	loop_timer_stop(&p->rr.timer);
	evout_begin(&p->ev, "first_byte");
	evout_str(&p->ev, "via", "relay");
	evout_int(&p->ev, "bytes", p->o->payload);
	evout_ms(&p->ev, "ms", p->rr.t_verified - p->t_endpoints);
	evout_str(&p->ev, "direct_still_tried", technique_name(p->tech->id));
	evout_end(&p->ev);
}

bool race_relay_on_msg(struct peer *p, const struct wire_msg *m)
{
	uint8_t expect[WIRE_MAX_PAYLOAD];
	struct wire_msg r;

	/* auto's own relay step (or any non-auto run) verifies on the step's state. */
	if (p->o->tech != TECH_AUTO || !p->tech || p->tech->id == TECH_RELAY)
		return false;
	switch (m->type) {
	case WIRE_DATA:
		payload_fill(expect, m->payload_len, p->token, p->peer_role);
		if (m->payload_len != p->o->payload || memcmp(expect, m->payload, m->payload_len)) {
			p->bad_msgs++;
			return true;
		}
		/* Echo it even before our own start (the other peer may be a round ahead). */
		peer_msg_init(p, &r, WIRE_DATA_ACK);
		r.payload = m->payload;
		r.payload_len = m->payload_len;
		r.present = WA_BIT(WA_PAYLOAD);
		peer_relay_send(p, &r);
		if (!p->rr.peer_ok) {
			p->rr.peer_ok = true;
			if (p->tech->on_peer_started)
				p->tech->on_peer_started(p);
		}
		rr_check(p);
		return true;
	case WIRE_DATA_ACK:
		payload_fill(expect, p->o->payload, p->token, p->role);
		if (m->payload_len == p->o->payload && !memcmp(m->payload, expect, m->payload_len))
			p->rr.data_acked = true;
		else
			p->bad_msgs++;
		rr_check(p);
		return true;
	case WIRE_DONE:
		/* The other peer finished its relay step while we still punch: we get there
		 * too (our own steps fail by their deadlines), and it lingers for us. */
		return true;
	default:
		return false;
	}
}
