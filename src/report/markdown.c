/* matrix.md: GitHub-flavoured markdown to paste into an issue or a PR, or to append to a CI job
 * summary; with a baseline it opens with "What changed", the part a PR comment needs. */
#include <errno.h>
#include <string.h>

#include "report/events.h"
#include "report/report.h"
#include "report/report_internal.h"
#include "report/sweep.h"

/* Text inside a table cell: no line breaks, no column separators, no HTML. */
static void md_text(FILE *f, const char *s)
{
	char clean[1100];

	report_utf8_sanitize(s, clean, sizeof(clean));
	for (const char *p = clean; *p; p++) {
		switch (*p) {
		case '|': fputs("\\|", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '*': case '_': case '`': case '[': case ']': case '\\':
			fputc('\\', f);
			fputc(*p, f);
			break;
		case '\n': fputs("<br>", f); break;
		default:
			fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
		}
	}
}

/* A cell id as code; ids are ours, but keep a backtick from ending the span. */
static void md_id(FILE *f, const char *id)
{
	fputc('`', f);
	for (const char *p = id; *p; p++)
		fputc(*p == '`' || *p == '|' || *p == '\n' ? '?' : *p, f);
	fputc('`', f);
}

static const char *md_square(enum cell_outcome o)
{
	switch (o) {
	case CELL_DIRECT: return "\xf0\x9f\x9f\xa9";  /* green square */
	case CELL_RELAYED: return "\xf0\x9f\x9f\xa8"; /* yellow square */
	case CELL_FAILED: return "\xf0\x9f\x9f\xa5";  /* red square */
	case CELL_DISPUTED: return "\xe2\xac\x9b";   /* black square */
	case CELL_ERROR: return "\xf0\x9f\x9f\xaa";   /* purple square */
	default: return "\xe2\xac\x9c";               /* white square */
	}
}

static void md_outcome(FILE *f, const struct cell_result *c)
{
	fprintf(f, "%s %s", md_square(c->outcome), cell_outcome_name(c->outcome));
	if (c->nruns > 1)
		fprintf(f, " (%.0f%% direct, %d runs)", c->success_rate * 100, c->nruns);
}

static void md_header(FILE *f, const struct results *r, const struct results_summary *s)
{
	const struct results_meta *m = &r->meta;

	fputs("# punchlab matrix\n\n", f);
	fprintf(f, "**%d cells**: %d direct, %d relayed, %d failed, %d disputed, %d error, %d "
		"skipped. **%d regression%s**, %d improvement%s, %d flaky; %d disagree with the "
		"documents' claim, %d with the theory. Exit code %d.\n\n", s->cells, s->direct,
		s->relayed, s->failed, s->disputed, s->error, s->skipped, s->regressions, s->regressions == 1 ? "" : "s",
		s->improvements, s->improvements == 1 ? "" : "s", s->flaky, s->disagree_claim,
		s->disagree_theory, results_exit_code(r));
	fputs("Engine ", f);
	char engines[800];
	report_engine_label(m, engines, sizeof(engines));
	md_text(f, engines);
	fputs(", harness ", f);
	md_text(f, m->harness_version);
	fputs(", kernel ", f);
	md_text(f, m->kernel[0] ? m->kernel : "?");
	fputs(", nft ", f);
	md_text(f, m->nft_version[0] ? m->nft_version : "?");
	fputs("; started ", f);
	md_text(f, m->started[0] ? m->started : "?");
	fprintf(f, ", %.1f s, jobs %d, repeat %d", m->wall_ms / 1000, m->jobs, m->repeat);
	if (m->shard[0]) {
		fputs(", shard ", f);
		md_text(f, m->shard);
	}
	fputs(".\n\n", f);
	if (m->incomplete)
		fputs("> **Incomplete**: the run was interrupted; cells that did not run are missing.\n\n",
		      f);
}

static void md_what_changed(FILE *f, const struct results *r)
{
	bool any = false;

	fputs("## What changed (against the baseline ", f);
	md_text(f, r->meta.baseline);
	fputs(")\n\n", f);
	/* regressions first: they are what a reviewer must act on */
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < r->ncells; i++) {
			const struct cell_result *c = &r->cells[i];
			const char *verdict;

			if (pass == 0 && !c->verdict.regression)
				continue;
			if (pass == 1 && !c->verdict.improvement)
				continue;
			if (pass == 2 && (c->verdict.regression || c->verdict.improvement ||
					  (c->refs.has_baseline && c->refs.baseline == c->outcome)))
				continue;
			verdict = pass == 0 ? "**regression**" : pass == 1 ? "improvement" : "changed";
			if (!c->refs.has_baseline)
				verdict = pass == 0 ? "**regression** (new: not in the baseline)" :
					  pass == 1 ? "improvement (new: not in the baseline)" :
					  "new (not in the baseline)";
			if (!any)
				fputs("| Cell | Baseline | Now | |\n|---|---|---|---|\n", f);
			any = true;
			fputs("| ", f);
			md_id(f, c->spec.id);
			fprintf(f, " | %s | ", c->refs.has_baseline ? cell_outcome_name(c->refs.baseline)
				: "-");
			md_outcome(f, c);
			fprintf(f, " | %s |\n", verdict);
		}
	}
	if (!any)
		fputs("No cell changed.\n", f);
	fputc('\n', f);
}

