#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/sweep.h"

/* What each swept dimension is called where people read it. */
static const struct sweep_dim {
	const char *key;     /* the id's KEY= and matrix.json's "dimension" */
	const char *json;    /* a point's value key in matrix.json */
	const char *label;   /* table header and axis */
	const char *meaning; /* what a point's value does */
} dims[] = {
	{ "stagger", "stagger_ms", "stagger", "peer B starts this long after A" },
	{ "signal-delay", "signal_delay_ms", "signal delay",
	  "the rendezvous' answer reaches peer B this long after A" },
};

static const struct sweep_dim *dim_of(const char *key)
{
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		if (strcmp(dims[i].key, key) == 0)
			return &dims[i];
	return &dims[0];
}

/* The id without its "/KEY=..." part: refs are percent-encoded, so "/KEY=" can only be the
 * dimension, which runs to the next '/' or the end. */
static void base_id(const char *id, const char *key, char *buf, size_t len)
{
	char pat[32];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "/%s=", key);
	p = strstr(id, pat);
	end = p ? strchr(p + 1, '/') : NULL;

	if (!p)
		snprintf(buf, len, "%s", id);
	else
		snprintf(buf, len, "%.*s%s", (int)(p - id), id, end ? end : "");
}

static int by_value(const void *a, const void *b)
{
	const struct report_sweep_point *x = a, *y = b;

	return x->ms - y->ms;
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
		/* a signal-delay point is one of that sweep even when its cell (a --cell id) names
		 * a stagger too: the run sweeps one dimension (--sweep once) */
		const char *dim = c->spec.has_signal_delay ? "signal-delay" : "stagger";
		int k;

		if (!c->spec.has_stagger && !c->spec.has_signal_delay)
			continue;
		base_id(c->spec.id, dim, base, sizeof(base));
		for (k = 0; k < n && (strcmp(s[k].base, base) != 0 || strcmp(s[k].dim, dim) != 0); k++)
			;
		if (k == n) {
			snprintf(s[n].base, sizeof(s[n].base), "%s", base);
			s[n].dim = dim;
			s[n].points = calloc((size_t)r->ncells, sizeof(*s[n].points));
			if (!s[n].points) {
				report_sweeps_free(s, n);
				return -ENOMEM;
			}
			n++;
		}
		pt = &s[k].points[s[k].npoints++];
		pt->cell = i;
		pt->ms = c->spec.has_signal_delay ? c->spec.signal_delay_ms : c->spec.stagger_ms;
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
		qsort(s[k].points, (size_t)s[k].npoints, sizeof(*s[k].points), by_value);
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
		const struct sweep_dim *d = dim_of(s[k].dim);

		fprintf(f, "Sweep of %s: success rate by %s (%s)\n", s[k].base, d->label,
			d->meaning);
		fprintf(f, "  %-12s %-12s %-6s\n", d->label, "direct/runs", "rate");
		for (int i = 0; i < s[k].npoints; i++) {
			const struct report_sweep_point *p = &s[k].points[i];
			char b[21], v[24];
			bar(b, p->rate);
			snprintf(v, sizeof(v), "%d ms", p->ms);
			fprintf(f, "  %-12s %5d/%-6d %-6.2f %s%s\n", v, p->direct, p->runs, p->rate, b,
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
		fputs("## Timing sweeps\n\nEach cell run at every point of its sweep's dimension; "
		      "the success rate is direct runs over runs (error runs left out).\n\n", f);
	for (int k = 0; k < n; k++) {
		const struct sweep_dim *d = dim_of(s[k].dim);

		fprintf(f, "### `%s`\n\nBy %s (%s).\n\n| %s | direct / runs | success rate |\n"
			"|---|---|---|\n", s[k].base, d->label, d->meaning, d->label);
		for (int i = 0; i < s[k].npoints; i++) {
			const struct report_sweep_point *p = &s[k].points[i];
			fprintf(f, "| %d ms | %d / %d | %.2f |\n", p->ms, p->direct, p->runs,
				p->rate);
		}
		fputc('\n', f);
	}
	report_sweeps_free(s, n > 0 ? n : 0);
}

/* One plot: x the swept dimension (ms), y the success rate 0..1, a line through the points and a
 * circle per point whose title says its numbers. Inline SVG: no script, no external file. */
static void svg_plot(FILE *f, const struct report_sweep *s)
{
	const int w = 520, h = 220, l = 48, rgt = 16, top = 12, bot = 36;
	const struct sweep_dim *d = dim_of(s->dim);
	int lo = s->points[0].ms, hi = s->points[s->npoints - 1].ms;
	double span = hi > lo ? hi - lo : 1;

#define X(v) (l + ((v) - lo) / span * (w - l - rgt))
#define Y(rt) (top + (1 - (rt)) * (h - top - bot))
	fprintf(f, "<svg class=\"sweep\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"success rate by "
		"%s\">\n", w, h, w, h, d->label);
	for (int i = 0; i <= 4; i++) {
		double rt = i / 4.0;
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.2f</text>\n",
			l, Y(rt), w - rgt, Y(rt), l - 6, Y(rt) + 4, rt);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"start\">%d ms</text>"
		"<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%d ms</text>"
		"<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s (ms)</text>\n",
		l, h - bot + 16, lo, w - rgt, h - bot + 16, hi, (l + w - rgt) / 2, h - 6, d->label);
	fputs("<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"", f);
	for (int i = 0; i < s->npoints; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", X(s->points[i].ms),
			Y(s->points[i].rate));
	fputs("\"/>\n", f);
	for (int i = 0; i < s->npoints; i++) {
		const struct report_sweep_point *p = &s->points[i];
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#2563eb\"><title>%d ms: "
			"%d of %d direct (%.2f)</title></circle>\n", X(p->ms), Y(p->rate), p->ms,
			p->direct, p->runs, p->rate);
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
		      "at every point of its sweep's dimension: the success rate (direct runs over "
		      "runs, error runs left out) at each point.</p>\n", f);
	for (int k = 0; k < n; k++) {
		const struct sweep_dim *d = dim_of(s[k].dim);

		fputs("<h3><code>", f);
		report_escape_markup(f, s[k].base, MARKUP_HTML);
		fprintf(f, "</code></h3>\n<p class=\"hint\">By %s (%s).</p>\n", d->label,
			d->meaning);
		svg_plot(f, &s[k]);
		fprintf(f, "<table class=\"sweep\"><tr><th>%s</th><th>direct / runs</th>"
			"<th>success rate</th></tr>\n", d->label);
		for (int i = 0; i < s[k].npoints; i++)
			fprintf(f, "<tr><td>%d ms</td><td>%d / %d</td><td>%.2f</td></tr>\n",
				s[k].points[i].ms, s[k].points[i].direct, s[k].points[i].runs,
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
		jw_str(w, "dimension", s[k].dim);
		jw_open(w, "points", '[');
		for (int i = 0; i < s[k].npoints; i++) {
			const struct report_sweep_point *p = &s[k].points[i];
			jw_open(w, NULL, '{');
			/* the dimension's own key (readers of stagger sweeps keep theirs) and "ms" */
			jw_int(w, dim_of(s[k].dim)->json, p->ms);
			jw_int(w, "ms", p->ms);
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
