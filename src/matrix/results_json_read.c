/* Reading matrix.json back (docs/matrix-json.md) with jansson, for --baseline and merge.
 * jansson knows lines only while parsing: syntax errors are FILE:LINE, errors in a field name
 * the field by its path ("cells[3].runs[0].outcome"). Unknown keys are ignored, so a reader of
 * schema 1 accepts additions that keep the meaning of what it knows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "matrix/cell.h"
#include "matrix/family_judge.h"
#include "matrix/results_json_read.h"

struct reader {
	const char *path;
	struct diag_list *dl;
	int errors;
};

static void rd_error(struct reader *rd, const char *where, const char *key, const char *what)
{
	rd->errors++;
	diag_add(rd->dl, rd->path, 0, "%s%s%s: %s", where, where[0] && key ? "." : "", key ? key : "",
		 what);
}

/* The member, or NULL when absent (an error when required). */
static json_t *rd_get(struct reader *rd, json_t *obj, const char *where, const char *key,
		      bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v && required)
		rd_error(rd, where, key, "missing");
	return v;
}

static void rd_str(struct reader *rd, json_t *obj, const char *where, const char *key, char *buf,
		   size_t len, bool required)
{
	json_t *v = rd_get(rd, obj, where, key, required);
	char what[64];

	buf[0] = '\0';
	if (!v)
		return;
	if (!json_is_string(v)) {
		rd_error(rd, where, key, "not a string");
		return;
	}
	if (json_string_length(v) >= len) {
		snprintf(what, sizeof(what), "longer than %zu bytes", len - 1);
		rd_error(rd, where, key, what);
		return;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		rd_error(rd, where, key, "contains a NUL character");
		return;
	}
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
}

/* A number; null reads as -1 when nullable (times: "not connected", "no direct run"). */
static void rd_num(struct reader *rd, json_t *obj, const char *where, const char *key, double *out,
		   bool nullable)
{
	json_t *v = rd_get(rd, obj, where, key, false);

	*out = nullable ? -1 : 0;
	if (!v || (nullable && json_is_null(v)))
		return;
	if (!json_is_number(v)) {
		rd_error(rd, where, key, nullable ? "not a number or null" : "not a number");
		return;
	}
	*out = json_number_value(v);
}

static void rd_int(struct reader *rd, json_t *obj, const char *where, const char *key, int *out)
{
	json_t *v = rd_get(rd, obj, where, key, false);

	*out = 0;
	if (!v)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < -2147483647 ||
	    json_integer_value(v) > 2147483647) {
		rd_error(rd, where, key, "not an integer");
		return;
	}
	*out = (int)json_integer_value(v);
}

static void rd_bool(struct reader *rd, json_t *obj, const char *where, const char *key, bool *out)
{
	json_t *v = rd_get(rd, obj, where, key, false);

	*out = false;
	if (!v)
		return;
	if (!json_is_boolean(v)) {
		rd_error(rd, where, key, "not true or false");
		return;
	}
	*out = json_is_true(v);
}

static void rd_outcome_value(struct reader *rd, json_t *v, const char *where, const char *key,
			     enum cell_outcome *out)
{
	char what[128];

	if (!json_is_string(v) || cell_outcome_parse(json_string_value(v), out) < 0) {
		snprintf(what, sizeof(what), "\"%.40s\" is not an outcome (direct, relayed, failed, "
			 "error, skipped)", json_is_string(v) ? json_string_value(v) : "?");
		rd_error(rd, where, key, what);
	}
}

static void rd_outcome(struct reader *rd, json_t *obj, const char *where, const char *key,
		       enum cell_outcome *out, bool required)
{
	json_t *v = rd_get(rd, obj, where, key, required);

	if (v)
		rd_outcome_value(rd, v, where, key, out);
}

/* Lines: an array of strings, each written back followed by '\n' (the cell runner's text is
 * newline-terminated lines, so a run round-trips exactly). A plain string is taken as it is. */
