/* Unit tests of the results model (src/matrix/results.c): the representative outcome of
 * repeated runs, success rates and percentiles, the verdicts against the documents' claim,
 * the theory, the expected outcomes and a baseline (BRIEF.md "Words"), and the exit code.
 * One table row per judging case. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "matrix/results.h"

#define D CELL_DIRECT
#define R CELL_RELAYED
#define F CELL_FAILED
#define E CELL_ERROR
#define S CELL_SKIPPED
#define SET(o) (1u << (o))
#define NONE (-1)
#define MAX_RUNS 12

struct judge_case {
	const char *what;
	int runs[MAX_RUNS];   /* outcomes, ended by NONE */
	int claim;            /* NONE: no claim */
	enum cell_outcome theory;
	int baseline;         /* NONE: no baseline */
	outcome_set allowed;
	double rate;          /* > 0: a timing-dependent cell with this expected rate */
	/* expected */
	enum cell_outcome outcome;
	bool regression, improvement, flaky, disagrees_claim, disagrees_theory, error;
};

#define RUNS(...) { __VA_ARGS__, NONE }
#define X CELL_DISPUTED
#define P30 (31.0 / 32)  /* rate_expected(30, 30): tested over 9 runs, fails at <= 6 direct */

static const struct judge_case cases[] = {
	/* representative outcome; a determined cell whose runs differ is flaky: a regression */
	{ "one direct run, as expected", RUNS(D), D, D, NONE, SET(D), 0,
	  D, false, false, false, false, false, false },
	{ "determined, runs differ: flaky", RUNS(D, D, R), NONE, D, NONE, SET(D), 0,
	  D, true, false, true, false, false, false },
	{ "a tie goes to the worse outcome", RUNS(D, F), NONE, D, NONE, SET(D), 0,
	  F, true, false, true, false, true, false },
	{ "a three-way tie goes to failed, flaky", RUNS(R, D, F), NONE, F, NONE, SET(F), 0,
	  F, true, false, true, false, false, false },
	{ "error only when most frequent: tie with direct", RUNS(E, D), NONE, D, NONE, SET(D), 0,
	  D, true, false, true, false, false, true },
	{ "error when most frequent: never a regression", RUNS(E, E, D), D, D, D, SET(D), 0,
	  E, false, false, false, false, false, true },
	{ "skipped: no finding, no regression", RUNS(S), F, D, D, SET(D), 0,
	  S, false, false, false, false, false, false },
	{ "error against a failed claim: no disagreement", RUNS(E), F, F, NONE, SET(F), 0,
	  E, false, false, false, false, false, true },

	/* disputed: the engine's word against the lab's evidence, a regression in every case */
	{ "disputed where failed is expected", RUNS(X), NONE, F, NONE, SET(F), 0,
	  X, true, false, false, false, true, false },
	{ "one disputed run makes the cell disputed", RUNS(D, D, X), NONE, D, NONE, SET(D), 0,
	  X, true, false, true, false, true, false },
	{ "disputed against a disputed baseline is still a regression", RUNS(X), NONE, F, X,
	  SET(F), 0, X, true, false, false, false, true, false },
	{ "disputed in a rate cell", RUNS(D, D, D, D, X, D, D, D, D), NONE, D, NONE,
	  SET(D) | SET(F), P30, X, true, false, false, false, true, false },

	/* without a baseline: the expected outcomes */
	{ "worse than expected", RUNS(F), NONE, D, NONE, SET(D), 0,
	  F, true, false, false, false, true, false },
	{ "relayed where direct expected", RUNS(R), NONE, D, NONE, SET(D), 0,
	  R, true, false, false, false, true, false },
	{ "better than expected", RUNS(D), NONE, F, NONE, SET(F), 0,
	  D, false, true, false, false, true, false },
	{ "no expectation at all: no verdict", RUNS(F), NONE, D, NONE, 0, 0,
	  F, false, false, false, false, true, false },

	/* rate cells: every run inside the allowed set, the rate not significantly low */
	{ "rate cell, nine of nine", RUNS(D, D, D, D, D, D, D, D, D), NONE, D, NONE,
	  SET(D) | SET(F), P30, D, false, false, false, false, false, false },
	{ "rate cell, one failure in nine is chance", RUNS(D, D, D, F, D, D, D, D, D), NONE, D,
	  NONE, SET(D) | SET(F), P30, D, false, false, false, false, false, false },
	{ "rate cell, seven of nine still passes", RUNS(D, F, D, D, D, F, D, D, D), NONE, D, NONE,
	  SET(D) | SET(F), P30, D, false, false, false, false, false, false },
	{ "rate cell, six of nine is a rate too low", RUNS(D, F, D, F, D, F, D, D, D), NONE, D,
	  NONE, SET(D) | SET(F), P30, D, true, false, false, false, false, false },
	{ "rate cell, one run: a failure is not yet significant", RUNS(F), NONE, D, NONE,
	  SET(D) | SET(F), P30, F, false, false, false, false, true, false },
	{ "rate cell outside its allowed set", RUNS(D, D, R, D, D, D, D, D, D), NONE, D, NONE,
	  SET(D) | SET(F), P30, D, true, false, false, false, false, false },
	{ "rate cell judged by its test against a baseline too", RUNS(F, F, F, F, F, F, F, F, F),
	  NONE, D, F, SET(D) | SET(F), P30, F, true, false, false, false, true, false },

	/* against a baseline (the expected outcomes no longer decide) */
	{ "worse than the baseline", RUNS(R), NONE, R, D, SET(R), 0,
	  R, true, false, false, false, false, false },
	{ "same as the baseline, though worse than expected", RUNS(F), NONE, D, F, SET(D), 0,
	  F, false, false, false, false, true, false },
	{ "better than the baseline", RUNS(D), NONE, D, R, SET(D), 0,
	  D, false, true, false, false, false, false },
	{ "baseline error: nothing to compare", RUNS(F), NONE, F, E, SET(F), 0,
	  F, false, false, false, false, false, false },

	/* the documents' claim and the theory: findings only */
	{ "disagrees with the claim", RUNS(D), F, D, NONE, SET(D), 0,
	  D, false, false, false, true, false, false },
	{ "no claim: no claim disagreement", RUNS(F), NONE, D, NONE, SET(F), 0,
	  F, false, false, false, false, true, false },
};

