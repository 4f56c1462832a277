/* Hop measurement towards the other peer's public address, for SYNs that must pass our own
 * NAT(s) but die before the other peer's (tcp-ttl, and tcp's ordered attempts against NATs
 * that answer unsolicited SYNs with RST). UDP probes with TTL 1, 2, ... one at a time; the
 * ICMP time-exceeded is read from the error queue (IP_RECVERR) with the answering router's
 * address. Hops answering from private addresses (or our own public address) are our side;
 * the first public one is where the SYN must die, and probing stops there, so no probe
 * reaches the other NAT (and its reject rule).
 *
 * Routers rate-limit ICMP errors: Linux sends at most one time-exceeded per second to one
 * destination after a burst of 6, so a few measurements in a row from one host leave hop 1
 * or 2 silent for up to a second (measured in a kept lab: every 4th of 20 back-to-back
 * tcp-ttl runs). So a silent hop is probed again with the same TTL for HOPS_SILENT_US before
 * it counts as silent. A silent hop right after our own (private) hops is taken as the place
 * to stop (see hops_finish). */
#ifndef PUNCH_HOPS_H
#define PUNCH_HOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

#define HOPS_MAX 16
#define HOPS_SILENT_US 1200000        /* re-probe a silent hop this long: one ICMP refill */

struct peer;

/* Called once with the TTL to use (-1: no router found between the NATs, or no
 * measurement possible). The measurement's socket is already closed. */
typedef void (*hops_done_cb)(struct peer *p, int ttl);

struct hops {
	struct peer *p;
	hops_done_cb done;
	int fd;
	struct loop_io io;
	struct loop_timer timer;
	int ttl;                          /* TTL of the probe in flight */
	uint64_t ttl_since_us;            /* first probe with this TTL */
	bool hop_private[HOPS_MAX];
	int n;                            /* hops 1..n answered */
	bool reached, finished;
	bool silent;                      /* stopped at a hop that stayed silent */
};

/* Start measuring towards p->peer_pub; @done is called once (possibly from within this call
 * when no measurement is possible). @h lives in the caller's technique state. */
void hops_start(struct peer *p, struct hops *h, hops_done_cb done);
/* Stop and release (no callback). Safe on a finished or never started @h. */
void hops_stop(struct hops *h);

#endif
