/* The quote test: every claim of ci/expectations.yaml quotes its document faithfully. Each
 * fragment of a claim's quote (fragments are joined by " ... ") is found, whitespace-normalised
 * and in order, in the passages kept under docs/sources/ (the fenced ```text blocks of the
 * document's file, each under a heading that says where it sits); every document is cited by at
 * least one claim, and every passage file says where the document comes from. Runs on any
 * checkout: it needs nothing but the source tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "matrix/expect.h"

#define PASSAGE_SEP '\x01' /* between passages: no fragment can span two of them */

/* Collapse every run of whitespace to one space, trim both ends (in place). */
static void normalise(char *s)
{
	char *w = s;
	bool space = false;

	for (char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
			space = w != s;
			continue;
		}
		if (space && *r != PASSAGE_SEP && w[-1] != PASSAGE_SEP)
			*w++ = ' ';
		space = false;
		*w++ = *r;
	}
	*w = '\0';
}

/* The passages of a sources file, normalised and joined by PASSAGE_SEP; NULL (and a message in
 * why) when the file is unreadable or a passage has no heading saying where it sits. Caller
 * frees. */
static char *passages_of(const char *text, char *why, size_t len)
{
	char *out = calloc(1, strlen(text) + 2), *w = out;
	const char *p = text, *heading = NULL;
	bool in = false;

	if (!out)
		return NULL;
	if (!strstr(text, "\nSource: ")) {
		snprintf(why, len, "no \"Source: \" line saying where the document comes from");
		free(out);
		return NULL;
	}
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (!in && n >= 7 && strncmp(p, "```text", 7) == 0) {
			if (!heading) {
				snprintf(why, len, "a passage without a \"## Line(s) N...: section\" "
					 "heading before it");
				free(out);
				return NULL;
			}
			in = true;
			heading = NULL;
			if (w != out)
				*w++ = PASSAGE_SEP;
		} else if (in && n >= 3 && strncmp(p, "```", 3) == 0) {
			in = false;
		} else if (in) {
			memcpy(w, p, n);
			w += n;
			*w++ = '\n';
		} else if (n > 8 && strncmp(p, "## Line", 7) == 0) {
			heading = p;
		}
		p += n + (eol ? 1 : 0);
	}
	*w = '\0';
	normalise(out);
	return out;
}

/* Whether every fragment of quote (joined by " ... ") is in text, in order. On failure the
 * missing fragment is copied to missing. */
static bool quote_found(const char *text, const char *quote, char *missing, size_t len)
{
	char buf[1024];
	const char *from = text;
	char *frag = buf;

	snprintf(buf, sizeof(buf), "%s", quote);
	while (frag) {
		char *next = strstr(frag, " ... "), *hit;

		if (next) {
			*next = '\0';
			next += 5;
		}
		normalise(frag);
		hit = frag[0] ? strstr(from, frag) : NULL;
		if (!hit) {
			snprintf(missing, len, "%s", frag);
			return false;
		}
		from = hit + strlen(frag);
		frag = next;
	}
	return true;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The matcher itself can fail: a word changed, fragments out of order, a fragment that spans
 * two passages, an empty fragment. */
static void test_matcher(void **state)
{
	char text[] = "# T\n\nSource: x\n\n## Line 1: a\n\n```text\nIn the most\n  cases not "
		      "possible.\n```\n\n## Line 9: b\n\n```text\nAn interesting article.\n```\n";
	char why[128], missing[256];
	char *t = passages_of(text, why, sizeof(why));

	(void)state;
	assert_non_null(t);
	assert_true(quote_found(t, "In the most cases not possible.", missing, sizeof(missing)));
	assert_true(quote_found(t, "most cases ... interesting", missing, sizeof(missing)));
	assert_false(quote_found(t, "In most cases not possible.", missing, sizeof(missing)));
	assert_string_equal(missing, "In most cases not possible.");
	assert_false(quote_found(t, "interesting ... most cases", missing, sizeof(missing)));
	assert_false(quote_found(t, "possible. An interesting", missing, sizeof(missing)));
	assert_false(quote_found(t, "most ...  ... possible", missing, sizeof(missing)));
	free(t);
	/* a passage must say where it sits, a file where the document comes from */
	assert_null(passages_of("# T\n\nSource: x\n\n```text\nq\n```\n", why, sizeof(why)));
	assert_null(passages_of("# T\n\n## Line 1: a\n```text\nq\n```\n", why, sizeof(why)));
}

static void test_every_quote_is_in_its_document(void **state)
{
	static struct expectations e;
	struct diag_list dl = { .count = 0 };
	char path[1024], why[128], missing[1024];
	char *text[EXPECT_MAX_DOCS] = { NULL };
	int cited[EXPECT_MAX_DOCS] = { 0 }, bad = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/ci/expectations.yaml", PUNCHLAB_SOURCE_DIR);
	assert_int_equal(expectations_load(&e, path, &dl), 0);
	for (int d = 0; d < e.ndocs; d++) {
		char *raw;

		snprintf(path, sizeof(path), "%s/%s", PUNCHLAB_SOURCE_DIR, e.docs[d].file);
		raw = read_all(path);
		if (!raw)
			fail_msg("document %s: cannot read %s", e.docs[d].id, path);
		text[d] = passages_of(raw, why, sizeof(why));
		free(raw);
		if (!text[d])
			fail_msg("%s: %s", path, why);
	}
	for (int i = 0; i < e.nclaims; i++) {
		const struct expect_claim *c = &e.claims[i];

		cited[c->doc]++;
		if (!quote_found(text[c->doc], c->quote, missing, sizeof(missing))) {
			fprintf(stderr, "ci/expectations.yaml:%d: claim %s: \"%s\" is not in %s\n",
				c->line, c->id, missing, e.docs[c->doc].file);
			bad++;
		}
	}
	for (int d = 0; d < e.ndocs; d++) {
		if (!cited[d]) {
			fprintf(stderr, "document %s is cited by no claim\n", e.docs[d].id);
			bad++;
		}
		free(text[d]);
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matcher),
		cmocka_unit_test(test_every_quote_is_in_its_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
