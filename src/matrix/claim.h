/* The documents' claims against what a cell measured: a claim disagrees only with runs that
 * contradict it as worded. "always" (or "all the time") is contradicted by one run with another
 * outcome; a hedge ("in the most cases", "almost never", "if you are lucky") only by a share of
 * runs significantly below what it promises (the one-sided binomial test of src/matrix/rate.h),
 * so one outcome never contradicts it. Format of claims: docs/expectations-format.md. Pure code. */
#pragma once
#include <stdbool.h>

#include "matrix/results.h"

/* The share of runs a strength promises for the claimed outcome (1 for "always"); returns 0, or
 * -EINVAL for an unknown strength. */
int claim_strength_bound(const char *strength, double *bound);

/* The strengths, for error messages: "always, almost-always, ...". */
const char *claim_strength_names(void);

/* Judge every claim of refs against the runs' outcome counts (indexed by enum cell_outcome);
 * `representative` is the cell's outcome (used for a claim read from an old file, which has no
 * strength). Sets each claim's disagrees and p_value; returns whether any claim disagrees. */
bool claims_judge(struct cell_refs *refs, const int count[CELL_OUTCOME_COUNT],
		  enum cell_outcome representative);
