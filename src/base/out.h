/* Output sinks and diagnostics.
 *
 * Library code never writes to stdout/stderr directly: it is handed a struct out so that tests
 * can capture what it says (fmemopen) and the CLI decides where it goes. */
#pragma once
#include <stdarg.h>
#include <stdio.h>

struct out {
	FILE *out; /* results: what a script reads */
	FILE *err; /* diagnostics: what a person reads */
};

/* The process's own stdout/stderr. */
extern const struct out out_std;

/* A located error: FILE:LINE: message.  line 0 means "the whole file". */
struct diag {
	char file[512];
	int line;
	char msg[384];
};

/* A bounded list of diagnostics; parsers collect all they find, not only the first. */
#define DIAG_MAX 64
struct diag_list {
	struct diag items[DIAG_MAX];
	int count;
	int dropped; /* errors found after the list filled up */
};

/* Append one diagnostic (printf-style message). Always returns -EINVAL, so a parser can write
 * `return diag_add(...)`. */
int diag_add(struct diag_list *dl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Print every diagnostic as "FILE:LINE: message" (one per line) to o->err. */
void diag_print(const struct diag_list *dl, const struct out *o);

/* Messages for people: "punchlab: <message>" on o->err. */
void out_warnx(const struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with ": strerror(-err)" appended (err is a negative errno). */
void out_warn(const struct out *o, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
