#include "base/out.h"

#include <errno.h>
#include <string.h>

const struct out out_std = { 0 };

static FILE *err_of(const struct out *o)
{
	return (o && o->err) ? o->err : stderr;
}

int diag_add(struct diag_list *dl, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	struct diag *d;

	if (dl->count >= DIAG_MAX) {
		dl->dropped++;
		return -EINVAL;
	}
	d = &dl->items[dl->count++];
	snprintf(d->file, sizeof(d->file), "%s", file ? file : "-");
	d->line = line;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void diag_print(const struct diag_list *dl, const struct out *o)
{
	FILE *f = err_of(o);

	for (int i = 0; i < dl->count; i++) {
		const struct diag *d = &dl->items[i];
		if (d->line > 0)
			fprintf(f, "%s:%d: %s\n", d->file, d->line, d->msg);
		else
			fprintf(f, "%s: %s\n", d->file, d->msg);
	}
	if (dl->dropped)
		fprintf(f, "(%d more errors not shown)\n", dl->dropped);
}

/* "punchlab: <message>[: <strerror>]" */
static void vwarn(const struct out *o, int err, const char *fmt, va_list ap)
{
	FILE *f = err_of(o);

	fputs("punchlab: ", f);
	vfprintf(f, fmt, ap);
	if (err)
		fprintf(f, ": %s", strerror(err < 0 ? -err : err));
	fputc('\n', f);
}

void out_warnx(const struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(o, 0, fmt, ap);
	va_end(ap);
}

void out_warn(const struct out *o, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(o, err, fmt, ap);
	va_end(ap);
}
