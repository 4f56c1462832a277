/* Judging the family a dual cell's path took (src/matrix/family_judge.c, docs/matrix.md "Which
 * family the path took"): the theory's expected set, a wrong family flagged as a regression, an
 * engine whose family the lab's flows contradict disputed, and the family carried by matrix.json
 * (round trip) and shown by every report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/out.h"
#include "config.h"
#include "matrix/family_judge.h"
#include "matrix/results_json_read.h"
#include "matrix/results_merge.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "report/report.h"
#include "report_mem.h"
#include "shipped.h"

/* The set for a dual udp cell: v4 profile on both NATs, v6 companion on both. */
static unsigned dual_set(const char *v4, const char *v6)
{
	struct profile_header a, s;
	struct theory t;
	struct theory_input in = { .a = &a, .b = &a, .layout = LAYOUT_TWO_NATS,
				   .technique = "udp" };
	struct theory_input in6 = in;

	shipped_profile_load(v4, &a);
	shipped_profile_load(v6, &s);
	in6.a = in6.b = &s;
	theory_predict_dual(&in, &in6, &t);
	assert_string_equal(family_set_name(t.families), t.family); /* the field says the text */
	return t.families;
}

static void test_theory_sets(void **state)
{
	struct profile_header a;
	struct theory t;
	struct theory_input in = { .a = &a, .b = &a, .layout = LAYOUT_TWO_NATS,
				   .technique = "udp" };

	(void)state;
	/* IPv4 symmetric x symmetric cannot go direct, the IPv6 firewalls can: only IPv6 */
	assert_int_equal(dual_set("symmetric", "ipv6-firewall"), FAMILY_BIT(6));
	/* both families direct: the race may end on either */
	assert_int_equal(dual_set("full-cone", "ipv6-firewall"), FAMILY_BIT(4) | FAMILY_BIT(6));
	/* IPv6 blocked (its header says no UDP at all): only IPv4 */
	assert_int_equal(dual_set("full-cone", "udp-blocked"), FAMILY_BIT(4));
	/* neither direct: no family is expected of a path that is not direct */
	assert_int_equal(dual_set("symmetric", "udp-blocked"), FAMILY_BIT(4) | FAMILY_BIT(6));
	/* a one-family cell has no set */
	shipped_profile_load("symmetric", &a);
	theory_predict(&in, &t);
	assert_int_equal(t.families, 0);
}

static void test_set_names(void **state)
{
	unsigned s = 99;

	(void)state;
	assert_string_equal(family_set_name(FAMILY_BIT(6)), "6");
	assert_string_equal(family_set_name(FAMILY_BIT(4)), "4");
	assert_string_equal(family_set_name(FAMILY_BIT(4) | FAMILY_BIT(6)), "4 or 6");
	assert_int_equal(family_set_parse("4 or 6", &s), 0);
	assert_int_equal(s, 3);
	assert_int_equal(family_set_parse("6", &s), 0);
	assert_int_equal(s, FAMILY_BIT(6));
	assert_int_equal(family_set_parse("dual", &s), -1);
	assert_int_equal(family_set_parse("6 or 4", &s), -1);
}

