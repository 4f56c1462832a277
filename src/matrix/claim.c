/* Judging the documents' claims (claim.h). The bounds are our reading of the documents' words,
 * a modelling choice written down here once: "always" means every run; "almost always" (Wikipedia's
 * "will almost never work", read as failed) nine runs in ten; "in most cases", "usually" and
 * "should" more than half; "sometimes", "not guaranteed", "if lucky" and "possible" one run in
 * ten. A hedge disagrees when P(X <= k | n, bound) <= RATE_ALPHA, X the runs with the claimed
 * outcome: a single run (P >= 0.1 for every bound below 1) never does. */
#include "matrix/claim.h"

#include <errno.h>
#include <string.h>

#include "matrix/rate.h"

static const struct {
	const char *name;
	double bound;
} strengths[] = {
	{ "always", 1.0 },
	{ "almost-always", 0.9 },
	{ "in-most-cases", 0.5 },
	{ "usually", 0.5 },
	{ "should", 0.5 },
	{ "sometimes", 0.1 },
	{ "not-guaranteed", 0.1 },
	{ "if-lucky", 0.1 },
	{ "possible", 0.1 },
};

#define NSTRENGTHS (sizeof(strengths) / sizeof(strengths[0]))

int claim_strength_bound(const char *strength, double *bound)
{
	for (size_t i = 0; strength && i < NSTRENGTHS; i++)
		if (strcmp(strength, strengths[i].name) == 0) {
			*bound = strengths[i].bound;
			return 0;
		}
	return -EINVAL;
}

const char *claim_strength_names(void)
{
	return "always, almost-always, in-most-cases, usually, should, sometimes, not-guaranteed, "
	       "if-lucky or possible";
}

static bool nat_outcome(enum cell_outcome o)
{
	return o == CELL_DIRECT || o == CELL_RELAYED || o == CELL_FAILED || o == CELL_DISPUTED;
}

bool claims_judge(struct cell_refs *refs, const int count[CELL_OUTCOME_COUNT],
		  enum cell_outcome representative)
{
	int n = count[CELL_DIRECT] + count[CELL_RELAYED] + count[CELL_FAILED] +
		count[CELL_DISPUTED];
	bool any = false;

	if (refs->nclaims == 0) /* a file from before claims had strengths: one outcome, as then */
		return refs->has_claim && nat_outcome(refs->claim) &&
		       representative != refs->claim;
	for (int i = 0; i < refs->nclaims && i < CELL_MAX_CLAIMS; i++) {
		struct cell_claim *c = &refs->claims[i];
		int k = (unsigned)c->outcome < CELL_OUTCOME_COUNT ? count[c->outcome] : 0;

		c->disagrees = false;
		c->p_value = 1;
		if (n == 0 || !nat_outcome(c->outcome))
			continue;
		if (c->bound >= 1)
			c->disagrees = k < n; /* "always": one run against it is enough */
		else
			c->disagrees = rate_too_low(k, n, c->bound, &c->p_value);
		any |= c->disagrees;
	}
	return any;
}
