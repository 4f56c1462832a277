/* Impaired links, the pure parts (issue 12): the spec grammar and its errors, the timer queue's
 * decisions under a seeded generator (delay, jitter with and without order, loss, duplication,
 * rate and its backlog limit), --impair LINK=SPEC and presets on a parsed topology. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "impair/queue.h"
#include "impair/spec.h"
#include "lab/topo.h"
#include "matrix/cell.h"
#include "matrix/impair_deadline.h"

#define MS 1000000ULL

static void spec_ok(const char *text, struct impair_spec *s)
{
	char why[256];

	if (impair_spec_parse(text, s, why, sizeof(why)) != 0)
		fail_msg("\"%s\" refused: %s", text, why);
}

static void test_spec_parse(void **state)
{
	struct impair_spec s;

	(void)state;
	spec_ok("delay 40ms jitter 5ms loss 2%", &s);
	assert_true(s.active);
	for (int d = 0; d < 2; d++) {
		assert_int_equal(s.dir[d].delay_ns, 40 * MS);
		assert_int_equal(s.dir[d].jitter_ns, 5 * MS);
		assert_int_equal(s.dir[d].loss_ppm, 20000);
		assert_false(s.dir[d].reorder);
		assert_int_equal(s.dir[d].rate_bps, 0);
		assert_int_equal(s.dir[d].limit_ns, IMPAIR_DEFAULT_LIMIT_NS);
	}
	spec_ok("  rate 16mbit/1mbit delay 250us/1.5ms loss 0.5% duplicate 0.1% reorder seed 9 ", &s);
	assert_int_equal(s.dir[0].rate_bps, 16000000);
	assert_int_equal(s.dir[1].rate_bps, 1000000);
	assert_int_equal(s.dir[0].delay_ns, 250000);
	assert_int_equal(s.dir[1].delay_ns, 1500000);
	assert_int_equal(s.dir[1].loss_ppm, 5000);
	assert_int_equal(s.dir[0].dup_ppm, 1000);
	assert_true(s.dir[0].reorder && s.dir[1].reorder);
	assert_int_equal(s.seed, 9);
	spec_ok("delay 2s limit 50ms rate 8kbit", &s);
	assert_int_equal(s.dir[0].delay_ns, 2000 * MS);
	assert_int_equal(s.dir[0].limit_ns, 50 * MS);
}

static void test_spec_errors(void **state)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "", "empty" },
		{ "   ", "empty" },
		{ "delay 40", "expected a unit: us, ms or s" },
		{ "delay", "missing value" },
		{ "delay fast", "expected a time such as 40ms" },
		{ "delay -5ms", "expected a time" },
		{ "delay 11s", "at most 10s" },
		{ "loss 200%", "from 0% to 100%" },
		{ "loss 2", "expected a percentage" },
		{ "rate 10mbps", "expected a unit: bit, kbit, mbit or gbit" },
		{ "rate 1bit", "from 8kbit to 100gbit" },
		{ "delay 1ms delay 2ms", "given twice" },
		{ "latency 40ms", "unknown word \"latency\", expected delay" },
		{ "delay 40ms/", "expected a time" },
		{ "seed x", "expected a whole number" },
	};
	struct impair_spec s;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = impair_spec_parse(bad[i].text, &s, why, sizeof(why));
		if (r != -EINVAL || !strstr(why, bad[i].why))
			fail_msg("\"%s\": got %d \"%s\", expected -EINVAL and \"%s\"", bad[i].text, r,
				 why, bad[i].why);
	}
}

static void test_spec_format_roundtrip(void **state)
{
	static const char *const texts[] = {
		"delay 40ms jitter 5ms loss 2%",
		"delay 12ms jitter 2ms loss 0.1% rate 16mbit/1mbit",
		"delay 250us/1500us duplicate 0.5% reorder limit 20ms seed 3",
		"rate 1500kbit",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct impair_spec a, b;
		char buf[IMPAIR_SPEC_TEXT_MAX];

		spec_ok(texts[i], &a);
		assert_int_equal(impair_spec_format(&a, buf, sizeof(buf)), 0);
		spec_ok(buf, &b);
		if (memcmp(&a, &b, sizeof(a)) != 0)
			fail_msg("\"%s\" formats as \"%s\", which parses differently", texts[i], buf);
	}
	{
		struct impair_spec a;
		char buf[IMPAIR_SPEC_TEXT_MAX];

		spec_ok("rate 16mbit/1mbit", &a);
		impair_spec_swap(&a);
		assert_int_equal(impair_spec_format(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "rate 1mbit/16mbit");
	}
}

static struct impair_dir dir_of(const char *text)
{
	struct impair_spec s;

	spec_ok(text, &s);
	return s.dir[0];
}

/* Offer n frames of len bytes every gap_ns from t=0; drain; return release times in arrival
 * order of the frames that left (out[] of size n*2), count in *nout. */
