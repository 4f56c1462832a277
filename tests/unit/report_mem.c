/* Report writers into memory for the unit tests (report_mem.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "matrix/results_json_read.h"
#include "report/report.h"
#include "report_mem.h"

void report_mem_results(struct results *r, int ncells)
{
	memset(r, 0, sizeof(*r));
	r->meta.schema_version = RESULTS_SCHEMA_VERSION;
	snprintf(r->meta.engine, sizeof(r->meta.engine), "punch");
	r->cells = calloc((size_t)ncells, sizeof(*r->cells));
	assert_non_null(r->cells);
	r->ncells = ncells;
}

char *report_mem(report_mem_fn fn, const struct results *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(r, f), 0);
	fclose(f);
	return buf;
}

int report_mem_terminal_plain(const struct results *r, FILE *f)
{
	return report_terminal_write(r, f, false);
}

int report_mem_terminal_color(const struct results *r, FILE *f)
{
	return report_terminal_write(r, f, true);
}

int report_mem_html_nodir(const struct results *r, FILE *f)
{
	return report_html_write(r, f, NULL);
}

int report_mem_html_here(const struct results *r, FILE *f)
{
	return report_html_write(r, f, ".");
}

void report_mem_json_back(const struct results *r, struct results *back)
{
	struct diag_list dl = { .count = 0 };
	char path[] = "/tmp/punchlab-test-report-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(report_json_write(r, f), 0);
	assert_int_equal(fclose(f), 0);
	if (results_json_read(path, back, &dl) != 0) {
		unlink(path);
		fail_msg("%s: %s", path, dl.count ? dl.items[0].msg : "?");
	}
	unlink(path);
}
