/* Unit tests of the report writers (src/report/) on a small synthetic matrix: three groups,
 * every outcome, every verdict, repeats, and text with markup, quotes, control characters and
 * non-ASCII in it. JSON round trip through results_json_read, JUnit well-formed (a small
 * checker here, and xmllint when it is installed) with failures exactly for regressions, every
 * cell in the markdown, terminal and HTML, one SVG per group, the report directory, merge. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "matrix/results.h"
#include "matrix/results_json_read.h"
#include "matrix/results_merge.h"
#include "report/report.h"
#include "report_mem.h"

#define NASTY "<b>&amp; \"quoted\" 'single' | pipe *star* _u_ `tick` \\ \xe2\x86\x92 \xc3\xbc\ttab"

struct cell_def {
	const char *topology, *proto, *technique, *a, *b;
	enum cell_outcome runs[4];
	int nruns;
	int claim;              /* -1 none */
	enum cell_outcome theory;
	int baseline;           /* -1 none */
	outcome_set allowed;
	double min_success;
	const char *reason;
};

#define SET(o) (1u << (o))

static const struct cell_def defs[] = {
	{ "two-nats", "udp", "udp", "full-cone", "full-cone", { CELL_DIRECT }, 1, CELL_DIRECT,
	  CELL_DIRECT, -1, SET(CELL_DIRECT), 0, "" },
	{ "two-nats", "udp", "udp", "full-cone", "symmetric", { CELL_DIRECT }, 1, CELL_FAILED,
	  CELL_DIRECT, -1, SET(CELL_DIRECT), 0, "" },
	{ "two-nats", "udp", "udp", "symmetric", "full-cone", { CELL_RELAYED }, 1, CELL_DIRECT,
	  CELL_DIRECT, -1, SET(CELL_DIRECT), 0, "probing: no reply from the peer " NASTY },
	{ "two-nats", "udp", "udp", "symmetric", "symmetric", { CELL_FAILED }, 1, CELL_FAILED,
	  CELL_FAILED, -1, SET(CELL_FAILED), 0, "probing: deadline\nsecond line" },
	{ "two-nats", "tcp", "tcp", "port-restricted-cone", "port-restricted-cone",
	  { CELL_DIRECT, CELL_FAILED, CELL_DIRECT }, 3, -1, CELL_DIRECT, -1,
	  SET(CELL_DIRECT), 0, "" },
	{ "two-nats", "tcp", "tcp", "port-restricted-cone", "symmetric", { CELL_ERROR }, 1, -1,
	  CELL_FAILED, -1, SET(CELL_FAILED), 0, "engine binary missing: \x1b[31mred\x1b[0m \x01" },
	{ "same-nat", "udp", "auto", "cgn", "", { CELL_SKIPPED }, 1, -1, CELL_DIRECT, -1,
	  SET(CELL_DIRECT), 0, "kernel lacks nf_conntrack_sip" },
	{ "two-nats", "udp", "udp", "full-cone", "port-restricted-cone", { CELL_DIRECT }, 1,
	  CELL_DIRECT, CELL_FAILED, -1, SET(CELL_FAILED), 0, "" },
};
#define NDEFS ((int)(sizeof(defs) / sizeof(defs[0])))

