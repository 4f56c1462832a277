/* The terminal report: a compact grid per (topology, proto, technique), a legend, then the
 * findings, each failing cell with the one command line that reruns it. */
#include <errno.h>
#include <string.h>

#include "matrix/cell.h"
#include "report/events.h"
#include "report/report.h"
#include "report/report_internal.h"
#include "report/sweep.h"

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"

struct term {
	FILE *f;
	bool color;
};

static const char *outcome_color(enum cell_outcome o)
{
	switch (o) {
	case CELL_DIRECT: return "\033[1;32m";
	case CELL_RELAYED: return "\033[1;33m";
	case CELL_FAILED: return "\033[1;31m";
	case CELL_DISPUTED: return "\033[1;41;37m";
	case CELL_ERROR: return "\033[1;35m";
	default: return C_DIM;
	}
}

static void term_on(struct term *t, const char *code)
{
	if (t->color)
		fputs(code, t->f);
}

static void term_off(struct term *t)
{
	if (t->color)
		fputs(C_RESET, t->f);
}

/* Text from the engine or a file on one line, with no control characters (a reason must not
 * be able to move the cursor or change colours) and no broken UTF-8. */
static void term_text(struct term *t, const char *s)
{
	char clean[1024];

	report_utf8_sanitize(s, clean, sizeof(clean));
	for (char *p = clean; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	fputs(clean, t->f);
}

static void term_cell(struct term *t, const struct cell_result *c, int width)
{
	char markers[8] = "";
	const char *fam;
	int used = 1;

	if (!c) {
		fprintf(t->f, "%-*s", width, ".");
		return;
	}
	report_cell_markers(c, markers);
	term_on(t, outcome_color(c->outcome));
	fputc(report_outcome_symbol(c->outcome), t->f);
	fam = report_cell_family(c); /* dual: D6, D4 */
	fputs(fam, t->f);
	used += (int)strlen(fam);
	term_off(t);
	if (markers[0]) {
		term_on(t, C_BOLD);
		fputs(markers, t->f);
		term_off(t);
		used += (int)strlen(markers);
	}
	if (width > used)
		fprintf(t->f, "%*s", width - used, "");
}

static void term_group(struct term *t, const struct results *r, const struct report_groups *gs,
		       const struct report_group *g)
{
	int label = 0, width = 6;
	char topology[3 * CELL_REF_MAX], outer[3 * CELL_REF_MAX] = "", fam[CELL_REF_MAX + 40];
	char famid[3 * CELL_REF_MAX + 40] = "";

	for (int i = 0; i < g->nrows; i++)
		if ((int)strlen(g->rows[i]) > label)
			label = (int)strlen(g->rows[i]);
	for (int j = 0; j < g->ncols; j++)
		if ((int)strlen(report_abbrev(gs, g->cols[j])) + 1 > width)
			width = (int)strlen(report_abbrev(gs, g->cols[j])) + 1;
	label += 4;
	if (g->family == CELL_FAMILY_DUAL && width < 8)
		width = 8; /* room for "D4/6!f" */

	term_on(t, C_BOLD);
	fprintf(t->f, "%s/%s/%s", g->topology, g->proto, g->technique);
	if (g->impair[0])
		fprintf(t->f, " impair=%s", g->impair);
	if (g->outer[0])
		fprintf(t->f, " outer=%s", g->outer);
	report_group_family(g, fam, sizeof(fam));
	fputs(fam, t->f);
	term_off(t);
	/* as it is written in an id: a topology given as a path is percent-encoded */
	if (cell_ref_encode(g->topology, topology, sizeof(topology)) < 0)
		snprintf(topology, sizeof(topology), "?");
	if (g->outer[0] && cell_ref_encode(g->outer, outer, sizeof(outer)) < 0)
		snprintf(outer, sizeof(outer), "?");
	/* the id's family parts: /family=6, /family=dual[/ipv6-profile=P] */
	if (g->family != CELL_FAMILY_4) {
		char six[3 * CELL_REF_MAX] = "";
		if (g->ipv6_profile[0] && cell_ref_encode(g->ipv6_profile, six, sizeof(six)) < 0)
			snprintf(six, sizeof(six), "?");
		snprintf(famid, sizeof(famid), "/family=%s%s%s", cell_family_name(g->family),
			 six[0] ? "/ipv6-profile=" : "", six);
	}
	fprintf(t->f, "   (cell id %s/%s/%s/A~B%s%s%s%s%s: profile A down, B across)\n", topology,
		g->proto, g->technique, g->impair[0] ? "/impair=" : "", g->impair,
		g->outer[0] ? "/outer=" : "", outer, famid);
	fprintf(t->f, "%*s", label, "");
	for (int j = 0; j < g->ncols; j++)
		fprintf(t->f, "%-*s", j + 1 < g->ncols ? width : 1, report_abbrev(gs, g->cols[j]));
	fputc('\n', t->f);
	for (int i = 0; i < g->nrows; i++) {
		fprintf(t->f, "  %-*s", label - 2, g->rows[i]);
		for (int j = 0; j < g->ncols; j++)
			term_cell(t, report_group_cell(r, g, i, j), j + 1 < g->ncols ? width : 1);
		fputc('\n', t->f);
	}
	fputc('\n', t->f);
}

static void term_legend(struct term *t, const struct report_groups *gs)
{
	static const enum cell_outcome order[] = {
		CELL_DIRECT, CELL_RELAYED, CELL_FAILED, CELL_DISPUTED, CELL_ERROR, CELL_SKIPPED,
	};
	bool no_b = false, dual = false;

	for (int k = 0; k < gs->n; k++)
		dual |= gs->g[k].family == CELL_FAMILY_DUAL;
	fputs("Legend: ", t->f);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		term_on(t, outcome_color(order[i]));
		fputc(report_outcome_symbol(order[i]), t->f);
		term_off(t);
		fprintf(t->f, " %s  ", cell_outcome_name(order[i]));
	}
	fputs(".  no such cell\n", t->f);
	fprintf(t->f, "Markers: ! regression  + improvement  ~ flaky (a determined cell's runs "
		"differ)  c disagrees with the documents' claim  t disagrees with the theory%s\n",
		dual ? "  f wrong address family" : "");
	/* only under dual grids: the family a direct path took */
	if (dual)
		fputs("Dual cells: D6 / D4 direct over the IPv6 / IPv4 the lab attested (D4/6: runs "
		      "took both)\n", t->f);
	fputs("Profiles:", t->f);
	for (int i = 0; i < gs->nnames; i++) {
		fprintf(t->f, "%s %s ", i ? "," : "", gs->abbrevs[i]);
		term_text(t, gs->names[i]);
		/* a profile given as a path: which file (unless its label already says) */
		if (strchr(gs->refs[i], '/') && !strstr(gs->names[i], gs->refs[i])) {
			fputs(" (", t->f);
			term_text(t, gs->refs[i]);
			fputc(')', t->f);
		}
	}
	for (int k = 0; k < gs->n; k++)
		for (int j = 0; j < gs->g[k].ncols; j++)
			no_b |= gs->g[k].cols[j][0] == '\0';
	if (no_b)
		fputs(", - B has no NAT of its own (same-nat, public-peer)", t->f);
	fputs("\n\n", t->f);
}

