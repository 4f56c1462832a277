/* Unit tests of the results model (src/matrix/results.c): the representative outcome of
 * repeated runs, success rates and percentiles, the verdicts against the documents' claim,
 * the theory, the expected outcomes and a baseline (BRIEF.md "Words"), and the exit code.
 * One table row per judging case. Then cell identity in the model's readers and writers: grid
 * rows and columns in one profile order (also after a merge of shards), profile labels from
 * the headers' names, rerun commands, and ids read back from matrix.json (also older ones). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "matrix/cell.h"
#include "matrix/results.h"
#include "matrix/results_json_read.h"
#include "matrix/results_merge.h"
#include "report/report.h"
#include "report/report_internal.h"

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
#define P30 (31.0 / 32)  /* an expected rate of 0.969: tested over 9 runs, fails at <= 6 direct */

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

	/* first byte: over direct and relayed runs that say (not failed ones, not -1) */
	for (int i = 0; i < 12; i++)
		c.runs[i].ttfb_ms = i < 10 ? ttc[i] / 10 : 0.1;
	c.runs[11].ttfb_ms = 7;       /* relayed: counts */
	c.runs[10].ttfb_ms = 0.1;     /* failed: must not count */
	c.runs[0].ttfb_ms = -1;       /* the engine did not say: must not count */
	results_judge_cell(&c);
	/* {1,4,2,3,9,8,7,6,10} and the relayed 7: ten values, p50 = 5th smallest, p95 = 10th */
	assert_true(c.ttfb_p50_ms == 6);
	assert_true(c.ttfb_p95_ms == 10);
	assert_true(c.ttc_p50_ms == 50); /* unchanged: time to connect is the direct runs' */
	for (int i = 0; i < 12; i++)
		c.runs[i].ttfb_ms = -1;
	results_judge_cell(&c);
	assert_true(c.ttfb_p50_ms < 0 && c.ttfb_p95_ms < 0);

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

/* Results holding the given specs, one direct run each. */
static void results_of(struct results *r, const struct cell_spec *specs, int n)
{
	memset(r, 0, sizeof(*r));
	r->meta.schema_version = RESULTS_SCHEMA_VERSION;
	r->meta.stagger_ms = 20;
	r->meta.repeat = 1;
	r->cells = calloc((size_t)n, sizeof(*r->cells));
	assert_non_null(r->cells);
	for (int i = 0; i < n; i++) {
		struct cell_result *c = &r->cells[i];
		c->spec = specs[i];
		c->runs = calloc(1, sizeof(*c->runs));
		assert_non_null(c->runs);
		c->nruns = 1;
		c->runs[0].outcome = D;
		c->runs[0].time_to_connect_ms = 1;
		c->refs.theory = D;
		c->refs.expected_allowed = SET(D);
		results_judge_cell(c);
	}
	r->ncells = n;
}

static const char *const three[] = { "full-cone", "restricted-cone", "symmetric" };

/* The 9 udp cells of three profiles as `merge` joins shards 1/2 and 2/2: cells 0, 2, 4, 6, 8
 * then 1, 3, 5, 7 of the enumeration. */
static void merged_shards(struct results *r, bool with_meta_profiles)
{
	struct matrix_dims d = { .b_has_nat = true, .udp = true };
	struct cell_spec *cells, shuffled[9];
	int n, k = 0;

	snprintf(d.topology, sizeof(d.topology), "two-nats");
	for (int i = 0; i < 3; i++)
		d.profiles[d.nprofiles++] = three[i];
	d.techniques[d.ntechniques++] = "plain";
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 9);
	for (int shard = 0; shard < 2; shard++)
		for (int i = 0; i < n; i++)
			if (i % 2 == shard)
				shuffled[k++] = cells[i];
	free(cells);
	results_of(r, shuffled, 9);
	if (with_meta_profiles) {
		r->meta.profiles = calloc(3, sizeof(*r->meta.profiles));
		assert_non_null(r->meta.profiles);
		for (int i = 0; i < 3; i++)
			snprintf(r->meta.profiles[r->meta.nprofiles++].name, CELL_REF_MAX, "%s", three[i]);
	}
}

