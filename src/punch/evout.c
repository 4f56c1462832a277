#include "evout.h"

#include <stdarg.h>
#include <string.h>

#include "loop.h"

void evout_init(struct evout *e, FILE *out, FILE *err, bool json, uint64_t t0_us)
{
	memset(e, 0, sizeof(*e));
	e->out = out;
	e->err = err;
	e->json = json;
	e->t0_us = t0_us;
}

static void put(struct evout *e, const char *s, size_t n)
{
	if (e->overflow || sizeof(e->line) - e->len <= n) {
		e->overflow = true;
		return;
	}
	memcpy(e->line + e->len, s, n);
	e->len += n;
}

static void putf(struct evout *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct evout *e, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(e, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_json_string(struct evout *e, const char *s)
{
	put(e, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char b[2] = { '\\', (char)c };

			put(e, b, 2);
		} else if (c < 0x20) {
			putf(e, "\\u%04x", c);
		} else {
			put(e, s, 1);
		}
	}
	put(e, "\"", 1);
}

static void key(struct evout *e, const char *k)
{
	if (e->json) {
		put(e, ",", 1);
		put_json_string(e, k);
		put(e, ":", 1);
	} else {
		putf(e, " %s=", k);
	}
}

void evout_begin(struct evout *e, const char *event)
{
	uint64_t t = loop_now_us() - e->t0_us;

	e->len = 0;
	e->overflow = false;
	if (e->json) {
		put(e, "{\"event\":", 9);
		put_json_string(e, event);
		putf(e, ",\"t_ms\":%.3f", (double)t / 1000.0);
	} else {
		putf(e, "%9.3f ms  %-10s", (double)t / 1000.0, event);
	}
	if (e->family)
		evout_int(e, "family", e->family);
}

void evout_str(struct evout *e, const char *k, const char *v)
{
	key(e, k);
	if (!v)
		put(e, e->json ? "null" : "-", e->json ? 4 : 1);
	else if (e->json)
		put_json_string(e, v);
	else
		put(e, v, strlen(v));
}

void evout_int(struct evout *e, const char *k, long long v)
{
	key(e, k);
	putf(e, "%lld", v);
}

void evout_ms(struct evout *e, const char *k, uint64_t us)
{
	key(e, k);
	putf(e, "%.3f", (double)us / 1000.0);
}

void evout_bool(struct evout *e, const char *k, bool v)
{
	key(e, k);
	put(e, v ? "true" : "false", v ? 4 : 5);
}

void evout_strv(struct evout *e, const char *k, const char *const *v, int n)
{
	int i;

	key(e, k);
	if (e->json)
		put(e, "[", 1);
	for (i = 0; i < n; i++) {
		if (i)
			put(e, ",", 1);
		if (e->json)
			put_json_string(e, v[i]);
		else
			put(e, v[i], strlen(v[i]));
	}
	if (e->json)
		put(e, "]", 1);
}

void evout_map(struct evout *e, const char *k, const char *const *keys,
	       const char *const *vals, int n)
{
	int i;

	key(e, k);
	if (e->json)
		put(e, "{", 1);
	for (i = 0; i < n; i++) {
		if (i)
			put(e, ",", 1);
		if (e->json) {
			put_json_string(e, keys[i]);
			put(e, ":", 1);
			if (vals[i])
				put_json_string(e, vals[i]);
			else
				put(e, "null", 4);
		} else {
			putf(e, "%s=%s", keys[i], vals[i] ? vals[i] : "-");
		}
	}
	if (e->json)
		put(e, "}", 1);
}

void evout_end(struct evout *e)
{
	if (e->overflow) {
		/* Never emit a cut JSON line: a harness would fail to parse it. */
		evout_warn(e, "event line too long, dropped");
		return;
	}
	if (e->json)
		put(e, "}", 1);
	put(e, "\n", 1);
	fwrite(e->line, 1, e->len, e->out);
	fflush(e->out);
}

void evout_warn(struct evout *e, const char *fmt, ...)
{
	va_list ap;

	fputs("punch: ", e->err);
	va_start(ap, fmt);
	vfprintf(e->err, fmt, ap);
	va_end(ap);
	fputc('\n', e->err);
	fflush(e->err);
}
