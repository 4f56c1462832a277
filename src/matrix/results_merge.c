/* Joining the results of several runs (the shards of one matrix) into one, for `punchlab
 * merge`; and cell equality, which decides whether a cell seen twice is the same cell. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matrix/results_merge.h"

static bool spec_equal(const struct cell_spec *a, const struct cell_spec *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->topology, b->topology) == 0 &&
	       strcmp(a->profile_a, b->profile_a) == 0 && strcmp(a->profile_b, b->profile_b) == 0 &&
	       strcmp(a->proto, b->proto) == 0 && strcmp(a->technique, b->technique) == 0 &&
	       strcmp(a->engine, b->engine) == 0 && strcmp(a->engine_b, b->engine_b) == 0 &&
	       strcmp(a->impair, b->impair) == 0 && a->family == b->family &&
	       strcmp(a->ipv6_profile, b->ipv6_profile) == 0;
}

static bool refs_equal(const struct cell_refs *a, const struct cell_refs *b)
{
	if (a->has_claim != b->has_claim || a->has_baseline != b->has_baseline)
		return false;
	if (a->has_claim && (a->claim != b->claim || strcmp(a->claim_source, b->claim_source) ||
			     strcmp(a->claim_quote, b->claim_quote)))
		return false;
	if (a->nclaims != b->nclaims)
		return false;
	for (int i = 0; i < a->nclaims && i < CELL_MAX_CLAIMS; i++)
		if (strcmp(a->claims[i].id, b->claims[i].id) != 0 ||
		    a->claims[i].outcome != b->claims[i].outcome)
			return false;
	if (a->has_baseline && a->baseline != b->baseline)
		return false;
	return a->theory == b->theory && strcmp(a->theory_why, b->theory_why) == 0 &&
	       a->expected_allowed == b->expected_allowed &&
	       a->expected_rate == b->expected_rate && a->expected_runs == b->expected_runs &&
	       a->cell_class == b->cell_class && strcmp(a->mechanism, b->mechanism) == 0 &&
	       strcmp(a->expected_reason, b->expected_reason) == 0 &&
	       a->expected_families == b->expected_families;
}

static bool run_equal(const struct cell_run *a, const struct cell_run *b)
{
	return a->outcome == b->outcome && strcmp(a->reason, b->reason) == 0 &&
	       strcmp(a->phase, b->phase) == 0 && strcmp(a->technique_used, b->technique_used) == 0 &&
	       a->time_to_connect_ms == b->time_to_connect_ms && a->ttfb_ms == b->ttfb_ms &&
	       a->time_to_direct_ms == b->time_to_direct_ms && a->attempts == b->attempts &&
	       a->wall_ms == b->wall_ms && strcmp(a->mappings, b->mappings) == 0 &&
	       strcmp(a->log_dir, b->log_dir) == 0 && strcmp(a->captures, b->captures) == 0 &&
	       a->family_used == b->family_used && a->attestation.family == b->attestation.family;
}

static bool verdict_equal(const struct cell_verdict *a, const struct cell_verdict *b)
{
	return a->regression == b->regression && a->improvement == b->improvement &&
	       a->flaky == b->flaky && a->disagrees_claim == b->disagrees_claim &&
	       a->disagrees_theory == b->disagrees_theory && a->error == b->error &&
	       a->family_wrong == b->family_wrong && a->family_judged == b->family_judged &&
	       a->family_outside == b->family_outside;
}

bool results_cell_equal(const struct cell_result *a, const struct cell_result *b)
{
	if (!spec_equal(&a->spec, &b->spec) || !refs_equal(&a->refs, &b->refs) ||
	    a->nruns != b->nruns || a->outcome != b->outcome || a->success_rate != b->success_rate ||
	    a->ttc_p50_ms != b->ttc_p50_ms || a->ttc_p95_ms != b->ttc_p95_ms ||
	    a->ttfb_p50_ms != b->ttfb_p50_ms || a->ttfb_p95_ms != b->ttfb_p95_ms ||
	    !verdict_equal(&a->verdict, &b->verdict))
		return false;
	for (int i = 0; i < a->nruns; i++)
		if (!run_equal(&a->runs[i], &b->runs[i]))
			return false;
	return true;
}

static const struct cell_result *cell_find(const struct results *r, const char *id)
{
	for (int i = 0; i < r->ncells; i++)
		if (strcmp(r->cells[i].spec.id, id) == 0)
			return &r->cells[i];
	return NULL;
}

static const struct profile_hash *profile_find(const struct results_meta *m, const char *name)
{
	for (int i = 0; i < m->nprofiles; i++)
		if (strcmp(m->profiles[i].name, name) == 0)
			return &m->profiles[i];
	return NULL;
}

/* The metadata of a later source: the same engine and profiles, or the cells are not one
 * matrix. Profiles only one side used are added. */
static int meta_join(struct results_meta *dst, const struct results_meta *src, const char *name,
		     struct diag_list *dl)
{
	int ret = 0, nadd = 0;
	struct profile_hash *profiles;