static void run(const char *spec, uint64_t seed, int n, uint64_t gap_ns, size_t len,
		uint64_t *out, int *nout, struct impair_stats *st)
{
	struct impair_dir d = dir_of(spec);
	struct impair_queue q;
	struct impair_pkt *p;

	impair_queue_init(&q, &d, seed);
	for (int i = 0; i < n; i++)
		assert_true(impair_queue_offer(&q, (uint64_t)i * gap_ns, NULL, len) >= 0);
	*nout = 0;
	while ((p = impair_queue_pop_due(&q, UINT64_MAX))) {
		out[(*nout)++] = p->release_ns;
		free(p);
	}
	*st = q.st;
	impair_queue_free(&q);
}

static void test_queue_delay(void **state)
{
	uint64_t out[200];
	struct impair_stats st;
	int n;

	(void)state;
	run("delay 20ms", 1, 100, MS, 100, out, &n, &st);
	assert_int_equal(n, 100);
	for (int i = 0; i < n; i++)
		assert_int_equal(out[i], (uint64_t)i * MS + 20 * MS);
	assert_int_equal(st.lost + st.duplicated + st.overflow, 0);
}

static void test_queue_jitter_order(void **state)
{
	enum { N = 20000 };
	uint64_t *out = calloc(2 * N, sizeof(*out));
	struct impair_stats st;
	double sum = 0;
	int n, inversions = 0;
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)state;
	/* order kept: every release at or after the previous one, within delay +- jitter */
	run("delay 40ms jitter 5ms", 7, N, MS, 100, out, &n, &st);
	assert_int_equal(n, N);
	for (int i = 1; i < n; i++)
		assert_true(out[i] >= out[i - 1]);
	/* with reorder: each frame keeps its own draw; the spread covers the whole +-5 ms, the
	 * mean is the delay, and frames 1 ms apart overtake each other */
	run("delay 40ms jitter 5ms reorder", 7, N, MS, 100, out, &n, &st);
	assert_int_equal(n, N);
	for (int i = 0; i < n; i++) {
		uint64_t d = out[i] - (uint64_t)i * MS;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += (double)d;
	}
	/* pop order is release order; frame i's own delay is unknown once reordered, so check
	 * the spread from the popped sequence against arrival slots */
	for (int i = 1; i < n; i++)
		inversions += out[i] < out[i - 1];
	assert_int_equal(inversions, 0); /* popped in release order */
	assert_true(hi - lo > 8 * MS);
	assert_true(sum / n > 39.8e6 && sum / n < 40.2e6);
	free(out);
}

static void test_queue_reorder_happens(void **state)
{
	struct impair_dir d = dir_of("delay 40ms jitter 5ms reorder");
	struct impair_queue q;
	struct impair_pkt *p;
	uint64_t last = 0;
	int overtaken = 0;

	(void)state;
	impair_queue_init(&q, &d, 11);
	for (int i = 0; i < 1000; i++) {
		unsigned char b = (unsigned char)(i & 0xff);
		assert_int_equal(impair_queue_offer(&q, (uint64_t)i * MS, &b, 1), 1);
	}
	/* frames leave by release time; their payloads (arrival numbers) come out of order */
	for (int i = 0; (p = impair_queue_pop_due(&q, UINT64_MAX)); i++) {
		uint64_t seq = p->seq;
		overtaken += seq < last;
		last = seq > last ? seq : last;
		free(p);
	}
	assert_true(overtaken > 100);
	impair_queue_free(&q);
}

