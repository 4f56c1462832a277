/* The documents' claims in the reports (issue 10): every claim that speaks of a cell is shown
 * with its strength and document, conflicting claims side by side, a disagreeing claim with its
 * explanation (or "NOT EXPLAINED"), a cell no document speaks of as `none`; matrix.json carries
 * every claim and reads back equal, and a merge re-judges them alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "matrix/results.h"
#include "matrix/results_json_read.h"
#include "matrix/results_merge.h"
#include "report/report.h"
#include "report_mem.h"

static void claim(struct cell_refs *r, const char *id, enum cell_outcome o, const char *strength,
		  double bound, const char *source, const char *quote, const char *why)
{
	struct cell_claim *c = &r->claims[r->nclaims++];

	*c = (struct cell_claim){ .outcome = o, .bound = bound, .p_value = 1 };
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->strength, sizeof(c->strength), "%s", strength);
	snprintf(c->source, sizeof(c->source), "%s", source);
	snprintf(c->quote, sizeof(c->quote), "%s", quote);
	snprintf(c->explanation, sizeof(c->explanation), "%s", why);
	r->has_claim = true;
	r->claim = r->claims[0].outcome;
	snprintf(r->claim_source, sizeof(r->claim_source), "%s", r->claims[0].source);
	snprintf(r->claim_quote, sizeof(r->claim_quote), "%s", r->claims[0].quote);
	r->claims_conflict |= o != r->claims[0].outcome;
}

static void cell(struct cell_result *c, const char *id, const char *a, const char *b,
		 const char *proto, enum cell_outcome measured, int nruns, enum cell_outcome theory)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->spec.id, sizeof(c->spec.id), "%s", id);
	snprintf(c->spec.topology, sizeof(c->spec.topology), "two-nats");
	snprintf(c->spec.profile_a, sizeof(c->spec.profile_a), "%s", a);
	snprintf(c->spec.profile_b, sizeof(c->spec.profile_b), "%s", b);
	snprintf(c->spec.proto, sizeof(c->spec.proto), "%s", proto);
	snprintf(c->spec.technique, sizeof(c->spec.technique), "%s", proto);
	snprintf(c->spec.engine, sizeof(c->spec.engine), "%s", CELL_DEFAULT_ENGINE);
	c->refs.theory = theory;
	c->refs.expected_allowed = 1u << theory;
	snprintf(c->refs.theory_why, sizeof(c->refs.theory_why), "because");
	c->runs = calloc((size_t)nruns, sizeof(*c->runs));
	assert_non_null(c->runs);
	c->nruns = nruns;
	for (int i = 0; i < nruns; i++) {
		c->runs[i].outcome = measured;
		c->runs[i].engine_said = measured;
		c->runs[i].time_to_connect_ms = -1;
	}
}

/* Two cells: one that two documents speak of, differently (one claim disagrees, explained; one
 * hedged claim agrees), and one no document speaks of (its theory disagrees, so it is listed). */
static void build(struct results *r)
{
	report_mem_results(r, 2);
	cell(&r->cells[0], "two-nats/tcp/tcp/port-restricted-cone~symmetric", "port-restricted-cone",
	     "symmetric", "tcp", CELL_FAILED, 1, CELL_FAILED);
	claim(&r->cells[0].refs, "art-symmetric", CELL_FAILED, "in-most-cases", 0.5, "The article",
	      "In the most cases not possible.", "");
	claim(&r->cells[0].refs, "wiki-one-predictable", CELL_DIRECT, "always", 1, "Wikipedia",
	      "YES: the connection will work all the time", "The matrix ignores filtering.");
	cell(&r->cells[1], "two-nats/udp/udp/symmetric~symmetric", "symmetric", "symmetric", "udp",
	     CELL_FAILED, 1, CELL_DIRECT);
	for (int i = 0; i < r->ncells; i++)
		results_judge_cell(&r->cells[i]);
}

static void test_verdicts(void **state)
{
	struct results r;

	(void)state;
	build(&r);
	assert_true(r.cells[0].verdict.disagrees_claim);
	assert_false(r.cells[0].refs.claims[0].disagrees); /* one failed run: agrees */
	assert_true(r.cells[0].refs.claims[1].disagrees);
	assert_true(r.cells[0].refs.claims_conflict);
	assert_false(r.cells[1].verdict.disagrees_claim);
	assert_false(r.cells[1].refs.has_claim);
	results_free(&r);
}

static void test_text_reports_show_every_claim(void **state)
{
	int (*const writers[])(const struct results *, FILE *) = {
		report_mem_terminal_plain, report_markdown_write, report_junit_write, report_mem_html_here,
	};
	static const char *const names[] = { "terminal", "markdown", "junit", "html" };
	struct results r;

	(void)state;
	build(&r);
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		char *out = report_mem(writers[i], &r);
		const char *needles[] = { "In the most cases not possible.", "in-most-cases",
					  "YES: the connection will work all the time", "always",
					  "The matrix ignores filtering.", "none" };

		for (size_t j = 0; j < sizeof(needles) / sizeof(needles[0]); j++)
			if (!strstr(out, needles[j]))
				fail_msg("%s report lacks \"%s\"", names[i], needles[j]);
		free(out);
	}
	/* an unexplained disagreement says so */
	r.cells[0].refs.claims[1].explanation[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		char *out = report_mem(writers[i], &r);
		assert_non_null(strstr(out, "NOT EXPLAINED"));
		free(out);
	}
	results_free(&r);
}

static void test_json_round_trip_and_rejudge(void **state)
{
	struct results r, back;
	struct diag_list dl = { .count = 0 };
	char path[] = "/tmp/punchlab-claims-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	build(&r);
	assert_int_equal(report_json_write(&r, f), 0);
	assert_int_equal(fclose(f), 0);
	if (results_json_read(path, &back, &dl) != 0) {
		diag_print(&dl, &(struct out){ stdout, stderr });
		fail();
	}
	unlink(path);
	assert_int_equal(back.ncells, 2);
	for (int i = 0; i < 2; i++) {
		const struct cell_refs *a = &r.cells[i].refs, *b = &back.cells[i].refs;

		assert_int_equal(a->nclaims, b->nclaims);
		assert_int_equal(a->claims_conflict, b->claims_conflict);
		assert_int_equal(a->has_claim, b->has_claim);
		for (int j = 0; j < a->nclaims; j++) {
			assert_string_equal(a->claims[j].id, b->claims[j].id);
			assert_int_equal(a->claims[j].outcome, b->claims[j].outcome);
			assert_string_equal(a->claims[j].strength, b->claims[j].strength);
			assert_true(a->claims[j].bound == b->claims[j].bound);
			assert_string_equal(a->claims[j].quote, b->claims[j].quote);
			assert_string_equal(a->claims[j].explanation, b->claims[j].explanation);
			assert_int_equal(a->claims[j].disagrees, b->claims[j].disagrees);
		}
		assert_true(results_cell_equal(&r.cells[i], &back.cells[i]));
		/* a merge judges the cells again from what it read: the same verdicts */
		results_judge_cell(&back.cells[i]);
		assert_int_equal(r.cells[i].verdict.disagrees_claim,
				 back.cells[i].verdict.disagrees_claim);
	}
	results_free(&back);
	results_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_text_reports_show_every_claim),
		cmocka_unit_test(test_json_round_trip_and_rejudge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
