/* Judging the address family a dual cell's path took (docs/matrix.md "Which family the path
 * took"). The theory names the families a direct path may take (refs.expected_families); the
 * lab's attestation names the family of the flows it saw (run_attestation.family); the engine
 * says which family it kept (cell_run.family_used). Pure code over results, unit-tested
 * (tests/unit/test_family_judge.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "matrix/results.h"

/* A direct run whose engine names one family and whose attested flows are of the other is
 * disputed, as a run whose engine says direct without direct evidence is: its outcome becomes
 * CELL_DISPUTED with phase "attestation" and a reason naming both. Returns whether it did. */
bool family_judge_run(struct cell_run *run);

/* A dual cell's family verdict: counts its direct runs with an attested family and those
 * outside refs.expected_families; any outside is a regression (verdict.family_wrong,
 * verdict.regression, never an improvement). A cell without an expected set is left alone.
 * Call after the outcome verdict (results_judge_cell does). */
void family_judge_cell(struct cell_result *c);

/* "4", "6", "4 or 6"; "" for the empty set. */
const char *family_set_name(unsigned set);

/* Parse family_set_name()'s text back ("" gives 0). Returns 0, or -1 for anything else. */
int family_set_parse(const char *s, unsigned *set);

/* One sentence for the reports about a cell whose family is wrong ("direct over IPv4 in 1 of 1
 * direct runs; the theory expects IPv6 only: ..."); "" when it is not. */
void family_finding(const struct cell_result *c, char *buf, size_t len);

/* The grid's mark of a direct cell's family: "D6", "D4", "D4/6" (runs took both), or "D" when
 * no run's family was attested or the cell is no dual cell. */
const char *family_mark(const struct cell_result *c);