static void rd_lines(struct reader *rd, json_t *obj, const char *where, const char *key, char *buf,
		     size_t len)
{
	json_t *v = rd_get(rd, obj, where, key, false), *line;
	size_t n = 0, i;

	buf[0] = '\0';
	if (!v)
		return;
	if (json_is_string(v)) {
		rd_str(rd, obj, where, key, buf, len, false);
		return;
	}
	if (!json_is_array(v)) {
		rd_error(rd, where, key, "not an array of strings");
		return;
	}
	json_array_foreach(v, i, line) {
		size_t l;

		if (!json_is_string(line)) {
			rd_error(rd, where, key, "not an array of strings");
			return;
		}
		l = json_string_length(line);
		if (n + l + 2 > len) {
			rd_error(rd, where, key, "too long");
			return;
		}
		memcpy(buf + n, json_string_value(line), l);
		n += l;
		buf[n++] = '\n';
		buf[n] = '\0';
	}
}

static json_t *rd_object(struct reader *rd, json_t *obj, const char *where, const char *key,
			 bool required)
{
	json_t *v = rd_get(rd, obj, where, key, required);

	if (v && !json_is_object(v)) {
		rd_error(rd, where, key, "not an object");
		return NULL;
	}
	return v;
}

static void rd_meta(struct reader *rd, json_t *root, struct results_meta *m)
{
	json_t *meta = rd_object(rd, root, "", "meta", false), *profiles, *p;
	size_t i;

	if (!meta)
		return;
	rd_str(rd, meta, "meta", "started", m->started, sizeof(m->started), false);
	rd_num(rd, meta, "meta", "wall_ms", &m->wall_ms, false);
	rd_bool(rd, meta, "meta", "incomplete", &m->incomplete);
	rd_str(rd, meta, "meta", "kernel", m->kernel, sizeof(m->kernel), false);
	rd_str(rd, meta, "meta", "nft_version", m->nft_version, sizeof(m->nft_version), false);
	rd_str(rd, meta, "meta", "engine", m->engine, sizeof(m->engine), false);
	rd_str(rd, meta, "meta", "engine_version", m->engine_version, sizeof(m->engine_version), false);
	rd_str(rd, meta, "meta", "engine_b", m->engine_b, sizeof(m->engine_b), false);
	rd_str(rd, meta, "meta", "engine_b_version", m->engine_b_version,
	       sizeof(m->engine_b_version), false);
	rd_str(rd, meta, "meta", "harness_version", m->harness_version, sizeof(m->harness_version),
	       false);
	rd_str(rd, meta, "meta", "host", m->host, sizeof(m->host), false);
	rd_int(rd, meta, "meta", "jobs", &m->jobs);
	rd_int(rd, meta, "meta", "repeat", &m->repeat);
	rd_int(rd, meta, "meta", "stagger_ms", &m->stagger_ms);
	rd_str(rd, meta, "meta", "shard", m->shard, sizeof(m->shard), false);
	rd_str(rd, meta, "meta", "baseline", m->baseline, sizeof(m->baseline), false);
	rd_str(rd, meta, "meta", "engine_binary", m->engine_binary, sizeof(m->engine_binary), false);
	rd_str(rd, meta, "meta", "engine_binary_b", m->engine_binary_b, sizeof(m->engine_binary_b),
	       false);
	rd_str(rd, meta, "meta", "expectations", m->expectations, sizeof(m->expectations), false);
	rd_str(rd, meta, "meta", "topology_path", m->topology_path, sizeof(m->topology_path), false);
	profiles = rd_get(rd, meta, "meta", "profiles", false);
	if (!profiles)
		return;
	if (!json_is_array(profiles)) {
		rd_error(rd, "meta", "profiles", "not an array");
		return;
	}
	m->profiles = calloc(json_array_size(profiles) + 1, sizeof(*m->profiles));
	if (!m->profiles) {
		rd_error(rd, "meta", "profiles", "out of memory");
		return;
	}
	json_array_foreach(profiles, i, p) {
		char where[48];

		snprintf(where, sizeof(where), "meta.profiles[%zu]", i);
		if (!json_is_object(p)) {
			rd_error(rd, where, NULL, "not an object");
			continue;
		}
		rd_str(rd, p, where, "name", m->profiles[m->nprofiles].name,
		       sizeof(m->profiles[0].name), true);
		rd_str(rd, p, where, "sha256", m->profiles[m->nprofiles].sha256,
		       sizeof(m->profiles[0].sha256), false);
		m->nprofiles++;
	}
}