static void fill_cell(struct cell_result *c, const struct judge_case *k)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->spec.id, sizeof(c->spec.id), "two-nats/udp/udp/a~b");
	c->runs = calloc(MAX_RUNS, sizeof(*c->runs));
	assert_non_null(c->runs);
	for (int i = 0; i < MAX_RUNS && k->runs[i] != NONE; i++) {
		c->runs[i].outcome = (enum cell_outcome)k->runs[i];
		c->runs[i].time_to_connect_ms = k->runs[i] == D ? 10.0 * (i + 1) : -1;
		c->nruns++;
	}
	c->refs.has_claim = k->claim != NONE;
	c->refs.claim = k->claim != NONE ? (enum cell_outcome)k->claim : D;
	c->refs.theory = k->theory;
	c->refs.has_baseline = k->baseline != NONE;
	c->refs.baseline = k->baseline != NONE ? (enum cell_outcome)k->baseline : D;
	c->refs.expected_allowed = k->allowed;
	c->refs.expected_rate = k->rate;
	c->refs.cell_class = k->rate > 0 ? CLASS_TIMING : CLASS_DETERMINED;
}

static void test_judge_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct judge_case *k = &cases[i];
		struct cell_result c;
		struct cell_verdict *v = &c.verdict;

		fill_cell(&c, k);
		results_judge_cell(&c);
		if (c.outcome != k->outcome || v->regression != k->regression ||
		    v->improvement != k->improvement || v->flaky != k->flaky ||
		    v->disagrees_claim != k->disagrees_claim ||
		    v->disagrees_theory != k->disagrees_theory || v->error != k->error) {
			print_error("case \"%s\": outcome %s regression %d improvement %d flaky %d "
				    "claim %d theory %d error %d\n", k->what, cell_outcome_name(c.outcome),
				    v->regression, v->improvement, v->flaky, v->disagrees_claim,
				    v->disagrees_theory, v->error);
			free(c.runs);
			fail();
		}
		free(c.runs);
	}
}

static void test_rates_and_percentiles(void **state)
{
	static const double ttc[] = { 50, 10, 40, 20, 30, 90, 80, 70, 60, 100 };
	struct cell_result c = { 0 };

	(void)state;
	c.runs = calloc(12, sizeof(*c.runs));
	assert_non_null(c.runs);
	for (int i = 0; i < 10; i++) {
		c.runs[i].outcome = D;
		c.runs[i].time_to_connect_ms = ttc[i];
	}
	c.runs[10].outcome = F;
	c.runs[10].time_to_connect_ms = 5; /* not direct: must not count */
	c.runs[11].outcome = R;
	c.runs[11].time_to_connect_ms = -1;
	c.nruns = 12;
	c.refs.theory = D;
	c.refs.expected_allowed = SET(D);
	results_judge_cell(&c);
	assert_int_equal(c.outcome, D);
	assert_true(c.success_rate > 10.0 / 12 - 1e-12 && c.success_rate < 10.0 / 12 + 1e-12);
	/* nearest rank over the ten direct runs: p50 = 5th smallest, p95 = 10th */
	assert_true(c.ttc_p50_ms == 50);
	assert_true(c.ttc_p95_ms == 100);
	assert_true(c.verdict.flaky);

	/* one direct run: p50 = p95 = it */
	c.nruns = 1;
	c.runs[0].time_to_connect_ms = 12.5;
	results_judge_cell(&c);
	assert_true(c.ttc_p50_ms == 12.5 && c.ttc_p95_ms == 12.5);
	assert_true(c.success_rate == 1.0);

	/* no direct run: -1 */
	c.runs[0].outcome = F;
	results_judge_cell(&c);
	assert_true(c.ttc_p50_ms < 0 && c.ttc_p95_ms < 0);
	assert_true(c.success_rate == 0);

	/* duplicates: p50 of {10,10,10,20} is 10 */
	c.nruns = 4;
	for (int i = 0; i < 4; i++) {
		c.runs[i].outcome = D;
		c.runs[i].time_to_connect_ms = i < 3 ? 10 : 20;
	}
	results_judge_cell(&c);
	assert_true(c.ttc_p50_ms == 10 && c.ttc_p95_ms == 20);

	/* no runs at all (an interrupted run): skipped, nothing else */
	c.nruns = 0;
	results_judge_cell(&c);
	assert_int_equal(c.outcome, S);
	assert_false(c.verdict.regression || c.verdict.flaky || c.verdict.error);
	free(c.runs);
}

