/* Success rates as the unit of truth (issue 9, BRIEF.md "outcome"): a timing-dependent or
 * probabilistic cell is judged by a one-sided exact binomial test. H0: the engine's true success
 * rate is at least the expected rate p; the cell fails when P(X <= successes | runs, p) <=
 * RATE_ALPHA. The number of runs is chosen per cell so that a true rate of p / 2 is caught with
 * probability >= RATE_POWER: the test can fail, and a halved rate does not hide in the noise.
 * Pure code. */
#pragma once
#include <stdbool.h>

#define RATE_ALPHA 0.01     /* false alarm rate of one cell's test */
#define RATE_POWER 0.90     /* chance to catch a rate halved */
#define RATE_MAX_RUNS 40    /* the regression suite's budget per cell; rates needing more must
			     * be raised in the engine (rate_runs_needed returns -1) */

/* P(X <= k) for X ~ Binomial(n, p); 0 for k < 0, 1 for k >= n. */
double rate_binom_cdf(int k, int n, double p);

#define RATE_CONFIDENCE 0.95 /* how sure the expected rate is, given its measurement */

/* The expected rate from a measurement of `direct` successes in `runs` runs: the lower bound of
 * the one-sided RATE_CONFIDENCE Clopper-Pearson interval, the highest rate the measurement
 * shows with that confidence. So 30 of 30 claims 0.905, 480 of 480 0.9938: a measurement never
 * claims certainty, and many matrix runs over many rate cells do not fail CI on the noise of
 * the measurement itself. 0 when direct is 0. */
double rate_expected(int direct, int runs);

/* The smallest number of runs (<= max_runs) for which the test at RATE_ALPHA catches a true rate
 * of p / 2 with probability >= RATE_POWER; -1 when none is within max_runs. */
int rate_runs_needed(double p, int max_runs);

/* The test: true when `successes` of `runs` is significantly below p; *p_value gets
 * P(X <= successes | runs, p). */
bool rate_too_low(int successes, int runs, double p, double *p_value);
