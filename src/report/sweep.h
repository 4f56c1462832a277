/* Timing sweeps in the reports (--sweep stagger=FROM..TO/STEP or signal-delay=FROM..TO/STEP,
 * issue 12 item 5): the cells of a run that differ only in their stagger= (or signal-delay=) part
 * form one sweep, whose points are that dimension's values and each point's success rate (direct
 * runs / runs). Every writer draws the same curve: a table in
 * the terminal and in Markdown, an inline SVG plot in the HTML, the points in matrix.json. */
#pragma once
#include <stdio.h>

#include "matrix/results.h"
#include "report/report_internal.h"

struct report_sweep_point {
	int cell;              /* index into r->cells */
	int ms;                /* the swept dimension's value */
	int runs, direct;      /* runs that were NAT results (not error), and the direct ones */
	double rate;           /* direct / runs, 0 without runs */
};

struct report_sweep {
	char base[1024];       /* the cell's id without its swept part */
	const char *dim;       /* the swept dimension's id key: "stagger" or "signal-delay" */
	struct report_sweep_point *points; /* by value, ascending */
	int npoints;
};

/* The sweeps of r, in the order of their first cell. Returns the count (0: none, and *out is
 * NULL) or -ENOMEM; *out is malloc'd: free with report_sweeps_free(*out, count). */
int report_sweeps_build(const struct results *r, struct report_sweep **out);
void report_sweeps_free(struct report_sweep *s, int n);

/* The writers' parts. */
void report_sweeps_terminal(FILE *f, const struct results *r);
void report_sweeps_markdown(FILE *f, const struct results *r);
void report_sweeps_html(FILE *f, const struct results *r);
/* When r has sweeps: "sweeps": [ { "cell", "dimension", "points": [ { "stagger_ms" (or
 * "signal_delay_ms"), "ms", "id", "runs", "direct", "success_rate" } ] } ] (not read back:
 * derived from the cells). */
void report_sweeps_json(struct json_writer *w, const struct results *r);