/* "claims" (absent in files written before claims had strengths: then "claim" is the only one). */
static void rd_claims(struct reader *rd, json_t *refs_o, const char *where, struct cell_refs *refs)
{
	json_t *v = rd_get(rd, refs_o, where, "claims", false), *item;
	size_t i;

	refs->nclaims = 0;
	rd_bool(rd, refs_o, where, "claims_conflict", &refs->claims_conflict);
	if (!v)
		return;
	if (!json_is_array(v) || json_array_size(v) > CELL_MAX_CLAIMS) {
		rd_error(rd, where, "claims", "not an array of at most 4 claims");
		return;
	}
	json_array_foreach(v, i, item) {
		struct cell_claim *c = &refs->claims[refs->nclaims++];
		char wc[128];

		snprintf(wc, sizeof(wc), "%s.claims[%zu]", where, i);
		if (!json_is_object(item)) {
			rd_error(rd, wc, NULL, "not an object");
			return;
		}
		rd_str(rd, item, wc, "id", c->id, sizeof(c->id), false);
		rd_outcome(rd, item, wc, "outcome", &c->outcome, true);
		rd_str(rd, item, wc, "strength", c->strength, sizeof(c->strength), false);
		rd_num(rd, item, wc, "bound", &c->bound, false);
		rd_str(rd, item, wc, "source", c->source, sizeof(c->source), false);
		rd_str(rd, item, wc, "quote", c->quote, sizeof(c->quote), false);
		rd_str(rd, item, wc, "explanation", c->explanation, sizeof(c->explanation), false);
		rd_bool(rd, item, wc, "disagrees", &c->disagrees);
		rd_num(rd, item, wc, "p_value", &c->p_value, false);
	}
}

static void rd_refs(struct reader *rd, json_t *cell, const char *where, struct cell_refs *refs)
{
	char w[96];
	json_t *o = rd_object(rd, cell, where, "refs", false), *claim, *theory, *baseline, *exp;

	if (!o)
		return;
	snprintf(w, sizeof(w), "%s.refs", where);
	claim = rd_get(rd, o, w, "claim", false);
	if (claim && !json_is_null(claim)) {
		char wc[112];

		snprintf(wc, sizeof(wc), "%s.claim", w);
		if (!json_is_object(claim)) {
			rd_error(rd, w, "claim", "not an object or null");
		} else {
			refs->has_claim = true;
			rd_outcome(rd, claim, wc, "outcome", &refs->claim, true);
			rd_str(rd, claim, wc, "source", refs->claim_source, sizeof(refs->claim_source),
			       false);
			rd_str(rd, claim, wc, "quote", refs->claim_quote, sizeof(refs->claim_quote), false);
		}
	}
	rd_claims(rd, o, w, refs);
	theory = rd_object(rd, o, w, "theory", false);
	if (theory) {
		char wt[112];

		snprintf(wt, sizeof(wt), "%s.theory", w);
		rd_outcome(rd, theory, wt, "outcome", &refs->theory, true);
		rd_str(rd, theory, wt, "why", refs->theory_why, sizeof(refs->theory_why), false);
	}
	baseline = rd_get(rd, o, w, "baseline", false);
	if (baseline && !json_is_null(baseline)) {
		refs->has_baseline = true;
		rd_outcome_value(rd, baseline, w, "baseline", &refs->baseline);
	}
	exp = rd_object(rd, o, w, "expected", false);
	if (exp) {
		char we[112], cls[32];
		json_t *allowed, *a;
		size_t i;

		snprintf(we, sizeof(we), "%s.expected", w);
		allowed = rd_get(rd, exp, we, "allowed", false);
		if (allowed && !json_is_array(allowed))
			rd_error(rd, we, "allowed", "not an array of outcomes");
		else if (allowed)
			json_array_foreach(allowed, i, a) {
				enum cell_outcome oc = CELL_ERROR;
				rd_outcome_value(rd, a, we, "allowed", &oc);
				refs->expected_allowed |= 1u << oc;
			}
		rd_num(rd, exp, we, "rate", &refs->expected_rate, false);
		rd_str(rd, exp, we, "mechanism", refs->mechanism, sizeof(refs->mechanism), false);
		rd_int(rd, exp, we, "runs", &refs->expected_runs);
		rd_str(rd, exp, we, "class", cls, sizeof(cls), false);
		if (cls[0] && cell_class_parse(cls, &refs->cell_class) < 0)
			rd_error(rd, we, "class", "unknown, expected determined, timing-dependent or "
				 "probabilistic");
		rd_str(rd, exp, we, "reason", refs->expected_reason, sizeof(refs->expected_reason),
		       false);
		/* dual cells since family judging; absent: not judged */
		if (json_object_get(exp, "families")) {
			char fams[16];

			rd_str(rd, exp, we, "families", fams, sizeof(fams), true);
			if (family_set_parse(fams, &refs->expected_families) < 0 ||
			    !refs->expected_families)
				rd_error(rd, we, "families", "expected \"4\", \"6\" or \"4 or 6\"");
		}
	}
}