/* A dual cell, runs direct (unless outcome says), attested families as given. */
static void dual_cell(struct cell_result *c, unsigned expected, const int *fams, int n)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->spec.id, sizeof(c->spec.id), "two-nats/udp/udp/symmetric~symmetric/family=dual");
	snprintf(c->spec.topology, sizeof(c->spec.topology), "two-nats");
	snprintf(c->spec.profile_a, sizeof(c->spec.profile_a), "symmetric");
	snprintf(c->spec.profile_b, sizeof(c->spec.profile_b), "symmetric");
	snprintf(c->spec.proto, sizeof(c->spec.proto), "udp");
	snprintf(c->spec.technique, sizeof(c->spec.technique), "udp");
	snprintf(c->spec.engine, sizeof(c->spec.engine), "punch");
	c->spec.family = CELL_FAMILY_DUAL;
	c->refs.theory = CELL_DIRECT;
	c->refs.expected_allowed = 1u << CELL_DIRECT;
	c->refs.expected_families = expected;
	c->nruns = n;
	c->runs = calloc((size_t)n, sizeof(*c->runs));
	assert_non_null(c->runs);
	for (int i = 0; i < n; i++) {
		struct cell_run *run = &c->runs[i];

		run->outcome = run->engine_said = CELL_DIRECT;
		run->family_used = fams[i];
		run->time_to_connect_ms = run->ttfb_ms = run->time_to_direct_ms = 100 + i;
		run->attestation.verdict = ATTEST_DIRECT;
		run->attestation.family = fams[i];
		snprintf(run->attestation.summary, sizeof(run->attestation.summary),
			 "nat-a: two-way udp flow");
	}
}

static void test_wrong_family_flagged(void **state)
{
	struct cell_result c;
	struct results r = { .cells = &c, .ncells = 1 };
	char text[300];
	const int four[] = { 4 }, six[] = { 6 }, mixed[] = { 6, 4, 6 };

	(void)state;
	/* expected {6}, attested 4: a regression naming the family */
	dual_cell(&c, FAMILY_BIT(6), four, 1);
	results_judge_cell(&c);
	assert_int_equal(c.outcome, CELL_DIRECT);
	assert_true(c.verdict.family_wrong);
	assert_true(c.verdict.regression);
	assert_false(c.verdict.improvement);
	assert_int_equal(c.verdict.family_judged, 1);
	assert_int_equal(c.verdict.family_outside, 1);
	assert_int_equal(results_exit_code(&r), 1);
	family_finding(&c, text, sizeof(text));
	assert_string_equal(text, "direct over IPv4 in 1 of 1 direct runs with an attested "
			    "family; the theory expects IPv6 only");
	assert_string_equal(family_mark(&c), "D4");
	free(c.runs);

	/* expected {6}, attested 6: fine */
	dual_cell(&c, FAMILY_BIT(6), six, 1);
	results_judge_cell(&c);
	assert_false(c.verdict.family_wrong);
	assert_false(c.verdict.regression);
	assert_int_equal(results_exit_code(&r), 0);
	assert_string_equal(family_mark(&c), "D6");
	free(c.runs);

	/* expected {4,6}: either family, and both across runs, are fine */
	dual_cell(&c, FAMILY_BIT(4) | FAMILY_BIT(6), four, 1);
	results_judge_cell(&c);
	assert_false(c.verdict.family_wrong || c.verdict.regression);
	free(c.runs);
	dual_cell(&c, FAMILY_BIT(4) | FAMILY_BIT(6), mixed, 3);
	results_judge_cell(&c);
	assert_false(c.verdict.family_wrong || c.verdict.regression);
	assert_int_equal(c.verdict.family_judged, 3);
	assert_string_equal(family_mark(&c), "D4/6");
	free(c.runs);

	/* several runs: one outside the set fails the cell (no majority votes) */
	dual_cell(&c, FAMILY_BIT(6), mixed, 3);
	results_judge_cell(&c);
	assert_true(c.verdict.family_wrong && c.verdict.regression);
	assert_int_equal(c.verdict.family_judged, 3);
	assert_int_equal(c.verdict.family_outside, 1);
	free(c.runs);

	/* expected {4}, attested 6: wrong too (families have no order) */
	dual_cell(&c, FAMILY_BIT(4), six, 1);
	results_judge_cell(&c);
	assert_true(c.verdict.family_wrong && c.verdict.regression);
	free(c.runs);

	/* a relayed run's family is not judged, nor a cell without an expected set */
	dual_cell(&c, FAMILY_BIT(6), four, 1);
	c.runs[0].outcome = c.runs[0].engine_said = CELL_RELAYED;
	c.refs.expected_allowed |= 1u << CELL_RELAYED;
	results_judge_cell(&c);
	assert_false(c.verdict.family_wrong);
	assert_int_equal(c.verdict.family_judged, 0);
	free(c.runs);
	dual_cell(&c, 0, four, 1);
	results_judge_cell(&c);
	assert_false(c.verdict.family_wrong || c.verdict.regression);
	free(c.runs);
}

