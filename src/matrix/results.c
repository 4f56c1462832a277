/* The results model: judging a cell from its runs and references (BRIEF.md "Words": outcome,
 * claim, theory, baseline, regression), summaries and the CI exit code. */
#include "matrix/results.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matrix/claim.h"
#include "matrix/family_judge.h"
#include "matrix/rate.h"

static const char *const class_names[CLASS_COUNT] = {
	[CLASS_DETERMINED] = "determined",
	[CLASS_TIMING] = "timing-dependent",
	[CLASS_PROBABILISTIC] = "probabilistic",
};

static const char *const attest_names[ATTEST_VERDICT_COUNT] = {
	[ATTEST_UNCHECKED] = "unchecked",
	[ATTEST_NONE] = "none",
	[ATTEST_RELAYED] = "relayed",
	[ATTEST_DIRECT] = "direct",
};

static int name_parse(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *cell_class_name(enum cell_class c)
{
	return (unsigned)c < CLASS_COUNT ? class_names[c] : "?";
}

int cell_class_parse(const char *s, enum cell_class *c)
{
	int i = name_parse(class_names, CLASS_COUNT, s);

	if (i < 0)
		return i;
	*c = (enum cell_class)i;
	return 0;
}

const char *attest_verdict_name(enum attest_verdict v)
{
	return (unsigned)v < ATTEST_VERDICT_COUNT ? attest_names[v] : "?";
}

int attest_verdict_parse(const char *s, enum attest_verdict *v)
{
	int i = name_parse(attest_names, ATTEST_VERDICT_COUNT, s);

	if (i < 0)
		return i;
	*v = (enum attest_verdict)i;
	return 0;
}

void results_free(struct results *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->ncells; i++)
		free(r->cells[i].runs);
	free(r->cells);
	free(r->meta.profiles);
	r->cells = NULL;
	r->ncells = 0;
	r->meta.profiles = NULL;
	r->meta.nprofiles = 0;
}

/* Any disputed run makes the cell disputed (the lab caught the engine's word wrong once: that is
 * what the cell is about). Otherwise the most frequent outcome; a tie goes to the worse NAT
 * result, and error or skipped wins only when it is strictly the most frequent (between the two
 * of them, error). No runs (the run was interrupted before the cell): skipped. */
static enum cell_outcome representative(const int count[CELL_OUTCOME_COUNT], int nruns)
{
	static const enum cell_outcome tie_order[] = {
		CELL_FAILED, CELL_RELAYED, CELL_DIRECT, CELL_ERROR, CELL_SKIPPED,
	};
	enum cell_outcome best = CELL_SKIPPED;
	int best_count = 0;

	if (nruns <= 0)
		return CELL_SKIPPED;
	if (count[CELL_DISPUTED] > 0)
		return CELL_DISPUTED;
	for (size_t i = 0; i < sizeof(tie_order) / sizeof(tie_order[0]); i++) {
		enum cell_outcome o = tie_order[i];
		if (count[o] > best_count) {
			best = o;
			best_count = count[o];
		}
	}
	return best;
}

/* A run's time that a percentile is taken over; < 0 when the run does not count. */
typedef double (*run_time_fn)(const struct cell_run *run);

static double direct_ttc(const struct cell_run *run)
{
	return run->outcome == CELL_DIRECT ? run->time_to_connect_ms : -1;
}

static double connected_ttfb(const struct cell_run *run)
{
	return run->outcome == CELL_DIRECT || run->outcome == CELL_RELAYED ? run->ttfb_ms : -1;
}

/* The k-th smallest (1-based) time among the runs that count. Quadratic, but n is the
 * --repeat count, and it needs no allocation (judging cannot fail). */
static double kth_time(const struct cell_result *c, run_time_fn get, int k)
{
	for (int i = 0; i < c->nruns; i++) {
		double a = get(&c->runs[i]);
		int less = 0, leq = 0;

		if (a < 0)
			continue;
		for (int j = 0; j < c->nruns; j++) {
			double b = get(&c->runs[j]);
			if (b < 0)
				continue;
			less += b < a;
			leq += b <= a;
		}
		if (less < k && k <= leq)
			return a;
	}
	return -1;
}

/* Nearest-rank percentile (a value that was measured, never an interpolation). */
static double percentile_time(const struct cell_result *c, run_time_fn get, int pct)
{
	int k, n = 0;

	for (int i = 0; i < c->nruns; i++)
		n += get(&c->runs[i]) >= 0;
	if (n <= 0)
		return -1;
	k = (pct * n + 99) / 100; /* ceil(pct / 100 * n) */
	if (k < 1)
		k = 1;
	return kth_time(c, get, k);
}

/* The best outcome of a set among direct/relayed/failed; -1 when it has none. */
static int outcome_set_best(outcome_set s)
{
	for (int o = CELL_DIRECT; o <= CELL_FAILED; o++)
		if (s & (1u << o))
			return o;
	return -1;
}

/* Whether the runs of a cell did not all end alike (among NAT results). */
static bool runs_differ(const struct cell_result *c)
{
	for (int i = 1; i < c->nruns; i++)
		if (c->runs[i].outcome != c->runs[0].outcome)
			return true;
	return false;
}