static void test_queue_loss_dup(void **state)
{
	enum { N = 50000 }; /* below IMPAIR_QUEUE_MAX: nothing drains while offering */
	uint64_t *out = calloc(2 * N, sizeof(*out));
	struct impair_stats st;
	int n;

	(void)state;
	run("loss 2%", 3, N, 10000, 100, out, &n, &st);
	assert_int_equal(st.offered, N);
	assert_int_equal(st.overflow, 0);
	/* binomial(50000, 0.02): sd 31; 1000 +- 200 is 6 sd */
	assert_true(st.lost > 800 && st.lost < 1200);
	assert_int_equal(n, N - (int)st.lost);
	run("duplicate 1%", 3, N, 10000, 100, out, &n, &st);
	assert_true(st.duplicated > 350 && st.duplicated < 650);
	assert_int_equal(n, N + (int)st.duplicated);
	/* the same seed gives the same decisions */
	{
		struct impair_stats st2;
		run("loss 2%", 3, N, 10000, 100, out, &n, &st2);
		run("loss 2%", 3, N, 10000, 100, out, &n, &st);
		assert_int_equal(st.lost, st2.lost);
	}
	free(out);
}

static void test_queue_rate_limit(void **state)
{
	uint64_t out[2000];
	struct impair_stats st;
	int n;

	(void)state;
	/* 1000-byte frames at 8 mbit take 1 ms each: a burst leaves 1 ms apart */
	run("rate 8mbit", 1, 50, 0, 1000, out, &n, &st);
	assert_int_equal(n, 50);
	for (int i = 0; i < n; i++)
		assert_int_equal(out[i], (uint64_t)(i + 1) * MS);
	/* past the 10 ms backlog limit the rest of a burst is dropped */
	run("rate 8mbit limit 10ms", 1, 50, 0, 1000, out, &n, &st);
	assert_int_equal(n, 11);
	assert_int_equal(st.overflow, 39);
	/* rate then delay */
	run("rate 8mbit delay 5ms", 1, 3, 0, 1000, out, &n, &st);
	assert_int_equal(out[0], 6 * MS);
	assert_int_equal(out[2], 8 * MS);
}

/* --- topologies ---------------------------------------------------------------------------- */

#define TOPO_YAML                                                                               \
	"topology: t\n"                                                    /*  1 */         \
	"nodes:\n"                                                         /*  2 */         \
	"  inet:   { kind: inet }\n"                                       /*  3 */         \
	"  server: { kind: server, gateway: inet }\n"                      /*  4 */         \
	"  nat-a:  { kind: nat, gateway: inet }\n"                         /*  5 */         \
	"  host-a: { kind: host, gateway: nat-a }\n"                       /*  6 */         \
	"links:\n"                                                         /*  7 */         \
	"  - ends: { inet: 198.51.100.1/24, server: 198.51.100.10/24 }\n"  /*  8 */         \
	"  - ends: { inet: 203.0.113.1/28, nat-a: 203.0.113.2/28 }\n"      /*  9 */         \
	"    impair: %s\n"                                                 /* 10 */         \
	"  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n"         /* 11 */         \
	"roles: { peer-a: host-a, nat-a: nat-a, rendezvous: server }\n"    /* 12 */

static int parse(struct topo *t, const char *impair, struct diag_list *dl)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), TOPO_YAML, impair);
	memset(dl, 0, sizeof(*dl));
	return topo_parse_buffer(t, "t.yaml", buf, strlen(buf), dl);
}

static void test_topo_impair_file(void **state)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list *dl = calloc(1, sizeof(*dl));

	(void)state;
	assert_int_equal(parse(t, "\"delay 40ms loss 2%\"", dl), 0);
	assert_true(t->links[1].impair.active);
	assert_false(t->links[0].impair.active);
	assert_int_equal(t->links[1].impair.dir[0].delay_ns, 40 * MS);
	assert_true(topo_impaired(t));
	assert_int_equal(parse(t, "\"delay 40\"", dl), -EINVAL);
	assert_int_equal(dl->count, 1);
	assert_string_equal(dl->items[0].file, "t.yaml");
	assert_int_equal(dl->items[0].line, 10);
	assert_non_null(strstr(dl->items[0].msg, "impair: delay 40: expected a unit"));
	free(t);
	free(dl);
}

