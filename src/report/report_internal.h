/* Helpers shared by the report writers (not part of the report API). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "matrix/results.h"

/* One grid: the cells of one (topology, proto, technique, impairment, outer profile, address
 * family with a dual cell's IPv6 companion). */
struct report_group {
	const char *topology, *proto, *technique; /* point into the first cell's spec */
	const char *impair;  /* the impairment preset, "" for none (its own grid) */
	const char *outer;   /* the shared outer NAT's profile (--outer), "" for the topology's own */
	enum cell_family family; /* the address family (--family): a grid each */
	const char *ipv6_profile; /* dual: the IPv6 companion, "" for the default */
	int *cells;          /* indices into r->cells, in order */
	int ncells;
	const char **rows;   /* profile A labels (report_groups.names), in the profile order */
	int nrows;
	const char **cols;   /* profile B labels, the same order ("" when B has no NAT of its own) */
	int ncols;
	int *grid;           /* nrows * ncols indices into r->cells, -1 when no such cell */
};

/* The family part of a grid's title: "" for IPv4, " family=6", " family=dual" (with
 * " ipv6-profile=P" when not the default), into buf. */
void report_group_family(const struct report_group *g, char *buf, size_t len);

#define REPORT_ABBREV_MAX 8
#define REPORT_LABEL_MAX (64 + CELL_REF_MAX + 4)

struct report_groups {
	struct report_group *g;
	int n;
	/* every profile of the matrix (A and B), in one order for rows and columns (meta.profiles
	 * first): its reference (name or path, as in cell ids), its label (the header's name, with
	 * the path when two profiles share a name; unique) and a short unique abbreviation for
	 * column headers */
	const char **refs;
	const char **names;  /* the labels: point into labels[] */
	char (*labels)[REPORT_LABEL_MAX];
	char (*abbrevs)[REPORT_ABBREV_MAX];
	int nnames;
};

/* Build the groups of r. Returns 0 or -ENOMEM; free with report_groups_free (also after an
 * error). The groups point into r: r must outlive them. */
int report_groups_build(const struct results *r, struct report_groups *gs);
void report_groups_free(struct report_groups *gs);

/* The abbreviation of a profile label ("-" for ""); the label itself when unknown. */
const char *report_abbrev(const struct report_groups *gs, const char *name);

/* The cell at (row, col) of a group, NULL when there is none. */
const struct cell_result *report_group_cell(const struct results *r, const struct report_group *g,
					    int row, int col);

/* One letter per outcome: D R F E -. */
char report_outcome_symbol(enum cell_outcome o);

/* The markers of a cell: '!' regression, '+' improvement, '~' flaky, 'c' disagrees with the
 * documents' claim, 't' disagrees with the theory, 'f' a dual cell's path took a family the
 * theory calls not direct. buf: at least 8 bytes. */
void report_cell_markers(const struct cell_result *c, char *buf);
/* A dual cell's family in the grid, after its outcome symbol: "6", "4" or "4/6" (runs took
 * both) when it is direct and the lab attested the family; "" otherwise. */
const char *report_cell_family(const struct cell_result *c);
/* A dual cell's family sentence ("family: direct over IPv6, expected IPv6", or "WRONG FAMILY:
 * ..." naming the runs and the theory's set); "" for a cell without an expected set. */
void report_family_text(const struct cell_result *c, char *buf, size_t len);

/* The command that reruns a cell: "sudo build/punchlab matrix --cell ID" and every option of
 * the run that shaped the cell (--topology for a topology file that is not a shipped one,
 * --engine-binary, --stagger other than the default, --repeat above 1, --expectations,
 * --baseline), shell-quoted where needed. REPORT_RERUN_MAX fits any. */
#define REPORT_RERUN_MAX 4096
/* "punch 0.1.0", or for an engine pair "punch 0.1.0 ~ punch 0.1.0 (peer A ~ peer B), binaries
 * X ~ Y": the engines a run's cells ran, for every report's header. */
void report_engine_label(const struct results_meta *m, char *buf, size_t len);
void report_rerun_command(const struct results *r, const struct cell_result *c, char *buf,
			  size_t len);

/* The run that represents the cell: the first run whose outcome is the cell's; NULL without
 * runs. */
const struct cell_run *report_representative_run(const struct cell_result *c);

/* Copy s to buf replacing every invalid UTF-8 sequence by U+FFFD (bytes as given otherwise). */
void report_utf8_sanitize(const char *s, char *buf, size_t len);

/* A UTF-8 decoder step: the length of the valid sequence at s (1..4), 0 when invalid. */
int report_utf8_len(const unsigned char *s);

/* Markup escaping shared by the XML and HTML writers: the five entities (the apostrophe as
 * &#39;, valid in both), valid UTF-8 only (U+FFFD for a bad byte). XML 1.0 cannot carry control
 * characters but tab and newline, even as &#N;: they become '?'; in an XML attribute tab and
 * newline are written as references (a parser would turn them into spaces). HTML keeps
 * newlines and turns other control characters into spaces. */
enum markup_mode { MARKUP_XML_TEXT, MARKUP_XML_ATTR, MARKUP_HTML };
void report_escape_markup(FILE *f, const char *s, enum markup_mode mode);

/* Every allowed outcome of a set, "direct|relayed", into buf ("-" for none). */
void report_outcome_set_format(outcome_set s, char *buf, size_t len);

/* The expected outcome in words: the baseline when there is one, else the allowed set. */
void report_expected_format(const struct cell_refs *refs, char *buf, size_t len);

/* The documents' claims of a cell into out[CELL_MAX_CLAIMS]: refs->claims, or for a file from
 * before claims had strengths (nclaims 0) one claim made of claim/claim_source/claim_quote, its
 * disagreement the verdict's. Returns how many (0: the claim is `none`). */
int report_claims(const struct cell_result *c, struct cell_claim *out);

/* "failed (in-most-cases, p = 0.004)": a claim's outcome and strength, with the test's p-value
 * when a hedge disagrees. */
void report_claim_label(const struct cell_claim *cl, char *buf, size_t len);

/* JSON emitter shared by matrix.json and the data embedded in index.html. */
struct json_writer {
	FILE *f;
	bool pretty;
	bool html;        /* escape '<', '>' and '&' so the text can sit in a <script> */
	int depth;
	bool first[16];   /* per depth: no member written yet */
};

void jw_open(struct json_writer *w, const char *key, char brace);   /* '{' or '[' */
void jw_close(struct json_writer *w, char brace);
void jw_str(struct json_writer *w, const char *key, const char *s);
void jw_num(struct json_writer *w, const char *key, double v);      /* non-finite: null */
void jw_int(struct json_writer *w, const char *key, long v);
void jw_bool(struct json_writer *w, const char *key, bool v);
void jw_null(struct json_writer *w, const char *key);

/* The whole results as matrix.json. log_root: when not NULL, each run also gets "log_files",
 * the files found under log_root/log_dir (for index.html). */
void jw_write_results(struct json_writer *w, const struct results *r, const char *log_root);
