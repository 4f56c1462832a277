/* Timing sweeps (issue 12 item 5): the --sweep spec parser and the stagger= cell-id dimension. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "matrix/cell.h"
#include "matrix/results.h"
#include "report/sweep.h"

static void test_sweep_specs(void **state)
{
	static const struct {
		const char *spec;
		int n, first, last, second;
	} ok[] = {
		{ "stagger=0..200ms/10", 21, 0, 200, 10 },    /* a bare step takes TO's unit */
		{ "stagger=0..200ms/10ms", 21, 0, 200, 10 },
		{ "stagger=0ms..200ms/50ms", 5, 0, 200, 50 },
		{ "stagger=0..200/50", 5, 0, 200, 50 },       /* bare numbers: ms */
		{ "stagger=0..2s/1", 3, 0, 2000, 1000 },      /* seconds */
		{ "stagger=500ms..2s/500ms", 4, 500, 2000, 1000 },
		{ "stagger=5..5ms/1", 1, 5, 5, -1 },          /* one point */
		{ "stagger=0..25ms/10", 3, 0, 20, 10 },       /* TO not on the grid: the last <= TO */
	};
	struct sweep sw;
	char why[300];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(sweep_parse(ok[i].spec, &sw, why, sizeof(why)), 0);
		assert_string_equal(sw.key, "stagger");
		assert_int_equal(sw.npoints, ok[i].n);
		assert_int_equal(sw.points[0], ok[i].first);
		assert_int_equal(sw.points[sw.npoints - 1], ok[i].last);
		if (ok[i].second >= 0)
			assert_int_equal(sw.points[1], ok[i].second);
	}
}

/* Bad specs: one clear error saying what is wrong and what is expected. */
static void test_sweep_bad_specs(void **state)
{
	static const char *const bad[][2] = {
		{ "signal-delay=0..100ms/10", "stagger is the only dimension" },
		{ "stagger", "expected stagger=FROM..TO/STEP" },
		{ "stagger=0..200ms", "expected stagger=FROM..TO/STEP" },
		{ "stagger=0-200ms/10", "expected stagger=FROM..TO/STEP" },
		{ "stagger=x..200ms/10", "FROM is not a duration" },
		{ "stagger=0..20000ms/10", "TO is not a duration" },
		{ "stagger=0..200ms/-5", "STEP is not a duration" },
		{ "stagger=0..200ms/5us", "STEP is not a duration" },
		{ "stagger=100..0ms/10", "TO (0 ms) is below FROM (100 ms)" },
		{ "stagger=0..200ms/0", "STEP must be above 0 ms" },
		{ "stagger=0..1000ms/1", "1001 points, expected at most 101" },
	};
	struct sweep sw;
	char why[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sweep_parse(bad[i][0], &sw, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i][1]))
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i][0], why, bad[i][1]);
		assert_non_null(strstr(why, bad[i][0])); /* names the spec */
		assert_int_equal(sw.npoints, 0);
	}
}

/* stagger= is a dimension after engine=: absent by default, canonical "Nms", parsed back. */
static void test_stagger_dimension(void **state)
{
	struct cell_spec c;
	char why[256];

	(void)state;
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b", &c), 0);
	assert_false(c.has_stagger);
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/stagger=40ms", &c), 0);
	assert_true(c.has_stagger);
	assert_int_equal(c.stagger_ms, 40);
	assert_string_equal(c.id, "two-nats/tcp/tcp/a~b/stagger=40ms");
	/* stagger=0ms is a point, not the default */
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/stagger=0", &c), 0);
	assert_string_equal(c.id, "two-nats/tcp/tcp/a~b/stagger=0ms");
	/* after engine=, in any order when read */
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/stagger=1s/engine=netcat", &c), 0);
	assert_string_equal(c.id, "two-nats/tcp/tcp/a~b/engine=netcat/stagger=1000ms");
	assert_int_equal(cell_id_parse_msg("two-nats/tcp/tcp/a~b/stagger=fast", &c, why,
					   sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "stagger=fast: expected a duration"));
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/stagger=1ms/stagger=2ms", &c), -EINVAL);
}

/* A run without stagger cells has no sweep, and nothing is left for the caller to free: the
 * array built before knowing it leaked from every report (found by LeakSanitizer, issue 14). */
static void test_no_sweep_nothing_to_free(void **state)
{
	static struct cell_result cells[2];
	struct results r = { .cells = cells, .ncells = 2 };
	struct report_sweep *s = (struct report_sweep *)&r; /* must be overwritten */

	(void)state;
	assert_int_equal(cell_id_parse("two-nats/udp/udp/a~b", &cells[0].spec), 0);
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b", &cells[1].spec), 0);
	assert_int_equal(report_sweeps_build(&r, &s), 0);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_specs),
		cmocka_unit_test(test_sweep_bad_specs),
		cmocka_unit_test(test_stagger_dimension),
		cmocka_unit_test(test_no_sweep_nothing_to_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
