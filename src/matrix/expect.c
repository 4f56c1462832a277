#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix/expect_internal.h"
#include "matrix/rate.h"

static void rate_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct expect_rate *r = arg;
	const char *s = yaml_scalar(v);
	char *end;

	if (!s) {
		ERR(yc, v, "rate: %s needs a single value", key);
	} else if (strcmp(key, "mechanism") == 0) {
		if (strcmp(s, "rst-race") && strcmp(s, "rst-race-both") &&
		    strcmp(s, "sequential-race") && strcmp(s, "birthday"))
			ERR(yc, v, "mechanism \"%s\" unknown, expected rst-race, rst-race-both, "
				   "sequential-race or birthday", s);
		snprintf(r->mechanism, sizeof(r->mechanism), "%s", s);
	} else if (strcmp(key, "technique") == 0) {
		snprintf(r->technique, sizeof(r->technique), "%s", s);
	} else if (strcmp(key, "cells") == 0) {
		snprintf(r->cells, sizeof(r->cells), "%s", s);
	} else if (strcmp(key, "impair") == 0) {
		/* a preset's name or path as the cell ids carry it; none: the unimpaired cells */
		if (!s[0] || strlen(s) >= sizeof(r->impair))
			ERR(yc, v, "rate: impair \"%s\", expected a preset (lte) or none", s);
		snprintf(r->impair, sizeof(r->impair), "%s", strcmp(s, "none") ? s : "");
	} else if (strcmp(key, "runs") == 0 || strcmp(key, "direct") == 0) {
		long n = strtol(s, &end, 10);
		if (*end || end == s || n < 0 || n > 100000)
			ERR(yc, v, "%s \"%s\", expected a count", key, s);
		*(strcmp(key, "runs") == 0 ? &r->runs : &r->direct) = (int)n;
	} else if (strcmp(key, "date") == 0) {
		snprintf(r->date, sizeof(r->date), "%s", s);
	} else if (strcmp(key, "command") == 0) {
		snprintf(r->command, sizeof(r->command), "%s", s);
	} else {
		ERR(yc, k, "rate: unknown key \"%s\", expected mechanism, technique, cells, impair, "
			   "runs, direct, date or command", key);
	}
}

void expect_for_each_item(const struct yaml_ctx *yc, yaml_node_t *seq, const char *what,
			  void (*fn)(const struct yaml_ctx *, yaml_node_t *))
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE) {
		ERR(yc, seq, "%s must be a list (lines starting with -)", what);
		return;
	}
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++)
		fn(yc, yaml_node_at(yc, *i));
}

static void rate_item(const struct yaml_ctx *yc, yaml_node_t *item)
{
	struct expectations *e = P(yc)->e;
	struct expect_rate *r;
	int before = yc->dl->count;

	if (e->nrates >= EXPECT_MAX_RATES) {
		ERR(yc, item, "too many rates, expected at most %d", EXPECT_MAX_RATES);
		return;
	}
	r = &e->rates[e->nrates++];
	*r = (struct expect_rate){ .line = yaml_line(item), .runs = -1, .direct = -1 };
	yaml_for_each_pair(yc, item, "a rate", rate_attr, r);
	if (yc->dl->count > before)
		return;
	/* a rate is a measurement: never a bar typed in, never 0, never from a handful of runs */
	if (!r->mechanism[0] || r->runs < 0 || r->direct < 0 || !r->date[0] || !r->command[0])
		ERR(yc, item, "rate incomplete: it needs mechanism, runs, direct, date and command "
			      "(the measurement it comes from)");
	else if (r->runs < 30)
		ERR(yc, item, "rate measured over %d runs, expected at least 30", r->runs);
	else if (r->direct < 1 || r->direct > r->runs)
		ERR(yc, item, "rate %d of %d, expected 1..%d direct runs (a rate of 0 is a cell "
			      "that cannot fail: raise it in the engine)", r->direct, r->runs, r->runs);
}

static void top_entry(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	yaml_node_t **sections = arg;

	if (strcmp(key, "documents") == 0)
		sections[0] = v;
	else if (strcmp(key, "claims") == 0)
		sections[1] = v;
	else if (strcmp(key, "rates") == 0)
		sections[2] = v;
	else if (strcmp(key, "explanations") == 0)
		sections[3] = v;
	else
		ERR(yc, k, "unknown key \"%s\", expected documents, claims, explanations or rates",
		    key);
}