static void term_header(struct term *t, const struct results *r)
{
	const struct results_meta *m = &r->meta;
	struct results_summary s;

	results_summarize(r, &s);
	term_on(t, C_BOLD);
	fprintf(t->f, "%d cells:", s.cells);
	term_off(t);
	fprintf(t->f, " %d direct, %d relayed, %d failed, %d disputed, %d error, %d skipped; %d "
		"regression%s, %d improvement%s, %d flaky; %d disagree with the documents' claim, %d "
		"with the theory\n", s.direct, s.relayed, s.failed, s.disputed, s.error, s.skipped,
		s.regressions,
		s.regressions == 1 ? "" : "s", s.improvements, s.improvements == 1 ? "" : "s", s.flaky,
		s.disagree_claim, s.disagree_theory);
	char engines[800];

	report_engine_label(m, engines, sizeof(engines));
	fprintf(t->f, "engine %s, harness %s, kernel %s, nft %s; %.1f s, jobs %d, repeat %d",
		engines, m->harness_version,
		m->kernel[0] ? m->kernel : "?", m->nft_version[0] ? m->nft_version : "?",
		m->wall_ms / 1000, m->jobs, m->repeat);
	if (m->shard[0])
		fprintf(t->f, ", shard %s", m->shard);
	if (m->baseline[0]) {
		fputs(", baseline ", t->f);
		term_text(t, m->baseline);
	}
	fputc('\n', t->f);
	if (m->incomplete) {
		term_on(t, "\033[1;35m");
		fputs("INCOMPLETE: the run was interrupted; cells that did not run are missing\n", t->f);
		term_off(t);
	}
	fputc('\n', t->f);
}

static void term_section(struct term *t, const char *title)
{
	term_on(t, C_BOLD);
	fputs(title, t->f);
	term_off(t);
	fputc('\n', t->f);
}

static void term_ref(struct term *t, const char *label, enum cell_outcome o, bool disagrees,
		     const char *source, const char *text)
{
	fprintf(t->f, "      %-7s %-8s", label, cell_outcome_name(o));
	if (source && source[0]) {
		fputs(" ", t->f);
		term_text(t, source);
		fputs(":", t->f);
	}
	if (text && text[0]) {
		fputs(" ", t->f);
		term_text(t, text);
	}
	if (disagrees) {
		term_on(t, C_BOLD);
		fputs("  <- disagrees", t->f);
		term_off(t);
	}
	fputc('\n', t->f);
}