/* merge ordered the columns by B's first appearance and the rows by A's: after a merge of
 * shards they differed, and the diagonal was no longer "the same profile on both sides". */
static void test_grid_rows_and_columns_one_order(void **state)
{
	(void)state;
	for (int with_meta = 0; with_meta < 2; with_meta++) {
		struct results r;
		struct report_groups gs;
		char *text = NULL;
		size_t len = 0;
		FILE *f;

		merged_shards(&r, with_meta);
		assert_int_equal(report_groups_build(&r, &gs), 0);
		assert_int_equal(gs.n, 1);
		assert_int_equal(gs.g[0].nrows, 3);
		assert_int_equal(gs.g[0].ncols, 3);
		for (int i = 0; i < 3; i++) {
			const struct cell_result *c = report_group_cell(&r, &gs.g[0], i, i);
			assert_string_equal(gs.g[0].rows[i], gs.g[0].cols[i]);
			assert_non_null(c);
			assert_string_equal(c->spec.profile_a, c->spec.profile_b);
			/* meta.profiles (the run's --profiles order) restores the enumeration's */
			if (with_meta)
				assert_string_equal(gs.g[0].rows[i], three[i]);
		}
		report_groups_free(&gs);
		/* and so in what the terminal shows (the HTML and markdown use the same groups) */
		f = open_memstream(&text, &len);
		assert_non_null(f);
		assert_int_equal(report_terminal_write(&r, f, false), 0);
		fclose(f);
		if (with_meta &&
		    (!strstr(text, "FC    RC    SYM\n  full-cone  ") ||
		     !strstr(text, "\n  restricted-cone  ") || !strstr(text, "\n  symmetric  "))) {
			print_error("%s", text);
			fail();
		}
		free(text);
		results_free(&r);
	}
}

static struct cell_spec spec_make(const char *a, const char *a_name, const char *b,
				  const char *b_name)
{
	struct cell_spec c = { .proto = "udp", .technique = "udp" };

	snprintf(c.topology, sizeof(c.topology), "two-nats");
	snprintf(c.engine, sizeof(c.engine), CELL_DEFAULT_ENGINE);
	snprintf(c.profile_a, sizeof(c.profile_a), "%s", a);
	snprintf(c.profile_a_name, sizeof(c.profile_a_name), "%s", a_name);
	snprintf(c.profile_b, sizeof(c.profile_b), "%s", b);
	snprintf(c.profile_b_name, sizeof(c.profile_b_name), "%s", b_name);
	assert_int_equal(cell_spec_set_id(&c), 0);
	return c;
}

/* A profile given as a path is labelled by its header's name (not "/tmp/x/homebox.nft", "/TM");
 * two profiles with one name stay apart by their path. */
static void test_grid_labels_from_header_names(void **state)
{
	struct cell_spec specs[] = {
		spec_make("/tmp/x/homebox.nft", "homebox", "port-restricted-cone",
			  "port-restricted-cone"),
		spec_make("./prc copy.nft", "port-restricted-cone", "/tmp/x/homebox.nft", "homebox"),
	};
	struct results r;
	struct report_groups gs;

	(void)state;
	results_of(&r, specs, 2);
	assert_int_equal(report_groups_build(&r, &gs), 0);
	assert_int_equal(gs.nnames, 3);
	assert_string_equal(gs.refs[0], "/tmp/x/homebox.nft");
	assert_string_equal(gs.names[0], "homebox");
	assert_string_equal(gs.abbrevs[0], "HOM");
	assert_string_equal(gs.names[1], "port-restricted-cone");
	assert_string_equal(gs.abbrevs[1], "PRC");
	assert_string_equal(gs.names[2], "port-restricted-cone (./prc copy.nft)");
	assert_string_equal(gs.abbrevs[2], "PRC2");
	assert_string_equal(report_abbrev(&gs, gs.g[0].cols[0]), "HOM");
	assert_string_equal(report_abbrev(&gs, gs.g[0].cols[1]), "PRC");
	report_groups_free(&gs);
	results_free(&r);
}

