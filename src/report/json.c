/* matrix.json (docs/matrix-json.md): a small streaming JSON emitter (so that numbers come out
 * short and exact, and text that is not UTF-8 still makes valid JSON), and the schema. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_internal.h"
#include "report/sweep.h"

#define JW_MAX_DEPTH ((int)(sizeof(((struct json_writer *)0)->first)))

static void jw_indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

static void jw_quote(struct json_writer *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', w->f);
	while (*p) {
		int k = report_utf8_len(p);

		if (k == 0) {
			fputs("\\ufffd", w->f); /* not UTF-8: the replacement character */
			p++;
			continue;
		}
		if (k > 1) {
			fwrite(p, 1, (size_t)k, w->f);
			p += k;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", w->f); break;
		case '\\': fputs("\\\\", w->f); break;
		case '\n': fputs("\\n", w->f); break;
		case '\r': fputs("\\r", w->f); break;
		case '\t': fputs("\\t", w->f); break;
		default:
			/* in HTML, "</script>" and "<!--" must not appear inside the data block */
			if (*p < 0x20 || *p == 0x7f || (w->html && (*p == '<' || *p == '>' || *p == '&')))
				fprintf(w->f, "\\u%04x", *p);
			else
				fputc(*p, w->f);
		}
		p++;
	}
	fputc('"', w->f);
}

/* Before a member: the comma, the indentation and the key. */
static void jw_member(struct json_writer *w, const char *key)
{
	int d = w->depth < JW_MAX_DEPTH ? w->depth : JW_MAX_DEPTH - 1;

	if (w->depth > 0) {
		if (!w->first[d])
			fputc(',', w->f);
		w->first[d] = false;
		jw_indent(w);
	}
	if (key) {
		jw_quote(w, key);
		fputs(w->pretty ? ": " : ":", w->f);
	}
}

void jw_open(struct json_writer *w, const char *key, char brace)
{
	jw_member(w, key);
	fputc(brace, w->f);
	w->depth++;
	if (w->depth < JW_MAX_DEPTH)
		w->first[w->depth] = true;
}

void jw_close(struct json_writer *w, char brace)
{
	bool empty = w->depth < JW_MAX_DEPTH && w->first[w->depth];

	w->depth--;
	if (!empty)
		jw_indent(w);
	fputc(brace, w->f);
}

void jw_str(struct json_writer *w, const char *key, const char *s)
{
	jw_member(w, key);
	jw_quote(w, s);
}

void jw_num(struct json_writer *w, const char *key, double v)
{
	char buf[40];

	jw_member(w, key);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	/* the shortest form that reads back as the same double: 12.3, not 12.300000000000001 */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, w->f);
}

void jw_int(struct json_writer *w, const char *key, long v)
{
	jw_member(w, key);
	fprintf(w->f, "%ld", v);
}

void jw_bool(struct json_writer *w, const char *key, bool v)
{
	jw_member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct json_writer *w, const char *key)
{
	jw_member(w, key);
	fputs("null", w->f);
}

/* A time in ms, or null when not connected (< 0). */
static void jw_ms(struct json_writer *w, const char *key, double v)
{
	if (v < 0)
		jw_null(w, key);
	else
		jw_num(w, key, v);
}

/* Mappings: one string per non-empty line. */
static void jw_lines(struct json_writer *w, const char *key, const char *text)
{
	jw_open(w, key, '[');
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n > 0) {
			char line[sizeof(((struct cell_run *)0)->mappings)];
			snprintf(line, sizeof(line), "%.*s", (int)n, p);
			jw_str(w, NULL, line);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	jw_close(w, ']');
}

static void jw_outcome_set(struct json_writer *w, const char *key, outcome_set s)
{
	jw_open(w, key, '[');
	for (int o = 0; o < CELL_OUTCOME_COUNT; o++)
		if (s & (1u << o))
			jw_str(w, NULL, cell_outcome_name((enum cell_outcome)o));
	jw_close(w, ']');
}