static void rd_verdict(struct reader *rd, json_t *cell, const char *where, struct cell_verdict *v)
{
	char w[96];
	json_t *o = rd_object(rd, cell, where, "verdict", false);

	if (!o)
		return;
	snprintf(w, sizeof(w), "%s.verdict", where);
	rd_bool(rd, o, w, "regression", &v->regression);
	rd_bool(rd, o, w, "improvement", &v->improvement);
	rd_bool(rd, o, w, "flaky", &v->flaky);
	rd_bool(rd, o, w, "disputed", &v->disputed);
	rd_bool(rd, o, w, "rate_tested", &v->rate_tested);
	rd_bool(rd, o, w, "rate_low", &v->rate_low);
	rd_num(rd, o, w, "rate_p_value", &v->rate_p_value, false);
	rd_bool(rd, o, w, "disagrees_claim", &v->disagrees_claim);
	rd_bool(rd, o, w, "disagrees_theory", &v->disagrees_theory);
	rd_bool(rd, o, w, "error", &v->error);
	/* absent before family judging: false, 0 */
	if (json_object_get(o, "family_wrong"))
		rd_bool(rd, o, w, "family_wrong", &v->family_wrong);
	if (json_object_get(o, "family_judged"))
		rd_int(rd, o, w, "family_judged", &v->family_judged);
	if (json_object_get(o, "family_outside"))
		rd_int(rd, o, w, "family_outside", &v->family_outside);
}