int expectations_load_buffer(struct expectations *e, const char *name, const char *buf,
			     size_t len, struct diag_list *dl)
{
	yaml_document_t doc;
	struct parse p = { .y = { .doc = &doc, .dl = dl, .file = name }, .e = e };
	yaml_node_t *sections[4] = { NULL, NULL, NULL, NULL };
	int before = dl->count, ret;

	memset(e, 0, sizeof(*e));
	snprintf(e->file, sizeof(e->file), "%s", name);
	ret = yaml_load_buffer(&doc, name, buf, len, dl);
	if (ret < 0)
		return ret;
	yaml_for_each_pair(&p.y, yaml_document_get_root_node(&doc), "the file", top_entry, sections);
	if (dl->count == before) {
		if (!sections[0] || !sections[1] || !sections[2])
			diag_add(dl, name, 1, "missing section, expected documents:, claims: and "
					      "rates:");
		else {
			expect_claims_parse(&p.y, sections[0], sections[1], sections[3]);
			expect_for_each_item(&p.y, sections[2], "rates", rate_item);
		}
	}
	yaml_document_delete(&doc);
	return dl->count > before ? -EINVAL : 0;
}

int expectations_load(struct expectations *e, const char *path, struct diag_list *dl)
{
	char *buf;
	size_t len;
	int ret = yaml_read_file(path, "expectations", &buf, &len, dl);

	if (ret < 0)
		return ret;
	ret = expectations_load_buffer(e, path, buf, len, dl);
	free(buf);
	return ret;
}

const struct expect_rate *expectations_rate(const struct expectations *e, const char *mechanism,
					    const struct cell_spec *c)
{
	const struct expect_rate *best = NULL;
	int best_score = -1;

	for (int i = 0; mechanism && i < e->nrates; i++) {
		const struct expect_rate *r = &e->rates[i];
		int score = (r->cells[0] ? 2 : 0) + (r->technique[0] ? 1 : 0);

		/* a rate measured without impairment says nothing of an lte cell (jitter moves a
		 * race's shared moment), nor the reverse */
		if (strcmp(r->mechanism, mechanism) != 0 || strcmp(r->impair, c->impair) != 0 ||
		    (r->technique[0] && strcmp(r->technique, c->technique) != 0) ||
		    (r->cells[0] && fnmatch(r->cells, c->id, 0) != 0))
			continue;
		if (score > best_score) {
			best = r;
			best_score = score;
		}
	}
	return best;
}

int expectations_expected(const struct expectations *e, const struct cell_spec *c,
			  const struct theory *t, struct cell_refs *refs, char *why, size_t len)
{
	const struct expect_rate *r;

	refs->cell_class = theory_class(t);
	refs->expected_allowed = 1u << t->outcome;
	refs->expected_rate = 0;
	refs->expected_runs = 0;
	refs->expected_reason[0] = '\0';
	refs->mechanism[0] = '\0';
	refs->expected_families = t->families; /* dual cells only (theory_predict_dual) */
	if (refs->cell_class == CLASS_DETERMINED)
		return 0;
	refs->expected_allowed |= 1u << t->fallback;
	snprintf(refs->mechanism, sizeof(refs->mechanism), "%s", t->mechanism);
	r = expectations_rate(e, t->mechanism, c);
	if (!r && c->impair[0]) {
		/* never silently: the reports show this reason next to the cell */
		snprintf(refs->expected_reason, sizeof(refs->expected_reason),
			 "%s: no rate measured under impair=%s in %s: judged by its allowed "
			 "outcomes only", t->mechanism, c->impair, e->file);
		return 0;
	}
	if (!r) {
		snprintf(why, len, "%s: no measured rate for mechanism %s (technique %s) in %s, "
			 "expected a rates: entry (docs/expectations-format.md)", c->id, t->mechanism,
			 c->technique, e->file);
		return -ENOENT;
	}
	refs->expected_rate = rate_expected(r->direct, r->runs);
	refs->expected_runs = rate_runs_needed(refs->expected_rate, RATE_MAX_RUNS);
	snprintf(refs->expected_reason, sizeof(refs->expected_reason),
		 "%s: %d of %d direct (%s, %s:%d: %s)", t->mechanism, r->direct, r->runs, r->date,
		 e->file, r->line, r->command);
	if (refs->expected_runs < 0) {
		snprintf(why, len, "%s:%d: a rate of %d in %d is too low to test within %d runs "
			 "(a halved rate must be caught 9 times in 10): raise it in the engine",
			 e->file, r->line, r->direct, r->runs, RATE_MAX_RUNS);
		return -ERANGE;
	}
	return 0;
}
