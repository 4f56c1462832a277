/* Impairment specs: parsing and formatting (grammar in spec.h and docs/impairments.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impair/spec.h"

#define MAX_DELAY_NS 10000000000ULL /* 10 s: more is a typo, not a link */

enum value_kind { V_TIME, V_PERCENT, V_RATE, V_FLAG, V_NUMBER };

static const struct word {
	const char *name;
	enum value_kind kind;
} words[] = {
	{ "delay", V_TIME },   { "jitter", V_TIME }, { "loss", V_PERCENT },
	{ "duplicate", V_PERCENT }, { "reorder", V_FLAG }, { "rate", V_RATE },
	{ "limit", V_TIME },   { "seed", V_NUMBER },
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* One value ("40ms", "2%", "10mbit") into an integer: ns, ppm or bit/s. */
static int value_parse(const char *word, enum value_kind kind, const char *v, size_t n,
		       uint64_t *out, char *why, size_t len)
{
	static const struct { const char *unit; double mult; } times[] = {
		{ "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 } },
	rates[] = { { "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 } };
	char buf[64], *end;
	double x;

	snprintf(buf, sizeof(buf), "%.*s", (int)(n < 63 ? n : 63), v);
	if (kind == V_NUMBER) {
		unsigned long long u = strtoull(buf, &end, 10);
		if (end == buf || *end || buf[0] == '-') {
			snprintf(why, len, "%s %s: expected a whole number", word, buf);
			return -EINVAL;
		}
		*out = u;
		return 0;
	}
	x = strtod(buf, &end);
	if (end == buf || !isfinite(x) || x < 0) {
		snprintf(why, len, "%s %s: expected %s", word, buf,
			 kind == V_TIME    ? "a time such as 40ms (us, ms or s)" :
			 kind == V_PERCENT ? "a percentage such as 2%" :
					     "a rate such as 10mbit (bit, kbit, mbit or gbit)");
		return -EINVAL;
	}
	if (kind == V_PERCENT) {
		if (strcmp(end, "%") != 0 || x > 100) {
			snprintf(why, len, "%s %s: expected a percentage from 0%% to 100%%", word, buf);
			return -EINVAL;
		}
		*out = (uint64_t)llround(x * 1e4);
		return 0;
	}
	for (size_t i = 0; kind == V_TIME && i < sizeof(times) / sizeof(times[0]); i++)
		if (strcmp(end, times[i].unit) == 0) {
			double ns = x * times[i].mult;
			if (ns > (double)MAX_DELAY_NS) {
				snprintf(why, len, "%s %s: expected at most 10s", word, buf);
				return -EINVAL;
			}
			*out = (uint64_t)llround(ns);
			return 0;
		}
	for (size_t i = 0; kind == V_RATE && i < sizeof(rates) / sizeof(rates[0]); i++)
		if (strcmp(end, rates[i].unit) == 0) {
			double bps = x * rates[i].mult;
			if (bps < 8000 || bps > 100e9) {
				snprintf(why, len, "%s %s: expected a rate from 8kbit to 100gbit", word,
					 buf);
				return -EINVAL;
			}
			*out = (uint64_t)llround(bps);
			return 0;
		}
	snprintf(why, len, "%s %s: %s", word, buf,
		 kind == V_TIME ? "expected a unit: us, ms or s (40ms)" :
				  "expected a unit: bit, kbit, mbit or gbit (10mbit)");
	return -EINVAL;
}

static void dir_set(struct impair_dir *d, const char *word, uint64_t v)
{
	if (strcmp(word, "delay") == 0)
		d->delay_ns = v;
	else if (strcmp(word, "jitter") == 0)
		d->jitter_ns = v;
	else if (strcmp(word, "loss") == 0)
		d->loss_ppm = (uint32_t)v;
	else if (strcmp(word, "duplicate") == 0)
		d->dup_ppm = (uint32_t)v;
	else if (strcmp(word, "rate") == 0)
		d->rate_bps = v;
	else if (strcmp(word, "limit") == 0)
		d->limit_ns = v;
}

int impair_spec_parse(const char *text, struct impair_spec *s, char *why, size_t len)
{
	bool seen[NWORDS] = { false };
	const char *p = text;
	int nwords = 0;

	memset(s, 0, sizeof(*s));
	why[0] = '\0';
	for (int d = 0; d < 2; d++)
		s->dir[d].limit_ns = IMPAIR_DEFAULT_LIMIT_NS;
	for (int guard = 0; guard < 64; guard++) {
		const char *w, *v, *slash;
		size_t wn, vn, k;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		wn = (size_t)(p - w);
		for (k = 0; k < NWORDS; k++)
			if (strlen(words[k].name) == wn && strncmp(words[k].name, w, wn) == 0)
				break;
		if (k == NWORDS) {
			snprintf(why, len, "unknown word \"%.*s\", expected delay, jitter, loss, "
				 "duplicate, reorder, rate, limit or seed", (int)wn, w);
			return -EINVAL;
		}
		if (seen[k]) {
			snprintf(why, len, "%s given twice, expected each word once", words[k].name);
			return -EINVAL;
		}
		seen[k] = true;
		nwords++;
		if (words[k].kind == V_FLAG) {
			s->dir[0].reorder = s->dir[1].reorder = true;
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		v = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		vn = (size_t)(p - v);
		if (vn == 0) {
			snprintf(why, len, "%s: missing value, expected %s", words[k].name,
				 words[k].kind == V_TIME ? "a time such as 40ms" :
				 words[k].kind == V_PERCENT ? "a percentage such as 2%" :
				 words[k].kind == V_RATE ? "a rate such as 10mbit" : "a number");
			return -EINVAL;
		}
		slash = memchr(v, '/', vn);
		if (words[k].kind == V_NUMBER) {
			if (value_parse(words[k].name, V_NUMBER, v, vn, &s->seed, why, len) < 0)
				return -EINVAL;
			continue;
		}
		for (int d = 0; d < 2; d++) {
			const char *a = slash && d == 1 ? slash + 1 : v;
			size_t an = slash ? (d == 0 ? (size_t)(slash - v) : vn - (size_t)(slash - v) - 1)
					  : vn;
			uint64_t x;

			if (value_parse(words[k].name, words[k].kind, a, an, &x, why, len) < 0)
				return -EINVAL;
			dir_set(&s->dir[d], words[k].name, x);
		}
	}
	if (*p) {
		snprintf(why, len, "too many words, expected at most %zu", NWORDS);
		return -EINVAL;
	}
	if (nwords == 0) {
		snprintf(why, len, "empty, expected words such as \"delay 40ms jitter 5ms loss 2%%\"");
		return -EINVAL;
	}
	s->active = true;
	return 0;
}

/* "40ms", "1.5ms", "250us", "2s": the shortest exact form. */
static void time_format(uint64_t ns, char *buf, size_t len)
{
	if (ns % 1000000000ULL == 0 && ns)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / 1000000000ULL));
	else if (ns % 1000000ULL == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000ULL));
	else if (ns % 1000ULL == 0)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000ULL));
	else
		snprintf(buf, len, "%.3fus", (double)ns / 1e3);
}

static void rate_format(uint64_t bps, char *buf, size_t len)
{
	if (bps % 1000000000ULL == 0)
		snprintf(buf, len, "%llugbit", (unsigned long long)(bps / 1000000000ULL));
	else if (bps % 1000000ULL == 0)
		snprintf(buf, len, "%llumbit", (unsigned long long)(bps / 1000000ULL));
	else if (bps % 1000ULL == 0)
		snprintf(buf, len, "%llukbit", (unsigned long long)(bps / 1000ULL));
	else
		snprintf(buf, len, "%llubit", (unsigned long long)bps);
}

static void value_format(enum value_kind kind, uint64_t v, char *buf, size_t len)
{
	if (kind == V_TIME)
		time_format(v, buf, len);
	else if (kind == V_RATE)
		rate_format(v, buf, len);
	else
		snprintf(buf, len, "%g%%", (double)v / 1e4);
}

int impair_spec_format(const struct impair_spec *s, char *buf, size_t len)
{
	static const struct { const char *name; enum value_kind kind; size_t off; } fields[] = {
		{ "delay", V_TIME, offsetof(struct impair_dir, delay_ns) },
		{ "jitter", V_TIME, offsetof(struct impair_dir, jitter_ns) },
		{ "loss", V_PERCENT, offsetof(struct impair_dir, loss_ppm) },
		{ "duplicate", V_PERCENT, offsetof(struct impair_dir, dup_ppm) },
		{ "rate", V_RATE, offsetof(struct impair_dir, rate_bps) },
		{ "limit", V_TIME, offsetof(struct impair_dir, limit_ns) },
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		uint64_t v[2];
		char a[32], b[32];

		for (int d = 0; d < 2; d++) {
			const char *base = (const char *)&s->dir[d] + fields[f].off;
			v[d] = fields[f].kind == V_PERCENT ? *(const uint32_t *)(const void *)base
							   : *(const uint64_t *)(const void *)base;
		}
		if (strcmp(fields[f].name, "limit") == 0 ? v[0] == IMPAIR_DEFAULT_LIMIT_NS &&
								 v[1] == IMPAIR_DEFAULT_LIMIT_NS
							       : v[0] == 0 && v[1] == 0)
			continue;
		value_format(fields[f].kind, v[0], a, sizeof(a));
		value_format(fields[f].kind, v[1], b, sizeof(b));
		if (v[0] == v[1])
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s %s", n ? " " : "",
					      fields[f].name, a);
		else
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s %s/%s",
					      n ? " " : "", fields[f].name, a, b);
		if (n >= len)
			return -ENAMETOOLONG;
	}
	if (s->dir[0].reorder)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%sreorder", n ? " " : "");
	if (s->seed)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%sseed %llu", n ? " " : "",
				      (unsigned long long)s->seed);
	if (n >= len)
		return -ENAMETOOLONG;
	if (n == 0) /* only possible for an inactive spec: nothing to say */
		snprintf(buf, len, "delay 0ms");
	return 0;
}

void impair_spec_swap(struct impair_spec *s)
{
	struct impair_dir t = s->dir[0];

	s->dir[0] = s->dir[1];
	s->dir[1] = t;
}