static void synth_build(struct results *r, bool baseline)
{
	memset(r, 0, sizeof(*r));
	r->meta.schema_version = RESULTS_SCHEMA_VERSION;
	snprintf(r->meta.started, sizeof(r->meta.started), "2025-01-02T03:04:05Z");
	r->meta.wall_ms = 14203.25;
	snprintf(r->meta.kernel, sizeof(r->meta.kernel), "6.18.0");
	snprintf(r->meta.nft_version, sizeof(r->meta.nft_version), "1.0.6");
	snprintf(r->meta.engine, sizeof(r->meta.engine), "punch");
	snprintf(r->meta.engine_version, sizeof(r->meta.engine_version), "0.1.0");
	snprintf(r->meta.harness_version, sizeof(r->meta.harness_version), "0.1.0");
	snprintf(r->meta.host, sizeof(r->meta.host), "ci-runner");
	r->meta.jobs = 24;
	r->meta.repeat = 3;
	r->meta.stagger_ms = 20;
	snprintf(r->meta.shard, sizeof(r->meta.shard), "1/2");
	if (baseline)
		snprintf(r->meta.baseline, sizeof(r->meta.baseline), "ci/baseline.json");
	r->meta.profiles = calloc(2, sizeof(*r->meta.profiles));
	assert_non_null(r->meta.profiles);
	r->meta.nprofiles = 2;
	snprintf(r->meta.profiles[0].name, sizeof(r->meta.profiles[0].name), "full-cone");
	memset(r->meta.profiles[0].sha256, 'a', 64);
	snprintf(r->meta.profiles[1].name, sizeof(r->meta.profiles[1].name), "symmetric");
	memset(r->meta.profiles[1].sha256, 'b', 64);

	r->cells = calloc(NDEFS, sizeof(*r->cells));
	assert_non_null(r->cells);
	r->ncells = NDEFS;
	for (int i = 0; i < NDEFS; i++) {
		const struct cell_def *d = &defs[i];
		struct cell_result *c = &r->cells[i];

		snprintf(c->spec.id, sizeof(c->spec.id), "%s/%s/%s/%s~%s", d->topology, d->proto,
			 d->technique, d->a, d->b[0] ? d->b : "-");
		snprintf(c->spec.topology, sizeof(c->spec.topology), "%s", d->topology);
		snprintf(c->spec.proto, sizeof(c->spec.proto), "%s", d->proto);
		snprintf(c->spec.technique, sizeof(c->spec.technique), "%s", d->technique);
		snprintf(c->spec.profile_a, sizeof(c->spec.profile_a), "%s", d->a);
		snprintf(c->spec.profile_b, sizeof(c->spec.profile_b), "%s", d->b);
		snprintf(c->spec.engine, sizeof(c->spec.engine), "punch");
		c->refs.has_claim = d->claim >= 0;
		if (d->claim >= 0) {
			c->refs.claim = (enum cell_outcome)d->claim;
			snprintf(c->refs.claim_source, sizeof(c->refs.claim_source),
				 "Wikipedia, \"Hole punching (networking)\"");
			snprintf(c->refs.claim_quote, sizeof(c->refs.claim_quote),
				 "symmetric: in most cases not possible <sic> & so on");
		}
		c->refs.theory = d->theory;
		snprintf(c->refs.theory_why, sizeof(c->refs.theory_why),
			 "A maps endpoint-independent; B filters address-and-port-dependent");
		c->refs.has_baseline = baseline && d->baseline >= 0;
		c->refs.baseline = d->baseline >= 0 ? (enum cell_outcome)d->baseline : CELL_DIRECT;
		c->refs.expected_allowed = d->allowed;
		c->refs.expected_rate = d->min_success;
		c->refs.cell_class = d->min_success > 0 ? CLASS_TIMING : CLASS_DETERMINED;
		c->refs.expected_runs = d->min_success > 0 ? 3 : 0;
		if (d->min_success > 0)
			snprintf(c->refs.expected_reason, sizeof(c->refs.expected_reason),
				 "simultaneous open is a timing race");
		c->runs = calloc(4, sizeof(*c->runs));
		assert_non_null(c->runs);
		c->nruns = d->nruns;
		for (int k = 0; k < d->nruns; k++) {
			struct cell_run *run = &c->runs[k];

			run->outcome = d->runs[k];
			snprintf(run->reason, sizeof(run->reason), "%s",
				 run->outcome == CELL_DIRECT ? "" : d->reason);
			if (run->outcome == CELL_FAILED)
				snprintf(run->phase, sizeof(run->phase), "probing");
			snprintf(run->technique_used, sizeof(run->technique_used), "%s", d->technique);
			run->time_to_connect_ms = run->outcome == CELL_DIRECT ? 12.3 + k : -1;
			/* auto's relay alongside: a first byte before the direct path (round trip) */
			run->ttfb_ms = run->outcome == CELL_DIRECT || run->outcome == CELL_RELAYED
					       ? 0.5 + k : -1;
			run->time_to_direct_ms = run->outcome == CELL_DIRECT ? 12.3 + k : -1;
			run->attempts = 3 + k;
			run->wall_ms = 180.5 + i;
			snprintf(run->mappings, sizeof(run->mappings),
				 "udp 10.0.1.2:4242 -> 198.51.100.2:4242\nudp 10.0.2.2:4242 -> "
				 "203.0.113.2:%d\n", 1024 + i);
			snprintf(run->log_dir, sizeof(run->log_dir), "cells/%d/run-%d", i, k + 1);
			if (i == 1 && k == 0) /* matrix --pcap: one run's captures, one cut */
				snprintf(run->captures, sizeof(run->captures),
					 "nat-a-eth0-wan.pcap\nhost-a-eth0.pcap (cut)\n");
		}
		results_judge_cell(c);
	}
}

