/* Both address families at once (`punch peer --rendezvous V4 --rendezvous6 [V6]:PORT`),
 * after RFC 8305 (Happy Eyeballs v2): the peer runs one whole attempt per family, each with
 * its own registration, sockets and technique, IPv6 first and IPv4 a "connection attempt
 * delay" later (--family-delay, 50 ms by default; at once when IPv6 has already failed). The
 * first family whose direct path is verified both ways is kept: the other is cancelled at
 * that moment (its sockets closed, so nothing of it leaves afterwards). When neither goes
 * direct, the better outcome is kept (relayed over failed; then the later phase reached; then
 * IPv6). The rendezvous pairs a session per family (rendezvous.c), so each family's attempt
 * meets the other peer's attempt of the same family.
 *
 * The decision is a pure function (dual_next), unit tested in tests/unit/punch/test_dual.c;
 * dual_run() drives two peer runs (peer.h) with it. */
#ifndef PUNCH_DUAL_H
#define PUNCH_DUAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "opts.h"

/* The families in order of preference: index 0 is IPv6, index 1 IPv4. */
#define DUAL_N 2
enum { DUAL_V6 = 0, DUAL_V4 = 1 };

/* Where one family's attempt is. */
enum dual_state {
	DS_IDLE,        /* not started yet (IPv4 during the delay) */
	DS_RUNNING,     /* started, no direct path answering yet */
	DS_VERIFYING,   /* a direct path answered; its payload is being verified */
	DS_VERIFIED,    /* a direct path verified both ways; still answering the other peer */
	DS_DIRECT,      /* ended: direct */
	DS_RELAYED,     /* ended: relayed */
	DS_FAILED,      /* ended: failed (@phase says where) */
	DS_CANCELLED,   /* ended: the other family's path was kept (or it never started) */
};

struct dual_view {
	enum dual_state st[DUAL_N];
	int phase[DUAL_N];            /* enum peer_phase reached (a failed attempt's phase) */
	bool delay_passed;            /* the family delay since the start has passed */
	bool wait_over;               /* DUAL_WAIT_MS since the first direct verification */
};

/* How long a verified family waits for the other one that is verifying a path of its own
 * (below). Within the linger a verified peer answers the other peer anyway (peer.c). */
#define DUAL_WAIT_MS 1000

struct dual_action {
	bool start[DUAL_N];           /* start this family's attempt now */
	bool cancel[DUAL_N];          /* cancel this family's attempt (idle or running) now */
	bool done;                    /* every attempt has ended: report @keep's result */
	int keep;                     /* the family whose path is kept when done; before, the
				       * first verified one in preference order (-1: none) */
};

/* What to do next given where both attempts are. Pure. The rules:
 *  - once a family has a direct path verified both ways (VERIFIED or DIRECT), every attempt
 *    still idle or running is cancelled at once;
 *  - but an attempt that is verifying a path of its own (VERIFYING) is waited for, up to
 *    DUAL_WAIT_MS: the two peers' verifications of the two families may end in different
 *    orders at each end (a family verified here may lag there by up to a round trip), and
 *    "first verified" alone could then keep IPv6 on one peer and IPv4 on the other. Once no
 *    attempt is verifying, the kept family is the first *in preference order* that verified
 *    (IPv6, as RFC 8305 prefers it), which both peers decide alike; a verified family that is
 *    not kept is cancelled too;
 *  - IPv4 starts once the delay has passed, or at once when IPv6 ended without a direct path;
 *  - done when no attempt is idle, running or verified-and-answering; then keep the direct one,
 *    else the relayed one, else the failed one that got furthest (ties: preference order). */
void dual_next(const struct dual_view *v, struct dual_action *a);

/* The outcome word of a state, for the result's "families" ("direct", "relayed", "failed",
 * "cancelled"; "running" and "idle" never appear in a final result). */
const char *dual_state_name(enum dual_state s);

/* Run the peer over both families (o->has_rdv6). Returns an enum peer_exit: the kept
 * family's, or PEER_EXIT_SETUP when neither family could even start. */
int dual_run(const struct peer_opts *o, FILE *out, FILE *err);

#endif