/* Every documents' claim of a cell, each with its strength; a disagreeing one with its
 * explanation (or the lack of one); `none` when no document speaks of the cell. When documents
 * conflict, all their claims are shown side by side. */
static void term_claims(struct term *t, const struct cell_result *c)
{
	struct cell_claim cl[CELL_MAX_CLAIMS];
	int n = report_claims(c, cl);

	if (n == 0)
		fprintf(t->f, "      %-7s %-8s no document speaks of this cell\n", "claim", "none");
	for (int i = 0; i < n; i++) {
		char label[64];

		report_claim_label(&cl[i], label, sizeof(label));
		fprintf(t->f, "      %-7s %s", "claim", label);
		if (cl[i].id[0]) {
			fputs(" [", t->f);
			term_text(t, cl[i].id);
			fputc(']', t->f);
		}
		fputc(' ', t->f);
		term_text(t, cl[i].source);
		fputs(": \"", t->f);
		term_text(t, cl[i].quote);
		fputc('"', t->f);
		if (cl[i].disagrees) {
			term_on(t, C_BOLD);
			fputs("  <- disagrees", t->f);
			term_off(t);
		}
		fputc('\n', t->f);
		if (cl[i].disagrees) {
			fputs("              why: ", t->f);
			term_text(t, cl[i].explanation[0] ? cl[i].explanation
							   : "NOT EXPLAINED (add an explanations: entry)");
			fputc('\n', t->f);
		}
	}
	if (c->refs.claims_conflict)
		fputs("              (the documents' claims conflict: all are shown)\n", t->f);
}

static void term_disagreements(struct term *t, const struct results *r)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		const struct cell_refs *refs = &c->refs;

		if (!c->verdict.disagrees_claim && !c->verdict.disagrees_theory)
			continue;
		if (!any)
			term_section(t, "Disagreements with the documents' claim or the theory "
				     "(findings to explain; they never change the exit code):");
		any = true;
		fprintf(t->f, "  %s: measured ", c->spec.id);
		term_on(t, outcome_color(c->outcome));
		fputs(cell_outcome_name(c->outcome), t->f);
		term_off(t);
		if (c->nruns > 1)
			fprintf(t->f, " (%.0f%% direct over %d runs)", c->success_rate * 100, c->nruns);
		fputc('\n', t->f);
		term_claims(t, c);
		term_ref(t, "theory", refs->theory, c->verdict.disagrees_theory, NULL, refs->theory_why);
	}
	if (any)
		fputc('\n', t->f);
}

/* One line per cell: the command first, so the whole line pastes into a shell; then
 * "# <outcome>[ in <phase>][ (<note>)][: <reason>]". */
static void term_rerun_line(struct term *t, const struct results *r, const struct cell_result *c,
			    const char *note)
{
	const struct cell_run *rep = report_representative_run(c);
	char cmd[REPORT_RERUN_MAX];

	if (c->outcome == CELL_SKIPPED && !c->verdict.regression)
		snprintf(cmd, sizeof(cmd), "%s", c->spec.id); /* rerunning will not help */
	else
		report_rerun_command(r, c, cmd, sizeof(cmd));
	fprintf(t->f, "  %s", cmd);
	term_on(t, C_DIM);
	fprintf(t->f, "   # %s", cell_outcome_name(c->outcome));
	if (rep && rep->phase[0] && c->outcome == CELL_FAILED) {
		fputs(" in ", t->f);
		term_text(t, rep->phase);
	}
	if (note[0])
		fprintf(t->f, " (%s)", note);
	if (rep && rep->reason[0]) {
		fputs(": ", t->f);
		term_text(t, rep->reason);
	}
	term_off(t);
	fputc('\n', t->f);
}

enum pick {
	PICK_REGRESSION,
	PICK_IMPROVEMENT,
	PICK_DISPUTED,
	PICK_FLAKY,
	PICK_RATE,
	PICK_ERROR,
	PICK_FAILED,
	PICK_SKIPPED
};

static bool picked(const struct cell_result *c, enum pick p)
{
	switch (p) {
	case PICK_REGRESSION: return c->verdict.regression;
	case PICK_IMPROVEMENT: return c->verdict.improvement;
	case PICK_DISPUTED: return c->verdict.disputed;
	case PICK_FLAKY: return c->verdict.flaky;
	case PICK_RATE: return c->verdict.rate_tested;
	case PICK_ERROR: return c->verdict.error || c->outcome == CELL_ERROR;
	case PICK_FAILED:
		return c->outcome == CELL_FAILED && !c->verdict.regression && !c->verdict.error;
	case PICK_SKIPPED: return c->outcome == CELL_SKIPPED && !c->verdict.error;
	}
	return false;
}

