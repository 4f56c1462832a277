/* Impairment specs: what an impaired link does to the frames crossing it (docs/impairments.md).
 * Pure code, shared by the topology parser (lab/), the command line and the forwarder.
 *
 *     delay 40ms jitter 5ms loss 2% duplicate 0.1% reorder rate 10mbit limit 200ms seed 7
 *
 * Every word is optional and given at most once. A value may be written A/B: A for the
 * direction from the link's first end to its second, B for the way back (a DSL line's down-
 * and upstream); a single value applies to both directions. Times take us, ms or s; rates
 * bit, kbit, mbit or gbit (powers of 1000, as tc); loss and duplicate a percentage. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMPAIR_SPEC_TEXT_MAX 256
#define IMPAIR_DEFAULT_LIMIT_NS 200000000ULL /* queueing behind a rate, before tail drop */

/* One direction of a link. */
struct impair_dir {
	uint64_t delay_ns;
	uint64_t jitter_ns;  /* uniform in [-jitter, +jitter] around delay, clamped at 0 */
	uint32_t loss_ppm;   /* per frame, independent (Bernoulli) */
	uint32_t dup_ppm;    /* a second copy of the frame, with its own delay */
	uint64_t rate_bps;   /* 0: no limit; else frames leave one after another at this rate */
	uint64_t limit_ns;   /* the longest a frame waits for the rate before it is dropped */
	bool reorder;        /* jitter may reorder frames (without it, order is kept) */
};

struct impair_spec {
	bool active;                /* false: the link is not impaired */
	struct impair_dir dir[2];   /* [0] first end -> second end, [1] the way back */
	uint64_t seed;              /* 0: the forwarder picks one */
};

/* Parse text into *s (s->active set). An empty text is an error: a link without impairment has
 * no spec at all. Returns 0, or -EINVAL with a sentence in why[len]: what is wrong and what is
 * expected ("loss 200%: expected a percentage from 0 to 100"). */
int impair_spec_parse(const char *text, struct impair_spec *s, char *why, size_t len);

/* The canonical text of s (parses back to the same spec). Returns 0 or -ENAMETOOLONG. */
int impair_spec_format(const struct impair_spec *s, char *buf, size_t len);

/* The spec seen from the other end: the two directions swapped. */
void impair_spec_swap(struct impair_spec *s);
