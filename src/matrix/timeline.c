#include "matrix/timeline.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TL_DEFAULT_MAX 20000 /* entries of about 1 KiB: 20 MiB at most */

const char *tl_source_name(enum tl_source s)
{
	static const char *const names[TL_SOURCES] = {
		[TL_LAB] = "lab",           [TL_ENGINE] = "engine",
		[TL_CT_EVENT] = "conntrack", [TL_CT_DUMP] = "dump",
		[TL_NAT_EVENT] = "nat-event", [TL_ATTEST] = "attest",
		[TL_OUTCOME] = "outcome",
	};

	return s >= 0 && s < TL_SOURCES ? names[s] : "?";
}

void timeline_init(struct timeline *tl, double origin_ms, FILE *live, size_t max)
{
	memset(tl, 0, sizeof(*tl));
	pthread_mutex_init(&tl->lock, NULL);
	tl->origin_ms = origin_ms;
	tl->live = live;
	tl->max = max ? max : TL_DEFAULT_MAX;
}

void timeline_free(struct timeline *tl)
{
	if (!tl)
		return;
	free(tl->v);
	tl->v = NULL;
	tl->n = tl->cap = 0;
	pthread_mutex_destroy(&tl->lock);
}

int timeline_add(struct timeline *tl, double at_ms, enum tl_source src, const char *who,
		 const char *what, const char *fmt, ...)
{
	struct tl_entry e = { .t_ms = at_ms - tl->origin_ms, .src = src };
	va_list ap;
	int ret = 0;

	snprintf(e.who, sizeof(e.who), "%s", who ? who : "");
	snprintf(e.what, sizeof(e.what), "%s", what ? what : "");
	va_start(ap, fmt);
	vsnprintf(e.text, sizeof(e.text), fmt, ap);
	va_end(ap);
	/* one entry, one line */
	for (char *p = e.text; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	pthread_mutex_lock(&tl->lock);
	e.seq = tl->seq++;
	if (tl->n >= tl->max) {
		tl->dropped++;
		ret = -ENOSPC;
		goto out;
	}
	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 256;
		struct tl_entry *v = realloc(tl->v, cap * sizeof(*v));
		if (!v) {
			ret = -ENOMEM;
			goto out;
		}
		tl->v = v;
		tl->cap = cap;
	}
	tl->v[tl->n++] = e;
	if (tl->live) {
		char line[TL_TEXT_MAX + 128];
		fprintf(tl->live, "%s\n", timeline_format_text(&e, line, sizeof(line)));
		fflush(tl->live);
	}
out:
	pthread_mutex_unlock(&tl->lock);
	return ret;
}

static int by_time(const void *a, const void *b)
{
	const struct tl_entry *x = a, *y = b;

	if (x->t_ms != y->t_ms)
		return x->t_ms < y->t_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void timeline_sort(struct timeline *tl)
{
	pthread_mutex_lock(&tl->lock);
	/* seq makes the order total, so qsort's instability does not matter */
	if (tl->n > 1)
		qsort(tl->v, tl->n, sizeof(*tl->v), by_time);
	pthread_mutex_unlock(&tl->lock);
}

char *timeline_format_text(const struct tl_entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%9.1f ms  %-9s  %-8s %-8s %s", e->t_ms, tl_source_name(e->src), e->who,
		 e->what, e->text);
	return buf;
}

/* JSON string body of s into out (at most len - 1 bytes, never a cut escape). */
static size_t json_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && len; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];
		size_t k;

		if (ch == '"' || ch == '\\')
			snprintf(esc, sizeof(esc), "\\%c", ch);
		else if (ch < 0x20)
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
		else
			snprintf(esc, sizeof(esc), "%c", ch);
		k = strlen(esc);
		if (o + k + 1 > len)
			break;
		memcpy(out + o, esc, k);
		o += k;
	}
	if (len)
		out[o] = '\0';
	return o;
}

char *timeline_format_json(const struct tl_entry *e, char *buf, size_t len)
{
	char who[TL_WHO_MAX * 6], what[TL_WHAT_MAX * 6], text[TL_TEXT_MAX * 6];
	int head;

	json_escape(e->who, who, sizeof(who));
	json_escape(e->what, what, sizeof(what));
	/* the fixed part first, so that only the text is ever cut */
	head = snprintf(NULL, 0, "{\"t_ms\":%.1f,\"source\":\"%s\",\"who\":\"%s\",\"what\":\"%s\","
			"\"text\":\"\"}", e->t_ms, tl_source_name(e->src), who, what);
	if (head < 0 || (size_t)head >= len) {
		snprintf(buf, len, "{}");
		return buf;
	}
	json_escape(e->text, text, len - (size_t)head < sizeof(text) ? len - (size_t)head
								 : sizeof(text));
	snprintf(buf, len, "{\"t_ms\":%.1f,\"source\":\"%s\",\"who\":\"%s\",\"what\":\"%s\","
		 "\"text\":\"%s\"}", e->t_ms, tl_source_name(e->src), who, what, text);
	return buf;
}

int timeline_write(struct timeline *tl, const char *dir, const char *header)
{
	char path[PATH_MAX], line[TL_TEXT_MAX * 6 + 256];
	FILE *txt, *js;
	int ret = 0;

	timeline_sort(tl);
	snprintf(path, sizeof(path), "%s/timeline.txt", dir);
	txt = fopen(path, "we");
	snprintf(path, sizeof(path), "%s/timeline.jsonl", dir);
	js = fopen(path, "we");
	if (!txt || !js) {
		ret = -errno;
		goto out;
	}
	pthread_mutex_lock(&tl->lock);
	if (header && header[0])
		fprintf(txt, "# %s\n", header);
	for (size_t i = 0; i < tl->n; i++) {
		fprintf(txt, "%s\n", timeline_format_text(&tl->v[i], line, sizeof(line)));
		fprintf(js, "%s\n", timeline_format_json(&tl->v[i], line, sizeof(line)));
	}
	if (tl->dropped)
		fprintf(txt, "# %lu later entries were not kept (at most %zu)\n", tl->dropped,
			tl->max);
	pthread_mutex_unlock(&tl->lock);
out:
	if (txt && fclose(txt) != 0 && !ret)
		ret = -EIO;
	if (js && fclose(js) != 0 && !ret)
		ret = -EIO;
	return ret;
}
