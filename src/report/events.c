/* The NAT events section (report/events.h). */
#include <stdio.h>

#include "report/events.h"

static void seconds(char *buf, size_t len, double ms)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f s", ms / 1000);
}

/* A table cell's text: in Markdown '|' and newlines would break the row; in HTML the markup
 * characters are escaped. */
static void cell_text(FILE *f, const char *s, bool html)
{
	for (; *s; s++) {
		if (html && (*s == '<' || *s == '>' || *s == '&' || *s == '"'))
			fputs(*s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : "&quot;",
			      f);
		else
			fputc(!html && (*s == '|' || *s == '\n') ? ' ' : *s, f);
	}
}

void report_events_write(const struct results *r, FILE *f, enum events_style style)
{
	bool any = false, markdown = style == EVENTS_MARKDOWN, html = style == EVENTS_HTML;

	for (int i = 0; i < r->ncells; i++)
		any |= r->cells[i].spec.events[0] != '\0';
	if (!any)
		return;
	if (html)
		fputs("<h2 id=\"events\">NAT events</h2>\n<p>Whether and how fast the engine got its "
		      "path back (docs/events.md): path lost after = from the first step to the first "
		      "peer's loss; recovery time = from the last step to both peers' path "
		      "re-verified.</p>\n<table>\n<tr><th>cell</th><th>run</th><th>events</th><th>path "
		      "lost after</th><th>recovered</th><th>via</th><th>recovery time</th>"
		      "<th>outcome</th></tr>\n", f);
	else if (markdown)
		fprintf(f, "\n## NAT events\n\nWhether and how fast the engine got its path back "
			"([docs/events.md](docs/events.md)): path lost after = from the first step to "
			"the first peer's loss; recovery time = from the last step to both peers' path "
			"re-verified.\n\n| cell | run | events | path lost after | recovered | via | "
			"recovery time | outcome |\n|---|---|---|---|---|---|---|---|\n");
	else
		fprintf(f, "\nNAT events (docs/events.md): whether and how fast the engine got its path "
			"back\n");
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];

		if (!c->spec.events[0])
			continue;
		if (style == EVENTS_TERMINAL)
			fprintf(f, "  %s\n", c->spec.id);
		for (int k = 0; k < c->nruns; k++) {
			const struct run_recovery *rc = &c->runs[k].recovery;
			char lost[32], rec[32];
			const char *state = !rc->nevents ? "no steps ran" : !rc->path_lost ? "held" :
					    rc->recovered ? "yes" : "no";

			seconds(lost, sizeof(lost), rc->path_lost ? rc->detect_ms : -1);
			seconds(rec, sizeof(rec), rc->recovered ? rc->recovery_ms : -1);
			if (html) {
				fputs("<tr><td><code>", f);
				cell_text(f, c->spec.id, true);
				fprintf(f, "</code></td><td>%d</td><td>", k + 1);
				cell_text(f, c->spec.events, true);
				fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
					"</tr>\n", lost, state, rc->recovered ? rc->via : "-", rec,
					cell_outcome_name(c->runs[k].outcome));
				continue;
			}
			if (markdown) {
				fputs("| `", f);
				cell_text(f, c->spec.id, false);
				fprintf(f, "` | %d | ", k + 1);
				cell_text(f, c->spec.events, false);
				fprintf(f, " | %s | %s | %s | %s | %s |\n", lost, state,
					rc->recovered ? rc->via : "-", rec,
					cell_outcome_name(c->runs[k].outcome));
				continue;
			}
			fprintf(f, "    run %d: %s: ", k + 1, c->spec.events);
			if (!rc->nevents)
				fprintf(f, "no step ran");
			else if (!rc->path_lost)
				fprintf(f, "the engine reported no loss of its path");
			else if (rc->recovered)
				fprintf(f, "path lost %s after the first step, back (%s) %s after the "
					"last", lost, rc->via, rec);
			else
				fprintf(f, "path lost %s after the first step, NOT recovered", lost);
			fprintf(f, "; outcome %s\n", cell_outcome_name(c->runs[k].outcome));
			for (int e = 0; e < rc->nevents; e++)
				if (rc->events[e].failed)
					fprintf(f, "      step %s failed: %s\n", rc->events[e].event,
						rc->events[e].detail);
		}
	}
	if (html)
		fputs("</table>\n", f);
}
