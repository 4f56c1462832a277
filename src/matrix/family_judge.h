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