static void jw_write_meta(struct json_writer *w, const struct results_meta *m)
{
	jw_open(w, "meta", '{');
	jw_str(w, "started", m->started);
	jw_num(w, "wall_ms", m->wall_ms);
	jw_bool(w, "incomplete", m->incomplete);
	jw_str(w, "kernel", m->kernel);
	jw_str(w, "nft_version", m->nft_version);
	jw_str(w, "engine", m->engine);
	jw_str(w, "engine_version", m->engine_version);
	jw_str(w, "engine_b", m->engine_b);
	jw_str(w, "engine_b_version", m->engine_b_version);
	jw_str(w, "harness_version", m->harness_version);
	jw_str(w, "host", m->host);
	jw_int(w, "jobs", m->jobs);
	jw_int(w, "repeat", m->repeat);
	jw_int(w, "stagger_ms", m->stagger_ms);
	jw_str(w, "shard", m->shard);
	jw_str(w, "baseline", m->baseline);
	jw_str(w, "engine_binary", m->engine_binary);
	jw_str(w, "engine_binary_b", m->engine_binary_b);
	jw_str(w, "expectations", m->expectations);
	jw_str(w, "topology_path", m->topology_path);
	jw_open(w, "profiles", '[');
	for (int i = 0; i < m->nprofiles; i++) {
		jw_open(w, NULL, '{');
		jw_str(w, "name", m->profiles[i].name);
		jw_str(w, "sha256", m->profiles[i].sha256);
		jw_close(w, '}');
	}
	jw_close(w, ']');
	jw_close(w, '}');
}

static void jw_write_summary(struct json_writer *w, const struct results *r)
{
	struct results_summary s;

	results_summarize(r, &s);
	jw_open(w, "summary", '{');
	jw_int(w, "cells", s.cells);
	jw_int(w, "direct", s.direct);
	jw_int(w, "relayed", s.relayed);
	jw_int(w, "failed", s.failed);
	jw_int(w, "disputed", s.disputed);
	jw_int(w, "error", s.error);
	jw_int(w, "skipped", s.skipped);
	jw_int(w, "regressions", s.regressions);
	jw_int(w, "improvements", s.improvements);
	jw_int(w, "flaky", s.flaky);
	jw_int(w, "disagree_claim", s.disagree_claim);
	jw_int(w, "disagree_theory", s.disagree_theory);
	jw_int(w, "exit_code", results_exit_code(r));
	jw_close(w, '}');
}

/* Every claim that speaks of the cell (docs/matrix-json.md); "claim" above is the first. */
static void jw_write_claims(struct json_writer *w, const struct cell_refs *refs)
{
	jw_open(w, "claims", '[');
	for (int i = 0; i < refs->nclaims && i < CELL_MAX_CLAIMS; i++) {
		const struct cell_claim *c = &refs->claims[i];

		jw_open(w, NULL, '{');
		jw_str(w, "id", c->id);
		jw_str(w, "outcome", cell_outcome_name(c->outcome));
		jw_str(w, "strength", c->strength);
		jw_num(w, "bound", c->bound);
		jw_str(w, "source", c->source);
		jw_str(w, "quote", c->quote);
		jw_str(w, "explanation", c->explanation);
		jw_bool(w, "disagrees", c->disagrees);
		jw_num(w, "p_value", c->p_value);
		jw_close(w, '}');
	}
	jw_close(w, ']');
	jw_bool(w, "claims_conflict", refs->claims_conflict);
}

static void jw_write_refs(struct json_writer *w, const struct cell_refs *refs)
{
	jw_open(w, "refs", '{');
	if (refs->has_claim) {
		jw_open(w, "claim", '{');
		jw_str(w, "outcome", cell_outcome_name(refs->claim));
		jw_str(w, "source", refs->claim_source);
		jw_str(w, "quote", refs->claim_quote);
		jw_close(w, '}');
	} else {
		jw_null(w, "claim");
	}
	jw_write_claims(w, refs);
	jw_open(w, "theory", '{');
	jw_str(w, "outcome", cell_outcome_name(refs->theory));
	jw_str(w, "why", refs->theory_why);
	jw_close(w, '}');
	if (refs->has_baseline)
		jw_str(w, "baseline", cell_outcome_name(refs->baseline));
	else
		jw_null(w, "baseline");
	jw_open(w, "expected", '{');
	jw_str(w, "class", cell_class_name(refs->cell_class));
	jw_str(w, "mechanism", refs->mechanism);
	jw_outcome_set(w, "allowed", refs->expected_allowed);
	jw_num(w, "rate", refs->expected_rate);
	jw_int(w, "runs", refs->expected_runs);
	jw_str(w, "reason", refs->expected_reason);
	/* dual cells: the families a direct path may take ("6", "4", "4 or 6") */
	if (refs->expected_families)
		jw_str(w, "families", family_set_name(refs->expected_families));
	jw_close(w, '}');
	jw_close(w, '}');
}