/* The rerun command repeats every option that shaped the cell, quoted for a shell. */
static void test_rerun_command_repeats_the_options(void **state)
{
	struct cell_spec spec = spec_make("/tmp/x.nft", "x", "full-cone", "full-cone");
	struct results r;
	char cmd[REPORT_RERUN_MAX];

	(void)state;
	results_of(&r, &spec, 1);
	report_rerun_command(&r, &r.cells[0], cmd, sizeof(cmd));
	assert_string_equal(cmd, "sudo build/punchlab matrix --cell "
			    "two-nats/udp/udp/%2Ftmp%2Fx.nft~full-cone");
	snprintf(r.meta.engine_binary, sizeof(r.meta.engine_binary), "/opt/it's mine/punch");
	snprintf(r.meta.expectations, sizeof(r.meta.expectations), "ci/exp.yaml");
	snprintf(r.meta.baseline, sizeof(r.meta.baseline), "~base.json");
	snprintf(r.meta.topology_path, sizeof(r.meta.topology_path), "/tmp/my t.yaml");
	r.meta.stagger_ms = 35;
	r.meta.repeat = 3;
	report_rerun_command(&r, &r.cells[0], cmd, sizeof(cmd));
	assert_string_equal(cmd, "sudo build/punchlab matrix --cell "
			    "two-nats/udp/udp/%2Ftmp%2Fx.nft~full-cone --topology '/tmp/my t.yaml' "
			    "--engine-binary "
			    "'/opt/it'\\''s mine/punch' --stagger 35 --repeat 3 --expectations ci/exp.yaml "
			    "--baseline '~base.json'");
	results_free(&r);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* matrix.json keeps a cell's identity: written and read back, every field; an id from before
 * ids were encoded (a raw path) or before the engine dimension reads as today's id of that
 * cell; an id naming another cell than its coordinates is an error. */
static void test_json_cell_identity(void **state)
{
	struct cell_spec specs[] = {
		spec_make("/tmp/my dir/a~b.nft", "homebox", "full-cone", "full-cone"),
		spec_make("full-cone", "full-cone", "", ""),
	};
	char dir[] = "/tmp/punchlab-test-results.XXXXXX", path[128];
	struct results r, back;
	struct diag_list dl = { .count = 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(specs[1].engine, sizeof(specs[1].engine), "nebula");
	snprintf(specs[1].engine_b, sizeof(specs[1].engine_b), "/opt/x~y");
	snprintf(specs[1].events, sizeof(specs[1].events), "nat-a reboot@2s for 2s");
	specs[1].port = 443; /* port=443: read back from the id */
	assert_int_equal(cell_spec_set_id(&specs[1]), 0);
	assert_non_null(strstr(specs[1].id, "/port=443"));
	results_of(&r, specs, 2);
	{
		/* a run with NAT events: its steps and the engine's recovery round-trip */
		struct run_recovery *rc = &r.cells[1].runs[0].recovery;
		rc->nevents = 2;
		snprintf(rc->events[0].event, sizeof(rc->events[0].event), "nat-a reboot@2s for 2s");
		rc->events[0].planned_ms = 2000;
		rc->events[0].actual_ms = 2001.5;
		snprintf(rc->events[0].detail, sizeof(rc->events[0].detail), "off | \"quoted\"");
		rc->events[1] = rc->events[0];
		rc->events[1].second_half = true;
		rc->events[1].planned_ms = 4000;
		rc->events[1].actual_ms = -1; /* not reached */
		rc->events[1].failed = true;
		rc->path_lost = rc->recovered = true;
		snprintf(rc->via, sizeof(rc->via), "relay");
		rc->detect_ms = 812.25;
		rc->recovery_ms = 40.5;
	}
	snprintf(path, sizeof(path), "%s/m.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(report_json_write(&r, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(results_json_read(path, &back, &dl), 0);
	assert_int_equal(back.ncells, 2);
	for (int i = 0; i < 2; i++)
		assert_memory_equal(&back.cells[i].spec, &specs[i], sizeof(specs[i]));
	{
		const struct run_recovery *a = &r.cells[1].runs[0].recovery,
					  *b = &back.cells[1].runs[0].recovery;
		assert_int_equal(b->nevents, 2);
		for (int e = 0; e < 2; e++) {
			assert_string_equal(b->events[e].event, a->events[e].event);
			assert_int_equal(b->events[e].second_half, a->events[e].second_half);
			assert_int_equal(b->events[e].planned_ms, a->events[e].planned_ms);
			assert_true(b->events[e].actual_ms == a->events[e].actual_ms);
			assert_int_equal(b->events[e].failed, a->events[e].failed);
			assert_string_equal(b->events[e].detail, a->events[e].detail);
		}
		assert_true(b->path_lost && b->recovered);
		assert_string_equal(b->via, "relay");
		assert_true(b->detect_ms == 812.25 && b->recovery_ms == 40.5);
		/* a cell without events has none */
		assert_int_equal(back.cells[0].runs[0].recovery.nevents, 0);
	}
	results_free(&back);
	results_free(&r);

	write_text(path, "{\"schema_version\": 1, \"cells\": [{\"id\": "
		   "\"two-nats/tcp/tcp//tmp/x/homebox.nft~/tmp/x/homebox.nft\", \"topology\": "
		   "\"two-nats\", \"profile_a\": \"/tmp/x/homebox.nft\", \"profile_b\": "
		   "\"/tmp/x/homebox.nft\", \"proto\": \"tcp\", \"technique\": \"tcp\", \"outcome\": "
		   "\"direct\", \"runs\": []}]}");
	assert_int_equal(results_json_read(path, &back, &dl), 0);
	assert_string_equal(back.cells[0].spec.id,
			    "two-nats/tcp/tcp/%2Ftmp%2Fx%2Fhomebox.nft~%2Ftmp%2Fx%2Fhomebox.nft");
	assert_string_equal(back.cells[0].spec.engine, "punch");
	results_free(&back);

	write_text(path, "{\"schema_version\": 1, \"cells\": [{\"id\": \"two-nats/udp/udp/a~c\", "
		   "\"topology\": \"two-nats\", \"profile_a\": \"a\", \"profile_b\": \"b\", \"proto\": "
		   "\"udp\", \"technique\": \"udp\", \"outcome\": \"direct\", \"runs\": []}]}");
	assert_int_equal(results_json_read(path, &back, &dl), -EINVAL);
	assert_true(dl.count > 0);
	assert_non_null(strstr(dl.items[0].msg, "names another cell"));
	unlink(path);
	rmdir(dir);
}

/* Shards run with another --stagger are not one matrix: the merged rerun commands would lie. */
static void test_merge_refuses_another_stagger(void **state)
{
	struct cell_spec a = spec_make("full-cone", "full-cone", "symmetric", "symmetric");
	struct cell_spec b = spec_make("symmetric", "symmetric", "full-cone", "full-cone");
	struct results ra, rb, merged = { 0 };
	struct diag_list dl = { .count = 0 };

	(void)state;
	results_of(&ra, &a, 1);
	results_of(&rb, &b, 1);
	rb.meta.stagger_ms = 50;
	assert_int_equal(results_merge(&merged, &ra, "s1", &dl), 0);
	assert_int_equal(results_merge(&merged, &rb, "s2", &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "--stagger 50 ms"));
	assert_int_equal(merged.ncells, 1);
	rb.meta.stagger_ms = 20;
	dl.count = 0;
	assert_int_equal(results_merge(&merged, &rb, "s2", &dl), 0);
	assert_int_equal(merged.ncells, 2);
	results_free(&merged);
	results_free(&ra);
	results_free(&rb);

	/* one input holding one id twice with different results (`--cell X --cell X` once ran
	 * the cell twice): said as such, not as overlapping shards */
	struct cell_spec twice[] = { a, a };
	struct results rt, m2 = { 0 };
	results_of(&rt, twice, 2);
	rt.cells[1].runs[0].outcome = F;
	results_judge_cell(&rt.cells[1]);
	dl.count = 0;
	assert_int_equal(results_merge(&m2, &rt, "s1", &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "in this input twice"));
	results_free(&m2);
	results_free(&rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge_table),
		cmocka_unit_test(test_rates_and_percentiles),
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_exit_code_and_summary),
		cmocka_unit_test(test_grid_rows_and_columns_one_order),
		cmocka_unit_test(test_grid_labels_from_header_names),
		cmocka_unit_test(test_rerun_command_repeats_the_options),
		cmocka_unit_test(test_json_cell_identity),
		cmocka_unit_test(test_merge_refuses_another_stagger),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