/* NAT events of a run (absent: the cell had none). */
static void rd_recovery(struct reader *rd, json_t *o, const char *where, struct run_recovery *rc)
{
	json_t *evs = json_object_get(o, "events"), *r;
	char w2[160];

	memset(rc, 0, sizeof(*rc));
	rc->detect_ms = rc->recovery_ms = -1;
	if (!evs)
		return;
	if (!json_is_array(evs) || json_array_size(evs) > RUN_EVENTS_MAX) {
		rd_error(rd, where, "events", "not an array of at most 8 steps");
		return;
	}
	for (size_t i = 0; i < json_array_size(evs); i++) {
		struct run_event *e = &rc->events[rc->nevents++];
		json_t *eo = json_array_get(evs, i);
		snprintf(w2, sizeof(w2), "%s.events[%zu]", where, i);
		if (!json_is_object(eo)) {
			rd_error(rd, w2, NULL, "not an object");
			return;
		}
		rd_str(rd, eo, w2, "event", e->event, sizeof(e->event), true);
		rd_bool(rd, eo, w2, "second_half", &e->second_half);
		rd_int(rd, eo, w2, "planned_ms", &e->planned_ms);
		rd_num(rd, eo, w2, "applied_ms", &e->actual_ms, true);
		rd_bool(rd, eo, w2, "failed", &e->failed);
		rd_str(rd, eo, w2, "detail", e->detail, sizeof(e->detail), false);
	}
	snprintf(w2, sizeof(w2), "%s.recovery", where);
	r = rd_object(rd, o, where, "recovery", true);
	if (!r)
		return;
	rd_bool(rd, r, w2, "path_lost", &rc->path_lost);
	rd_bool(rd, r, w2, "recovered", &rc->recovered);
	rd_str(rd, r, w2, "via", rc->via, sizeof(rc->via), false);
	rd_num(rd, r, w2, "detect_ms", &rc->detect_ms, true);
	rd_num(rd, r, w2, "recovery_ms", &rc->recovery_ms, true);
}

static void rd_run(struct reader *rd, json_t *o, const char *where, struct cell_run *run)
{
	json_t *att;

	if (!json_is_object(o)) {
		rd_error(rd, where, NULL, "not an object");
		return;
	}
	rd_outcome(rd, o, where, "outcome", &run->outcome, true);
	rd_str(rd, o, where, "reason", run->reason, sizeof(run->reason), false);
	rd_str(rd, o, where, "phase", run->phase, sizeof(run->phase), false);
	rd_str(rd, o, where, "technique_used", run->technique_used, sizeof(run->technique_used),
	       false);
	if (json_object_get(o, "family"))
		rd_int(rd, o, where, "family", &run->family_used);
	rd_num(rd, o, where, "time_to_connect_ms", &run->time_to_connect_ms, true);
	/* absent before the race (older files): unknown */
	rd_num(rd, o, where, "ttfb_ms", &run->ttfb_ms, true);
	rd_num(rd, o, where, "time_to_direct_ms", &run->time_to_direct_ms, true);
	rd_int(rd, o, where, "attempts", &run->attempts);
	rd_num(rd, o, where, "wall_ms", &run->wall_ms, false);
	rd_lines(rd, o, where, "mappings", run->mappings, sizeof(run->mappings));
	rd_str(rd, o, where, "log_dir", run->log_dir, sizeof(run->log_dir), false);
	rd_lines(rd, o, where, "captures", run->captures, sizeof(run->captures));
	rd_recovery(rd, o, where, &run->recovery);
	/* schema 2: the engine's word and the lab's evidence (absent in schema 1: unchecked) */
	run->engine_said = run->outcome;
	if (json_object_get(o, "engine_said"))
		rd_outcome(rd, o, where, "engine_said", &run->engine_said, false);
	att = rd_object(rd, o, where, "attestation", false);
	if (att) {
		char wa[112], verdict[32];
		snprintf(wa, sizeof(wa), "%s.attestation", where);
		rd_str(rd, att, wa, "verdict", verdict, sizeof(verdict), true);
		if (verdict[0] && attest_verdict_parse(verdict, &run->attestation.verdict) < 0)
			rd_error(rd, wa, "verdict", "unknown, expected unchecked, none, relayed or "
				 "direct");
		rd_str(rd, att, wa, "summary", run->attestation.summary,
		       sizeof(run->attestation.summary), false);
		rd_lines(rd, att, wa, "evidence", run->attestation.evidence,
			 sizeof(run->attestation.evidence));
		if (json_object_get(att, "family")) {
			rd_int(rd, att, wa, "family", &run->attestation.family);
			if (run->attestation.family != 4 && run->attestation.family != 6)
				rd_error(rd, wa, "family", "expected 4 or 6");
		}
	}
}

/* A cell's coordinates are the truth and its id is recomputed from them, so an id of an older
 * punchlab reads as today's id of the same cell: dimensions added since (the engine, ...) take
 * their default when absent, and a profile path, written raw in ids before they were encoded,
 * gets its encoded form. An id that is a valid id of another cell is an error. */