static void test_topo_impair_set(void **state)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list *dl = calloc(1, sizeof(*dl));

	(void)state;
	assert_int_equal(parse(t, "\"delay 1ms\"", dl), 0);
	/* named from the other end: the spec's first direction is nat-a -> inet */
	assert_int_equal(topo_impair_set(t, "nat-a:inet=rate 1mbit/16mbit", dl), 0);
	assert_int_equal(t->links[1].impair.dir[0].rate_bps, 16000000); /* inet -> nat-a */
	assert_int_equal(t->links[1].impair.dir[1].rate_bps, 1000000);
	assert_int_equal(t->links[1].impair.dir[0].delay_ns, 0); /* replaced, not merged */
	assert_int_equal(topo_impair_set(t, "inet:server=loss 5%", dl), 0);
	assert_true(t->links[0].impair.active);

	memset(dl, 0, sizeof(*dl));
	assert_int_equal(topo_impair_set(t, "inet:host-a=delay 1ms", dl), -EINVAL);
	assert_string_equal(dl->items[0].file, "--impair inet:host-a=delay 1ms");
	assert_non_null(strstr(dl->items[0].msg, "no link between \"inet\" and \"host-a\""));
	assert_non_null(strstr(dl->items[0].msg, "inet:server, inet:nat-a, nat-a:host-a"));
	memset(dl, 0, sizeof(*dl));
	assert_int_equal(topo_impair_set(t, "inet:nat-a=delay", dl), -EINVAL);
	assert_non_null(strstr(dl->items[0].msg, "delay: missing value"));
	memset(dl, 0, sizeof(*dl));
	assert_int_equal(topo_impair_set(t, "delay 40ms", dl), -EINVAL);
	assert_non_null(strstr(dl->items[0].msg, "expected LINK=SPEC"));
	free(t);
	free(dl);
}

static void test_topo_presets(void **state)
{
	static const char *const presets[] = { "dsl", "lte", "satellite", "lossy-wifi" };
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/topologies/two-nats.yaml", PUNCHLAB_SOURCE_DIR);
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		memset(dl, 0, sizeof(*dl));
		assert_int_equal(topo_parse_file(t, path, dl), 0);
		assert_false(topo_impaired(t));
		if (topo_impair_preset(t, presets[i], dl) != 0)
			fail_msg("preset %s: %s", presets[i], dl->items[0].msg);
		assert_true(topo_impaired(t));
	}
	/* lte: each NAT's WAN link, downstream (inet -> nat) first */
	memset(dl, 0, sizeof(*dl));
	assert_int_equal(topo_parse_file(t, path, dl), 0);
	assert_int_equal(topo_impair_preset(t, "lte", dl), 0);
	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];
		bool wan = t->nodes[l->ends[1].node].kind == NODE_NAT &&
			   t->nodes[l->ends[0].node].kind == NODE_INET;
		assert_int_equal(l->impair.active, wan);
		if (wan) {
			assert_int_equal(l->impair.dir[0].rate_bps, 30000000);
			assert_int_equal(l->impair.dir[1].rate_bps, 10000000);
		}
	}
	assert_int_equal(topo_impair_preset(t, "none", dl), 0);
	memset(dl, 0, sizeof(*dl));
	assert_int_equal(topo_impair_preset(t, "nosuch", dl), -EINVAL);
	assert_non_null(strstr(dl->items[0].msg, "preset \"nosuch\" not found"));
	free(t);
	free(dl);
}

/* The deadline rule (docs/impairments.md "Deadlines under impairment"): 4 round trips of the
 * added delay + jitter over every impaired link, plus 1 s when a link loses. */
