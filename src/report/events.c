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

/* A table cell's text: '|' and newlines would break the row. */
static void md_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '|' || *s == '\n' ? ' ' : *s, f);
}

void report_events_write(const struct results *r, FILE *f, bool markdown)
{
	bool any = false;

	for (int i = 0; i < r->ncells; i++)
		any |= r->cells[i].spec.events[0] != '\0';
	if (!any)
		return;
	if (markdown)
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
		if (!markdown)
			fprintf(f, "  %s\n", c->spec.id);
		for (int k = 0; k < c->nruns; k++) {
			const struct run_recovery *rc = &c->runs[k].recovery;
			char lost[32], rec[32];
			const char *state = !rc->nevents ? "no steps ran" : !rc->path_lost ? "held" :
					    rc->recovered ? "yes" : "no";

			seconds(lost, sizeof(lost), rc->path_lost ? rc->detect_ms : -1);
			seconds(rec, sizeof(rec), rc->recovered ? rc->recovery_ms : -1);
			if (markdown) {
				fputs("| `", f);
				md_text(f, c->spec.id);
				fprintf(f, "` | %d | ", k + 1);
				md_text(f, c->spec.events);
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
}
