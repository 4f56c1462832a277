/* How much longer a cell's engine may take on an impaired lab (docs/impairments.md,
 * "Deadlines under impairment"). An engine's deadlines are written for a zero-delay lab; on an
 * impaired one the harness gives the engine the time the path needs, for every engine alike:
 *
 *     extra = IMPAIR_DEADLINE_RTTS x R  +  (any loss ? IMPAIR_DEADLINE_LOSS_MS : 0)
 *     R     = 2 x sum over the impaired links of max over both directions (delay + jitter)
 *
 * R bounds the round trip that the impairments add to any path in the lab (a path crosses a
 * link at most once, each way). Rate is left out: a handshake's frames take microseconds at
 * the presets' rates, and the queue's limit only matters under bulk traffic. */
#pragma once
#include "lab/topo.h"

/* Round trips of the longest path a technique needs: registration, endpoint exchange, the
 * probes' crossing and the payload's verification. */
#define IMPAIR_DEADLINE_RTTS 4
/* One lost packet costs one retransmission timeout: TCP's initial RTO is 1 s (RFC 6298: a lost
 * SYN is sent again after 1 s); the same second is allowed to an engine's own UDP timers. */
#define IMPAIR_DEADLINE_LOSS_MS 1000

/* R of the rule above, in milliseconds (rounded up); 0 for an unimpaired topology. */
int impair_deadline_rtt_ms(const struct topo *t);

/* The milliseconds added to every role's {{deadline_ms}} and to the harness's deadline for a
 * cell on topology t (with its impairments applied); 0 when no link of t is impaired. */
int impair_deadline_extra_ms(const struct topo *t);
