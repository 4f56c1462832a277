/* Helpers shared by the report writers: grouping cells into grids, profile abbreviations,
 * markers, rerun commands, UTF-8 hygiene. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

static int index_of(const char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static struct report_group *group_find(struct report_groups *gs, const struct cell_spec *s)
{
	for (int i = 0; i < gs->n; i++) {
		struct report_group *g = &gs->g[i];
		if (strcmp(g->topology, s->topology) == 0 && strcmp(g->proto, s->proto) == 0 &&
		    strcmp(g->technique, s->technique) == 0)
			return g;
	}
	return NULL;
}

/* Initials of a dash-separated name ("port-restricted-cone" -> "PRC"), or the first three
 * letters of a one-word name ("symmetric" -> "SYM", "cgn" -> "CGN"). */
static void abbrev_make(const char *name, char *buf, size_t len)
{
	size_t n = 0;

	if (!strchr(name, '-')) {
		for (; name[n] && n < 3 && n + 1 < len; n++)
			buf[n] = (char)toupper((unsigned char)name[n]);
	} else {
		for (const char *p = name; *p && n + 1 < len && n < 5; p++) {
			if ((p == name || p[-1] == '-') && *p != '-')
				buf[n++] = (char)toupper((unsigned char)*p);
		}
	}
	if (n == 0 && len > 1)
		buf[n++] = '?';
	buf[n] = '\0';
}

static int abbrevs_build(struct report_groups *gs, const struct results *r)
{
	gs->names = calloc((size_t)r->ncells * 2 + 1, sizeof(*gs->names));
	gs->abbrevs = calloc((size_t)r->ncells * 2 + 1, sizeof(*gs->abbrevs));
	if (!gs->names || !gs->abbrevs)
		return -ENOMEM;
	for (int i = 0; i < r->ncells; i++) {
		const char *pair[2] = { r->cells[i].spec.profile_a, r->cells[i].spec.profile_b };
		for (int k = 0; k < 2; k++) {
			if (!pair[k][0] || index_of(gs->names, gs->nnames, pair[k]) >= 0)
				continue;
			gs->names[gs->nnames++] = pair[k];
		}
	}
	for (int i = 0; i < gs->nnames; i++) {
		char base[REPORT_ABBREV_MAX - 2];

		abbrev_make(gs->names[i], base, sizeof(base));
		snprintf(gs->abbrevs[i], REPORT_ABBREV_MAX, "%s", base);
		/* two names with the same initials: number the later ones */
		for (int suffix = 2, clash = 1; clash && suffix < 100; suffix++) {
			clash = 0;
			for (int j = 0; j < i; j++)
				clash |= strcmp(gs->abbrevs[j], gs->abbrevs[i]) == 0;
			if (clash)
				snprintf(gs->abbrevs[i], REPORT_ABBREV_MAX, "%s%d", base, suffix);
		}
	}
	return 0;
}

static int group_add(struct report_group *g, const struct results *r, int cell)
{
	const struct cell_spec *s = &r->cells[cell].spec;
	int *cells = realloc(g->cells, sizeof(*cells) * (size_t)(g->ncells + 1));

	if (!cells)
		return -ENOMEM;
	g->cells = cells;
	g->cells[g->ncells++] = cell;
	if (index_of(g->rows, g->nrows, s->profile_a) < 0) {
		const char **rows = realloc(g->rows, sizeof(*rows) * (size_t)(g->nrows + 1));
		if (!rows)
			return -ENOMEM;
		g->rows = rows;
		g->rows[g->nrows++] = s->profile_a;
	}
	if (index_of(g->cols, g->ncols, s->profile_b) < 0) {
		const char **cols = realloc(g->cols, sizeof(*cols) * (size_t)(g->ncols + 1));
		if (!cols)
			return -ENOMEM;
		g->cols = cols;
		g->cols[g->ncols++] = s->profile_b;
	}
	return 0;
}

static int group_grid(struct report_group *g, const struct results *r)
{
	g->grid = malloc(sizeof(*g->grid) * (size_t)(g->nrows * g->ncols + 1));
	if (!g->grid)
		return -ENOMEM;
	for (int i = 0; i < g->nrows * g->ncols; i++)
		g->grid[i] = -1;
	for (int i = 0; i < g->ncells; i++) {
		const struct cell_spec *s = &r->cells[g->cells[i]].spec;
		int row = index_of(g->rows, g->nrows, s->profile_a);
		int col = index_of(g->cols, g->ncols, s->profile_b);
		g->grid[row * g->ncols + col] = g->cells[i];
	}
	return 0;
}