/* A determined cell: one outcome is expected, and every run must give it (BRIEF.md: no majority
 * votes). A rate cell (timing-dependent or probabilistic): every run inside its allowed set, and
 * the success rate over all runs not significantly below the expected one (src/matrix/rate.h).
 * A disputed run is a regression in every case. */
static void judge_verdict(struct cell_result *c, const int count[CELL_OUTCOME_COUNT])
{
	const struct cell_refs *refs = &c->refs;
	struct cell_verdict *v = &c->verdict;
	enum cell_outcome o = c->outcome;
	/* a sweep point (stagger=, signal-delay=) of a timing-dependent cell is judged by its
	 * allowed outcomes only: its rate is the curve's point, not a test against the default
	 * timing's rate; so is an impaired one whose impairment has no measured rate
	 * (expectations_expected) */
	bool rate_cell = refs->cell_class != CLASS_DETERMINED &&
			 (refs->expected_rate > 0 || c->spec.has_stagger || c->spec.has_signal_delay ||
			  c->spec.impair[0]);
	int best = outcome_set_best(refs->expected_allowed);

	memset(v, 0, sizeof(*v));
	v->error = count[CELL_ERROR] > 0;
	v->disputed = count[CELL_DISPUTED] > 0;
	if (!cell_outcome_is_nat(o))
		return; /* error and skipped are not NAT results: no regression, no finding */

	v->disagrees_claim = claims_judge(&c->refs, count, o); /* hedges: src/matrix/claim.h */
	v->disagrees_theory = o != refs->theory;
	v->flaky = runs_differ(c) && !rate_cell;

	if (rate_cell) {
		bool outside = false;
		for (int i = 0; i < c->nruns; i++)
			outside |= cell_outcome_is_nat(c->runs[i].outcome) &&
				   !((refs->expected_allowed >> c->runs[i].outcome) & 1u);
		v->rate_tested = true;
		v->rate_low = rate_too_low(count[CELL_DIRECT], c->nruns, refs->expected_rate,
					   &v->rate_p_value);
		v->regression = outside || v->rate_low;
		/* against a baseline a rate cell is judged by its test, not by which of its allowed
		 * outcomes happened to be the most frequent */
		v->improvement = !v->regression && refs->has_baseline &&
				 cell_outcome_worse(refs->baseline, o);
	} else if (refs->has_baseline) {
		v->regression = cell_outcome_worse(o, refs->baseline);
		v->improvement = cell_outcome_worse(refs->baseline, o);
	} else if (best >= 0) {
		v->regression = !((refs->expected_allowed >> o) & 1u) &&
				cell_outcome_worse(o, (enum cell_outcome)best);
		v->improvement = cell_outcome_worse((enum cell_outcome)best, o);
	}
	if (v->flaky || v->disputed) {
		v->regression = true;
		v->improvement = false;
	}
}

void results_judge_cell(struct cell_result *c)
{
	int count[CELL_OUTCOME_COUNT] = { 0 };

	for (int i = 0; i < c->nruns; i++) {
		const struct cell_run *run = &c->runs[i];
		if ((unsigned)run->outcome < CELL_OUTCOME_COUNT)
			count[run->outcome]++;
		else
			count[CELL_ERROR]++; /* garbage from a broken runner is the harness's fault */
	}
	c->outcome = representative(count, c->nruns);
	c->success_rate = c->nruns > 0 ? (double)count[CELL_DIRECT] / c->nruns : 0;
	c->ttc_p50_ms = percentile_time(c, direct_ttc, 50);
	c->ttc_p95_ms = percentile_time(c, direct_ttc, 95);
	c->ttfb_p50_ms = percentile_time(c, connected_ttfb, 50);
	c->ttfb_p95_ms = percentile_time(c, connected_ttfb, 95);
	judge_verdict(c, count);
	family_judge_cell(c); /* dual cells: the family the path took */
}

void results_summarize(const struct results *r, struct results_summary *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];

		s->cells++;
		switch (c->outcome) {
		case CELL_DIRECT: s->direct++; break;
		case CELL_RELAYED: s->relayed++; break;
		case CELL_FAILED: s->failed++; break;
		case CELL_DISPUTED: s->disputed++; break;
		case CELL_ERROR: s->error++; break;
		case CELL_SKIPPED: s->skipped++; break;
		default: s->error++; break;
		}
		s->regressions += c->verdict.regression;
		s->improvements += c->verdict.improvement;
		s->flaky += c->verdict.flaky;
		s->disagree_claim += c->verdict.disagrees_claim;
		s->disagree_theory += c->verdict.disagrees_theory;
	}
}

int results_exit_code(const struct results *r)
{
	bool regression = false;

	/* Not every cell ran (interrupted, or a merge that lacks shards): the cells that did not
	 * run are missing, so no verdict about them; a CI job must not pass on what did run. */
	if (r->meta.incomplete)
		return 2;
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		if (c->verdict.error || c->outcome == CELL_ERROR)
			return 2;
		regression |= c->verdict.regression;
	}
	return regression ? 1 : 0;
}
