/* The timer queue of one direction of an impaired link (queue.h): decisions and release times.
 *
 * Model, in the order a frame meets it (as netem's, which this replaces on kernels without it):
 *   loss       the frame is dropped with probability loss;
 *   rate       it waits for the bottleneck: it starts to leave when the previous frame has
 *              left (link_free) and takes len * 8 / rate; past `limit` of backlog it is dropped
 *              (a tail-drop buffer of that many milliseconds);
 *   delay      then it travels delay + a jitter drawn uniformly from [-jitter, +jitter];
 *   order      unless `reorder`, it never leaves before the frame ahead of it (the release is
 *              pushed to last_release), so jitter shows as delay variation, not reordering;
 *   duplicate  with probability duplicate a second copy takes the same path (own jitter).
 * Frames are held in a min-heap on (release, arrival sequence): with order kept it behaves as a
 * FIFO, with reorder frames leave by their own release time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "impair/queue.h"

void impair_rng_seed(struct impair_rng *r, uint64_t seed)
{
	/* splitmix64 of the seed: nearby seeds (a link's two directions) give unrelated streams */
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	r->s = z ? z : 0x2545F4914F6CDD1DULL;
}

uint64_t impair_rng_next(struct impair_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint64_t impair_rng_below(struct impair_rng *r, uint64_t n)
{
	/* the top bits are the best of xorshift64*; the bias of the modulo is below 2^-32 for
	 * every n used here (ppm and nanoseconds of jitter) */
	return (impair_rng_next(r) >> 16) % n;
}

void impair_queue_init(struct impair_queue *q, const struct impair_dir *cfg, uint64_t seed)
{
	memset(q, 0, sizeof(*q));
	q->cfg = *cfg;
	impair_rng_seed(&q->rng, seed ? seed : 1);
}

void impair_queue_free(struct impair_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->heap[i]);
	free(q->heap);
	q->heap = NULL;
	q->n = q->cap = 0;
}

static bool before(const struct impair_pkt *a, const struct impair_pkt *b)
{
	return a->release_ns < b->release_ns ||
	       (a->release_ns == b->release_ns && a->seq < b->seq);
}

static int heap_push(struct impair_queue *q, struct impair_pkt *p)
{
	size_t i;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct impair_pkt **h = realloc(q->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		q->heap = h;
		q->cap = cap;
	}
	i = q->n++;
	while (i > 0 && before(p, q->heap[(i - 1) / 2])) {
		q->heap[i] = q->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	q->heap[i] = p;
	return 0;
}

static struct impair_pkt *heap_pop(struct impair_queue *q)
{
	struct impair_pkt *top = q->heap[0], *last = q->heap[--q->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(q->heap[c + 1], q->heap[c]))
			c++;
		if (!before(q->heap[c], last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (q->n)
		q->heap[i] = last;
	return top;
}

static bool chance(struct impair_queue *q, uint32_t ppm)
{
	return ppm && impair_rng_below(&q->rng, 1000000) < ppm;
}

/* delay + uniform jitter, clamped at zero */
static uint64_t travel(struct impair_queue *q)
{
	int64_t d = (int64_t)q->cfg.delay_ns;

	if (q->cfg.jitter_ns)
		d += (int64_t)impair_rng_below(&q->rng, 2 * q->cfg.jitter_ns + 1) -
		     (int64_t)q->cfg.jitter_ns;
	return d > 0 ? (uint64_t)d : 0;
}

static int enqueue(struct impair_queue *q, uint64_t left_ns, const void *data, size_t len)
{
	struct impair_pkt *p;
	uint64_t release = left_ns + travel(q);

	if (q->n >= IMPAIR_QUEUE_MAX) {
		q->st.overflow++;
		return 0;
	}
	if (!q->cfg.reorder && release < q->last_release)
		release = q->last_release;
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	p->release_ns = release;
	p->seq = q->seq++;
	p->len = len;
	if (data)
		memcpy(p->data, data, len);
	else
		memset(p->data, 0, len);
	if (heap_push(q, p) < 0) {
		free(p);
		return -ENOMEM;
	}
	if (release > q->last_release)
		q->last_release = release;
	return 1;
}

int impair_queue_offer(struct impair_queue *q, uint64_t now_ns, const void *data, size_t len)
{
	uint64_t left = now_ns;
	int copies = 0, r;

	q->st.offered++;
	if (chance(q, q->cfg.loss_ppm)) {
		q->st.lost++;
		return 0;
	}
	if (q->cfg.rate_bps) {
		uint64_t start = q->link_free > now_ns ? q->link_free : now_ns;
		if (start - now_ns > q->cfg.limit_ns) {
			q->st.overflow++;
			return 0;
		}
		left = start + (uint64_t)((double)len * 8e9 / (double)q->cfg.rate_bps);
		q->link_free = left;
	}
	r = enqueue(q, left, data, len);
	if (r < 0)
		return r;
	copies += r;
	if (r > 0 && chance(q, q->cfg.dup_ppm)) {
		r = enqueue(q, left, data, len);
		if (r < 0)
			return r;
		q->st.duplicated += (uint64_t)r;
		copies += r;
	}
	return copies;
}

uint64_t impair_queue_next(const struct impair_queue *q)
{
	return q->n ? q->heap[0]->release_ns : UINT64_MAX;
}

struct impair_pkt *impair_queue_pop_due(struct impair_queue *q, uint64_t now_ns)
{
	if (!q->n || q->heap[0]->release_ns > now_ns)
		return NULL;
	q->st.sent++;
	return heap_pop(q);
}
