/* After a path is verified: keep-alives (--keepalive, with --hold or --idle-gap) and the idle
 * gap (--idle-gap): silence, then a probe that tells whether the NATs still hold the path.
 *
 * The idle gap: both peers stay silent (keep-alives aside) for the gap from their own
 * verification. Then b probes a over the verified channel (a few tries, IDLE_PROBE_WINDOW_MS)
 * and a answers each probe. The probe crosses a's NAT inbound: only a mapping that outlived
 * the silence lets it in. a itself sends nothing until it heard b, because its own first packet
 * would open a's NAT again and measure nothing. The answer crosses back, so a probe answered
 * is the path working both ways; b's own NAT is not what is tested (b's probe opens it anew).
 * With --idle-after W the silence starts only after W seconds of keep-alives: conntrack gives
 * a UDP flow its replied ("stream") timeout only for packets more than 2 s after it began, so a
 * path that falls silent at once lives by the unreplied timeout even though it saw replies. */
#ifndef PUNCH_IDLE_H
#define PUNCH_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

#define IDLE_PROBE_WINDOW_MS 1500     /* b's tries and a's wait after the gap */
#define IDLE_PROBE_GAP_MS 250         /* between b's tries */
#define IDLE_WARM_KEEPALIVE_MS 500    /* --idle-after's keep-alives */

struct peer;
struct chan;
struct wire_msg;

enum idle_state {
	IDLE_OFF,       /* no --idle-gap, or not verified yet */
	IDLE_WARM,      /* --idle-after: keep-alives before the gap */
	IDLE_SILENT,    /* in the gap */
	IDLE_PROBING,   /* after the gap: b probing, a listening */
	IDLE_DONE,      /* decided */
};

struct idle {
	enum idle_state state;
	struct loop_timer gap_timer, try_timer;
	uint64_t t_silent_us, t_probe_us;  /* gap start, first probe (or a's window start) */
	uint32_t tries;
	bool survived;
	uint64_t answered_after_us;        /* from the first try, when answered */
};

/* At peer start: set up the timers. */
void idle_init(struct peer *p);

/* The path is verified: with --hold or --idle-gap start keep-alives (when an interval is set)
 * and the hold or the gap, and return true (the peer stays); false: the peer may finish. */
bool idle_after_verified(struct peer *p);

/* Whether the peer stays after verifying (--hold or --idle-gap). */
bool idle_stays(const struct peer *p);

/* The keep-alive interval in microseconds (0: none). */
uint64_t idle_keepalive_us(const struct peer *p);

/* Any message from the other peer (peer_on_peer_msg): in the gap, all but a probe or a
 * keep-alive start the silence again. */
void idle_on_msg(struct peer *p, uint8_t type);
/* A probe / probe answer from the other peer after verification (peer_on_peer_msg). */
void idle_on_probe(struct peer *p);
void idle_on_probe_ack(struct peer *p, const struct wire_msg *m);

/* The idle-gap fields of the result ({"idle_gap_ms":6000,"idle_survived":false,...}), when
 * --idle-gap is on; the phase word "idle-gap" for a failed result. */
void idle_report(struct peer *p);
const char *idle_phase(const struct peer *p);

#endif