static void md_group(FILE *f, const struct results *r, const struct report_groups *gs,
		     const struct report_group *g)
{
	fprintf(f, "## ");
	md_text(f, g->topology);
	fputs(" \xc2\xb7 ", f);
	md_text(f, g->proto);
	fputs(" \xc2\xb7 ", f);
	md_text(f, g->technique);
	if (g->impair[0]) {
		fputs(" \xc2\xb7 impair=", f);
		md_text(f, g->impair);
	}
	if (g->outer[0]) {
		fputs(" \xc2\xb7 outer=", f);
		md_text(f, g->outer);
	}
	if (g->family != CELL_FAMILY_4) {
		char fam[CELL_REF_MAX + 40];
		report_group_family(g, fam, sizeof(fam));
		fputs(" \xc2\xb7", f);
		md_text(f, fam);
	}
	fputs("\n\n| A \xe2\x86\x93 B \xe2\x86\x92 |", f);
	for (int j = 0; j < g->ncols; j++) {
		fputc(' ', f);
		md_text(f, report_abbrev(gs, g->cols[j]));
		fputs(" |", f);
	}
	fputs("\n|---|", f);
	for (int j = 0; j < g->ncols; j++)
		fputs(":-:|", f);
	fputc('\n', f);
	for (int i = 0; i < g->nrows; i++) {
		fputs("| **", f);
		md_text(f, g->rows[i]);
		fputs("** |", f);
		for (int j = 0; j < g->ncols; j++) {
			const struct cell_result *c = report_group_cell(r, g, i, j);
			char markers[8];

			if (!c) {
				fputs(" |", f);
				continue;
			}
			report_cell_markers(c, markers);
			fprintf(f, " %s %c%s", md_square(c->outcome), report_outcome_symbol(c->outcome),
				report_cell_family(c));
			if (markers[0])
				fputc(' ', f);
			for (const char *m = markers; *m; m++)
				fprintf(f, "%s", *m == '!' ? "\xe2\x9d\x97" : *m == '+' ? "\xe2\x9e\x95" :
					*m == '~' ? "~" : *m == 'c' ? "c" : *m == 'f' ? "f" : "t");
			fputs(" |", f);
		}
		fputc('\n', f);
	}
	fputc('\n', f);
}

static void md_legend(FILE *f, const struct report_groups *gs)
{
	fprintf(f, "%s direct \xc2\xb7 %s relayed \xc2\xb7 %s failed \xc2\xb7 %s disputed \xc2\xb7 "
		"%s error \xc2\xb7 %s skipped. Markers: \xe2\x9d\x97 regression, \xe2\x9e\x95 "
		"improvement, ~ flaky, c disagrees with the documents' claim, t disagrees with the "
		"theory, f a dual cell took a family the theory calls not direct (D6 / D4: the family "
		"the lab attested). Profile A is the row, profile B the column:", md_square(CELL_DIRECT),
		md_square(CELL_RELAYED), md_square(CELL_FAILED), md_square(CELL_DISPUTED),
		md_square(CELL_ERROR), md_square(CELL_SKIPPED));
	for (int i = 0; i < gs->nnames; i++) {
		fprintf(f, "%s ", i ? "," : "");
		md_text(f, gs->abbrevs[i]);
		fputs(" = ", f);
		md_text(f, gs->names[i]);
	}
	fputs("; - = B has no NAT of its own.\n\n", f);
}

static void md_ref(FILE *f, enum cell_outcome o, bool disagrees, const char *source,
		   const char *text)
{
	fprintf(f, disagrees ? "**%s**" : "%s", cell_outcome_name(o));
	if (source && source[0]) {
		fputs(" \xe2\x80\x94 ", f);
		md_text(f, source);
	}
	if (text && text[0]) {
		fputs(source ? ": \xe2\x80\x9c" : " \xe2\x80\x94 ", f);
		md_text(f, text);
		if (source)
			fputs("\xe2\x80\x9d", f);
	}
}

