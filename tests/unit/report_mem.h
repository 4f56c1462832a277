/* Report writers into memory, for the unit tests that read what a report says
 * (test_reports.c, test_claims_report.c, test_family.c, test_family_judge.c). Include after
 * <cmocka.h>: a writer's failure fails the calling test. */
#pragma once
#include <stdio.h>

#include "matrix/results.h"

/* r zeroed, of the current schema, engine punch, with ncells zeroed cells (results_free()
 * releases them). */
void report_mem_results(struct results *r, int ncells);

/* A report writer: 0 or -errno. */
typedef int (*report_mem_fn)(const struct results *r, FILE *f);

/* What fn writes for r, NUL-terminated; the caller frees it. */
char *report_mem(report_mem_fn fn, const struct results *r);

/* The terminal report without and with colour, the HTML page without and with "." as its
 * directory: report_mem_fn's of the writers that take one more argument. */
int report_mem_terminal_plain(const struct results *r, FILE *f);
int report_mem_terminal_color(const struct results *r, FILE *f);
int report_mem_html_nodir(const struct results *r, FILE *f);
int report_mem_html_here(const struct results *r, FILE *f);

/* r written as matrix.json to a temporary file and read back into back (the caller frees it
 * with results_free()); the read's first error fails the test. */
void report_mem_json_back(const struct results *r, struct results *back);