/* with a baseline: some cells moved */
static void synth_build_baseline(struct results *r)
{
	synth_build(r, true);
	for (int i = 0; i < r->ncells; i++) {
		struct cell_result *c = &r->cells[i];
		c->refs.has_baseline = true;
		c->refs.baseline = c->outcome;
	}
	r->cells[0].refs.baseline = CELL_RELAYED;  /* improvement */
	r->cells[3].refs.baseline = CELL_DIRECT;   /* regression */
	r->cells[7].refs.has_baseline = false;     /* a new cell */
	for (int i = 0; i < r->ncells; i++)
		results_judge_cell(&r->cells[i]);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static char tmpdir[64];

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/punchlab-test-reports-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void assert_results_equal(const struct results *a, const struct results *b)
{
	const struct results_meta *x = &a->meta, *y = &b->meta;

	assert_int_equal(x->schema_version, y->schema_version);
	assert_string_equal(x->started, y->started);
	assert_true(x->wall_ms == y->wall_ms);
	assert_int_equal(x->incomplete, y->incomplete);
	assert_string_equal(x->kernel, y->kernel);
	assert_string_equal(x->nft_version, y->nft_version);
	assert_string_equal(x->engine, y->engine);
	assert_string_equal(x->engine_version, y->engine_version);
	assert_string_equal(x->harness_version, y->harness_version);
	assert_string_equal(x->host, y->host);
	assert_int_equal(x->jobs, y->jobs);
	assert_int_equal(x->repeat, y->repeat);
	assert_int_equal(x->stagger_ms, y->stagger_ms);
	assert_string_equal(x->shard, y->shard);
	assert_string_equal(x->baseline, y->baseline);
	assert_int_equal(x->nprofiles, y->nprofiles);
	for (int i = 0; i < x->nprofiles; i++) {
		assert_string_equal(x->profiles[i].name, y->profiles[i].name);
		assert_string_equal(x->profiles[i].sha256, y->profiles[i].sha256);
	}
	assert_int_equal(a->ncells, b->ncells);
	for (int i = 0; i < a->ncells; i++) {
		if (!results_cell_equal(&a->cells[i], &b->cells[i]))
			fail_msg("cell %d (%s) differs after the round trip", i, a->cells[i].spec.id);
	}
}

static void test_json_round_trip(void **state)
{
	struct results r, back;
	struct diag_list dl = { .count = 0 };
	char path[128];
	FILE *f;

	(void)state;
	synth_build_baseline(&r);
	r.meta.incomplete = true;
	r.cells[4].success_rate = 2.0 / 3; /* a double that needs all 17 digits */
	snprintf(path, sizeof(path), "%s/rt.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(report_json_write(&r, f), 0);
	assert_int_equal(fclose(f), 0);
	if (results_json_read(path, &back, &dl) != 0) {
		diag_print(&dl, &out_std);
		fail();
	}
	assert_results_equal(&r, &back);
	results_free(&back);

	/* a file with no cells, no profiles */
	results_free(&r);
	memset(&r, 0, sizeof(r));
	r.meta.schema_version = RESULTS_SCHEMA_VERSION;
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(report_json_write(&r, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(results_json_read(path, &back, &dl), 0);
	assert_results_equal(&r, &back);
	results_free(&back);
	results_free(&r);
}

static void test_json_not_utf8(void **state)
{
	struct results r, back;
	struct diag_list dl = { .count = 0 };
	char path[128];
	FILE *f;

	(void)state;
	synth_build(&r, false);
	snprintf(r.cells[2].runs[0].reason, sizeof(r.cells[2].runs[0].reason),
		 "bad \xff\xfe bytes \xc3");
	snprintf(path, sizeof(path), "%s/utf8.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(report_json_write(&r, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(results_json_read(path, &back, &dl), 0);
	assert_string_equal(back.cells[2].runs[0].reason,
			    "bad \xef\xbf\xbd\xef\xbf\xbd bytes \xef\xbf\xbd");
	results_free(&back);
	results_free(&r);
}

struct read_case {
	const char *what;
	const char *text;   /* NULL: no such file */
	int ret;
	int line;           /* of the first diagnostic; -1: any */
	const char *msg;    /* substring of it */
};

#define CELL0 "{\"id\": \"t/udp/udp/a~-\", \"topology\": \"t\", \"profile_a\": \"a\", " \
	"\"proto\": \"udp\", \"technique\": \"udp\", \"outcome\": \"direct\", "

#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

static const struct read_case read_cases[] = {
	{ "no such file", NULL, -ENOENT, 0, "No such file" },
	{ "syntax error, with its line", "{\n  \"schema_version\": 1,\n  \"cells\": [\n    {,}\n  ]\n}\n",
	  -EINVAL, 4, "" },
	{ "duplicate key", "{\"schema_version\": 1,\n\"cells\": [],\n\"cells\": []}", -EINVAL, 3,
	  "duplicate" },
	{ "empty file", "", -EINVAL, -1, "" },
	{ "not an object", "[1, 2]", -EINVAL, 0, "not a matrix.json" },
	{ "no schema_version", "{\"cells\": []}", -EINVAL, 0, "schema_version" },
	{ "newer schema", "{\"schema_version\": 3, \"cells\": []}", -EINVAL, 0, "3 is not supported" },
	{ "no cells", "{\"schema_version\": 1}", -EINVAL, 0, "cells: missing" },
	{ "bad cell outcome", "{\"schema_version\": 1, \"cells\": [{\"id\": \"x\", \"topology\": \"t\", "
	  "\"profile_a\": \"a\", \"proto\": \"udp\", \"technique\": \"udp\", \"outcome\": \"sideways\", "
	  "\"runs\": []}]}", -EINVAL, 0, "cells[0].outcome: \"sideways\" is not an outcome" },
	{ "bad run outcome", "{\"schema_version\": 1, \"cells\": [" CELL0 "\"runs\": [{\"outcome\": "
	  "\"direct\"}, {\"outcome\": 3}]}]}", -EINVAL, 0, "cells[0].runs[1].outcome" },
	{ "missing id", "{\"schema_version\": 1, \"cells\": [{\"outcome\": \"direct\", \"runs\": []}]}",
	  -EINVAL, 0, "cells[0].id: missing" },
	{ "id too long", "{\"schema_version\": 1, \"cells\": [{\"id\": \"" X100 X100 X100 X100 X100 X100
	  X100 X100 X100 X100 X100 "\"}]}", -EINVAL, 0, "cells[0].id: longer than 1023 bytes" },
	{ "wrong type", "{\"schema_version\": 1, \"cells\": [" CELL0 "\"runs\": [], \"success_rate\": "
	  "\"high\"}]}", -EINVAL, 0, "cells[0].success_rate: not a number" },
	{ "bad allowed set", "{\"schema_version\": 1, \"cells\": [" CELL0 "\"runs\": [], \"refs\": "
	  "{\"expected\": {\"allowed\": [\"direct\", \"maybe\"]}}}]}", -EINVAL, 0,
	  "cells[0].refs.expected.allowed: \"maybe\"" },
	{ "minimal valid file", "{\"schema_version\": 1, \"cells\": [" CELL0 "\"runs\": []}], "
	  "\"future_field\": {\"ignored\": true}}", 0, 0, NULL },
};

static void test_json_read_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++) {
		const struct read_case *k = &read_cases[i];
		struct diag_list dl = { .count = 0 };
		struct results r;
		char path[128];
		int ret;

		snprintf(path, sizeof(path), "%s/read-%zu.json", tmpdir, i);
		if (k->text)
			write_file(path, k->text);
		ret = results_json_read(path, &r, &dl);
		if (ret != k->ret || (k->ret && dl.count < 1) ||
		    (k->ret && k->line >= 0 && dl.items[0].line != k->line) ||
		    (k->msg && k->msg[0] && !strstr(dl.items[0].msg, k->msg))) {
			print_error("case \"%s\": ret %d, %d diagnostics, first: line %d \"%s\"\n", k->what,
				    ret, dl.count, dl.count ? dl.items[0].line : -1,
				    dl.count ? dl.items[0].msg : "");
			fail();
		}
		if (ret == 0) {
			assert_int_equal(r.ncells, 1);
			assert_string_equal(r.cells[0].spec.profile_b, "");
			assert_true(r.cells[0].ttc_p50_ms < 0);
		} else {
			assert_int_equal(r.ncells, 0);
			assert_null(r.cells);
			assert_string_equal(dl.items[0].file, path);
		}
		results_free(&r);
	}
}

/* A small XML well-formedness check: a prolog, matched tags, quoted attributes without '<',
 * known entities, no raw '&' or '<' in text, no control characters, one root. */
static const char *xml_check(const char *s)
{
	const char *stack[32];
	size_t stack_len[32];
	int depth = 0, roots = 0;
	const char *p = s;

	if (strncmp(p, "<?xml ", 6) != 0)
		return "no XML declaration";
	p = strstr(p, "?>");
	if (!p)
		return "unterminated declaration";
	p += 2;
	while (*p) {
		if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
			return "control character";
		if (*p == '&') {
			static const char *const ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#39;",
							    "&#9;", "&#10;" };
			bool ok = false;
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
				ok |= strncmp(p, ents[i], strlen(ents[i])) == 0;
			if (!ok)
				return "bad entity";
			p++;
			continue;
		}
		if (*p == '>')
			return "raw '>' in text";
		if (*p != '<') {
			if (depth == 0 && *p != '\n' && *p != ' ')
				return "text outside the root";
			p++;
			continue;
		}
		if (p[1] == '/') {
			const char *name = p + 2;
			size_t n = strcspn(name, ">");
			if (depth == 0 || n != stack_len[depth - 1] || strncmp(name, stack[depth - 1], n))
				return "mismatched end tag";
			depth--;
			p = name + n + 1;
			continue;
		}
		{
			const char *name = p + 1;
			size_t n = strcspn(name, " />");
			const char *q = name + n;

			if (n == 0)
				return "empty tag name";
			while (*q && *q != '>' && !(q[0] == '/' && q[1] == '>')) {
				if (*q == ' ') {
					q++;
					continue;
				}
				q += strcspn(q, "= >");
				if (*q != '=' || q[1] != '"')
					return "attribute without a quoted value";
				q += 2;
				for (; *q && *q != '"'; q++)
					if (*q == '<' || (unsigned char)*q < 0x20)
						return "'<' or control character in an attribute";
				if (!*q)
					return "unterminated attribute";
				q++;
			}
			if (!*q)
				return "unterminated tag";
			if (depth == 0)
				roots++;
			if (*q == '/') {
				p = q + 2;
			} else {
				if (depth >= 32)
					return "too deep";
				stack[depth] = name;
				stack_len[depth++] = n;
				p = q + 1;
			}
		}
	}
	if (depth)
		return "unclosed element";
	return roots == 1 ? NULL : "not exactly one root element";
}

/* The attribute value of name="..." after p, unescaped only for the id characters we use. */
static void attr(const char *p, const char *name, char *buf, size_t len)
{
	char key[32];
	const char *v;

	snprintf(key, sizeof(key), " %s=\"", name);
	v = strstr(p, key);
	assert_non_null(v);
	v += strlen(key);
	snprintf(buf, len, "%.*s", (int)strcspn(v, "\""), v);
}

static void test_junit(void **state)
{
	struct results r;
	char *xml, path[128], cmd[256];
	const char *err, *p;
	int ncase = 0;

	(void)state;
	synth_build_baseline(&r);
	xml = report_mem(report_junit_write, &r);
	err = xml_check(xml);
	if (err)
		fail_msg("junit.xml is not well-formed: %s\n%s", err, xml);
	assert_int_equal(count(xml, "<testcase "), r.ncells);
	assert_int_equal(count(xml, "<testsuite "), 3);
	for (p = strstr(xml, "<testcase "); p; p = strstr(p + 1, "<testcase ")) {
		const char *end = strstr(p, "</testcase>");
		char name[200], classname[100], body[20000];
		const struct cell_result *c = NULL;

		assert_non_null(end);
		snprintf(body, sizeof(body), "%.*s", (int)(end - p), p);
		attr(p, "name", name, sizeof(name));
		attr(p, "classname", classname, sizeof(classname));
		for (int i = 0; i < r.ncells; i++)
			if (strcmp(r.cells[i].spec.id, name) == 0)
				c = &r.cells[i];
		assert_non_null(c);
		ncase++;
		{
			char want[100];
			snprintf(want, sizeof(want), "%s.%s.%s", c->spec.topology, c->spec.proto,
				 c->spec.technique);
			assert_string_equal(classname, want);
		}
		assert_int_equal(strstr(body, "<failure") != NULL, c->verdict.regression);
		assert_int_equal(strstr(body, "<error") != NULL, c->verdict.error);
		assert_int_equal(strstr(body, "<skipped") != NULL, c->outcome == CELL_SKIPPED);
		assert_non_null(strstr(body, "<system-out>"));
		assert_non_null(strstr(body, c->runs[0].log_dir));
		/* captures linked as attachments, by their path in the report directory */
		assert_int_equal(strstr(body, "[[ATTACHMENT|") != NULL, c->runs[0].captures[0] != 0);
		if (c->runs[0].captures[0]) {
			char want[300];
			snprintf(want, sizeof(want), "[[ATTACHMENT|%s/host-a-eth0.pcap]]",
				 c->runs[0].log_dir);
			assert_non_null(strstr(body, want));
		}
	}
	assert_int_equal(ncase, r.ncells);
	/* the markup in a reason arrived as text */
	assert_non_null(strstr(xml, "&lt;b&gt;&amp;amp; &quot;quoted&quot;"));
	assert_null(strstr(xml, "\x1b"));

	/* and a real XML parser agrees, where there is one */
	snprintf(path, sizeof(path), "%s/junit.xml", tmpdir);
	write_file(path, xml);
	if (access("/usr/bin/xmllint", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout '%s'", path);
		assert_int_equal(system(cmd), 0);
	}
	free(xml);
	results_free(&r);
}

static void test_markdown(void **state)
{
	struct results r;
	char *md;

	(void)state;
	synth_build(&r, false);
	md = report_mem(report_markdown_write, &r);
	for (int i = 0; i < r.ncells; i++)
		if (!strstr(md, r.cells[i].spec.id))
			fail_msg("matrix.md lacks cell %s", r.cells[i].spec.id);
	assert_null(strstr(md, "What changed"));
	assert_non_null(strstr(md, "## two-nats \xc2\xb7 udp \xc2\xb7 udp"));
	assert_non_null(strstr(md, "## Disagreements"));
	assert_non_null(strstr(md, "## Regressions"));
	assert_non_null(strstr(md, "sudo build/punchlab matrix --cell two-nats/udp/udp/symmetric~full-cone"));
	/* no raw markup or column breaks from a reason in a table (the rerun commands are in a
	 * code block, where text is text) */
	for (const char *line = md; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (line[0] == '|' && strstr(line, "<b>") && strstr(line, "<b>") < strchr(line, '\n'))
			fail_msg("raw markup in a table row: %.200s", line);
	assert_non_null(strstr(md, "\\| pipe"));
	free(md);
	results_free(&r);

	synth_build_baseline(&r);
	md = report_mem(report_markdown_write, &r);
	assert_non_null(strstr(md, "## What changed"));
	assert_non_null(strstr(md, "| `two-nats/udp/udp/symmetric~symmetric` | direct |"));
	assert_non_null(strstr(md, "**regression**"));
	assert_non_null(strstr(md, "improvement"));
	assert_non_null(strstr(md, "improvement (new: not in the baseline)"));
	free(md);
	results_free(&r);
}

static void test_terminal(void **state)
{
	struct results r;
	char *plain, *color;

	(void)state;
	synth_build(&r, false);
	plain = report_mem(report_mem_terminal_plain, &r);
	color = report_mem(report_mem_terminal_color, &r);
	/* every cell is on the grid (its group's id prefix, its row and column) or listed by id */
	for (int i = 0; i < r.ncells; i++) {
		const struct cell_result *c = &r.cells[i];
		char prefix[150];

		snprintf(prefix, sizeof(prefix), "%s/%s/%s/A~B", c->spec.topology, c->spec.proto,
			 c->spec.technique);
		assert_non_null(strstr(plain, prefix));
		assert_non_null(strstr(plain, c->spec.profile_a));
		if (c->outcome != CELL_DIRECT || c->verdict.disagrees_claim || c->verdict.disagrees_theory)
			if (!strstr(plain, c->spec.id))
				fail_msg("terminal report does not list %s", c->spec.id);
	}
	assert_non_null(strstr(plain, "FC full-cone"));
	assert_non_null(strstr(plain, "PRC port-restricted-cone"));
	assert_non_null(strstr(plain, "SYM symmetric"));
	assert_non_null(strstr(plain, "sudo build/punchlab matrix --cell two-nats/tcp/tcp/"
			       "port-restricted-cone~symmetric"));
	assert_non_null(strstr(plain, "Regressions"));
	assert_non_null(strstr(plain, "Flaky"));
	/* no escape sequence but ours: none without colour, the engine's red never */
	assert_null(strchr(plain, '\x1b'));
	assert_null(strchr(plain, '\x01'));
	assert_null(strstr(color, "\x1b[31m"));
	assert_non_null(strstr(color, "\x1b[1;32mD"));
	free(plain);
	free(color);
	results_free(&r);
}

static void test_html(void **state)
{
	struct results r;
	char *html;
	const char *data;

	(void)state;
	synth_build(&r, false);
	html = report_mem(report_mem_html_nodir, &r);
	assert_int_equal(count(html, "<svg"), 3);
	assert_int_equal(count(html, "</svg>"), 3);
	for (int i = 0; i < r.ncells; i++) {
		char attr_id[220];
		snprintf(attr_id, sizeof(attr_id), "data-id=\"%s\"", r.cells[i].spec.id);
		if (!strstr(html, attr_id))
			fail_msg("index.html has no cell %s", r.cells[i].spec.id);
	}
	/* self-contained: nothing to fetch */
	assert_null(strstr(html, "http:"));
	assert_null(strstr(html, "https:"));
	assert_null(strstr(html, " src="));
	assert_null(strstr(html, "<link"));
	/* the embedded data cannot end its script early */
	assert_int_equal(count(html, "</script>"), 2);
	data = strstr(html, "id=\"matrix-data\">");
	assert_non_null(data);
	assert_true(strstr(data, "</script>") < strstr(data, "<script>"));
	assert_null(strstr(html, "<b>&amp;"));
	assert_non_null(strstr(html, "&lt;b&gt;&amp;amp;"));
	free(html);
	results_free(&r);
}

static void test_report_dir(void **state)
{
	static const char *const files[] = { "matrix.json", "junit.xml", "matrix.md", "index.html",
					     "matrix.txt" };
	struct results r, back;
	struct diag_list dl = { .count = 0 };
	char dir[128], path[256];
	struct stat st;

	(void)state;
	synth_build(&r, false);
	snprintf(dir, sizeof(dir), "%s/out/deeper", tmpdir);
	/* a log directory, so index.html lists its files */
	snprintf(path, sizeof(path), "%s/cells/0/run-1", dir);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && echo hi > '%s/peer-a.log'", path, path);
		assert_int_equal(system(cmd), 0);
	}
	if (report_dir_write(&r, dir, &dl) != 0) {
		diag_print(&dl, &out_std);
		fail();
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size > 100);
	}
	snprintf(path, sizeof(path), "%s/matrix.json", dir);
	assert_int_equal(results_json_read(path, &back, &dl), 0);
	assert_results_equal(&r, &back);
	results_free(&back);
	{
		FILE *f;
		char buf[1 << 16];
		size_t n;
		snprintf(path, sizeof(path), "%s/index.html", dir);
		f = fopen(path, "r");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		assert_non_null(strstr(buf, "\"log_files\":[\"peer-a.log\"]"));
	}
	/* a directory that cannot be made */
	dl.count = 0;
	assert_true(report_dir_write(&r, "/proc/no/such/dir", &dl) < 0);
	assert_true(dl.count >= 1);
	results_free(&r);
}

/* The cells [from, to) of a results, as a new results (deep copy). */
static void results_slice(const struct results *r, int from, int to, struct results *out)
{
	struct results src = *r;
	struct diag_list dl = { .count = 0 };

	memset(out, 0, sizeof(*out));
	src.cells = r->cells + from;
	src.ncells = to - from;
	assert_int_equal(results_merge(out, &src, "slice", &dl), 0);
}

static void test_merge(void **state)
{
	struct results r, a, b, merged = { 0 };
	struct diag_list dl = { .count = 0 };

	(void)state;
	synth_build(&r, false);
	results_slice(&r, 0, 5, &a);
	results_slice(&r, 3, r.ncells, &b); /* cells 3 and 4 in both: identical */
	snprintf(b.meta.started, sizeof(b.meta.started), "2025-01-01T00:00:00Z");
	b.meta.wall_ms = 99999;
	assert_int_equal(results_merge(&merged, &a, "a", &dl), 0);
	assert_int_equal(results_merge(&merged, &b, "b", &dl), 0);
	assert_int_equal(dl.count, 0);
	assert_int_equal(merged.ncells, r.ncells);
	for (int i = 0; i < r.ncells; i++) {
		assert_true(results_cell_equal(&merged.cells[i], &r.cells[i]));
		results_judge_cell(&merged.cells[i]);
		assert_true(results_cell_equal(&merged.cells[i], &r.cells[i]));
	}
	assert_string_equal(merged.meta.started, "2025-01-01T00:00:00Z");
	assert_true(merged.meta.wall_ms == 99999);
	assert_string_equal(merged.meta.shard, "");
	assert_int_equal(merged.meta.nprofiles, 2);

	/* the same cell with another result: an error naming the cell, nothing joined */
	b.cells[0].runs[0].outcome = CELL_DIRECT;
	results_judge_cell(&b.cells[0]);
	assert_int_equal(results_merge(&merged, &b, "b2", &dl), -EINVAL);
	assert_int_equal(merged.ncells, r.ncells);
	assert_true(dl.count >= 1);
	assert_non_null(strstr(dl.items[0].msg, b.cells[0].spec.id));
	assert_string_equal(dl.items[0].file, "b2");

	/* a profile file that changed between the shards */
	results_free(&b);
	results_slice(&r, 0, 1, &b);
	b.meta.profiles[1].sha256[0] = 'c';
	dl.count = 0;
	assert_int_equal(results_merge(&merged, &b, "b3", &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "symmetric"));

	/* another engine version */
	b.meta.profiles[1].sha256[0] = 'b';
	snprintf(b.meta.engine_version, sizeof(b.meta.engine_version), "0.2.0");
	dl.count = 0;
	assert_int_equal(results_merge(&merged, &b, "b4", &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "engine"));

	results_free(&merged);
	results_free(&a);
	results_free(&b);
	results_free(&r);
}


/* punchlab merge end to end: two shards' report directories with logs, merged into a third. */
static void test_merge_cli(void **state)
{
	struct results r, a, b, merged;
	struct diag_list dl = { .count = 0 };
	char dir_a[128], dir_b[128], out[128], path[256], cmd[600];
	char *argv[8];
	int saved, devnull, ret;

	(void)state;
	synth_build(&r, false);
	results_slice(&r, 0, 4, &a);
	results_slice(&r, 4, r.ncells, &b);
	snprintf(a.meta.shard, sizeof(a.meta.shard), "1/2");
	snprintf(b.meta.shard, sizeof(b.meta.shard), "2/2");
	snprintf(dir_a, sizeof(dir_a), "%s/shard-1", tmpdir);
	snprintf(dir_b, sizeof(dir_b), "%s/shard-2", tmpdir);
	snprintf(out, sizeof(out), "%s/merged", tmpdir);
	assert_int_equal(report_dir_write(&a, dir_a, &dl), 0);
	assert_int_equal(report_dir_write(&b, dir_b, &dl), 0);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/cells/0/run-1' '%s/cells/5/run-1' && "
		 "echo a > '%s/cells/0/run-1/peer-a.log' && echo b > '%s/cells/5/run-1/peer-b.log'",
		 dir_a, dir_b, dir_a, dir_b);
	assert_int_equal(system(cmd), 0);

	argv[0] = "merge";
	argv[1] = dir_a;
	argv[2] = dir_b;
	argv[3] = "--out";
	argv[4] = out;
	argv[5] = "--no-color";
	argv[6] = NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDOUT_FILENO);
	ret = merge_main(6, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(devnull);
	/* the synthetic matrix has an error cell */
	assert_int_equal(ret, results_exit_code(&r));
	assert_int_equal(ret, 2);

	snprintf(path, sizeof(path), "%s/matrix.json", out);
	assert_int_equal(results_json_read(path, &merged, &dl), 0);
	assert_int_equal(merged.ncells, r.ncells);
	for (int i = 0; i < r.ncells; i++)
		assert_true(results_cell_equal(&merged.cells[i], &r.cells[i]));
	assert_false(merged.meta.incomplete);
	assert_string_equal(merged.meta.shard, "");
	results_free(&merged);
	snprintf(path, sizeof(path), "%s/cells/0/run-1/peer-a.log", out);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/cells/5/run-1/peer-b.log", out);
	assert_int_equal(access(path, R_OK), 0);

	/* one shard of two: merged, but marked incomplete (getopt permuted argv: write it anew) */
	argv[0] = "merge";
	argv[1] = dir_a;
	argv[2] = "--out";
	argv[3] = out;
	argv[4] = NULL;
	saved = dup(STDOUT_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDOUT_FILENO);
	ret = merge_main(4, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(devnull);
	assert_int_equal(ret, 2); /* incomplete: no pass on half a matrix (cell 2 regresses too) */
	snprintf(path, sizeof(path), "%s/matrix.json", out);
	assert_int_equal(results_json_read(path, &merged, &dl), 0);
	assert_int_equal(merged.ncells, 4);
	assert_true(merged.meta.incomplete);
	results_free(&merged);

	/* no input, a missing input */
	argv[0] = "merge";
	argv[1] = NULL;
	assert_int_equal(merge_main(1, argv), 2);
	argv[1] = "/nonexistent/dir";
	argv[2] = NULL;
	assert_int_equal(merge_main(2, argv), 2);

	results_free(&a);
	results_free(&b);
	results_free(&r);
}

/* PUNCHLAB_REPORTS_SAMPLE=DIR writes a full-size synthetic matrix's reports to DIR, to look at
 * (the HTML in a browser, the terminal report with `cat DIR/matrix.txt`). */
static void sample_write(const char *dir)
{
	static const char *const profiles[] = { "full-cone", "restricted-cone", "port-restricted-cone",
						"symmetric", "symmetric-sequential",
						"port-restricted-cone-rst" };
	static const char *const protos[] = { "udp", "tcp" };
	struct results r;
	struct diag_list dl = { .count = 0 };
	int n = 0;

	synth_build(&r, true);
	for (int i = 0; i < r.ncells; i++)
		free(r.cells[i].runs);
	free(r.cells);
	r.meta.repeat = 1;
	r.cells = calloc(6 * 6 * 2 * 2, sizeof(*r.cells));
	assert_non_null(r.cells);
	for (int p = 0; p < 2; p++)
		for (int t = 0; t < 2; t++)
			for (int a = 0; a < 6; a++)
				for (int b = 0; b < 6; b++) {
					struct cell_result *c = &r.cells[n];
					bool sym_a = a == 3, sym_b = b == 3;
					enum cell_outcome o = sym_a && sym_b ? CELL_FAILED :
							      (sym_a || sym_b) && (a >= 3 || b >= 3) &&
							      a != 1 && b != 1 && a != 0 && b != 0 ?
							      CELL_FAILED : CELL_DIRECT;
					const char *tech = t == 0 ? protos[p] : "auto";

					if (t == 1 && o == CELL_FAILED)
						o = CELL_RELAYED;
					snprintf(c->spec.id, sizeof(c->spec.id), "two-nats/%s/%s/%s~%s",
						 protos[p], tech, profiles[a], profiles[b]);
					snprintf(c->spec.topology, sizeof(c->spec.topology), "two-nats");
					snprintf(c->spec.proto, sizeof(c->spec.proto), "%s", protos[p]);
					snprintf(c->spec.technique, sizeof(c->spec.technique), "%s", tech);
					snprintf(c->spec.profile_a, sizeof(c->spec.profile_a), "%s", profiles[a]);
					snprintf(c->spec.profile_b, sizeof(c->spec.profile_b), "%s", profiles[b]);
					snprintf(c->spec.engine, sizeof(c->spec.engine), "punch");
					c->refs.theory = o;
					snprintf(c->refs.theory_why, sizeof(c->refs.theory_why),
						 "%s maps endpoint-independent; %s filters by address and port",
						 profiles[a], profiles[b]);
					c->refs.has_claim = true;
					c->refs.claim = sym_a || sym_b ? CELL_FAILED : CELL_DIRECT;
					snprintf(c->refs.claim_source, sizeof(c->refs.claim_source),
						 "Peer to Peer - Hole Punching");
					snprintf(c->refs.claim_quote, sizeof(c->refs.claim_quote),
						 "symmetric: in most cases not possible");
					c->refs.has_baseline = true;
					c->refs.baseline = o;
					c->refs.expected_allowed = 1u << o;
					c->runs = calloc(1, sizeof(*c->runs));
					assert_non_null(c->runs);
					c->nruns = 1;
					if (n == 40) {
						o = CELL_FAILED; /* a regression */
					} else if (n == 77) {
						o = CELL_ERROR;
					} else if (n == 100) {
						c->refs.baseline = CELL_FAILED; /* an improvement */
					}
					c->runs[0].outcome = o;
					c->runs[0].time_to_connect_ms = o == CELL_DIRECT ? 3.5 + n % 7 : -1;
					c->runs[0].attempts = 1 + n % 4;
					c->runs[0].wall_ms = 150 + n % 50;
					if (o == CELL_FAILED)
						snprintf(c->runs[0].phase, sizeof(c->runs[0].phase), "probing");
					snprintf(c->runs[0].reason, sizeof(c->runs[0].reason), "%s",
						 o == CELL_FAILED ? "no probe answered before the 2000 ms deadline" :
						 o == CELL_ERROR ? "lab build: create veth: File exists" :
						 o == CELL_RELAYED ? "direct probing failed; relayed through the server" : "");
					snprintf(c->runs[0].mappings, sizeof(c->runs[0].mappings),
						 "%s 10.0.1.2:4242 -> 198.51.100.2:%d\n%s 10.0.2.2:4242 -> "
						 "203.0.113.2:%d", protos[p], 4242 + n, protos[p], 4242);
					snprintf(c->runs[0].log_dir, sizeof(c->runs[0].log_dir), "cells/%03d", n);
					results_judge_cell(c);
					n++;
				}
	r.ncells = n;
	if (report_dir_write(&r, dir, &dl) < 0)
		diag_print(&dl, &out_std);
	results_free(&r);

	/* and the small matrix of the tests: repeats, skipped, error, a group without B */
	{
		char small[512];
		snprintf(small, sizeof(small), "%s/small", dir);
		synth_build(&r, false);
		if (report_dir_write(&r, small, &dl) < 0)
			diag_print(&dl, &out_std);
		results_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_not_utf8),
		cmocka_unit_test(test_json_read_errors),
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_markdown),
		cmocka_unit_test(test_terminal),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_report_dir),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_cli),
	};

	if (getenv("PUNCHLAB_REPORTS_SAMPLE"))
		sample_write(getenv("PUNCHLAB_REPORTS_SAMPLE"));
	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
