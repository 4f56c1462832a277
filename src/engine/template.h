/* Templating of command lines and config files, and reading a program's output: values
 * captured by a regex or a JSON member, and the line / JSON matches that readiness and outcomes
 * use. Pure code (no lab), so the unit tests exercise it directly.
 *
 * A template is text with "{{name}}" variables; "{{" has no escape (no engine needs one). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "engine/engine_file.h"

#define TPL_MAX_VARS 224 /* a dual cell: every role's IPv4 and IPv6 names, and the peers' aliases */
#define TPL_NAME_MAX 64

/* A cell's variables: name -> value. Plain data, no freeing. */
struct tpl_vars {
	int n;
	char name[TPL_MAX_VARS][TPL_NAME_MAX];
	char value[TPL_MAX_VARS][EF_TEXT_MAX];
};

/* Set (or replace) a variable. Returns 0 or -E2BIG (no room, or the value is too long). */
int tpl_set(struct tpl_vars *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The value, NULL when unset. */
const char *tpl_get(const struct tpl_vars *v, const char *name);

/* Render text into buf. Returns 0; -ENOENT when a variable has no value (its name copied into
 * missing, which may be NULL); -E2BIG when the result does not fit; -EINVAL on a "{{" without
 * its "}}". */
int tpl_render(const char *text, const struct tpl_vars *v, char *buf, size_t len, char *missing,
	       size_t mlen);

/* Calls fn for each variable name in text. Returns 0, or -EINVAL (an unclosed "{{", or an empty
 * name) with why filled; fn returning non-zero stops and is returned. */
int tpl_for_each_var(const char *text, int (*fn)(const char *name, void *arg), void *arg,
		     char *why, size_t wlen);

/* A capture from a whole output: the regex's first group (the whole match without one), or the
 * JSON member (a string, or a number printed as such) of the first JSON line that has it.
 * Returns 0 with the value in buf, -ENOENT when the output does not have it yet, -EINVAL when the
 * regex does not compile. */
int tpl_capture(const struct ef_capture *c, const char *output, char *buf, size_t len);

/* Whether the output has a line the match (LINE or JSON) accepts; pattern is the rendered regex
 * for LINE (NULL: m->pattern as is). With last_line, the text of the last such line is copied
 * there (for JSON outcomes), which may be NULL. */
bool tpl_output_matches(const struct ef_match *m, const char *pattern, const char *output,
			char *last_line, size_t llen);