static void rd_spec(struct reader *rd, json_t *o, const char *where, struct cell_spec *s)
{
	char id[sizeof(s->id)], what[sizeof(s->id) + 128];
	struct cell_spec parsed;
	int errors = rd->errors;

	rd_str(rd, o, where, "id", id, sizeof(id), true);
	rd_str(rd, o, where, "topology", s->topology, sizeof(s->topology), true);
	rd_str(rd, o, where, "profile_a", s->profile_a, sizeof(s->profile_a), true);
	rd_str(rd, o, where, "profile_b", s->profile_b, sizeof(s->profile_b), false);
	rd_str(rd, o, where, "proto", s->proto, sizeof(s->proto), true);
	rd_str(rd, o, where, "technique", s->technique, sizeof(s->technique), true);
	rd_str(rd, o, where, "engine", s->engine, sizeof(s->engine), false);
	rd_str(rd, o, where, "engine_b", s->engine_b, sizeof(s->engine_b), false);
	if (json_object_get(o, "stagger_ms")) {
		rd_int(rd, o, where, "stagger_ms", &s->stagger_ms);
		s->has_stagger = true;
	}
	if (json_object_get(o, "signal_delay_ms")) {
		rd_int(rd, o, where, "signal_delay_ms", &s->signal_delay_ms);
		s->has_signal_delay = true;
	}
	rd_str(rd, o, where, "events", s->events, sizeof(s->events), false);
	rd_str(rd, o, where, "impair", s->impair, sizeof(s->impair), false);
	rd_str(rd, o, where, "outer", s->outer, sizeof(s->outer), false);
	/* absent in files from before the family dimension: IPv4 */
	if (json_object_get(o, "family")) {
		char fam[8] = "";

		rd_str(rd, o, where, "family", fam, sizeof(fam), false);
		if (cell_family_parse(fam, &s->family) < 0)
			rd_error(rd, where, "family", "expected \"4\", \"6\" or \"dual\"");
	}
	rd_str(rd, o, where, "ipv6_profile", s->ipv6_profile, sizeof(s->ipv6_profile), false);
	rd_str(rd, o, where, "profile_a_name", s->profile_a_name, sizeof(s->profile_a_name), false);
	rd_str(rd, o, where, "profile_b_name", s->profile_b_name, sizeof(s->profile_b_name), false);
	if (rd->errors != errors)
		return;
	if (!s->engine[0])
		snprintf(s->engine, sizeof(s->engine), "%s", CELL_DEFAULT_ENGINE);
	if ((strcmp(s->proto, "udp") && strcmp(s->proto, "tcp")) ||
	    !technique_fits(s->technique, s->proto)) {
		snprintf(what, sizeof(what), "proto \"%s\" with technique \"%s\" is no cell (udp: udp, "
			 "predict, birthday, relay, auto; tcp: tcp, tcp-ttl, predict, relay, auto)",
			 s->proto, s->technique);
		rd_error(rd, where, "technique", what);
		return;
	}
	/* profile parameters and the port live in the id alone (udp-timeout=5s, port=443) */
	if (cell_id_parse(id, &parsed) == 0) {
		cell_spec_set_params(s, &(struct profile_params){ parsed.udp_timeout_unreplied,
								  parsed.udp_timeout_replied });
		s->port = parsed.port;
	}
	if (cell_spec_set_id(s) < 0) {
		rd_error(rd, where, "id", "the cell's coordinates make an id that is too long or "
			 "lacks its topology or profile A");
		return;
	}
	if (strcmp(id, s->id) != 0 && cell_id_parse(id, &parsed) == 0 &&
	    strcmp(parsed.id, s->id) != 0) {
		snprintf(what, sizeof(what), "\"%s\" names another cell than the cell's coordinates "
			 "(%s)", id, s->id);
		rd_error(rd, where, "id", what);
	}
}

