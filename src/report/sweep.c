#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/sweep.h"

/* The id without its "/stagger=..." part: refs are percent-encoded, so "/stagger=" can only
 * be the dimension, which runs to the next '/' or the end. */
static void base_id(const char *id, char *buf, size_t len)
{
	const char *p = strstr(id, "/stagger=");
	const char *end = p ? strchr(p + 1, '/') : NULL;

	if (!p)
		snprintf(buf, len, "%s", id);
	else
		snprintf(buf, len, "%.*s%s", (int)(p - id), id, end ? end : "");
}

static int by_stagger(const void *a, const void *b)
{
	const struct report_sweep_point *x = a, *y = b;

	return x->stagger_ms - y->stagger_ms;
}

void report_sweeps_free(struct report_sweep *s, int n)
{
	for (int i = 0; s && i < n; i++)
		free(s[i].points);
	free(s);
}

int report_sweeps_build(const struct results *r, struct report_sweep **out)
{
	struct report_sweep *s = calloc((size_t)r->ncells + 1, sizeof(*s));
	int n = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		struct report_sweep_point *pt;
		char base[sizeof(s->base)];
		int k;

		if (!c->spec.has_stagger)
			continue;
		base_id(c->spec.id, base, sizeof(base));
		for (k = 0; k < n && strcmp(s[k].base, base) != 0; k++)
			;
		if (k == n) {
			snprintf(s[n].base, sizeof(s[n].base), "%s", base);
			s[n].points = calloc((size_t)r->ncells, sizeof(*s[n].points));
			if (!s[n].points) {
				report_sweeps_free(s, n);
				return -ENOMEM;
			}
			n++;
		}
		pt = &s[k].points[s[k].npoints++];
		pt->cell = i;
		pt->stagger_ms = c->spec.stagger_ms;
		for (int j = 0; j < c->nruns; j++) {
			pt->runs += cell_outcome_is_nat(c->runs[j].outcome);
			pt->direct += c->runs[j].outcome == CELL_DIRECT;
		}
		pt->rate = pt->runs ? (double)pt->direct / pt->runs : 0;
	}
	if (n == 0) {
		/* no sweep: nothing for the caller to free (its "no sweep" return skips the free) */
		free(s);
		return 0;
	}
	for (int k = 0; k < n; k++)
		qsort(s[k].points, (size_t)s[k].npoints, sizeof(*s[k].points), by_stagger);
	*out = s;
	return n;
}

/* A bar of 20 characters for a rate. */
static void bar(char *buf, double rate)
{
	int n = (int)(rate * 20 + 0.5);

	for (int i = 0; i < 20; i++)
		buf[i] = i < n ? '#' : '.';
	buf[20] = '\0';
}

void report_sweeps_terminal(FILE *f, const struct results *r)
{
	struct report_sweep *s;
	int n = report_sweeps_build(r, &s);

	for (int k = 0; k < n; k++) {
		fprintf(f, "Sweep of %s: success rate by stagger (peer B starts this long after A)\n",
			s[k].base);
		fprintf(f, "  %-10s %-12s %-6s\n", "stagger", "direct/runs", "rate");
		for (int i = 0; i < s[k].npoints; i++) {
			const struct report_sweep_point *p = &s[k].points[i];
			char b[21], v[24];
			bar(b, p->rate);
			snprintf(v, sizeof(v), "%d ms", p->stagger_ms);
			fprintf(f, "  %-10s %5d/%-6d %-6.2f %s%s\n", v, p->direct, p->runs, p->rate, b,
				r->cells[p->cell].nruns > p->runs ? "  (error runs left out)" : "");
		}
		fputc('\n', f);
	}
	report_sweeps_free(s, n > 0 ? n : 0);
}

void report_sweeps_markdown(FILE *f, const struct results *r)
{
	struct report_sweep *s;
	int n = report_sweeps_build(r, &s);

	if (n > 0)
		fputs("## Timing sweeps\n\nEach cell run at every stagger (peer B starts this long "
		      "after peer A); the success rate is direct runs over runs (error runs left "
		      "out).\n\n", f);
	for (int k = 0; k < n; k++) {
		fprintf(f, "### `%s`\n\n| stagger | direct / runs | success rate |\n|---|---|---|\n",
			s[k].base);
		for (int i = 0; i < s[k].npoints; i++) {
			const struct report_sweep_point *p = &s[k].points[i];
			fprintf(f, "| %d ms | %d / %d | %.2f |\n", p->stagger_ms, p->direct, p->runs,
				p->rate);
		}
		fputc('\n', f);
	}
	report_sweeps_free(s, n > 0 ? n : 0);
}

