#include <math.h>

#include "matrix/rate.h"

double rate_binom_cdf(int k, int n, double p)
{
	double sum = 0, term;

	if (k < 0)
		return 0;
	if (k >= n)
		return 1;
	if (p <= 0)
		return 1;
	if (p >= 1)
		return 0;
	/* term(i) = C(n, i) p^i (1-p)^(n-i), built up from i = 0 in logs: n is at most a few
	 * hundred, so this is exact enough and needs no tables */
	for (int i = 0; i <= k; i++) {
		term = lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) + i * log(p) +
		       (n - i) * log1p(-p);
		sum += exp(term);
	}
	return sum > 1 ? 1 : sum;
}

double rate_expected(int direct, int runs)
{
	double lo = 0, hi = 1;

	if (runs <= 0 || direct <= 0 || direct > runs)
		return 0;
	/* the p at which `direct` or more successes have probability 1 - RATE_CONFIDENCE:
	 * P(X >= direct | runs, p) grows with p, so bisect (60 halvings: far below any rate's
	 * meaning) */
	for (int i = 0; i < 60; i++) {
		double mid = (lo + hi) / 2;
		if (1 - rate_binom_cdf(direct - 1, runs, mid) < 1 - RATE_CONFIDENCE)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The largest k that the test rejects at n runs (-1: none). */
static int critical_successes(int n, double p)
{
	int k = -1;

	while (k + 1 <= n && rate_binom_cdf(k + 1, n, p) <= RATE_ALPHA)
		k++;
	return k;
}

int rate_runs_needed(double p, int max_runs)
{
	if (!(p > 0 && p < 1))
		return -1;
	for (int n = 1; n <= max_runs; n++) {
		int k = critical_successes(n, p);
		if (k >= 0 && rate_binom_cdf(k, n, p / 2) >= RATE_POWER)
			return n;
	}
	return -1;
}

bool rate_too_low(int successes, int runs, double p, double *p_value)
{
	double pv = rate_binom_cdf(successes, runs, p);

	if (p_value)
		*p_value = pv;
	return runs > 0 && pv <= RATE_ALPHA;
}
