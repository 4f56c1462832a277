/* Helpers shared by the report writers: grouping cells into grids, profile abbreviations,
 * markers, rerun commands, UTF-8 hygiene. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/userns.h"
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
		    strcmp(g->technique, s->technique) == 0 && strcmp(g->impair, s->impair) == 0 &&
		    strcmp(g->outer, s->outer) == 0 && g->family == s->family &&
		    strcmp(g->ipv6_profile, s->ipv6_profile) == 0)
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

static int ref_index(const struct report_groups *gs, const char *ref)
{
	return index_of(gs->refs, gs->nnames, ref);
}

/* A profile's header name; results from before names were recorded: the reference, a path by
 * its file name (not "/tmp/x/homebox.nft", abbreviated "/TM"). */
static const char *header_name(const struct cell_spec *s, int side)
{
	const char *name = side ? s->profile_b_name : s->profile_a_name;
	const char *ref = side ? s->profile_b : s->profile_a;

	if (name[0])
		return name;
	return strrchr(ref, '/') && strrchr(ref, '/')[1] ? strrchr(ref, '/') + 1 : ref;
}

/* Every profile reference of the results, in one order for rows and columns alike: the order of
 * meta.profiles (the run's --profiles order, which every shard and so a merge keeps), then any
 * other by first appearance. Each gets a label (its header's name; "name (path)" when another
 * profile has the same name) and an abbreviation made from its name, not from its path. */