/* One plot: x the stagger (ms), y the success rate 0..1, a line through the points and a
 * circle per point whose title says its numbers. Inline SVG: no script, no external file. */
static void svg_plot(FILE *f, const struct report_sweep *s)
{
	const int w = 520, h = 220, l = 48, rgt = 16, top = 12, bot = 36;
	int lo = s->points[0].stagger_ms, hi = s->points[s->npoints - 1].stagger_ms;
	double span = hi > lo ? hi - lo : 1;

#define X(v) (l + ((v) - lo) / span * (w - l - rgt))
#define Y(rt) (top + (1 - (rt)) * (h - top - bot))
	fprintf(f, "<svg class=\"sweep\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"success rate by "
		"stagger\">\n", w, h, w, h);
	for (int i = 0; i <= 4; i++) {
		double rt = i / 4.0;
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.2f</text>\n",
			l, Y(rt), w - rgt, Y(rt), l - 6, Y(rt) + 4, rt);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"start\">%d ms</text>"
		"<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%d ms</text>"
		"<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">stagger (peer B "
		"after A)</text>\n", l, h - bot + 16, lo, w - rgt, h - bot + 16, hi,
		(l + w - rgt) / 2, h - 6);
	fputs("<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"", f);
	for (int i = 0; i < s->npoints; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", X(s->points[i].stagger_ms),
			Y(s->points[i].rate));
	fputs("\"/>\n", f);
	for (int i = 0; i < s->npoints; i++) {
		const struct report_sweep_point *p = &s->points[i];
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#2563eb\"><title>%d ms: "
			"%d of %d direct (%.2f)</title></circle>\n", X(p->stagger_ms), Y(p->rate),
			p->stagger_ms, p->direct, p->runs, p->rate);
	}
	fputs("</svg>\n", f);
#undef X
#undef Y
}

void report_sweeps_html(FILE *f, const struct results *r)
{
	struct report_sweep *s;
	int n = report_sweeps_build(r, &s);

	if (n > 0)
		fputs("<section id=\"sweeps\"><h2>Timing sweeps</h2><p class=\"hint\">Each cell run "
		      "at every stagger (peer B starts this long after peer A): the success rate "
		      "(direct runs over runs, error runs left out) at each point.</p>\n", f);
	for (int k = 0; k < n; k++) {
		fputs("<h3><code>", f);
		report_escape_markup(f, s[k].base, MARKUP_HTML);
		fputs("</code></h3>\n", f);
		svg_plot(f, &s[k]);
		fputs("<table class=\"sweep\"><tr><th>stagger</th><th>direct / runs</th>"
		      "<th>success rate</th></tr>\n", f);
		for (int i = 0; i < s[k].npoints; i++)
			fprintf(f, "<tr><td>%d ms</td><td>%d / %d</td><td>%.2f</td></tr>\n",
				s[k].points[i].stagger_ms, s[k].points[i].direct, s[k].points[i].runs,
				s[k].points[i].rate);
		fputs("</table>\n", f);
	}
	if (n > 0)
		fputs("</section>\n", f);
	report_sweeps_free(s, n > 0 ? n : 0);
}

void report_sweeps_json(struct json_writer *w, const struct results *r)
{
	struct report_sweep *s;
	int n = report_sweeps_build(r, &s);

	if (n <= 0)
		return; /* no key at all: a run without a sweep writes what it always wrote */
	jw_open(w, "sweeps", '[');
	for (int k = 0; k < n; k++) {
		jw_open(w, NULL, '{');
		jw_str(w, "cell", s[k].base);
		jw_str(w, "dimension", "stagger");
		jw_open(w, "points", '[');
		for (int i = 0; i < s[k].npoints; i++) {
			const struct report_sweep_point *p = &s[k].points[i];
			jw_open(w, NULL, '{');
			jw_int(w, "stagger_ms", p->stagger_ms);
			jw_str(w, "id", r->cells[p->cell].spec.id);
			jw_int(w, "runs", p->runs);
			jw_int(w, "direct", p->direct);
			jw_num(w, "success_rate", p->rate);
			jw_close(w, '}');
		}
		jw_close(w, ']');
		jw_close(w, '}');
	}
	jw_close(w, ']');
	report_sweeps_free(s, n > 0 ? n : 0);
}
