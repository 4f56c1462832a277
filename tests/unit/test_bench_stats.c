/* The bench verbs' order statistics (src/cli/bench_stats.c): nearest index, sorted in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/bench_stats.h"

static void test_percentile(void **state)
{
	double v[] = { 9, 1, 5, 3, 7, 2, 8, 4, 6, 10 }, one[] = { 42 }, none[1] = { 0 };

	(void)state;
	/* 10 values: the median is the 6th ((10-1)*0.5 rounded: index 5), p95 the 10th */
	assert_true(bench_percentile(v, 10, 0.5) == 6);
	assert_true(v[0] == 1 && v[9] == 10); /* sorted in place */
	assert_true(bench_percentile(v, 10, 0.95) == 10);
	assert_true(bench_percentile(v, 10, 0) == 1);
	assert_true(bench_percentile(v, 9, 0.5) == 5); /* odd: the middle one */
	assert_true(bench_percentile(one, 1, 0.95) == 42);
	assert_true(bench_percentile(none, 0, 0.5) == 0);
}

static void test_clock(void **state)
{
	double a = bench_now_ms(), b = bench_now_ms();

	(void)state;
	assert_true(a > 0);
	assert_true(b >= a); /* monotonic */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
