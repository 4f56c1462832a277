#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/template.h"

int tpl_set(struct tpl_vars *v, const char *name, const char *fmt, ...)
{
	int i, n;
	va_list ap;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->name[i], name) == 0)
			break;
	if (i == TPL_MAX_VARS || strlen(name) >= TPL_NAME_MAX)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(v->value[i], sizeof(v->value[i]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v->value[i]))
		return -E2BIG;
	snprintf(v->name[i], sizeof(v->name[i]), "%s", name);
	if (i == v->n)
		v->n++;
	return 0;
}

const char *tpl_get(const struct tpl_vars *v, const char *name)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->name[i], name) == 0)
			return v->value[i];
	return NULL;
}

/* The name between "{{" at p and its "}}", trimmed of spaces; end set past the "}}". */
static int var_at(const char *p, char *name, size_t nlen, const char **end)
{
	const char *close = strstr(p + 2, "}}");
	const char *s = p + 2, *e;

	if (!close)
		return -EINVAL;
	while (s < close && *s == ' ')
		s++;
	e = close;
	while (e > s && e[-1] == ' ')
		e--;
	if (e == s || (size_t)(e - s) >= nlen)
		return -EINVAL;
	memcpy(name, s, (size_t)(e - s));
	name[e - s] = '\0';
	*end = close + 2;
	return 0;
}

int tpl_render(const char *text, const struct tpl_vars *v, char *buf, size_t len, char *missing,
	       size_t mlen)
{
	size_t used = 0;

	for (const char *p = text; *p;) {
		const char *val, *next;
		char name[TPL_NAME_MAX];
		size_t n;

		if (p[0] == '{' && p[1] == '{') {
			if (var_at(p, name, sizeof(name), &next) < 0)
				return -EINVAL;
			val = tpl_get(v, name);
			if (!val) {
				if (missing)
					snprintf(missing, mlen, "%s", name);
				return -ENOENT;
			}
			p = next;
		} else {
			const char *brace = strstr(p, "{{");
			n = brace ? (size_t)(brace - p) : strlen(p);
			if (used + n >= len)
				return -E2BIG;
			memcpy(buf + used, p, n);
			used += n;
			p += n;
			continue;
		}
		n = strlen(val);
		if (used + n >= len)
			return -E2BIG;
		memcpy(buf + used, val, n);
		used += n;
	}
	if (used >= len)
		return -E2BIG;
	buf[used] = '\0';
	return 0;
}

int tpl_for_each_var(const char *text, int (*fn)(const char *name, void *arg), void *arg,
		     char *why, size_t wlen)
{
	for (const char *p = strstr(text, "{{"); p; p = strstr(p, "{{")) {
		char name[TPL_NAME_MAX];
		const char *next;
		int ret;

		if (var_at(p, name, sizeof(name), &next) < 0) {
			snprintf(why, wlen, "\"%.40s\": a \"{{\" without a variable name and its \"}}\"",
				 p);
			return -EINVAL;
		}
		ret = fn(name, arg);
		if (ret)
			return ret;
		p = next;
	}
	return 0;
}

/* Calls fn on each line of text (without its newline) until it returns true. */
static bool for_each_line(const char *text, bool (*fn)(const char *line, size_t n, void *arg),
			  void *arg)
{
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (fn(p, n, arg))
			return true;
		p = eol ? eol + 1 : NULL;
	}
	return false;
}

struct regex_scan {
	regex_t re;
	char *buf;
	size_t len;
	bool group;
};

static bool regex_line(const char *line, size_t n, void *arg)
{
	struct regex_scan *s = arg;
	char tmp[4096];
	regmatch_t m[2];
	int k;

	snprintf(tmp, sizeof(tmp), "%.*s", (int)n, line);
	if (regexec(&s->re, tmp, 2, m, 0) != 0)
		return false;
	if (!s->buf)
		return true;
	k = s->group && m[1].rm_so >= 0 ? 1 : 0;
	snprintf(s->buf, s->len, "%.*s", (int)(m[k].rm_eo - m[k].rm_so), tmp + m[k].rm_so);
	return true;
}

struct json_scan {
	const char *key, *value; /* value NULL: any value of key (a capture) */
	char *buf;
	size_t len;
	bool last;               /* keep scanning: the last matching line wins */
	bool found;
};

static bool json_line(const char *line, size_t n, void *arg)
{
	struct json_scan *s = arg;
	json_t *o = line[0] == '{' ? json_loadb(line, n, 0, NULL) : NULL;
	json_t *m = o && json_is_object(o) ? json_object_get(o, s->key) : NULL;
	bool hit = false;

	if (m && s->value) {
		hit = json_is_string(m) && strcmp(json_string_value(m), s->value) == 0;
		if (hit && s->buf)
			snprintf(s->buf, s->len, "%.*s", (int)n, line);
	} else if (m) {
		hit = true;
		if (json_is_string(m))
			snprintf(s->buf, s->len, "%s", json_string_value(m));
		else if (json_is_integer(m))
			snprintf(s->buf, s->len, "%lld", (long long)json_integer_value(m));
		else if (json_is_number(m))
			snprintf(s->buf, s->len, "%g", json_number_value(m));
		else
			hit = false;
	}
	json_decref(o);
	s->found |= hit;
	return hit && !s->last;
}

int tpl_capture(const struct ef_capture *c, const char *output, char *buf, size_t len)
{
	if (c->json[0]) {
		struct json_scan s = { .key = c->json, .buf = buf, .len = len };
		for_each_line(output, json_line, &s);
		return s.found ? 0 : -ENOENT;
	}
	struct regex_scan s = { .buf = buf, .len = len };
	bool hit;

	if (regcomp(&s.re, c->regex, REG_EXTENDED) != 0)
		return -EINVAL;
	s.group = s.re.re_nsub > 0;
	hit = for_each_line(output, regex_line, &s);
	regfree(&s.re);
	return hit ? 0 : -ENOENT;
}

bool tpl_output_matches(const struct ef_match *m, const char *pattern, const char *output,
			char *last_line, size_t llen)
{
	if (m->kind == EF_MATCH_JSON) {
		struct json_scan s = { .key = m->key, .value = m->value, .buf = last_line,
				       .len = llen, .last = true };
		for_each_line(output, json_line, &s);
		return s.found;
	}
	if (m->kind == EF_MATCH_LINE) {
		struct regex_scan s = { 0 };
		bool hit;

		if (regcomp(&s.re, pattern ? pattern : m->pattern, REG_EXTENDED | REG_NOSUB) != 0)
			return false;
		hit = for_each_line(output, regex_line, &s);
		regfree(&s.re);
		return hit;
	}
	return false;
}
