#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offer.h"

int offer_format(const struct offer *o, char *buf, size_t len)
{
	size_t used;
	int n = snprintf(buf, len, "%s %s", o->ufrag, o->pwd);

	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (int i = 0; i < o->n; i++) {
		const struct offer_candidate *c = &o->c[i];
		n = snprintf(buf + used, len - used, " %c,%s,%lu,%s,%u", c->type, c->foundation,
			     c->priority, c->addr, c->port);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return (int)used;
}

/* ICE's ufrag and pwd are ice-chars (RFC 8445 15.4: ALPHA / DIGIT / "+" / "/"). */
static int ice_chars(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '+' && *s != '/')
			return 0;
	return 1;
}

static int candidate_parse(char *word, struct offer_candidate *c, char *why, size_t wlen)
{
	char *f[5], *save = NULL, *end;
	int n = 0;
	unsigned long port;

	for (char *t = strtok_r(word, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (n++ < 5)
			f[n - 1] = t;
	if (n != 5) {
		snprintf(why, wlen, "candidate \"%s...\" has %s fields, expected 5 "
			 "(TYPE,FOUNDATION,PRIORITY,ADDRESS,PORT)", n ? f[0] : "",
			 n < 5 ? "too few" : "too many");
		return -1;
	}
	if (strlen(f[0]) != 1 || !strchr("hspr", f[0][0])) {
		snprintf(why, wlen, "candidate type \"%s\": expected h, s, p or r", f[0]);
		return -1;
	}
	c->type = f[0][0];
	if (strlen(f[1]) >= sizeof(c->foundation) || !f[1][0]) {
		snprintf(why, wlen, "candidate foundation \"%s\": expected 1 to %zu characters", f[1],
			 sizeof(c->foundation) - 1);
		return -1;
	}
	strcpy(c->foundation, f[1]);
	errno = 0;
	c->priority = strtoul(f[2], &end, 10);
	if (errno || *end || !isdigit((unsigned char)f[2][0]) || c->priority > 0xffffffffUL) {
		snprintf(why, wlen, "candidate priority \"%s\": expected a number up to 4294967295",
			 f[2]);
		return -1;
	}
	if (strlen(f[3]) >= sizeof(c->addr) || !f[3][0]) {
		snprintf(why, wlen, "candidate address \"%s\": expected an IP address", f[3]);
		return -1;
	}
	strcpy(c->addr, f[3]);
	errno = 0;
	port = strtoul(f[4], &end, 10);
	if (errno || *end || !isdigit((unsigned char)f[4][0]) || port == 0 || port > 65535) {
		snprintf(why, wlen, "candidate port \"%s\": expected 1 to 65535", f[4]);
		return -1;
	}
	c->port = (unsigned)port;
	return 0;
}

int offer_parse(const char *line, struct offer *o, char *why, size_t wlen)
{
	char *copy = strdup(line), *save = NULL, *w;
	int ret = -1, k = 0;

	memset(o, 0, sizeof(*o));
	if (!copy) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	copy[strcspn(copy, "\r\n")] = '\0';
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save), k++) {
		if (k < 2) {
			char *dst = k == 0 ? o->ufrag : o->pwd;
			if (strlen(w) >= OFFER_UFRAG_MAX || !ice_chars(w)) {
				snprintf(why, wlen, "%s \"%.40s\": expected 1 to %d ice-chars "
					 "(letters, digits, + and /)", k == 0 ? "ufrag" : "password",
					 w, OFFER_UFRAG_MAX - 1);
				goto out;
			}
			strcpy(dst, w);
			continue;
		}
		if (o->n == OFFER_MAX_CANDIDATES) {
			snprintf(why, wlen, "more than %d candidates", OFFER_MAX_CANDIDATES);
			goto out;
		}
		if (candidate_parse(w, &o->c[o->n], why, wlen) < 0)
			goto out;
		o->n++;
	}
	if (k < 2) {
		snprintf(why, wlen, "expected \"UFRAG PWD CANDIDATE...\", got %d word%s", k,
			 k == 1 ? "" : "s");
		goto out;
	}
	if (o->n == 0) {
		snprintf(why, wlen, "no candidates: expected at least one TYPE,FOUNDATION,PRIORITY,"
			 "ADDRESS,PORT after the ufrag and password");
		goto out;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}