int report_groups_build(const struct results *r, struct report_groups *gs)
{
	int ret;

	memset(gs, 0, sizeof(*gs));
	ret = abbrevs_build(gs, r);
	if (ret < 0)
		goto out;
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_spec *s = &r->cells[i].spec;
		struct report_group *g = group_find(gs, s);

		if (!g) {
			struct report_group *groups = realloc(gs->g, sizeof(*groups) * (size_t)(gs->n + 1));
			if (!groups) {
				ret = -ENOMEM;
				goto out;
			}
			gs->g = groups;
			g = &gs->g[gs->n++];
			memset(g, 0, sizeof(*g));
			g->topology = s->topology;
			g->proto = s->proto;
			g->technique = s->technique;
		}
		ret = group_add(g, r, i);
		if (ret < 0)
			goto out;
	}
	for (int i = 0; i < gs->n; i++) {
		ret = group_grid(&gs->g[i], r);
		if (ret < 0)
			goto out;
	}
out:
	return ret;
}

void report_groups_free(struct report_groups *gs)
{
	if (!gs)
		return;
	for (int i = 0; i < gs->n; i++) {
		free(gs->g[i].cells);
		free(gs->g[i].rows);
		free(gs->g[i].cols);
		free(gs->g[i].grid);
	}
	free(gs->g);
	free(gs->names);
	free(gs->abbrevs);
	memset(gs, 0, sizeof(*gs));
}

const char *report_abbrev(const struct report_groups *gs, const char *name)
{
	int i;

	if (!name[0])
		return "-";
	i = index_of(gs->names, gs->nnames, name);
	return i >= 0 ? gs->abbrevs[i] : name;
}

const struct cell_result *report_group_cell(const struct results *r, const struct report_group *g,
					    int row, int col)
{
	int i = g->grid[row * g->ncols + col];

	return i >= 0 ? &r->cells[i] : NULL;
}

char report_outcome_symbol(enum cell_outcome o)
{
	switch (o) {
	case CELL_DIRECT: return 'D';
	case CELL_RELAYED: return 'R';
	case CELL_FAILED: return 'F';
	case CELL_DISPUTED: return 'X';
	case CELL_ERROR: return 'E';
	case CELL_SKIPPED: return '-';
	default: return '?';
	}
}

void report_cell_markers(const struct cell_result *c, char *buf)
{
	char *p = buf;

	if (c->verdict.regression)
		*p++ = '!';
	if (c->verdict.improvement)
		*p++ = '+';
	if (c->verdict.flaky)
		*p++ = '~';
	if (c->verdict.disagrees_claim)
		*p++ = 'c';
	if (c->verdict.disagrees_theory)
		*p++ = 't';
	*p = '\0';
}

void report_rerun_command(const struct cell_result *c, char *buf, size_t len)
{
	snprintf(buf, len, "sudo build/punchlab matrix --cell %s", c->spec.id);
}

const struct cell_run *report_representative_run(const struct cell_result *c)
{
	for (int i = 0; i < c->nruns; i++)
		if (c->runs[i].outcome == c->outcome)
			return &c->runs[i];
	return c->nruns > 0 ? &c->runs[0] : NULL;
}

int report_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates and beyond U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void report_utf8_sanitize(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	if (len == 0)
		return;
	while (*p) {
		int k = report_utf8_len(p);
		const char *src = k ? (const char *)p : "\xef\xbf\xbd";
		size_t w = k ? (size_t)k : 3;

		if (n + w + 1 > len)
			break;
		memcpy(buf + n, src, w);
		n += w;
		p += k ? k : 1;
	}
	buf[n] = '\0';
}

void report_outcome_set_format(outcome_set s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int o = 0; o < CELL_OUTCOME_COUNT; o++) {
		if (!(s & (1u << o)))
			continue;
		if (n >= len)
			break;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : "",
				      cell_outcome_name((enum cell_outcome)o));
	}
	if (!n)
		snprintf(buf, len, "-");
}

void report_expected_format(const struct cell_refs *refs, char *buf, size_t len)
{
	char set[64];

	if (refs->has_baseline) {
		snprintf(buf, len, "baseline %s", cell_outcome_name(refs->baseline));
		return;
	}
	report_outcome_set_format(refs->expected_allowed, set, sizeof(set));
	if (refs->expected_rate > 0)
		snprintf(buf, len, "expected %s, %s, rate %.0f%% (tested over %d runs)", set,
			 cell_class_name(refs->cell_class), refs->expected_rate * 100,
			 refs->expected_runs);
	else
		snprintf(buf, len, "expected %s", set);
}

void report_escape_markup(FILE *f, const char *s, enum markup_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	bool attr = mode == MARKUP_XML_ATTR;

	while (*p) {
		int k = report_utf8_len(p);

		if (k == 0) {
			fputs("\xef\xbf\xbd", f);
			p++;
			continue;
		}
		if (k > 1) {
			fwrite(p, 1, (size_t)k, f);
			p += k;
			continue;
		}
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		case '\t': fputs(attr ? "&#9;" : mode == MARKUP_HTML ? " " : "\t", f); break;
		case '\n': fputs(attr ? "&#10;" : "\n", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fputc(mode == MARKUP_HTML ? ' ' : '?', f);
			else
				fputc(*p, f);
		}
		p++;
	}
}