static int abbrevs_build(struct report_groups *gs, const struct results *r)
{
	const char **hdr;
	size_t cap = (size_t)r->ncells * 2 + (size_t)r->meta.nprofiles + 1;
	int ret = 0;

	gs->refs = calloc(cap, sizeof(*gs->refs));
	gs->names = calloc(cap, sizeof(*gs->names));
	gs->labels = calloc(cap, sizeof(*gs->labels));
	gs->abbrevs = calloc(cap, sizeof(*gs->abbrevs));
	hdr = calloc(cap, sizeof(*hdr));
	if (!gs->refs || !gs->names || !gs->labels || !gs->abbrevs || !hdr) {
		ret = -ENOMEM;
		goto out;
	}
	for (int m = 0; m <= r->meta.nprofiles; m++)
		for (int i = 0; i < r->ncells; i++) {
			const struct cell_spec *s = &r->cells[i].spec;
			for (int k = 0; k < 2; k++) {
				const char *ref = k ? s->profile_b : s->profile_a;
				/* m < nprofiles: meta's m-th profile only; then every other */
				if (!ref[0] || ref_index(gs, ref) >= 0 ||
				    (m < r->meta.nprofiles && strcmp(r->meta.profiles[m].name, ref)))
					continue;
				gs->refs[gs->nnames] = ref;
				hdr[gs->nnames++] = header_name(s, k);
			}
		}
	for (int i = 0; i < gs->nnames; i++) {
		char base[REPORT_ABBREV_MAX - 2];
		bool shared = false;

		for (int j = 0; j < gs->nnames; j++)
			shared |= j != i && strcmp(hdr[i], hdr[j]) == 0;
		if (shared && strchr(gs->refs[i], '/'))
			snprintf(gs->labels[i], sizeof(gs->labels[i]), "%s (%s)", hdr[i], gs->refs[i]);
		else
			snprintf(gs->labels[i], sizeof(gs->labels[i]), "%s", shared ? gs->refs[i] : hdr[i]);
		gs->names[i] = gs->labels[i];
		abbrev_make(hdr[i], base, sizeof(base));
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
out:
	free(hdr);
	return ret;
}

static int group_add(struct report_group *g, int cell)
{
	int *cells = realloc(g->cells, sizeof(*cells) * (size_t)(g->ncells + 1));

	if (!cells)
		return -ENOMEM;
	g->cells = cells;
	g->cells[g->ncells++] = cell;
	return 0;
}

static int by_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Rows (profile A) and columns (profile B) in the one profile order of gs, so the diagonal is
 * "the same profile on both sides" whatever order the cells came in (a merge of shards). A
 * column for "no B" goes last. */
static int group_grid(struct report_group *g, const struct report_groups *gs,
		      const struct results *r)
{
	int *ra = malloc(sizeof(int) * (size_t)(g->ncells + 1));
	int *rb = malloc(sizeof(int) * (size_t)(g->ncells + 1));
	int ret = -ENOMEM;

	g->rows = calloc((size_t)g->ncells + 1, sizeof(*g->rows));
	g->cols = calloc((size_t)g->ncells + 1, sizeof(*g->cols));
	if (!ra || !rb || !g->rows || !g->cols)
		goto out;
	for (int i = 0; i < g->ncells; i++) {
		const struct cell_spec *s = &r->cells[g->cells[i]].spec;
		ra[i] = ref_index(gs, s->profile_a);
		rb[i] = s->profile_b[0] ? ref_index(gs, s->profile_b) : gs->nnames;
	}
	qsort(ra, (size_t)g->ncells, sizeof(int), by_int);
	qsort(rb, (size_t)g->ncells, sizeof(int), by_int);
	for (int i = 0; i < g->ncells; i++) {
		if (i == 0 || ra[i] != ra[i - 1])
			g->rows[g->nrows++] = gs->names[ra[i]];
		if (i == 0 || rb[i] != rb[i - 1])
			g->cols[g->ncols++] = rb[i] < gs->nnames ? gs->names[rb[i]] : "";
	}
	g->grid = malloc(sizeof(*g->grid) * (size_t)(g->nrows * g->ncols + 1));
	if (!g->grid)
		goto out;
	for (int i = 0; i < g->nrows * g->ncols; i++)
		g->grid[i] = -1;
	for (int i = 0; i < g->ncells; i++) {
		const struct cell_spec *s = &r->cells[g->cells[i]].spec;
		int row = index_of(g->rows, g->nrows, gs->names[ref_index(gs, s->profile_a)]);
		int col = index_of(g->cols, g->ncols,
				   s->profile_b[0] ? gs->names[ref_index(gs, s->profile_b)] : "");
		g->grid[row * g->ncols + col] = g->cells[i];
	}
	ret = 0;
out:
	free(ra);
	free(rb);
	return ret;
}

void report_group_family(const struct report_group *g, char *buf, size_t len)
{
	static const char *const names[] = { "4", "6", "dual" };

	buf[0] = '\0';
	if (g->family == CELL_FAMILY_4 || (unsigned)g->family > CELL_FAMILY_DUAL)
		return;
	snprintf(buf, len, " family=%s%s%s", names[g->family], g->ipv6_profile[0]
		 ? " ipv6-profile=" : "", g->ipv6_profile);
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
			g->impair = s->impair;
			g->outer = s->outer;
			g->family = s->family;
			g->ipv6_profile = s->ipv6_profile;
		}
		ret = group_add(g, i);
		if (ret < 0)
			goto out;
	}
	for (int i = 0; i < gs->n; i++) {
		ret = group_grid(&gs->g[i], gs, r);
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
	free(gs->refs);
	free(gs->names);
	free(gs->labels);
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
	if (c->verdict.family_wrong)
		*p++ = 'f';
	*p = '\0';
}

const char *report_cell_family(const struct cell_result *c)
{
	if (c->spec.family != CELL_FAMILY_DUAL || c->outcome != CELL_DIRECT)
		return "";
	return family_mark(c) + 1; /* "D6" -> "6"; "D" (no attested family) -> "" */
}

void report_family_text(const struct cell_result *c, char *buf, size_t len)
{
	const char *took = report_cell_family(c);

	if (!len)
		return;
	buf[0] = '\0';
	if (!c->refs.expected_families)
		return;
	if (c->verdict.family_wrong) {
		char finding[200];

		family_finding(c, finding, sizeof(finding));
		snprintf(buf, len, "WRONG FAMILY: %s", finding);
	} else if (took[0]) {
		snprintf(buf, len, "family: direct over IPv%s, expected IPv%s", took,
			 family_set_name(c->refs.expected_families));
	} else {
		snprintf(buf, len, "family: expected IPv%s if direct",
			 family_set_name(c->refs.expected_families));
	}
}

/* Append " WORD" to buf, single-quoted unless every byte is one a shell takes literally
 * (paths may hold spaces, quotes, '$'; an id never starts with '~', a path might). */
