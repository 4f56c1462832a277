/* The load gate (src/matrix/load_gate.h): how many cells run at once by default. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "matrix/load_gate.h"

/* J * C / P within half of the shortest deadline, clamped to 1..ceiling. */
static void test_bound(void **state)
{
	(void)state;
	/* nothing measured: the ceiling */
	assert_int_equal(load_gate_bound(0, 2, 2000, 40), 40);
	/* punch's programs: a few ms per run: the ceiling */
	assert_int_equal(load_gate_bound(5, 2, 2000, 40), 40);
	/* a program burning 450 ms per run on 2 cores, 2 s deadline: 1000 * 2 / 450 = 4 */
	assert_int_equal(load_gate_bound(450, 2, 2000, 40), 4);
	/* 150 ms: 13; more cores, more cells */
	assert_int_equal(load_gate_bound(150, 2, 2000, 40), 13);
	assert_int_equal(load_gate_bound(150, 8, 2000, 40), 40);
	assert_int_equal(load_gate_bound(150, 8, 2000, 100), 53);
	/* a longer deadline allows more */
	assert_int_equal(load_gate_bound(450, 2, 5000, 40), 11);
	/* fractional cores (a loaded machine) */
	assert_int_equal(load_gate_bound(150, 0.5, 2000, 40), 3);
	/* never below one, never above the ceiling */
	assert_int_equal(load_gate_bound(100000, 2, 2000, 40), 1);
	assert_int_equal(load_gate_bound(1, 64, 600000, 256), 256);
}

/* Other users' load: above the core count, each runnable task's share. */
static void test_cores(void **state)
{
	(void)state;
	assert_true(load_gate_cores(2, 0.5) == 2.0);
	assert_true(load_gate_cores(2, 2.0) == 2.0);
	assert_true(load_gate_cores(2, 8.0) == 0.5);
	assert_true(load_gate_cores(4, 16.0) == 1.0);
	assert_true(load_gate_cores(0, 0) == 1.0);
}

/* Adaptive: a first wave of 2 x cores; fixed (--jobs N): exactly N, never waiting. */
static void test_gate(void **state)
{
	struct load_gate g;
	atomic_bool stop = false;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_int_equal(load_gate_init(&g, false, 40, 2000), 0);
	assert_int_equal(g.limit, 40);
	for (int i = 0; i < 40; i++)
		assert_int_equal(load_gate_enter(&g, &stop), 0);
	assert_int_equal(g.peak, 40);
	for (int i = 0; i < 40; i++)
		load_gate_leave(&g);
	assert_int_equal(g.limit, 40);
	load_gate_destroy(&g);

	assert_int_equal(load_gate_init(&g, true, 40, 2000), 0);
	assert_int_equal(g.limit, 2 * n < 40 ? 2 * n : 40);
	for (int i = 0; i < g.limit; i++)
		assert_int_equal(load_gate_enter(&g, &stop), 0);
	/* full: a stopped run does not wait for a place (bounded) */
	stop = true;
	assert_int_equal(load_gate_enter(&g, &stop), -ECANCELED);
	load_gate_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_cores),
		cmocka_unit_test(test_gate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
