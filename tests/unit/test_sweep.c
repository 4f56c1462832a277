/* Timing sweeps (issue 12 item 5): the --sweep spec parser, the stagger= and signal-delay=
 * cell-id dimensions, and the reports' sweeps (which dimension, which points). */
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
		{ "jitter=0..100ms/10", "a sweep varies stagger or signal-delay" },
		{ "=0..100ms/10", "a sweep varies stagger or signal-delay" },
		{ "signal=0..100ms/10", "a sweep varies stagger or signal-delay" },
		{ "signal-delay", "expected stagger=FROM..TO/STEP or signal-delay=" },
		{ "signal-delay=0..200ms", "expected signal-delay=FROM..TO/STEP" },
		{ "signal-delay=0..20000ms/10", "TO is not a duration" },
		{ "signal-delay=200..0ms/10", "TO (0 ms) is below FROM (200 ms)" },
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

/* signal-delay= takes the same ranges as stagger=, and says which dimension it is. */
static void test_signal_delay_specs(void **state)
{
	struct sweep sw;
	char why[300];

	(void)state;
	assert_int_equal(sweep_parse("signal-delay=0..200ms/20", &sw, why, sizeof(why)), 0);
	assert_string_equal(sw.key, "signal-delay");
	assert_int_equal(sw.npoints, 11);
	assert_int_equal(sw.points[1], 20);
	assert_int_equal(sw.points[10], 200);
	assert_int_equal(sweep_parse("signal-delay=0..1s/250ms", &sw, why, sizeof(why)), 0);
	assert_string_equal(sw.key, "signal-delay");
	assert_int_equal(sw.npoints, 5);
	assert_int_equal(sw.points[4], 1000);
	/* a prefix of a key is no key */
	assert_int_equal(sweep_parse("stag=0..200ms/20", &sw, why, sizeof(why)), -EINVAL);
	assert_int_equal(sweep_parse("signal-delayed=0..200ms/20", &sw, why, sizeof(why)), -EINVAL);
}

/* signal-delay= is the last dimension of the ids: absent by default, canonical "Nms", after
 * events=, and an id names it once. */
static void test_signal_delay_dimension(void **state)
{
	struct cell_spec c;
	char why[256];

	(void)state;
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b", &c), 0);
	assert_false(c.has_signal_delay);
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/signal-delay=60ms", &c), 0);
	assert_true(c.has_signal_delay);
	assert_false(c.has_stagger);
	assert_int_equal(c.signal_delay_ms, 60);
	assert_string_equal(c.id, "two-nats/tcp/tcp/a~b/signal-delay=60ms");
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/signal-delay=0", &c), 0);
	assert_string_equal(c.id, "two-nats/tcp/tcp/a~b/signal-delay=0ms"); /* a point, not absent */
	/* written in any order, canonical at the end of the table */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/a~b/signal-delay=1s/events=nat-a%20reboot"
				       "%402s/stagger=10ms/engine=netcat", &c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/a~b/engine=netcat/stagger=10ms/events="
				  "nat-a%20reboot%402s/signal-delay=1000ms");
	assert_int_equal(cell_id_parse_msg("two-nats/tcp/tcp/a~b/signal-delay=late", &c, why,
					   sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "signal-delay=late: expected a duration"));
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/signal-delay=11s", &c), -EINVAL);
	assert_int_equal(cell_id_parse("two-nats/tcp/tcp/a~b/signal-delay=1ms/signal-delay=2ms",
				       &c), -EINVAL);
}

/* The reports' sweeps: cells that differ only in their signal-delay= part are one sweep over
 * "signal-delay", its points by value; a stagger sweep next to it stays a sweep of its own. */
static void test_sweep_reports(void **state)
{
	static const char *const ids[] = {
		"two-nats/tcp/tcp/a~b/signal-delay=100ms", "two-nats/tcp/tcp/a~b/signal-delay=0ms",
		"two-nats/tcp/tcp/a~b/stagger=20ms", "two-nats/tcp/tcp/a~b",
	};
	struct cell_result cells[4];
	struct cell_run runs[4][2];
	struct results r = { .cells = cells, .ncells = 4 };
	struct report_sweep *s;
	char buf[8192];
	FILE *f;

	(void)state;
	memset(cells, 0, sizeof(cells));
	memset(runs, 0, sizeof(runs));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cell_id_parse(ids[i], &cells[i].spec), 0);
		cells[i].runs = runs[i];
		cells[i].nruns = 2;
		runs[i][0].outcome = CELL_DIRECT;
		runs[i][1].outcome = i == 0 ? CELL_FAILED : CELL_DIRECT;
	}
	assert_int_equal(report_sweeps_build(&r, &s), 2);
	assert_string_equal(s[0].base, "two-nats/tcp/tcp/a~b");
	assert_string_equal(s[0].dim, "signal-delay");
	assert_int_equal(s[0].npoints, 2);
	assert_int_equal(s[0].points[0].ms, 0);
	assert_int_equal(s[0].points[0].direct, 2);
	assert_int_equal(s[0].points[1].ms, 100);
	assert_int_equal(s[0].points[1].direct, 1);
	assert_string_equal(s[1].dim, "stagger");
	assert_int_equal(s[1].npoints, 1);
	report_sweeps_free(s, 2);

	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	report_sweeps_markdown(f, &r);
	fclose(f);
	assert_non_null(strstr(buf, "| signal delay | direct / runs | success rate |"));
	assert_non_null(strstr(buf, "| 100 ms | 1 / 2 | 0.50 |"));
	assert_non_null(strstr(buf, "| stagger | direct / runs | success rate |"));
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	report_sweeps_terminal(f, &r);
	fclose(f);
	assert_non_null(strstr(buf, "Sweep of two-nats/tcp/tcp/a~b: success rate by signal delay "
				    "(the rendezvous' answer reaches peer B this long after A)"));
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	report_sweeps_html(f, &r);
	fclose(f);
	assert_non_null(strstr(buf, ">signal delay (ms)</text>"));
	assert_non_null(strstr(buf, "<th>signal delay</th>"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_specs),
		cmocka_unit_test(test_sweep_bad_specs),
		cmocka_unit_test(test_stagger_dimension),
		cmocka_unit_test(test_no_sweep_nothing_to_free),
		cmocka_unit_test(test_signal_delay_specs),
		cmocka_unit_test(test_signal_delay_dimension),
		cmocka_unit_test(test_sweep_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
