/* junit.xml for CI dashboards: a <testsuite> per (topology, proto, technique), a <testcase> per
 * cell named by its id. Only regressions fail (BRIEF.md: disagreements with the documents are
 * findings, improvements are reported): a regression is a <failure>, a cell with an error run
 * an <error>, a skipped cell <skipped/>. */
#include <errno.h>
#include <string.h>

#include "report/report.h"
#include "report/report_internal.h"

static void xml_text(FILE *f, const char *s)
{
	report_escape_markup(f, s, MARKUP_XML_ATTR);
}

static void xml_body(FILE *f, const char *s)
{
	report_escape_markup(f, s, MARKUP_XML_TEXT);
}

static double cell_seconds(const struct cell_result *c)
{
	double ms = 0;

	for (int i = 0; i < c->nruns; i++)
		ms += c->runs[i].wall_ms;
	return ms / 1000;
}

/* The documents' claims, one line each ("none" when no document speaks of the cell). */
static void junit_claims(FILE *f, const struct cell_result *c)
{
	struct cell_claim cl[CELL_MAX_CLAIMS];
	int n = report_claims(c, cl);

	if (n == 0)
		xml_body(f, "\ndocuments' claim: none (no document speaks of this cell)");
	for (int i = 0; i < n; i++) {
		char label[64];

		report_claim_label(&cl[i], label, sizeof(label));
		xml_body(f, "\ndocuments' claim: ");
		xml_body(f, label);
		xml_body(f, cl[i].disagrees ? " - disagrees (" : " (");
		xml_body(f, cl[i].source);
		xml_body(f, "): \"");
		xml_body(f, cl[i].quote);
		xml_body(f, "\"");
		if (cl[i].disagrees) {
			xml_body(f, "\n  why: ");
			xml_body(f, cl[i].explanation[0] ? cl[i].explanation : "NOT EXPLAINED");
		}
	}
}

static void junit_system_out(FILE *f, const struct cell_result *c)
{
	const struct cell_refs *refs = &c->refs;
	char buf[512], expected[96];

	fputs("      <system-out>", f);
	snprintf(buf, sizeof(buf), "outcome: %s", cell_outcome_name(c->outcome));
	xml_body(f, buf);
	if (c->nruns > 1) {
		snprintf(buf, sizeof(buf), " (%.0f%% direct over %d runs", c->success_rate * 100,
			 c->nruns);
		xml_body(f, buf);
		if (c->ttc_p50_ms >= 0) {
			snprintf(buf, sizeof(buf), ", time to connect p50 %.1f ms, p95 %.1f ms",
				 c->ttc_p50_ms, c->ttc_p95_ms);
			xml_body(f, buf);
		}
		xml_body(f, ")");
	}
	report_expected_format(refs, expected, sizeof(expected));
	snprintf(buf, sizeof(buf), "\n%s\ntheory: %s: ", expected, cell_outcome_name(refs->theory));
	xml_body(f, buf);
	xml_body(f, refs->theory_why);
	junit_claims(f, c);
	for (int i = 0; i < c->nruns; i++) {
		const struct cell_run *run = &c->runs[i];

		snprintf(buf, sizeof(buf), "\n\nrun %d: %s", i + 1, cell_outcome_name(run->outcome));
		xml_body(f, buf);
		if (run->technique_used[0]) {
			xml_body(f, " via ");
			xml_body(f, run->technique_used);
		}
		if (run->family_used) {
			snprintf(buf, sizeof(buf), " over IPv%d", run->family_used);
			xml_body(f, buf);
		}
		if (run->time_to_connect_ms >= 0) {
			snprintf(buf, sizeof(buf), " in %.1f ms", run->time_to_connect_ms);
			xml_body(f, buf);
		}
		/* auto's relay alongside: a first verified path before the outcome's own */
		if (run->ttfb_ms >= 0 && run->ttfb_ms < run->time_to_connect_ms) {
			snprintf(buf, sizeof(buf), " (first byte in %.1f ms)", run->ttfb_ms);
			xml_body(f, buf);
		}
		snprintf(buf, sizeof(buf), ", %d attempts, cell took %.0f ms", run->attempts,
			 run->wall_ms);
		xml_body(f, buf);
		if (run->phase[0]) {
			xml_body(f, "\nphase: ");
			xml_body(f, run->phase);
		}
		if (run->reason[0]) {
			xml_body(f, "\nreason: ");
			xml_body(f, run->reason);
		}
		if (run->attestation.verdict != ATTEST_UNCHECKED) {
			xml_body(f, "\nengine said: ");
			xml_body(f, cell_outcome_name(run->engine_said));
			xml_body(f, "; lab attests: ");
			xml_body(f, attest_verdict_name(run->attestation.verdict));
			xml_body(f, " (");
			xml_body(f, run->attestation.summary);
			xml_body(f, ")");
			if (run->attestation.evidence[0]) {
				xml_body(f, "\nevidence:\n");
				xml_body(f, run->attestation.evidence);
			}
		}
		if (run->mappings[0]) {
			xml_body(f, "\nmappings:\n");
			xml_body(f, run->mappings);
		}
		if (run->log_dir[0]) {
			xml_body(f, "\nlogs: ");
			xml_body(f, run->log_dir);
			xml_body(f, "/ (in the report directory)");
		}		if (run->captures[0]) {
			/* one line per pcap, then the Jenkins attachments plugin's form of it
			 * (paths relative to the report directory) */
			char names[sizeof(run->captures)], *save = NULL;
			xml_body(f, "\npacket captures (in the report directory):");
			snprintf(names, sizeof(names), "%s", run->captures);
			for (char *n = strtok_r(names, "\n", &save); n; n = strtok_r(NULL, "\n", &save)) {
				n[strcspn(n, " ")] = '\0';
				xml_body(f, "\n[[ATTACHMENT|");
				xml_body(f, run->log_dir);
				xml_body(f, "/");
				xml_body(f, n);
				xml_body(f, "]]");
			}
		}
	}
	fputs("</system-out>\n", f);
}