static void term_list(struct term *t, const struct results *r, enum pick p, const char *title)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		char what[320], expected[128];
		int count[CELL_OUTCOME_COUNT] = { 0 };

		if (!picked(c, p))
			continue;
		if (!any)
			term_section(t, title);
		any = true;
		report_expected_format(&c->refs, expected, sizeof(expected));
		what[0] = '\0';
		switch (p) {
		case PICK_REGRESSION:
		case PICK_IMPROVEMENT:
			snprintf(what, sizeof(what), "%s", expected);
			if (c->nruns > 1)
				snprintf(what + strlen(what), sizeof(what) - strlen(what),
					 "; %.0f%% direct over %d runs", c->success_rate * 100, c->nruns);
			if (c->verdict.disputed)
				snprintf(what + strlen(what), sizeof(what) - strlen(what),
					 "; DISPUTED by the lab");
			if (c->verdict.family_wrong) {
				char fam[240];

				report_family_text(c, fam, sizeof(fam));
				snprintf(what + strlen(what), sizeof(what) - strlen(what), "; %s",
					 fam);
			}
			break;
		case PICK_DISPUTED:
			for (int k = 0; k < c->nruns; k++)
				if (c->runs[k].outcome == CELL_DISPUTED) {
					snprintf(what, sizeof(what), "run %d: %s", k + 1,
						 c->runs[k].reason);
					break;
				}
			break;
		case PICK_RATE:
			snprintf(what, sizeof(what), "%d of %d direct, expected %.0f%% (%s): %s, "
				 "p = %.3g", (int)(c->success_rate * c->nruns + 0.5), c->nruns,
				 c->refs.expected_rate * 100, c->refs.mechanism,
				 c->verdict.rate_low ? "TOO LOW" : "consistent", c->verdict.rate_p_value);
			break;
		case PICK_FLAKY:
			for (int k = 0; k < c->nruns; k++)
				if ((unsigned)c->runs[k].outcome < CELL_OUTCOME_COUNT)
					count[c->runs[k].outcome]++;
			for (int o = 0; o < CELL_OUTCOME_COUNT; o++)
				if (count[o])
					snprintf(what + strlen(what), sizeof(what) - strlen(what),
						 "%s%d %s", what[0] ? ", " : "", count[o],
						 cell_outcome_name((enum cell_outcome)o));
			snprintf(what + strlen(what), sizeof(what) - strlen(what), " of %d", c->nruns);
			if (c->ttc_p50_ms >= 0)
				snprintf(what + strlen(what), sizeof(what) - strlen(what),
					 "; connect p50 %.0f ms, p95 %.0f ms", c->ttc_p50_ms,
					 c->ttc_p95_ms);
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "; the theory "
				 "calls it determined");
			break;
		default:
			break;
		}
		term_rerun_line(t, r, c, what);
	}
	if (any)
		fputc('\n', t->f);
}

int report_terminal_write(const struct results *r, FILE *f, bool color)
{
	struct term t = { .f = f, .color = color };
	struct report_groups gs;
	int ret;

	ret = report_groups_build(r, &gs);
	if (ret < 0)
		goto out;
	for (int i = 0; i < gs.n; i++)
		term_group(&t, r, &gs, &gs.g[i]);
	term_legend(&t, &gs);
	report_sweeps_terminal(f, r);
	term_header(&t, r);
	term_disagreements(&t, r);
	term_list(&t, r, PICK_REGRESSION, "Regressions (exit 1):");
	term_list(&t, r, PICK_IMPROVEMENT, "Improvements (reported, not failed):");
	term_list(&t, r, PICK_DISPUTED, "Disputed cells (the engine's word against the lab's "
		  "evidence; exit 1):");
	term_list(&t, r, PICK_FLAKY, "Flaky cells (a determined cell whose runs differ; exit 1):");
	term_list(&t, r, PICK_RATE, "Rate cells (timing-dependent or probabilistic: a one-sided "
		  "binomial test at 1% against the measured rate):");
	term_list(&t, r, PICK_ERROR, "Errors (exit 2: the harness could not run the cell):");
	term_list(&t, r, PICK_FAILED, "Failed cells (the engine found no path; not regressions):");
	term_list(&t, r, PICK_SKIPPED, "Skipped cells (the kernel lacks what the profile needs, or the engine what the cell needs):");
	report_events_write(r, f, EVENTS_TERMINAL);
	ret = ferror(f) ? -EIO : 0;
out:
	report_groups_free(&gs);
	return ret;
}