static void test_deadline_rule(void **state)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/topologies/two-nats.yaml", PUNCHLAB_SOURCE_DIR);
	assert_int_equal(topo_parse_file(t, path, dl), 0);
	/* unimpaired: the engine's own deadlines, unchanged */
	assert_int_equal(impair_deadline_rtt_ms(t), 0);
	assert_int_equal(impair_deadline_extra_ms(t), 0);
	/* lte: 2 WAN links of 20 ms + 8 ms jitter each way: 112 ms; 4 x 112 + 1 s for its loss */
	assert_int_equal(topo_impair_preset(t, "lte", dl), 0);
	assert_int_equal(impair_deadline_rtt_ms(t), 112);
	assert_int_equal(impair_deadline_extra_ms(t), 4 * 112 + 1000);
	/* delay only, asymmetric: the slower direction counts; no loss, no allowance */
	assert_int_equal(topo_parse_file(t, path, dl), 0);
	assert_int_equal(topo_impair_set(t, "inet:nat-a=delay 10ms/30ms", dl), 0);
	assert_int_equal(topo_impair_set(t, "inet:server=delay 2500us", dl), 0);
	assert_int_equal(impair_deadline_rtt_ms(t), 65); /* 2 x (30 + 2.5) */
	assert_int_equal(impair_deadline_extra_ms(t), 4 * 65);
	/* loss alone (lossy, no delay): the retransmission allowance only */
	assert_int_equal(topo_parse_file(t, path, dl), 0);
	assert_int_equal(topo_impair_set(t, "inet:nat-b=loss 1%/0%", dl), 0);
	assert_int_equal(impair_deadline_extra_ms(t), 1000);
	/* satellite: 300 ms + 10 ms jitter on both WAN links: 1240 ms, about 6 s more */
	assert_int_equal(topo_parse_file(t, path, dl), 0);
	assert_int_equal(topo_impair_preset(t, "satellite", dl), 0);
	assert_int_equal(impair_deadline_extra_ms(t), 4 * 1240 + 1000);
	free(t);
	free(dl);
}

static void test_preset_file_errors(void **state)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char path[] = "/tmp/punchlab-unit-XXXXXX.impair";
	int fd = mkstemps(path, 7);
	FILE *f = fdopen(fd, "w");

	(void)state;
	fputs("# comment\n\nwan: delay 5ms\nlan: delay 1ms\nwan delay\naccess: loss 300%\n", f);
	fclose(f);
	assert_int_equal(parse(t, "\"delay 1ms\"", dl), 0);
	assert_int_equal(topo_impair_preset(t, path, dl), -EINVAL);
	assert_int_equal(dl->count, 3);
	assert_int_equal(dl->items[0].line, 4);
	assert_non_null(strstr(dl->items[0].msg, "unknown link selector \"lan\""));
	assert_int_equal(dl->items[1].line, 5);
	assert_int_equal(dl->items[2].line, 6);
	assert_non_null(strstr(dl->items[2].msg, "loss 300%"));
	unlink(path);
	free(t);
	free(dl);
}

/* --- the matrix dimension ----------------------------------------------------------------- */

static void test_cell_ids(void **state)
{
	struct matrix_dims d = { .topology = "two-nats", .b_has_nat = true,
				 .profiles = { "full-cone", "symmetric" }, .nprofiles = 2,
				 .udp = true, .techniques = { "plain" }, .ntechniques = 1,
				 .impairments = { "none", "lte" }, .nimpairments = 2 };
	struct cell_spec *cells = NULL, c;
	int n;

	(void)state;
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 8);
	/* none first, with the ids cells had before the dimension existed */
	assert_string_equal(cells[0].id, "two-nats/udp/udp/full-cone~full-cone");
	assert_string_equal(cells[0].impair, "");
	assert_string_equal(cells[4].id, "two-nats/udp/udp/full-cone~full-cone/impair=lte");
	assert_string_equal(cells[4].impair, "lte");
	free(cells);

	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~symmetric/impair=lte", &c), 0);
	assert_string_equal(c.impair, "lte");
	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~symmetric/impair=none", &c), 0);
	assert_string_equal(c.impair, "");
	assert_string_equal(c.id, "two-nats/udp/udp/full-cone~symmetric");
	/* after engine=, in the table's order; a path percent-encoded */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~symmetric/impair=%2Ftmp%2Fx.impair/"
				       "engine=nebula", &c), 0);
	assert_string_equal(c.impair, "/tmp/x.impair");
	assert_string_equal(c.id, "two-nats/udp/udp/full-cone~symmetric/engine=nebula/"
				  "impair=%2Ftmp%2Fx.impair");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_spec_format_roundtrip),
		cmocka_unit_test(test_queue_delay),
		cmocka_unit_test(test_queue_jitter_order),
		cmocka_unit_test(test_queue_reorder_happens),
		cmocka_unit_test(test_queue_loss_dup),
		cmocka_unit_test(test_queue_rate_limit),
		cmocka_unit_test(test_topo_impair_file),
		cmocka_unit_test(test_topo_impair_set),
		cmocka_unit_test(test_topo_presets),
		cmocka_unit_test(test_deadline_rule),
		cmocka_unit_test(test_preset_file_errors),
		cmocka_unit_test(test_cell_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