static void test_engine_family_disputed(void **state)
{
	struct cell_result c;
	const int six[] = { 6 };

	(void)state;
	/* the engine says IPv6, the lab's direct flows are IPv4: disputed */
	dual_cell(&c, FAMILY_BIT(4) | FAMILY_BIT(6), six, 1);
	c.runs[0].attestation.family = 4;
	assert_true(family_judge_run(&c.runs[0]));
	assert_int_equal(c.runs[0].outcome, CELL_DISPUTED);
	assert_string_equal(c.runs[0].phase, "attestation");
	assert_non_null(strstr(c.runs[0].reason, "the engine says its direct path is IPv6, but "
					      "the lab's direct flows are IPv4"));
	results_judge_cell(&c);
	assert_true(c.verdict.disputed && c.verdict.regression);

	/* agreement, an engine that names no family, a lab that saw no single family: kept */
	c.runs[0].outcome = CELL_DIRECT;
	c.runs[0].attestation.family = 6;
	assert_false(family_judge_run(&c.runs[0]));
	c.runs[0].family_used = 0;
	c.runs[0].attestation.family = 4;
	assert_false(family_judge_run(&c.runs[0]));
	c.runs[0].family_used = 6;
	c.runs[0].attestation.family = 0;
	assert_false(family_judge_run(&c.runs[0]));
	/* only a direct run's family is the path's */
	c.runs[0].outcome = CELL_RELAYED;
	c.runs[0].attestation.family = 4;
	assert_false(family_judge_run(&c.runs[0]));
	assert_int_equal(c.runs[0].outcome, CELL_RELAYED);
	free(c.runs);
}

static void test_reports_and_json(void **state)
{
	struct results r, back;
	const int four[] = { 4 };
	char *s;

	(void)state;
	report_mem_results(&r, 1);
	dual_cell(&r.cells[0], FAMILY_BIT(6), four, 1);
	results_judge_cell(&r.cells[0]);

	s = report_mem(report_json_write, &r);
	assert_non_null(strstr(s, "\"families\": \"6\""));
	assert_non_null(strstr(s, "\"family_wrong\": true"));
	free(s);
	s = report_mem(report_mem_terminal_plain, &r);
	assert_non_null(strstr(s, "D4!"));
	assert_non_null(strstr(s, "WRONG FAMILY: direct over IPv4"));
	free(s);
	s = report_mem(report_junit_write, &r);
	assert_non_null(strstr(s, "<failure type=\"family\""));
	assert_non_null(strstr(s, "the theory expects IPv6 only"));
	free(s);
	s = report_mem(report_markdown_write, &r);
	assert_non_null(strstr(s, " D4"));
	assert_non_null(strstr(s, "WRONG FAMILY"));
	free(s);
	s = report_mem(report_mem_html_nodir, &r);
	assert_non_null(strstr(s, "D4</text>"));
	assert_non_null(strstr(s, "WRONG FAMILY"));
	free(s);

	/* matrix.json carries the expected and the attested family, and the verdict */
	report_mem_json_back(&r, &back);
	assert_int_equal(back.ncells, 1);
	assert_int_equal(back.cells[0].refs.expected_families, FAMILY_BIT(6));
	assert_int_equal(back.cells[0].runs[0].attestation.family, 4);
	assert_true(back.cells[0].verdict.family_wrong);
	assert_true(results_cell_equal(&r.cells[0], &back.cells[0]));
	results_free(&back);
	results_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_theory_sets),
		cmocka_unit_test(test_set_names),
		cmocka_unit_test(test_wrong_family_flagged),
		cmocka_unit_test(test_engine_family_disputed),
		cmocka_unit_test(test_reports_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
