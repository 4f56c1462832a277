/* One direction of an impaired link as a timer queue: every frame offered is lost, kept, or
 * duplicated, and each copy gets the time it leaves (its release). Pure code: time is passed in
 * (nanoseconds of CLOCK_MONOTONIC) and chance comes from a seeded generator, so the decisions
 * are unit-tested and a run can be repeated. The forwarder (fwd.c) does the I/O. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "impair/spec.h"

#define IMPAIR_QUEUE_MAX 65536 /* frames held per direction; more are dropped (memory bound) */

/* xorshift64*: small, fast, good enough for loss and jitter decisions. Never seed with 0. */
struct impair_rng {
	uint64_t s;
};
void impair_rng_seed(struct impair_rng *r, uint64_t seed);
uint64_t impair_rng_next(struct impair_rng *r);
/* Uniform in [0, n) for n > 0. */
uint64_t impair_rng_below(struct impair_rng *r, uint64_t n);

struct impair_pkt {
	uint64_t release_ns;
	uint64_t seq;        /* ties keep arrival order */
	size_t len;
	unsigned char data[];
};

struct impair_stats {
	uint64_t offered, lost, duplicated, overflow, sent;
};

struct impair_queue {
	struct impair_dir cfg;
	struct impair_rng rng;
	struct impair_pkt **heap; /* min-heap on (release_ns, seq) */
	size_t n, cap;
	uint64_t seq;
	uint64_t last_release;   /* order kept: no frame leaves before the one ahead of it */
	uint64_t link_free;      /* rate: when the previous frame has left the bottleneck */
	struct impair_stats st;
};

/* A queue for one direction; seed 0 is replaced by a fixed non-zero one. */
void impair_queue_init(struct impair_queue *q, const struct impair_dir *cfg, uint64_t seed);
/* Frees every frame still held. */
void impair_queue_free(struct impair_queue *q);

/* Offer a frame that arrived at now_ns (data copied; data may be NULL in tests, then zeroes).
 * Returns how many copies were queued: 0 (lost, or dropped because the rate's backlog exceeds
 * its limit or the queue is full), 1, or 2 (duplicated); -ENOMEM. */
int impair_queue_offer(struct impair_queue *q, uint64_t now_ns, const void *data, size_t len);

/* Release time of the next frame to leave, UINT64_MAX when empty. */
uint64_t impair_queue_next(const struct impair_queue *q);

/* The next frame when its release time is <= now_ns (caller frees it), else NULL. */
struct impair_pkt *impair_queue_pop_due(struct impair_queue *q, uint64_t now_ns);
