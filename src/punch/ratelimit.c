/* Token buckets without addresses (see ratelimit.h). */
#include "ratelimit.h"

#include <errno.h>
#include <stdlib.h>

int rl_init(struct rl *l, unsigned order, uint32_t rate, uint32_t burst)
{
	l->rate = rate;
	l->burst = burst ? burst : 1;
	l->mask = (1u << order) - 1;
	l->slots = calloc((size_t)l->mask + 1, sizeof(*l->slots));
	return l->slots ? 0 : -ENOMEM;
}

void rl_fini(struct rl *l)
{
	free(l->slots);
	l->slots = NULL;
}

bool rl_allow(struct rl *l, uint64_t hash, uint64_t now_us)
{
	struct rl_slot *b = &l->slots[hash & l->mask];
	uint64_t cap = (uint64_t)l->burst * 1000u, t;

	if (!l->rate)
		return true;
	if (!b->last_us) {
		t = cap;
	} else {
		/* now_us before last_us (a clock that stepped back): no refill, no reset */
		t = now_us > b->last_us ? (now_us - b->last_us) * l->rate / 1000u : 0;
		t += b->tokens_milli;
		if (t > cap)
			t = cap;
	}
	b->last_us = now_us ? now_us : 1;
	if (t < 1000) {
		b->tokens_milli = (uint32_t)t;
		return false;
	}
	b->tokens_milli = (uint32_t)(t - 1000);
	return true;
}