static void test_outcome_names(void **state)
{
	enum cell_outcome o;

	(void)state;
	for (int i = 0; i < CELL_OUTCOME_COUNT; i++) {
		assert_int_equal(cell_outcome_parse(cell_outcome_name((enum cell_outcome)i), &o), 0);
		assert_int_equal(o, i);
	}
	assert_string_equal(cell_outcome_name(CELL_RELAYED), "relayed");
	assert_string_equal(cell_outcome_name(CELL_OUTCOME_COUNT), "?");
	assert_int_equal(cell_outcome_parse("Direct", &o), -EINVAL);
	assert_int_equal(cell_outcome_parse("", &o), -EINVAL);
	assert_int_equal(cell_outcome_parse(NULL, &o), -EINVAL);

	assert_true(cell_outcome_worse(F, D));
	assert_true(cell_outcome_worse(R, D));
	assert_true(cell_outcome_worse(F, R));
	assert_false(cell_outcome_worse(D, F));
	assert_false(cell_outcome_worse(D, D));
	assert_false(cell_outcome_worse(E, D));
	assert_false(cell_outcome_worse(F, S));
}

/* n cells with given representative outcomes and verdict flags, judged by hand. */
static void results_fill(struct results *r, const enum cell_outcome *outcomes, const bool *regress,
			 const bool *error, int n)
{
	memset(r, 0, sizeof(*r));
	r->cells = calloc((size_t)n, sizeof(*r->cells));
	assert_non_null(r->cells);
	r->ncells = n;
	for (int i = 0; i < n; i++) {
		r->cells[i].outcome = outcomes[i];
		r->cells[i].verdict.regression = regress[i];
		r->cells[i].verdict.error = error[i];
	}
}

static void test_exit_code_and_summary(void **state)
{
	struct results r;
	struct results_summary s;

	(void)state;
	{
		enum cell_outcome o[] = { D, F, R, S };
		bool reg[] = { false, false, false, false }, err[] = { false, false, false, false };
		results_fill(&r, o, reg, err, 4);
		r.cells[0].verdict.disagrees_claim = true; /* a finding: never the exit code */
		r.cells[1].verdict.disagrees_theory = true;
		r.cells[2].verdict.improvement = true;
		assert_int_equal(results_exit_code(&r), 0);
		results_summarize(&r, &s);
		assert_int_equal(s.cells, 4);
		assert_int_equal(s.direct, 1);
		assert_int_equal(s.failed, 1);
		assert_int_equal(s.relayed, 1);
		assert_int_equal(s.skipped, 1);
		assert_int_equal(s.disagree_claim, 1);
		assert_int_equal(s.disagree_theory, 1);
		assert_int_equal(s.improvements, 1);
		assert_int_equal(s.regressions, 0);
		results_free(&r);
		assert_null(r.cells);
		assert_int_equal(r.ncells, 0);
	}
	{
		enum cell_outcome o[] = { D, F };
		bool reg[] = { false, true }, err[] = { false, false };
		results_fill(&r, o, reg, err, 2);
		assert_int_equal(results_exit_code(&r), 1);
		results_free(&r);
	}
	{
		/* error beats regression */
		enum cell_outcome o[] = { F, E };
		bool reg[] = { true, false }, err[] = { false, true };
		results_fill(&r, o, reg, err, 2);
		assert_int_equal(results_exit_code(&r), 2);
		results_summarize(&r, &s);
		assert_int_equal(s.error, 1);
		assert_int_equal(s.regressions, 1);
		results_free(&r);
	}
	{
		/* one error run among direct ones: the cell is direct, the run still exits 2 */
		enum cell_outcome o[] = { D };
		bool reg[] = { false }, err[] = { true };
		results_fill(&r, o, reg, err, 1);
		assert_int_equal(results_exit_code(&r), 2);
		results_free(&r);
	}
	{
		/* incomplete (interrupted, a merge lacking shards) beats regression */
		enum cell_outcome o[] = { D, F };
		bool reg[] = { false, true }, err[] = { false, false };
		results_fill(&r, o, reg, err, 2);
		r.meta.incomplete = true;
		assert_int_equal(results_exit_code(&r), 2);
		results_free(&r);
	}
	{
		struct results empty = { 0 };
		assert_int_equal(results_exit_code(&empty), 0);
		results_free(&empty);
		results_free(NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge_table),
		cmocka_unit_test(test_rates_and_percentiles),
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_exit_code_and_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