static void rd_cell(struct reader *rd, json_t *o, const char *where, struct cell_result *c)
{
	struct cell_spec *s = &c->spec;
	json_t *runs, *run;
	size_t i;

	if (!json_is_object(o)) {
		rd_error(rd, where, NULL, "not an object");
		return;
	}
	rd_spec(rd, o, where, s);
	rd_outcome(rd, o, where, "outcome", &c->outcome, true);
	rd_num(rd, o, where, "success_rate", &c->success_rate, false);
	rd_num(rd, o, where, "ttc_p50_ms", &c->ttc_p50_ms, true);
	rd_num(rd, o, where, "ttc_p95_ms", &c->ttc_p95_ms, true);
	rd_num(rd, o, where, "ttfb_p50_ms", &c->ttfb_p50_ms, true);
	rd_num(rd, o, where, "ttfb_p95_ms", &c->ttfb_p95_ms, true);
	rd_refs(rd, o, where, &c->refs);
	rd_verdict(rd, o, where, &c->verdict);
	runs = rd_get(rd, o, where, "runs", true);
	if (!runs)
		return;
	if (!json_is_array(runs)) {
		rd_error(rd, where, "runs", "not an array");
		return;
	}
	c->runs = calloc(json_array_size(runs) + 1, sizeof(*c->runs));
	if (!c->runs) {
		rd_error(rd, where, "runs", "out of memory");
		return;
	}
	json_array_foreach(runs, i, run) {
		char w[96];

		snprintf(w, sizeof(w), "%s.runs[%zu]", where, i);
		rd_run(rd, run, w, &c->runs[c->nruns++]);
	}
}

static void rd_results(struct reader *rd, json_t *root, struct results *r)
{
	json_t *v, *cells, *cell;
	size_t i;

	if (!json_is_object(root)) {
		rd_error(rd, "", NULL, "not a matrix.json (the top level is not an object)");
		return;
	}
	v = json_object_get(root, "schema_version");
	if (!v || !json_is_integer(v)) {
		rd_error(rd, "", "schema_version", "missing or not an integer: not a matrix.json?");
		return;
	}
	/* schema 1 (before attestation) still reads: a baseline from an older run compares */
	if (json_integer_value(v) != RESULTS_SCHEMA_VERSION && json_integer_value(v) != 1) {
		char what[128];
		snprintf(what, sizeof(what), "%lld is not supported (this punchlab reads %d)",
			 (long long)json_integer_value(v), RESULTS_SCHEMA_VERSION);
		rd_error(rd, "", "schema_version", what);
		return;
	}
	r->meta.schema_version = RESULTS_SCHEMA_VERSION;
	rd_meta(rd, root, &r->meta);
	cells = rd_get(rd, root, "", "cells", true);
	if (!cells)
		return;
	if (!json_is_array(cells)) {
		rd_error(rd, "", "cells", "not an array");
		return;
	}
	r->cells = calloc(json_array_size(cells) + 1, sizeof(*r->cells));
	if (!r->cells) {
		rd_error(rd, "", "cells", "out of memory");
		return;
	}
	json_array_foreach(cells, i, cell) {
		char where[32];

		snprintf(where, sizeof(where), "cells[%zu]", i);
		rd_cell(rd, cell, where, &r->cells[r->ncells++]);
	}
}

int results_json_read(const char *path, struct results *r, struct diag_list *dl)
{
	struct reader rd = { .path = path, .dl = dl };
	json_error_t jerr;
	json_t *root = NULL;
	FILE *f;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		diag_add(dl, path, 0, "open: %s", strerror(-ret));
		goto out;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		ret = ferror(f) ? -EIO : -EINVAL;
		diag_add(dl, path, jerr.line > 0 ? jerr.line : 0, "%s", jerr.text);
		goto out;
	}
	rd_results(&rd, root, r);
	if (rd.errors)
		ret = -EINVAL;
out:
	if (ret < 0) {
		results_free(r);
		memset(r, 0, sizeof(*r));
	}
	json_decref(root);
	if (f)
		fclose(f);
	return ret;
}
