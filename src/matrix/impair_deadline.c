/* The deadline rule for impaired labs (impair_deadline.h, docs/impairments.md). */
#include "matrix/impair_deadline.h"

int impair_deadline_rtt_ms(const struct topo *t)
{
	uint64_t oneway_ns = 0;

	for (int li = 0; li < t->nlinks; li++) {
		const struct impair_spec *s = &t->links[li].impair;
		uint64_t worst = 0;

		if (!s->active)
			continue;
		for (int d = 0; d < 2; d++)
			if (s->dir[d].delay_ns + s->dir[d].jitter_ns > worst)
				worst = s->dir[d].delay_ns + s->dir[d].jitter_ns;
		oneway_ns += worst;
	}
	return (int)((2 * oneway_ns + 999999) / 1000000);
}

int impair_deadline_extra_ms(const struct topo *t)
{
	bool lossy = false;

	for (int li = 0; li < t->nlinks; li++)
		for (int d = 0; d < 2 && t->links[li].impair.active; d++)
			lossy = lossy || t->links[li].impair.dir[d].loss_ppm > 0;
	return IMPAIR_DEADLINE_RTTS * impair_deadline_rtt_ms(t) +
	       (lossy ? IMPAIR_DEADLINE_LOSS_MS : 0);
}