/* Every claim of a cell, the disagreeing ones in bold with their explanation; `none` when no
 * document speaks of the cell. */
static void md_claims(FILE *f, const struct cell_result *c)
{
	struct cell_claim cl[CELL_MAX_CLAIMS];
	int n = report_claims(c, cl);

	if (n == 0)
		fputs("none (no document speaks of this cell)", f);
	for (int i = 0; i < n; i++) {
		char label[64];

		report_claim_label(&cl[i], label, sizeof(label));
		fputs(i ? "<br>" : "", f);
		fprintf(f, cl[i].disagrees ? "**%s**" : "%s", label);
		if (cl[i].id[0]) {
			fputs(" `", f);
			md_text(f, cl[i].id);
			fputs("`", f);
		}
		fputs(" \xe2\x80\x94 ", f);
		md_text(f, cl[i].source);
		fputs(": \xe2\x80\x9c", f);
		md_text(f, cl[i].quote);
		fputs("\xe2\x80\x9d", f);
		if (cl[i].disagrees) {
			fputs(" *Why:* ", f);
			md_text(f, cl[i].explanation[0] ? cl[i].explanation : "NOT EXPLAINED");
		}
	}
	if (c->refs.claims_conflict)
		fputs("<br>(the documents conflict: all their claims are shown)", f);
}

static void md_disagreements(FILE *f, const struct results *r)
{
	bool any = false;

	fputs("## Disagreements with the documents' claim or the theory\n\n", f);
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];

		if (!c->verdict.disagrees_claim && !c->verdict.disagrees_theory)
			continue;
		if (!any)
			fputs("Findings to explain, not failures: they never change the exit code. "
			      "The reference that disagrees is in bold.\n\n"
			      "| Cell | Measured | Documents' claim | Theory |\n|---|---|---|---|\n", f);
		any = true;
		fputs("| ", f);
		md_id(f, c->spec.id);
		fputs(" | ", f);
		md_outcome(f, c);
		fputs(" | ", f);
		md_claims(f, c);
		fputs(" | ", f);
		md_ref(f, c->refs.theory, c->verdict.disagrees_theory, NULL, c->refs.theory_why);
		fputs(" |\n", f);
	}
	if (!any)
		fputs("None: every cell agrees with the documents' claim and the theory.\n", f);
	fputc('\n', f);
}

static void md_verdicts(FILE *f, const struct results *r, bool improvements)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		const struct cell_run *rep = report_representative_run(c);
		char expected[96];

		if (improvements ? !c->verdict.improvement : !c->verdict.regression)
			continue;
		if (!any)
			fprintf(f, "## %s\n\n| Cell | Measured | Against | Reason |\n|---|---|---|---|\n",
				improvements ? "Improvements (reported, not failed)" : "Regressions");
		any = true;
		report_expected_format(&c->refs, expected, sizeof(expected));
		fputs("| ", f);
		md_id(f, c->spec.id);
		fputs(" | ", f);
		md_outcome(f, c);
		fputs(" | ", f);
		md_text(f, expected);
		if (c->verdict.family_wrong) {
			char fam[240];

			report_family_text(c, fam, sizeof(fam));
			fputs("; ", f);
			md_text(f, fam);
		}
		fputs(" | ", f);
		md_text(f, rep ? rep->reason : "");
		fputs(" |\n", f);
	}
	if (any)
		fputc('\n', f);
}

static void md_flaky(FILE *f, const struct results *r)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		int count[CELL_OUTCOME_COUNT] = { 0 }, n = 0;

		if (!c->verdict.flaky && !c->verdict.rate_tested)
			continue;
		if (!any)
			fputs("## Flaky and rate cells\n\nA determined cell whose runs differ is "
			      "flaky (a regression); a timing-dependent or probabilistic cell is judged "
			      "by a one-sided binomial test at 1% against its measured rate.\n\n"
			      "| Cell | Runs | Time to connect p50 / p95 | Class, expected rate, test |\n"
			      "|---|---|---|---|\n", f);
		any = true;
		for (int k = 0; k < c->nruns; k++)
			if ((unsigned)c->runs[k].outcome < CELL_OUTCOME_COUNT)
				count[c->runs[k].outcome]++;
		fputs("| ", f);
		md_id(f, c->spec.id);
		fputs(" | ", f);
		for (int o = 0; o < CELL_OUTCOME_COUNT; o++)
			if (count[o])
				fprintf(f, "%s%d %s", n++ ? ", " : "", count[o],
					cell_outcome_name((enum cell_outcome)o));
		if (c->ttc_p50_ms >= 0)
			fprintf(f, " | %.1f / %.1f ms | ", c->ttc_p50_ms, c->ttc_p95_ms);
		else
			fputs(" | - | ", f);
		if (c->verdict.rate_tested) {
			char t[160];
			snprintf(t, sizeof(t), "%s, %.0f%% (%s): %s, p = %.3g",
				 cell_class_name(c->refs.cell_class), c->refs.expected_rate * 100,
				 c->refs.mechanism, c->verdict.rate_low ? "too low" : "consistent",
				 c->verdict.rate_p_value);
			md_text(f, t);
		} else {
			md_text(f, "determined: flaky");
		}
		fputs(" |\n", f);
	}
	if (any)
		fputc('\n', f);
}