static size_t shell_word(char *buf, size_t len, size_t n, const char *word)
{
	bool plain = word[0] && word[0] != '~';

	for (const char *p = word; plain && *p; p++)
		plain = isalnum((unsigned char)*p) || strchr("_./%=:,+@~-", *p);
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, plain ? " %s" : " '", word);
	for (const char *p = word; !plain && *p && n < len; p++)
		n += (size_t)snprintf(buf + n, len - n, *p == '\'' ? "'\\''" : "%c", *p);
	if (!plain && n < len)
		n += (size_t)snprintf(buf + n, len - n, "'");
	return n;
}

void report_engine_label(const struct results_meta *m, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%s %s", m->engine[0] ? m->engine : "?",
				    m->engine_version);

	if (m->engine_b[0] && n < len)
		n += (size_t)snprintf(buf + n, len - n, " ~ %s %s (peer A ~ peer B)", m->engine_b,
				      m->engine_b_version);
	if (m->engine_b[0] && (m->engine_binary[0] || m->engine_binary_b[0]) && n < len)
		snprintf(buf + n, len - n, ", binaries %s ~ %s",
			 m->engine_binary[0] ? m->engine_binary : "(found)",
			 m->engine_binary_b[0] ? m->engine_binary_b : "(found)");
}

void report_rerun_command(const struct results *r, const struct cell_result *c, char *buf,
			  size_t len)
{
	const struct results_meta *m = &r->meta;
	char num[16];
	/* a rootless run's reader reruns it rootless too (docs/rootless.md): no sudo */
	size_t n = (size_t)snprintf(buf, len, "%sbuild/punchlab matrix",
				    userns_rootless() ? "" : "sudo ");

	/* the id carries the cell's topology (by name), profiles, transport, technique and engine */
	n = shell_word(buf, len, n, "--cell");
	n = shell_word(buf, len, n, c->spec.id);
	if (m->topology_path[0]) {
		n = shell_word(buf, len, n, "--topology");
		n = shell_word(buf, len, n, m->topology_path);
	}
	if (m->engine_binary[0]) {
		n = shell_word(buf, len, n, m->engine_b[0] ? "--engine-binary-a" : "--engine-binary");
		n = shell_word(buf, len, n, m->engine_binary);
	}
	if (m->engine_binary_b[0]) {
		n = shell_word(buf, len, n, "--engine-binary-b");
		n = shell_word(buf, len, n, m->engine_binary_b);
	}
	if (m->stagger_ms != CELL_DEFAULT_STAGGER_MS) {
		snprintf(num, sizeof(num), "%d", m->stagger_ms);
		n = shell_word(buf, len, n, "--stagger");
		n = shell_word(buf, len, n, num);
	}
	if (m->repeat > 1) {
		snprintf(num, sizeof(num), "%d", m->repeat);
		n = shell_word(buf, len, n, "--repeat");
		n = shell_word(buf, len, n, num);
	}
	if (m->expectations[0]) {
		n = shell_word(buf, len, n, "--expectations");
		n = shell_word(buf, len, n, m->expectations);
	}
	if (m->baseline[0]) {
		n = shell_word(buf, len, n, "--baseline");
		shell_word(buf, len, n, m->baseline);
	}
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

int report_claims(const struct cell_result *c, struct cell_claim *out)
{
	const struct cell_refs *refs = &c->refs;
	int n = refs->nclaims < CELL_MAX_CLAIMS ? refs->nclaims : CELL_MAX_CLAIMS;

	if (n > 0) {
		memcpy(out, refs->claims, (size_t)n * sizeof(*out));
		return n;
	}
	if (!refs->has_claim)
		return 0;
	out[0] = (struct cell_claim){ .outcome = refs->claim, .bound = 1, .p_value = 1,
				      .disagrees = c->verdict.disagrees_claim };
	snprintf(out[0].source, sizeof(out[0].source), "%s", refs->claim_source);
	snprintf(out[0].quote, sizeof(out[0].quote), "%s", refs->claim_quote);
	return 1;
}

void report_claim_label(const struct cell_claim *cl, char *buf, size_t len)
{
	if (cl->strength[0] && cl->disagrees && cl->bound < 1)
		snprintf(buf, len, "%s (%s, p = %.2g)", cell_outcome_name(cl->outcome), cl->strength,
			 cl->p_value);
	else if (cl->strength[0])
		snprintf(buf, len, "%s (%s)", cell_outcome_name(cl->outcome), cl->strength);
	else
		snprintf(buf, len, "%s", cell_outcome_name(cl->outcome));
}