static void junit_case(FILE *f, const struct cell_result *c)
{
	const struct cell_run *rep = report_representative_run(c);
	char msg[560], expected[128], fam[240];
	bool error = c->verdict.error || c->outcome == CELL_ERROR;

	fputs("    <testcase name=\"", f);
	xml_text(f, c->spec.id);
	fputs("\" classname=\"", f);
	xml_text(f, c->spec.topology);
	fputc('.', f);
	xml_text(f, c->spec.proto);
	fputc('.', f);
	xml_text(f, c->spec.technique);
	if (c->spec.family != CELL_FAMILY_4) {
		/* one suite per family: an IPv6 cell is not its IPv4 twin's test case */
		fputs(".family-", f);
		xml_text(f, c->spec.family == CELL_FAMILY_6 ? "6" : "dual");
	}
	fprintf(f, "\" time=\"%.3f\">\n", cell_seconds(c));
	/* the order of the common JUnit schema: skipped, error, failure, system-out */
	if (c->outcome == CELL_SKIPPED) {
		fputs("      <skipped message=\"", f);
		xml_text(f, rep ? rep->reason : "no run");
		fputs("\"/>\n", f);
	}
	if (error) {
		const char *reason = rep ? rep->reason : "";
		for (int i = 0; i < c->nruns; i++)
			if (c->runs[i].outcome == CELL_ERROR) {
				reason = c->runs[i].reason;
				break;
			}
		fputs("      <error type=\"harness\" message=\"", f);
		xml_text(f, reason);
		fputs("\"/>\n", f);
	}
	if (c->verdict.regression) {
		report_expected_format(&c->refs, expected, sizeof(expected));
		snprintf(msg, sizeof(msg), "measured %s, %s", cell_outcome_name(c->outcome), expected);
		if (c->nruns > 1)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
				 " (%.0f%% direct over %d runs)", c->success_rate * 100, c->nruns);
		if (c->verdict.rate_tested)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "; rate test %s, p = %.3g",
				 c->verdict.rate_low ? "TOO LOW" : "consistent", c->verdict.rate_p_value);
		report_family_text(c, fam, sizeof(fam));
		if (c->verdict.family_wrong)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "; %s", fam);
		fprintf(f, "      <failure type=\"%s\" message=\"",
			c->verdict.disputed ? "disputed" : c->verdict.flaky ? "flaky"
			: c->verdict.family_wrong ? "family" : "regression");
		xml_text(f, msg);
		fputs("\">", f);
		xml_body(f, rep ? rep->reason : "");
		fputs("</failure>\n", f);
	}
	junit_system_out(f, c);
	fputs("    </testcase>\n", f);
}

static void junit_suite(FILE *f, const struct results *r, const struct report_group *g)
{
	int failures = 0, errors = 0, skipped = 0;
	double seconds = 0;

	for (int i = 0; i < g->ncells; i++) {
		const struct cell_result *c = &r->cells[g->cells[i]];
		failures += c->verdict.regression;
		errors += c->verdict.error || c->outcome == CELL_ERROR;
		skipped += c->outcome == CELL_SKIPPED;
		seconds += cell_seconds(c);
	}
	fputs("  <testsuite name=\"", f);
	xml_text(f, g->topology);
	fputc('/', f);
	xml_text(f, g->proto);
	fputc('/', f);
	xml_text(f, g->technique);
	if (g->family != CELL_FAMILY_4) {
		char fam[CELL_REF_MAX + 40];
		report_group_family(g, fam, sizeof(fam));
		fputc(' ', f);
		xml_text(f, fam + 1);
	}
	fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\"",
		g->ncells, failures, errors, skipped, seconds);
	if (r->meta.started[0]) {
		fputs(" timestamp=\"", f);
		xml_text(f, r->meta.started);
		fputc('"', f);
	}
	if (r->meta.host[0]) {
		fputs(" hostname=\"", f);
		xml_text(f, r->meta.host);
		fputc('"', f);
	}
	fputs(">\n", f);
	for (int i = 0; i < g->ncells; i++)
		junit_case(f, &r->cells[g->cells[i]]);
	fputs("  </testsuite>\n", f);
}

int report_junit_write(const struct results *r, FILE *f)
{
	struct results_summary s;
	struct report_groups gs;
	int ret, errors = 0;

	ret = report_groups_build(r, &gs);
	if (ret < 0)
		goto out;
	results_summarize(r, &s);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	for (int i = 0; i < r->ncells; i++)
		errors += r->cells[i].verdict.error || r->cells[i].outcome == CELL_ERROR;
	fprintf(f, "<testsuites name=\"punchlab matrix\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
		"time=\"%.3f\">\n", s.cells, s.regressions, errors, r->meta.wall_ms / 1000);
	for (int i = 0; i < gs.n; i++)
		junit_suite(f, r, &gs.g[i]);
	fputs("</testsuites>\n", f);
	ret = ferror(f) ? -EIO : 0;
out:
	report_groups_free(&gs);
	return ret;
}