static void md_reruns(FILE *f, const struct results *r)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		const struct cell_run *rep = report_representative_run(c);
		char cmd[REPORT_RERUN_MAX], reason[300];

		if (c->outcome != CELL_FAILED && c->outcome != CELL_ERROR && !c->verdict.error &&
		    !c->verdict.regression)
			continue;
		if (!any)
			fputs("## Rerun a failing cell\n\n```sh\n", f);
		any = true;
		report_rerun_command(r, c, cmd, sizeof(cmd));
		report_utf8_sanitize(rep ? rep->reason : "", reason, sizeof(reason));
		for (char *p = reason; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == '`')
				*p = ' ';
		fprintf(f, "%s   # %s%s%s%s\n", cmd, c->verdict.regression ? "regression, " : "",
			cell_outcome_name(c->outcome), reason[0] ? ": " : "", reason);
	}
	if (any)
		fputs("```\n\n", f);
}

static void md_all_cells(FILE *f, const struct results *r)
{
	fprintf(f, "<details><summary>All %d cells</summary>\n\n"
		"| Cell | Measured | Time to connect | Claim | Theory | Expected | Reason | Logs |\n"
		"|---|---|---|---|---|---|---|---|\n", r->ncells);
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		const struct cell_run *rep = report_representative_run(c);
		char expected[96];

		report_expected_format(&c->refs, expected, sizeof(expected));
		fputs("| ", f);
		md_id(f, c->spec.id);
		fputs(" | ", f);
		md_outcome(f, c);
		if (c->ttc_p50_ms >= 0 && c->nruns > 1)
			fprintf(f, " | %.1f / %.1f ms", c->ttc_p50_ms, c->ttc_p95_ms);
		else if (c->ttc_p50_ms >= 0)
			fprintf(f, " | %.1f ms", c->ttc_p50_ms);
		else
			fputs(" | -", f);
		/* auto's relay alongside: data flowed before the outcome's path was verified */
		if (c->ttfb_p50_ms >= 0 && (c->ttc_p50_ms < 0 || c->ttfb_p50_ms < c->ttc_p50_ms))
			fprintf(f, c->nruns > 1 ? " (first byte %.1f / %.1f ms)" : " (first byte %.1f ms)",
				c->ttfb_p50_ms, c->ttfb_p95_ms);
		fprintf(f, " | %s | %s | ", c->refs.has_claim ? cell_outcome_name(c->refs.claim) : "none",
			cell_outcome_name(c->refs.theory));
		md_text(f, expected);
		fputs(" | ", f);
		md_text(f, rep ? rep->reason : "");
		fputs(" | ", f);
		md_text(f, rep ? rep->log_dir : "");
		fputs(" |\n", f);
	}
	fputs("\n</details>\n", f);
}

int report_markdown_write(const struct results *r, FILE *f)
{
	struct results_summary s;
	struct report_groups gs;
	int ret;

	ret = report_groups_build(r, &gs);
	if (ret < 0)
		goto out;
	results_summarize(r, &s);
	md_header(f, r, &s);
	/* with a baseline, "What changed" already lists the regressions and improvements */
	if (r->meta.baseline[0])
		md_what_changed(f, r);
	else
		md_verdicts(f, r, false);
	for (int i = 0; i < gs.n; i++)
		md_group(f, r, &gs, &gs.g[i]);
	md_legend(f, &gs);
	report_sweeps_markdown(f, r);
	md_disagreements(f, r);
	if (!r->meta.baseline[0])
		md_verdicts(f, r, true);
	md_flaky(f, r);
	report_events_write(r, f, EVENTS_MARKDOWN);
	md_reruns(f, r);
	md_all_cells(f, r);
	ret = ferror(f) ? -EIO : 0;
out:
	report_groups_free(&gs);
	return ret;
}
