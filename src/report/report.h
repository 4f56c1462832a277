/* The report writers: one per format, all reading the results model (matrix/results.h) and
 * nothing else. Each writes to a FILE* it is given and returns 0, or -EIO when the stream
 * failed (ferror), or -ENOMEM. None of them judges: call results_judge_cell() on every cell
 * first (the writers print the verdicts they find).
 *
 * Cells are drawn in groups, one per (topology, proto, technique), in the order the groups first
 * appear in r->cells; within a group profile A goes down and profile B across, each in order of
 * first appearance. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "base/out.h"
#include "matrix/results.h"

/* The compact grid for a terminal, a legend (markers, profile abbreviations), then the findings:
 * disagreements with the documents' claim or the theory, regressions, improvements, flaky
 * cells, and every error, failed or regressing cell with the command that reruns it.
 * color: ANSI colours (the caller decides, e.g. isatty()). */
int report_terminal_write(const struct results *r, FILE *f, bool color);

/* matrix.json, schema RESULTS_SCHEMA_VERSION (docs/matrix-json.md). */
int report_json_write(const struct results *r, FILE *f);

/* junit.xml: one <testsuite> per group, one <testcase> per cell named by its id (classname
 * "topology.proto.technique"); <failure> exactly for regressions, <error> for cells with an
 * error run, <skipped/> for skipped cells; <system-out> has the reason, mappings and logs. */
int report_junit_write(const struct results *r, FILE *f);

/* matrix.md: summary, "What changed" when r->meta.baseline is set, one table per group, the
 * disagreements, regressions, flaky cells, reruns, and every cell in a collapsed table. */
int report_markdown_write(const struct results *r, FILE *f);

/* index.html: self-contained (inline CSS and JS, no network), one SVG heatmap per group,
 * details on hover (tooltip) and click (a panel). report_dir: the directory the page will live
 * in, to list each run's log files (NULL: link the log directories only). */
int report_html_write(const struct results *r, FILE *f, const char *report_dir);

/* Write every report into dir (created with its parents when missing): matrix.json, junit.xml,
 * matrix.md, index.html and matrix.txt (the terminal report without colour). Each file is
 * written under a temporary name and renamed, so a reader never sees half a report.
 * Returns 0 or -errno with a diagnostic naming the file in dl. */
int report_dir_write(const struct results *r, const char *dir, struct diag_list *dl);
