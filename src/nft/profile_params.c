#include "nft/profile_params.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nft/profile.h"

#define COPY_DIR_PREFIX "punchlab-profile-"
#define LINE_MAX_LEN 4096

static const char *const param_names =
	"udp-timeout, udp-timeout-unreplied or udp-timeout-replied";
static const char *const seconds_expect = "whole seconds from 1 to 86400, e.g. 5 or 5s";

bool profile_params_empty(const struct profile_params *p)
{
	return !p || (!p->udp_unreplied && !p->udp_replied);
}

bool profile_params_equal(const struct profile_params *a, const struct profile_params *b)
{
	return a->udp_unreplied == b->udp_unreplied && a->udp_replied == b->udp_replied;
}

/* "5" or "5s", 1..86400; -1 otherwise. */
static int parse_seconds(const char *v, size_t n)
{
	long x = 0;

	if (n > 0 && v[n - 1] == 's')
		n--;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x >= 1 && x <= PROFILE_UDP_TIMEOUT_MAX ? (int)x : -1;
}

static int param_set_n(struct profile_params *p, const char *arg, size_t n, char *why,
		       size_t len)
{
	const char *eq = memchr(arg, '=', n);
	size_t kn = eq ? (size_t)(eq - arg) : n;
	int s;

	if (!eq) {
		snprintf(why, len, "\"%.*s\": expected NAME=SECONDS with NAME %s", (int)n, arg,
			 param_names);
		return -EINVAL;
	}
	s = parse_seconds(eq + 1, n - kn - 1);
	if (kn == 11 && !strncmp(arg, "udp-timeout", kn)) {
		if (s > 0)
			p->udp_unreplied = p->udp_replied = s;
	} else if (kn == 21 && !strncmp(arg, "udp-timeout-unreplied", kn)) {
		if (s > 0)
			p->udp_unreplied = s;
	} else if (kn == 19 && !strncmp(arg, "udp-timeout-replied", kn)) {
		if (s > 0)
			p->udp_replied = s;
	} else {
		snprintf(why, len, "unknown parameter \"%.*s\": expected %s", (int)kn, arg,
			 param_names);
		return -EINVAL;
	}
	if (s < 0) {
		snprintf(why, len, "%.*s: \"%.*s\" is not a number of seconds: expected %s",
			 (int)kn, arg, (int)(n - kn - 1), eq + 1, seconds_expect);
		return -EINVAL;
	}
	return 0;
}

int profile_param_set(struct profile_params *p, const char *arg, char *why, size_t len)
{
	return param_set_n(p, arg, strlen(arg), why, len);
}

int profile_params_parse(struct profile_params *p, const char *list, char *why, size_t len)
{
	const char *s = list;

	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);

		if (param_set_n(p, s, n, why, len) < 0)
			return -EINVAL;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