static void jw_write_verdict(struct json_writer *w, const struct cell_verdict *v)
{
	jw_open(w, "verdict", '{');
	jw_bool(w, "regression", v->regression);
	jw_bool(w, "improvement", v->improvement);
	jw_bool(w, "flaky", v->flaky);
	jw_bool(w, "disputed", v->disputed);
	jw_bool(w, "rate_tested", v->rate_tested);
	jw_bool(w, "rate_low", v->rate_low);
	jw_num(w, "rate_p_value", v->rate_p_value);
	jw_bool(w, "disagrees_claim", v->disagrees_claim);
	jw_bool(w, "disagrees_theory", v->disagrees_theory);
	jw_bool(w, "error", v->error);
	jw_bool(w, "family_wrong", v->family_wrong);
	jw_int(w, "family_judged", v->family_judged);
	jw_int(w, "family_outside", v->family_outside);
	jw_close(w, '}');
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of a run's log directory, sorted, for index.html's links. Best effort: a missing
 * directory lists nothing. */
static void jw_log_files(struct json_writer *w, const char *root, const char *log_dir)
{
	char path[4096];
	char *names[256];
	int n = 0;
	DIR *d;
	struct dirent *e;

	jw_open(w, "log_files", '[');
	snprintf(path, sizeof(path), "%s/%s", root, log_dir);
	d = log_dir[0] ? opendir(path) : NULL;
	while (d && (e = readdir(d)) && n < (int)(sizeof(names) / sizeof(names[0]))) {
		if (e->d_name[0] == '.')
			continue;
		names[n] = strdup(e->d_name);
		if (names[n])
			n++;
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), name_cmp);
	for (int i = 0; i < n; i++) {
		jw_str(w, NULL, names[i]);
		free(names[i]);
	}
	jw_close(w, ']');
}

/* A run with NAT events (docs/events.md): the steps as applied, and the engine's recovery. */
static void jw_write_recovery(struct json_writer *w, const struct run_recovery *rc)
{
	jw_open(w, "events", '[');
	for (int i = 0; i < rc->nevents; i++) {
		const struct run_event *e = &rc->events[i];
		jw_open(w, NULL, '{');
		jw_str(w, "event", e->event);
		jw_bool(w, "second_half", e->second_half);
		jw_int(w, "planned_ms", e->planned_ms);
		jw_ms(w, "applied_ms", e->actual_ms);
		jw_bool(w, "failed", e->failed);
		jw_str(w, "detail", e->detail);
		jw_close(w, '}');
	}
	jw_close(w, ']');
	jw_open(w, "recovery", '{');
	jw_bool(w, "path_lost", rc->path_lost);
	jw_bool(w, "recovered", rc->recovered);
	jw_str(w, "via", rc->via);
	jw_ms(w, "detect_ms", rc->detect_ms);
	jw_ms(w, "recovery_ms", rc->recovery_ms);
	jw_close(w, '}');
}

static void jw_write_run(struct json_writer *w, const struct cell_run *run, const char *log_root)
{
	jw_open(w, NULL, '{');
	jw_str(w, "outcome", cell_outcome_name(run->outcome));
	jw_str(w, "reason", run->reason);
	jw_str(w, "phase", run->phase);
	jw_str(w, "technique_used", run->technique_used);
	if (run->family_used)
		jw_int(w, "family", run->family_used);
	jw_ms(w, "time_to_connect_ms", run->time_to_connect_ms);
	jw_ms(w, "ttfb_ms", run->ttfb_ms);
	jw_ms(w, "time_to_direct_ms", run->time_to_direct_ms);
	jw_int(w, "attempts", run->attempts);
	jw_num(w, "wall_ms", run->wall_ms);
	jw_lines(w, "mappings", run->mappings);
	jw_str(w, "engine_said", cell_outcome_name(run->engine_said));
	jw_open(w, "attestation", '{');
	jw_str(w, "verdict", attest_verdict_name(run->attestation.verdict));
	jw_str(w, "summary", run->attestation.summary);
	jw_lines(w, "evidence", run->attestation.evidence);
	/* the family of the direct flows the lab saw (the family the path took), when known */
	if (run->attestation.family)
		jw_int(w, "family", run->attestation.family);
	jw_close(w, '}');
	if (run->recovery.nevents)
		jw_write_recovery(w, &run->recovery);
	if (run->captures[0])
		jw_lines(w, "captures", run->captures);
	jw_str(w, "log_dir", run->log_dir);
	if (log_root)
		jw_log_files(w, log_root, run->log_dir);
	jw_close(w, '}');
}