	if (strcmp(dst->engine, src->engine) || strcmp(dst->engine_version, src->engine_version))
		ret = diag_add(dl, name, 0, "engine %s %s, but the first results used %s %s",
			       src->engine, src->engine_version, dst->engine, dst->engine_version);
	if (strcmp(dst->engine_b, src->engine_b) ||
	    strcmp(dst->engine_b_version, src->engine_b_version))
		ret = diag_add(dl, name, 0, "peer B's engine %s %s, but the first results used %s "
			       "%s", src->engine_b[0] ? src->engine_b : "(none)", src->engine_b_version,
			       dst->engine_b[0] ? dst->engine_b : "(none)", dst->engine_b_version);
	/* the stagger shapes every cell (the RST races), and the rerun commands repeat it */
	if (dst->stagger_ms != src->stagger_ms)
		ret = diag_add(dl, name, 0, "--stagger %d ms, but the first results used %d ms: not "
			       "one matrix", src->stagger_ms, dst->stagger_ms);
	if (strcmp(dst->harness_version, src->harness_version))
		ret = diag_add(dl, name, 0, "harness version %s, but the first results used %s",
			       src->harness_version, dst->harness_version);
	for (int i = 0; i < src->nprofiles; i++) {
		const struct profile_hash *p = profile_find(dst, src->profiles[i].name);
		if (!p)
			nadd++;
		else if (strcmp(p->sha256, src->profiles[i].sha256) != 0)
			ret = diag_add(dl, name, 0, "profile %s has sha256 %.12s..., but %.12s... in the "
				       "first results: the profile file changed between runs",
				       p->name, src->profiles[i].sha256, p->sha256);
	}
	if (ret < 0)
		return ret;
	profiles = realloc(dst->profiles, sizeof(*profiles) * (size_t)(dst->nprofiles + nadd + 1));
	if (!profiles)
		return -ENOMEM;
	dst->profiles = profiles;
	for (int i = 0; i < src->nprofiles; i++)
		if (!profile_find(dst, src->profiles[i].name))
			dst->profiles[dst->nprofiles++] = src->profiles[i];
	if (src->started[0] && (!dst->started[0] || strcmp(src->started, dst->started) < 0))
		memcpy(dst->started, src->started, sizeof(dst->started));
	if (src->wall_ms > dst->wall_ms)
		dst->wall_ms = src->wall_ms; /* shards run side by side */
	dst->incomplete |= src->incomplete;
	if (src->repeat > dst->repeat)
		dst->repeat = src->repeat;
	return 0;
}

static int meta_copy(struct results_meta *dst, const struct results_meta *src)
{
	struct profile_hash *profiles = calloc((size_t)src->nprofiles + 1, sizeof(*profiles));

	if (!profiles)
		return -ENOMEM;
	/* a matrix.json without profiles has src->profiles NULL, which memcpy must not get even
	 * for 0 bytes (UBSan, from merging such a file) */
	if (src->nprofiles)
		memcpy(profiles, src->profiles, sizeof(*profiles) * (size_t)src->nprofiles);
	*dst = *src;
	dst->schema_version = RESULTS_SCHEMA_VERSION;
	dst->profiles = profiles;
	dst->shard[0] = '\0'; /* the merged results are the whole of the shards */
	return 0;
}

int results_merge(struct results *dst, const struct results *src, const char *src_name,
		  struct diag_list *dl)
{
	struct cell_result *cells;
	int ret = 0, n = dst->ncells;

	if (!dst->meta.schema_version) {
		ret = meta_copy(&dst->meta, &src->meta);
	} else {
		ret = meta_join(&dst->meta, &src->meta, src_name, dl);
	}
	if (ret < 0)
		goto out;
	for (int i = 0; i < src->ncells; i++) {
		const struct cell_result *old = cell_find(dst, src->cells[i].spec.id);
		bool same_input = false;
		for (int j = 0; !old && j < i; j++)
			if (strcmp(src->cells[j].spec.id, src->cells[i].spec.id) == 0) {
				old = &src->cells[j];
				same_input = true;
			}
		if (old && !results_cell_equal(old, &src->cells[i]))
			ret = diag_add(dl, src_name, 0, same_input ?
				       "cell %s is in this input twice, with different results (%s, "
				       "then %s): one id names one cell (an older punchlab ran "
				       "`--cell X --cell X` twice)" :
				       "cell %s is also in an earlier input, with different results (%s "
				       "there, %s here): shards overlap",
				       old->spec.id, cell_outcome_name(old->outcome),
				       cell_outcome_name(src->cells[i].outcome));
	}
	if (ret < 0)
		goto out;
	cells = realloc(dst->cells, sizeof(*cells) * (size_t)(dst->ncells + src->ncells + 1));
	if (!cells) {
		ret = -ENOMEM;
		goto out;
	}
	dst->cells = cells;
	for (int i = 0; i < src->ncells; i++) {
		const struct cell_result *c = &src->cells[i];
		struct cell_result *d;

		if (cell_find(dst, c->spec.id))
			continue; /* the same cell twice: keep one */
		d = &dst->cells[dst->ncells];
		*d = *c;
		d->runs = calloc((size_t)c->nruns + 1, sizeof(*d->runs));
		if (!d->runs) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(d->runs, c->runs, sizeof(*d->runs) * (size_t)c->nruns);
		dst->ncells++;
	}
out:
	/* all or nothing for this source's cells */
	if (ret < 0) {
		for (int i = n; i < dst->ncells; i++)
			free(dst->cells[i].runs);
		dst->ncells = n;
	}
	return ret;
}