int profile_params_id_format(const struct profile_params *p, char *buf, size_t len)
{
	char u[16] = "-", r[16] = "-";
	int n;

	if (profile_params_empty(p)) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	if (p->udp_unreplied == p->udp_replied)
		n = snprintf(buf, len, "%ds", p->udp_replied);
	else {
		if (p->udp_unreplied)
			snprintf(u, sizeof(u), "%ds", p->udp_unreplied);
		if (p->udp_replied)
			snprintf(r, sizeof(r), "%ds", p->udp_replied);
		n = snprintf(buf, len, "%s~%s", u, r);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int profile_params_id_parse(struct profile_params *p, const char *v, char *why, size_t len)
{
	const char *tilde = strchr(v, '~');
	int u, r;

	if (!tilde) {
		u = r = parse_seconds(v, strlen(v));
	} else {
		size_t nu = (size_t)(tilde - v);

		u = nu == 1 && v[0] == '-' ? 0 : parse_seconds(v, nu);
		r = !strcmp(tilde + 1, "-") ? 0 : parse_seconds(tilde + 1, strlen(tilde + 1));
	}
	if (u < 0 || r < 0 || (!u && !r)) {
		snprintf(why, len, "udp-timeout=%s: expected seconds (5s), or UNREPLIED~REPLIED "
			 "(3s~8s, '-' for the profile's own)", v);
		return -EINVAL;
	}
	p->udp_unreplied = u;
	p->udp_replied = r;
	return 0;
}

char *profile_params_format(const struct profile_params *p, char *buf, size_t len)
{
	buf[0] = '\0';
	if (profile_params_empty(p))
		return buf;
	if (p->udp_unreplied == p->udp_replied)
		snprintf(buf, len, "udp-timeout=%d", p->udp_replied);
	else if (p->udp_unreplied && p->udp_replied)
		snprintf(buf, len, "udp-timeout-unreplied=%d,udp-timeout-replied=%d",
			 p->udp_unreplied, p->udp_replied);
	else if (p->udp_unreplied)
		snprintf(buf, len, "udp-timeout-unreplied=%d", p->udp_unreplied);
	else
		snprintf(buf, len, "udp-timeout-replied=%d", p->udp_replied);
	return buf;
}

/* ---- the per-cell copy ---------------------------------------------------------------- */

struct render {
	const char *file;
	const struct profile_header *h;
	int unreplied, replied;  /* the values to write */
	bool in_ct_timeout;      /* inside `ct timeout NAME { ... }` */
	bool ct_udp;             /* ... whose protocol is udp */
	int policies, timeouts;  /* what was rewritten */
	struct diag_list *dl;
};

static bool word_at(const char *line, const char *p, const char *w)
{
	size_t n = strlen(w);

	return !strncmp(p, w, n) && (p == line || !(isalnum((unsigned char)p[-1]) ||
						     p[-1] == '-' || p[-1] == '_')) &&
	       !(isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_');
}

/* At p (just after a keyword), skip blanks, an optional ':' (policy) and blanks; return where
 * the digits start, or NULL when no number follows. */
static const char *number_after(const char *p, bool colon)
{
	while (*p == ' ' || *p == '\t')
		p++;
	if (colon) {
		if (*p != ':')
			return NULL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	return isdigit((unsigned char)*p) ? p : NULL;
}

/* Rewrite one line of the ruleset (code before a '#' comment) into out. */
static void render_line(struct render *r, const char *line, int lineno, char *out, size_t len)
{
	const char *hash = strchr(line, '#');
	size_t code = hash ? (size_t)(hash - line) : strlen(line), o = 0;
	int pol_u = -1, pol_r = -1;

	if (strstr(line, "ct timeout") && strchr(line, '{') && !strstr(line, "ct timeout set")) {
		r->in_ct_timeout = true;
		r->ct_udp = false;
	}
	if (r->in_ct_timeout && strstr(line, "protocol") && strstr(line, "udp"))
		r->ct_udp = true;
	for (size_t i = 0; i < code && o + 16 < len;) {
		const char *p = line + i, *d = NULL;
		int val = -1;

		if (r->in_ct_timeout && r->ct_udp && word_at(line, p, "unreplied") &&
		    (d = number_after(p + 9, true))) {
			pol_u = atoi(d);
			val = r->unreplied;
		} else if (r->in_ct_timeout && r->ct_udp && word_at(line, p, "replied") &&
			   (d = number_after(p + 7, true))) {
			pol_r = atoi(d);
			val = r->replied;
		} else if (!r->in_ct_timeout && word_at(line, p, "timeout") &&
			   (d = number_after(p + 7, false))) {
			const char *e = d;
			int n = atoi(d);

			while (isdigit((unsigned char)*e))
				e++;
			/* only `timeout Ns` of the header's values: other timeouts (TCP's) stay */
			if (*e == 's' && !isalnum((unsigned char)e[1]) &&
			    (n == r->h->udp_timeout || n == r->h->udp_timeout_unreplied)) {
				val = n == r->h->udp_timeout ? r->replied : r->unreplied;
				r->timeouts++;
			} else {
				d = NULL;
			}
		}
		if (d && val > 0) {
			size_t keep = (size_t)(d - p);

			memcpy(out + o, p, keep);
			o += keep;
			o += (size_t)snprintf(out + o, len - o, "%d", val);
			while (isdigit((unsigned char)*d))
				d++;
			i = (size_t)(d - line);
			continue;
		}
		out[o++] = line[i++];
	}
	snprintf(out + o, len - o, "%s", hash ? hash : "");
	if (pol_u >= 0 || pol_r >= 0) {
		r->policies++;
		if (pol_u != r->h->udp_timeout_unreplied || pol_r != r->h->udp_timeout)
			diag_add(r->dl, r->file, lineno, "ct timeout policy: unreplied %d, replied %d "
				 "disagrees with the header's udp-timeout: expected unreplied %d, "
				 "replied %d, both on this line", pol_u, pol_r,
				 r->h->udp_timeout_unreplied, r->h->udp_timeout);
	}
	if (r->in_ct_timeout && memchr(line, '}', code) && !strchr(line, '{'))
		r->in_ct_timeout = false;
}

static int read_all(const char *path, char **buf, size_t *n)
{
	FILE *f = fopen(path, "re");
	long sz;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -EIO;
	}
	*buf = malloc((size_t)sz + 1);
	if (!*buf) {
		fclose(f);
		return -ENOMEM;
	}
	*n = fread(*buf, 1, (size_t)sz, f);
	(*buf)[*n] = '\0';
	fclose(f);
	return 0;
}

static int render(struct render *r, const char *buf, FILE *out)
{
	const char *p = buf;
	int lineno = 0;
	char line[LINE_MAX_LEN], done[LINE_MAX_LEN + 64], ut[64];
	struct profile_header nh = *r->h;

	nh.udp_timeout = r->replied;
	nh.udp_timeout_unreplied = r->unreplied;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		lineno++;
		if (n >= sizeof(line))
			return diag_add(r->dl, r->file, lineno, "line longer than %zu characters",
					sizeof(line) - 1);
		memcpy(line, p, n);
		line[n] = '\0';
		if (lineno == r->h->line[PROFILE_KEY_UDP_TIMEOUT])
			fprintf(out, "# udp-timeout: %s\n",
				profile_udp_timeout_format(&nh, ut, sizeof(ut)));
		else if (lineno < r->h->end_line)
			fprintf(out, "%s\n", line);
		else {
			render_line(r, line, lineno, done, sizeof(done));
			fprintf(out, "%s\n", done);
		}
		p += n + (nl ? 1 : 0);
	}
	if (!r->policies)
		return diag_add(r->dl, r->file, r->h->end_line, "udp-timeout can not be set: "
				"the ruleset has no `ct timeout` object of protocol udp with "
				"`policy = { unreplied : N, replied : N }`: expected one "
				"(docs/profile-format.md, \"Parameters\")");
	return 0;
}

int profile_params_instance(const char *path, const struct profile_params *p, char *out,
			    size_t len, struct diag_list *dl)
{
	struct profile_header h;
	struct render r = { .file = path, .h = &h, .dl = dl };
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], base[PATH_MAX], *buf = NULL;
	int errors = dl->count + dl->dropped, ret;
	size_t n;
	FILE *f;

	if (profile_params_empty(p)) {
		snprintf(out, len, "%s", path);
		return 0;
	}
	ret = profile_header_parse_file(&h, path, dl);
	if (ret < 0)
		return ret;
	r.unreplied = p->udp_unreplied ? p->udp_unreplied : h.udp_timeout_unreplied;
	r.replied = p->udp_replied ? p->udp_replied : h.udp_timeout;
	ret = read_all(path, &buf, &n);
	if (ret < 0)
		return diag_add(dl, path, 0, "cannot read profile: %s", strerror(-ret)), ret;
	snprintf(dir, sizeof(dir), "%s/" COPY_DIR_PREFIX "XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ret = -errno;
		diag_add(dl, path, 0, "cannot make a directory for the profile's copy (%s): %s",
			 dir, strerror(-ret));
		goto out;
	}
	snprintf(base, sizeof(base), "%s", path);
	if ((size_t)snprintf(out, len, "%s/%s", dir, basename(base)) >= len) {
		ret = -ENAMETOOLONG;
		rmdir(dir);
		goto out;
	}
	f = fopen(out, "wex");
	if (!f) {
		ret = -errno;
		diag_add(dl, path, 0, "cannot write the profile's copy %s: %s", out, strerror(-ret));
		rmdir(dir);
		goto out;
	}
	ret = render(&r, buf, f);
	if (fclose(f) != 0 && ret == 0)
		ret = diag_add(dl, path, 0, "cannot write the profile's copy %s", out);
	if (ret == 0 && dl->count + dl->dropped != errors)
		ret = -EINVAL;
	if (ret < 0) {
		profile_params_instance_remove(out);
		out[0] = '\0';
	}
out:
	free(buf);
	return ret;
}

void profile_params_instance_remove(const char *copy)
{
	char d[PATH_MAX], *dir;

	if (!copy || !copy[0])
		return;
	snprintf(d, sizeof(d), "%s", copy);
	dir = dirname(d);
	/* only our own copies: the original profile is never touched */
	if (strncmp(basename(strdupa(dir)), COPY_DIR_PREFIX, strlen(COPY_DIR_PREFIX)) != 0)
		return;
	unlink(copy);
	rmdir(dir);
}