static void jw_write_cell(struct json_writer *w, const struct results *r,
			    const struct cell_result *c, const char *log_root)
{
	const struct cell_run *rep = report_representative_run(c);
	char rerun[REPORT_RERUN_MAX];

	jw_open(w, NULL, '{');
	jw_str(w, "id", c->spec.id);
	jw_str(w, "topology", c->spec.topology);
	jw_str(w, "profile_a", c->spec.profile_a);
	jw_str(w, "profile_b", c->spec.profile_b);
	jw_str(w, "profile_a_name", c->spec.profile_a_name);
	jw_str(w, "profile_b_name", c->spec.profile_b_name);
	jw_str(w, "proto", c->spec.proto);
	jw_str(w, "technique", c->spec.technique);
	jw_str(w, "engine", c->spec.engine);
	if (c->spec.engine_b[0])
		jw_str(w, "engine_b", c->spec.engine_b);
	if (c->spec.has_stagger)
		jw_int(w, "stagger_ms", c->spec.stagger_ms);
	if (c->spec.has_signal_delay)
		jw_int(w, "signal_delay_ms", c->spec.signal_delay_ms);
	if (c->spec.events[0])
		jw_str(w, "events", c->spec.events);
	if (c->spec.impair[0])
		jw_str(w, "impair", c->spec.impair);
	if (c->spec.outer[0])
		jw_str(w, "outer", c->spec.outer);
	/* every cell says its address family (docs/matrix-json.md), "4" too */
	jw_str(w, "family", c->spec.family == CELL_FAMILY_6 ? "6"
			    : c->spec.family == CELL_FAMILY_DUAL ? "dual" : "4");
	if (c->spec.ipv6_profile[0])
		jw_str(w, "ipv6_profile", c->spec.ipv6_profile);
	jw_str(w, "outcome", cell_outcome_name(c->outcome));
	/* the representative run's details, for readers that do not want to look into runs */
	jw_str(w, "reason", rep ? rep->reason : "");
	jw_ms(w, "time_to_connect_ms", rep ? rep->time_to_connect_ms : -1);
	jw_int(w, "attempts", rep ? rep->attempts : 0);
	jw_lines(w, "mappings", rep ? rep->mappings : "");
	jw_str(w, "log_dir", rep ? rep->log_dir : "");
	jw_num(w, "success_rate", c->success_rate);
	jw_ms(w, "ttc_p50_ms", c->ttc_p50_ms);
	jw_ms(w, "ttc_p95_ms", c->ttc_p95_ms);
	jw_ms(w, "ttfb_p50_ms", c->ttfb_p50_ms);
	jw_ms(w, "ttfb_p95_ms", c->ttfb_p95_ms);
	jw_write_refs(w, &c->refs);
	jw_write_verdict(w, &c->verdict);
	jw_str(w, "engine_version", r->meta.engine_version);
	jw_str(w, "harness_version", r->meta.harness_version);
	report_rerun_command(r, c, rerun, sizeof(rerun));
	jw_str(w, "rerun", rerun);
	jw_open(w, "runs", '[');
	for (int i = 0; i < c->nruns; i++)
		jw_write_run(w, &c->runs[i], log_root);
	jw_close(w, ']');
	jw_close(w, '}');
}

void jw_write_results(struct json_writer *w, const struct results *r, const char *log_root)
{
	jw_open(w, NULL, '{');
	jw_int(w, "schema_version", RESULTS_SCHEMA_VERSION);
	jw_write_meta(w, &r->meta);
	jw_write_summary(w, r);
	jw_open(w, "cells", '[');
	for (int i = 0; i < r->ncells; i++)
		jw_write_cell(w, r, &r->cells[i], log_root);
	jw_close(w, ']');
	report_sweeps_json(w, r);
	jw_close(w, '}');
}

int report_json_write(const struct results *r, FILE *f)
{
	struct json_writer w = { .f = f, .pretty = true };

	jw_write_results(&w, r, NULL);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}
