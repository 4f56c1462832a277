/* The rendezvous's per-source rate limiter: token buckets in a fixed table, indexed by a keyed
 * hash of the source (its address; for IPv6 its /64, since one host owns a whole /64). Slots
 * hold no address: two sources whose hashes meet share one bucket, so a collision can only
 * limit both, never hand either a fresh burst. (The earlier limiter kept the address and reset
 * the bucket when another address hashed to the slot: two spoofed sources taking turns got a
 * full burst on every packet.) Pure: time comes from the caller, so tests drive it. */
#ifndef PUNCH_RATELIMIT_H
#define PUNCH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct rl_slot {
	uint64_t last_us;             /* 0: never used (the bucket starts full) */
	uint32_t tokens_milli;        /* thousandths of a packet */
};

struct rl {
	uint32_t rate;                /* packets per second per bucket; 0 = no limit */
	uint32_t burst;               /* bucket size in packets */
	uint32_t mask;                /* slots - 1 (a power of two) */
	struct rl_slot *slots;
};

/* Set up @l with 2^@order slots (calloc'd: rl_fini frees them), @rate packets per second and a
 * burst of @burst packets. Returns 0 or -ENOMEM. */
int rl_init(struct rl *l, unsigned order, uint32_t rate, uint32_t burst);
void rl_fini(struct rl *l);

/* May one more packet of the source whose keyed hash is @hash pass at @now_us? Takes a token
 * when it may. */
bool rl_allow(struct rl *l, uint64_t hash, uint64_t now_us);

#endif
