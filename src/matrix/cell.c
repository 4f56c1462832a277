#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/events.h"
#include "matrix/cell.h"

const char *const matrix_default_techniques[] = { "plain", "auto", NULL };

static const struct {
	const char *name;
	bool udp, tcp;
} techniques[] = {
	{ "udp", true, false },     { "tcp", false, true },      { "tcp-ttl", false, true },
	{ "predict", true, true },  { "birthday", true, false }, { "relay", true, true },
	{ "auto", true, true },
	{ "portmap", true, false }, /* udp from a port the router mapped (docs/portmap.md) */
};

bool technique_fits(const char *t, const char *proto)
{
	bool udp = strcmp(proto, "udp") == 0;

	for (size_t i = 0; i < sizeof(techniques) / sizeof(techniques[0]); i++)
		if (strcmp(techniques[i].name, t) == 0)
			return udp ? techniques[i].udp : techniques[i].tcp;
	return false;
}

bool cell_ref_is_path(const char *ref)
{
	return strchr(ref, '/') != NULL;
}

/* RFC 3986's unreserved set minus '~' (our pair separator): what an id carries as it is. */
static bool unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

int cell_ref_encode(const char *ref, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (!ref[0])
		return -EINVAL;
	if (len < 4)
		return -ENAMETOOLONG;
	if (strcmp(ref, "-") == 0) { /* "-" alone stands for "no profile" */
		snprintf(buf, len, "%%2D");
		return 0;
	}
	for (const unsigned char *p = (const unsigned char *)ref; *p; p++) {
		if (n + 4 > len)
			return -ENAMETOOLONG;
		if (unreserved(*p)) {
			buf[n++] = (char)*p;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	buf[n] = '\0';
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode n bytes of an id part. Returns 0, or -EINVAL with why filled. */
static int ref_decode(const char *s, size_t n, char *buf, size_t len, const char *what, char *why,
		      size_t wlen)
{
	size_t o = 0;

	if (n == 0) {
		snprintf(why, wlen, "%s is empty", what);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				snprintf(why, wlen, "%s: '%%' must be followed by two hex digits (a "
					 "percent-encoded byte, e.g. %%2F for '/')", what);
				return -EINVAL;
			}
			ch = hi << 4 | lo;
			i += 2;
		}
		if (ch == 0 || ch == '\n') {
			snprintf(why, wlen, "%s holds a NUL or newline byte", what);
			return -EINVAL;
		}
		if (o + 1 >= len) {
			snprintf(why, wlen, "%s is longer than %zu bytes", what, len - 1);
			return -EINVAL;
		}
		buf[o++] = (char)ch;
	}
	buf[o] = '\0';
	return 0;
}

/* --- the key=value dimensions: one row each, in the order they appear in an id ------------ */

/* Format the value of c's dimension into buf: "" when it is at its default (then the part is
 * left out of the id). 0 or -ENAMETOOLONG. */
typedef int (*dim_format_fn)(const struct cell_spec *c, char *buf, size_t len);
/* Parse a (still encoded) value into c. 0 or -EINVAL with why filled. */
typedef int (*dim_parse_fn)(struct cell_spec *c, const char *value, char *why, size_t len);

static int engine_format(const struct cell_spec *c, char *buf, size_t len)
{
	size_t n;
	int ret;

	buf[0] = '\0';
	if (strcmp(c->engine, CELL_DEFAULT_ENGINE) == 0 && !c->engine_b[0])
		return 0;
	ret = cell_ref_encode(c->engine, buf, len);
	if (ret < 0 || !c->engine_b[0])
		return ret;
	n = strlen(buf);
	if (n + 2 > len)
		return -ENAMETOOLONG;
	buf[n++] = '~';
	return cell_ref_encode(c->engine_b, buf + n, len - n);
}

static int engine_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	const char *tilde = strchr(v, '~');
	size_t na = tilde ? (size_t)(tilde - v) : strlen(v);

	if (tilde && strchr(tilde + 1, '~')) {
		snprintf(why, len, "engine=%s: expected one engine or a pair A~B", v);
		return -EINVAL;
	}
	if (ref_decode(v, na, c->engine, sizeof(c->engine), "the engine", why, len) < 0 ||
	    (tilde && ref_decode(tilde + 1, strlen(tilde + 1), c->engine_b, sizeof(c->engine_b),
				 "engine B", why, len) < 0))
		return -EINVAL;
	/* A~A stays a pair: two programs of one engine file (--engine-binary-a/-b, a release
	 * against a main branch) are peers of different builds, not the engine alone */
	return 0;
}

static int stagger_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!c->has_stagger)
		return 0;
	return (size_t)snprintf(buf, len, "%dms", c->stagger_ms) < len ? 0 : -ENAMETOOLONG;
}

/* "40ms", "1s", "0": a duration in whole milliseconds, 0..SWEEP_MAX_MS. Returns the ms or -1. */
static int duration_ms(const char *s, size_t n)
{
	long v = 0;
	size_t i = 0;

	if (n == 0)
		return -1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > SWEEP_MAX_MS)
			return -1;
	}
	if (i == 0)
		return -1;
	if (i == n || (n - i == 2 && strncmp(s + i, "ms", 2) == 0))
		return (int)v;
	if (n - i == 1 && s[i] == 's' && v * 1000 <= SWEEP_MAX_MS)
		return (int)(v * 1000);
	return -1;
}

static int stagger_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	int ms = duration_ms(v, strlen(v));

	if (ms < 0) {
		snprintf(why, len, "stagger=%s: expected a duration of 0 to %d ms (40ms, 1s)", v,
			 SWEEP_MAX_MS);
		return -EINVAL;
	}
	c->has_stagger = true;
	c->stagger_ms = ms;
	return 0;
}

static int signal_delay_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!c->has_signal_delay)
		return 0;
	return (size_t)snprintf(buf, len, "%dms", c->signal_delay_ms) < len ? 0 : -ENAMETOOLONG;
}

static int signal_delay_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	int ms = duration_ms(v, strlen(v));

	if (ms < 0) {
		snprintf(why, len, "signal-delay=%s: expected a duration of 0 to %d ms (40ms, 1s)", v,
			 SWEEP_MAX_MS);
		return -EINVAL;
	}
	c->has_signal_delay = true;
	c->signal_delay_ms = ms;
	return 0;
}

struct profile_params cell_spec_params(const struct cell_spec *c)
{
	return (struct profile_params){ c->udp_timeout_unreplied, c->udp_timeout_replied };
}

void cell_spec_set_params(struct cell_spec *c, const struct profile_params *p)
{
	c->udp_timeout_unreplied = p ? p->udp_unreplied : 0;
	c->udp_timeout_replied = p ? p->udp_replied : 0;
}

static int params_format(const struct cell_spec *c, char *buf, size_t len)
{
	struct profile_params p = cell_spec_params(c);

	return profile_params_id_format(&p, buf, len);
}

static int params_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	struct profile_params p = { 0 };

	if (profile_params_id_parse(&p, v, why, len) < 0)
		return -EINVAL;
	cell_spec_set_params(c, &p);
	return 0;
}

/* events=TIMELINE (docs/events.md): the canonical timeline, percent-encoded (spaces, '@',
 * ',' and ':' are all encoded). */
static int events_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	return c->events[0] ? cell_ref_encode(c->events, buf, len) : 0;
}

static int events_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	struct lab_timeline tl;
	char text[sizeof(c->events)], msg[300];

	if (ref_decode(v, strlen(v), text, sizeof(text), "the events", why, len) < 0)
		return -EINVAL;
	if (lab_timeline_parse(text, &tl, msg, sizeof(msg)) < 0) {
		snprintf(why, len, "events=%s: %s", v, msg);
		return -EINVAL;
	}
	return lab_timeline_format(&tl, c->events, sizeof(c->events)) < 0 ? -EINVAL : 0;
}

/* impair=PRESET: a name from impairments/ or a path; absent for none (so ids from before the
 * dimension existed are the unimpaired cells'). */
static int impair_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!c->impair[0] || strcmp(c->impair, "none") == 0)
		return 0;
	return cell_ref_encode(c->impair, buf, len);
}

static int impair_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	if (ref_decode(v, strlen(v), c->impair, sizeof(c->impair), "the impairment", why, len) < 0)
		return -EINVAL;
	if (strcmp(c->impair, "none") == 0)
		c->impair[0] = '\0';
	return 0;
}

/* outer=PROFILE: the shared outer NAT's profile (double-nat's CGN), a reference; absent for
 * the topology's own. */
static int outer_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	return c->outer[0] ? cell_ref_encode(c->outer, buf, len) : 0;
}

static int outer_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	return ref_decode(v, strlen(v), c->outer, sizeof(c->outer), "the outer profile", why,
			  len) < 0 ? -EINVAL : 0;
}

/* family=6 / family=dual: absent for IPv4, so every id from before the dimension is an IPv4
 * cell's. */
static const char *const family_names[] = { "4", "6", "dual" };

const char *cell_family_name(enum cell_family f)
{
	return (unsigned)f < 3 ? family_names[f] : "?";
}

int cell_family_parse(const char *s, enum cell_family *f)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, family_names[i]) == 0) {
			*f = (enum cell_family)i;
			return 0;
		}
	return -EINVAL;
}

static int family_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (c->family == CELL_FAMILY_4)
		return 0;
	return (size_t)snprintf(buf, len, "%s", cell_family_name(c->family)) < len ? 0
										     : -ENAMETOOLONG;
}

static int family_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	if (cell_family_parse(v, &c->family) < 0) {
		snprintf(why, len, "family=%s: expected 4, 6 or dual", v);
		return -EINVAL;
	}
	return 0;
}

/* ipv6-profile=P: a dual cell's IPv6 companion profile, absent at the default (ipv6-firewall).
 * Only dual cells have one: cell_id_parse_msg() refuses it elsewhere. */
static int ipv6_profile_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!c->ipv6_profile[0] || strcmp(c->ipv6_profile, CELL_DEFAULT_IPV6_PROFILE) == 0)
		return 0;
	return cell_ref_encode(c->ipv6_profile, buf, len);
}

static int ipv6_profile_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	if (ref_decode(v, strlen(v), c->ipv6_profile, sizeof(c->ipv6_profile),
		       "the IPv6 companion profile", why, len) < 0)
		return -EINVAL;
	if (strcmp(c->ipv6_profile, CELL_DEFAULT_IPV6_PROFILE) == 0)
		c->ipv6_profile[0] = '\0';
	return 0;
}

/* port=N: the rendezvous and relay port (--rendezvous-port), absent at 3478 so that ids from
 * before the dimension existed are the default port's cells. A network with an outbound port
 * list (web-only) reaches the server on some ports only: the port changes the outcome. */
static int port_format(const struct cell_spec *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!c->port || c->port == CELL_DEFAULT_PORT)
		return 0;
	return (size_t)snprintf(buf, len, "%d", c->port) < len ? 0 : -ENAMETOOLONG;
}

static int port_parse(struct cell_spec *c, const char *v, char *why, size_t len)
{
	long p = 0;
	size_t i = 0;

	for (; v[i] >= '0' && v[i] <= '9' && p <= 65535; i++)
		p = p * 10 + (v[i] - '0');
	if (i == 0 || v[i] || p < 1 || p > 65535) {
		snprintf(why, len, "port=%s: expected a port, 1..65535", v);
		return -EINVAL;
	}
	/* 3478 written out stays 3478 (not 0: "the run's --rendezvous-port"), though the
	 * canonical id leaves it out */
	c->port = (int)p;
	return 0;
}

static const struct cell_dim {
	const char *key;
	dim_format_fn format;
	dim_parse_fn parse;
} cell_dims[] = {
	{ "engine", engine_format, engine_parse },
	{ "udp-timeout", params_format, params_parse },
	{ "impair", impair_format, impair_parse },
	{ "stagger", stagger_format, stagger_parse }, /* peer B's start after A's (--sweep) */
	{ "events", events_format, events_parse },
	{ "outer", outer_format, outer_parse }, /* the shared outer NAT's profile (--outer) */
	/* the rendezvous' answer reaches peer B this long after A (--sweep signal-delay=) */
	{ "signal-delay", signal_delay_format, signal_delay_parse },
	/* the rendezvous and relay port (--rendezvous-port; absent: 3478) */
	{ "port", port_format, port_parse },
	/* the address family (--family 4,6,dual), then a dual cell's IPv6 companion profile */
	{ "family", family_format, family_parse },
	{ "ipv6-profile", ipv6_profile_format, ipv6_profile_parse },
	/* later dimensions append here: mode */
};
#define NDIMS (sizeof(cell_dims) / sizeof(cell_dims[0]))

static void spec_defaults(struct cell_spec *c)
{
	snprintf(c->engine, sizeof(c->engine), "%s", CELL_DEFAULT_ENGINE);
	c->engine_b[0] = '\0';
	c->events[0] = '\0';
}

int cell_spec_set_id(struct cell_spec *c)
{
	char part[3 * CELL_REF_MAX * 2 + 2];
	size_t n = 0, len = sizeof(c->id);
	int ret = -EINVAL;

	c->id[0] = '\0';
	if (!c->topology[0] || !c->profile_a[0])
		goto out;
#define APPEND(s)                                                                               \
	do {                                                                                    \
		size_t l_ = strlen(s);                                                          \
		if (n + l_ + 1 > len)                                                           \
			goto toolong;                                                           \
		memcpy(c->id + n, s, l_ + 1);                                                   \
		n += l_;                                                                        \
	} while (0)
	if (cell_ref_encode(c->topology, part, sizeof(part)) < 0)
		goto toolong;
	APPEND(part);
	APPEND("/");
	APPEND(c->proto);
	APPEND("/");
	APPEND(c->technique);
	APPEND("/");
	if (cell_ref_encode(c->profile_a, part, sizeof(part)) < 0)
		goto toolong;
	APPEND(part);
	APPEND("~");
	if (!c->profile_b[0])
		snprintf(part, sizeof(part), "-");
	else if (cell_ref_encode(c->profile_b, part, sizeof(part)) < 0)
		goto toolong;
	APPEND(part);
	for (size_t d = 0; d < NDIMS; d++) {
		if (cell_dims[d].format(c, part, sizeof(part)) < 0)
			goto toolong;
		if (!part[0])
			continue;
		APPEND("/");
		APPEND(cell_dims[d].key);
		APPEND("=");
		APPEND(part);
	}
#undef APPEND
	return 0;
toolong:
	ret = -ENAMETOOLONG;
	c->id[0] = '\0';
out:
	return ret;
}

int cell_id_parse_msg(const char *id, struct cell_spec *c, char *why, size_t wlen)
{
	const char *part[4 + NDIMS + 1], *end[4 + NDIMS + 1], *p = id, *tilde;
	bool seen[NDIMS] = { false };
	int n = 0;

	memset(c, 0, sizeof(*c));
	spec_defaults(c);
	why[0] = '\0';
	if (strlen(id) >= sizeof(c->id)) {
		snprintf(why, wlen, "longer than %zu bytes", sizeof(c->id) - 1);
		return -EINVAL;
	}
	/* split at '/': references never hold a raw '/' (it is %2F) */
	for (;;) {
		const char *slash = strchr(p, '/');
		if (n == (int)(sizeof(part) / sizeof(part[0]))) {
			snprintf(why, wlen, "too many parts: expected TOPOLOGY/PROTO/TECHNIQUE/A~B and "
				 "at most %zu KEY=VALUE part(s); a '/' inside a path is written %%2F",
				 NDIMS);
			return -EINVAL;
		}
		part[n] = p;
		end[n++] = slash ? slash : p + strlen(p);
		if (!slash)
			break;
		p = slash + 1;
	}
	for (int i = 0; i < n; i++)
		if (end[i] == part[i]) {
			snprintf(why, wlen, "part %d is empty: a '/' inside a topology or profile path "
				 "is written %%2F (/tmp/x.nft is %%2Ftmp%%2Fx.nft)", i + 1);
			return -EINVAL;
		}
	if (n < 4) {
		snprintf(why, wlen, "expected TOPOLOGY/PROTO/TECHNIQUE/PROFILE-A~PROFILE-B");
		return -EINVAL;
	}
	if (ref_decode(part[0], (size_t)(end[0] - part[0]), c->topology, sizeof(c->topology),
		       "the topology", why, wlen) < 0)
		return -EINVAL;
	snprintf(c->proto, sizeof(c->proto), "%.*s", (int)(end[1] - part[1]), part[1]);
	if ((size_t)(end[1] - part[1]) >= sizeof(c->proto) ||
	    (strcmp(c->proto, "udp") && strcmp(c->proto, "tcp"))) {
		snprintf(why, wlen, "transport \"%.*s\": expected udp or tcp", (int)(end[1] - part[1]),
			 part[1]);
		return -EINVAL;
	}
	snprintf(c->technique, sizeof(c->technique), "%.*s", (int)(end[2] - part[2]), part[2]);
	if ((size_t)(end[2] - part[2]) >= sizeof(c->technique) ||
	    !technique_fits(c->technique, c->proto)) {
		snprintf(why, wlen, "technique \"%.*s\" does not exist over %s (udp: udp, predict, "
			 "birthday, relay, auto, portmap; tcp: tcp, tcp-ttl, predict, relay, auto)",
			 (int)(end[2] - part[2]), part[2], c->proto);
		return -EINVAL;
	}
	tilde = memchr(part[3], '~', (size_t)(end[3] - part[3]));
	if (!tilde || memchr(tilde + 1, '~', (size_t)(end[3] - tilde - 1))) {
		snprintf(why, wlen, "\"%.*s\": expected PROFILE-A~PROFILE-B (one '~'; \"-\" for no "
			 "B; a '~' inside a path is written %%7E)", (int)(end[3] - part[3]), part[3]);
		return -EINVAL;
	}
	if (tilde - part[3] == 1 && part[3][0] == '-') {
		snprintf(why, wlen, "profile A is \"-\": only B may lack a NAT");
		return -EINVAL;
	}
	if (ref_decode(part[3], (size_t)(tilde - part[3]), c->profile_a, sizeof(c->profile_a),
		       "profile A", why, wlen) < 0)
		return -EINVAL;
	if (!(end[3] - tilde == 2 && tilde[1] == '-') &&
	    ref_decode(tilde + 1, (size_t)(end[3] - tilde - 1), c->profile_b, sizeof(c->profile_b),
		       "profile B", why, wlen) < 0)
		return -EINVAL;
	for (int i = 4; i < n; i++) {
		const char *eq = memchr(part[i], '=', (size_t)(end[i] - part[i]));
		char value[sizeof(c->id)];
		size_t d;

		for (d = 0; eq && d < NDIMS; d++)
			if (strlen(cell_dims[d].key) == (size_t)(eq - part[i]) &&
			    strncmp(cell_dims[d].key, part[i], (size_t)(eq - part[i])) == 0)
				break;
		if (!eq || d == NDIMS) {
			size_t w = (size_t)snprintf(why, wlen, "\"%.*s\": expected KEY=VALUE with KEY "
						    "one of", (int)(end[i] - part[i]), part[i]);
			for (size_t k = 0; k < NDIMS && w < wlen; k++)
				w += (size_t)snprintf(why + w, wlen - w, " %s", cell_dims[k].key);
			if (w < wlen)
				snprintf(why + w, wlen - w, " (a '/' inside a path is written %%2F)");
			return -EINVAL;
		}
		if (seen[d]) {
			snprintf(why, wlen, "%s= given twice", cell_dims[d].key);
			return -EINVAL;
		}
		seen[d] = true;
		snprintf(value, sizeof(value), "%.*s", (int)(end[i] - eq - 1), eq + 1);
		if (cell_dims[d].parse(c, value, why, wlen) < 0)
			return -EINVAL;
	}
	if (c->ipv6_profile[0] && c->family != CELL_FAMILY_DUAL) {
		snprintf(why, wlen, "ipv6-profile= is the IPv6 companion of a dual cell: expected "
			 "family=dual with it");
		return -EINVAL;
	}
	if (cell_spec_set_id(c) < 0) {
		snprintf(why, wlen, "its canonical form is longer than %zu bytes", sizeof(c->id) - 1);
		return -EINVAL;
	}
	return 0;
}

int cell_id_parse(const char *id, struct cell_spec *c)
{
	char why[256];

	return cell_id_parse_msg(id, c, why, sizeof(why));
}

/* Whether profiles[i] repeats an earlier entry: enumerated once, so one cell has one id. */
static bool profile_repeated(const struct matrix_dims *d, int i)
{
	for (int j = 0; j < i; j++)
		if (strcmp(d->profiles[j], d->profiles[i]) == 0)
			return true;
	return false;
}

int cells_enumerate(const struct matrix_dims *d, struct cell_spec **out)
{
	const char *protos[2];
	int nprotos = 0, n = 0, cap, ret;
	struct cell_spec *cells;

	*out = NULL;
	if (d->udp)
		protos[nprotos++] = "udp";
	if (d->tcp)
		protos[nprotos++] = "tcp";
	cap = nprotos * d->ntechniques * d->nprofiles * (d->b_has_nat ? d->nprofiles : 1) *
	      (d->nimpairments ? d->nimpairments : 1) * (d->nouters ? d->nouters : 1);
	cells = calloc((size_t)(cap > 0 ? cap : 1), sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	/* outer profiles, then impairments outermost: the cells of the topology's own outer NAT,
	 * unimpaired, keep their old order */
	for (int ou = 0; ou < (d->nouters ? d->nouters : 1); ou++)
	for (int im = 0; im < (d->nimpairments ? d->nimpairments : 1); im++)
	for (int p = 0; p < nprotos; p++)
		for (int t = 0; t < d->ntechniques; t++) {
			const char *tech = d->techniques[t];
			if (strcmp(tech, "plain") == 0)
				tech = protos[p];
			if (!technique_fits(tech, protos[p]))
				continue;
			for (int a = 0; a < d->nprofiles; a++)
				for (int b = 0; b < (d->b_has_nat ? d->nprofiles : 1); b++) {
					struct cell_spec *c = &cells[n];
					if (profile_repeated(d, a) || (d->b_has_nat && profile_repeated(d, b)))
						continue;
					snprintf(c->topology, sizeof(c->topology), "%s", d->topology);
					snprintf(c->proto, sizeof(c->proto), "%s", protos[p]);
					snprintf(c->technique, sizeof(c->technique), "%s", tech);
					snprintf(c->profile_a, sizeof(c->profile_a), "%s", d->profiles[a]);
					snprintf(c->profile_b, sizeof(c->profile_b), "%s",
						 d->b_has_nat ? d->profiles[b] : "");
					snprintf(c->engine, sizeof(c->engine), "%s",
						 d->engine ? d->engine : CELL_DEFAULT_ENGINE);
					cell_spec_set_params(c, &d->params);
					snprintf(c->engine_b, sizeof(c->engine_b), "%s",
						 d->engine_b ? d->engine_b : "");
					snprintf(c->impair, sizeof(c->impair), "%s",
						 d->nimpairments && strcmp(d->impairments[im], "none")
							 ? d->impairments[im] : "");
					snprintf(c->outer, sizeof(c->outer), "%s",
						 d->nouters && !(d->outer_default &&
								 strcmp(d->outers[ou], d->outer_default) == 0)
							 ? d->outers[ou] : "");
					c->family = d->family;
					snprintf(c->ipv6_profile, sizeof(c->ipv6_profile), "%s",
						 d->family == CELL_FAMILY_DUAL && d->ipv6_profile
							 ? d->ipv6_profile : "");
					c->port = d->port;
					ret = cell_spec_set_id(c);
					if (ret < 0) {
						free(cells);
						return ret;
					}
					n++;
				}
		}
	*out = cells;
	return n;
}

/* A sweep's duration token: "40ms", "1s", or a bare number in unit_ms (1 or 1000). -1 when bad. */
static int token_ms(const char *s, size_t n, int unit_ms)
{
	size_t digits = 0;

	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits > 0 && digits == n && digits < 9) {
		long v = strtol(s, NULL, 10) * unit_ms;
		return v <= SWEEP_MAX_MS ? (int)v : -1;
	}
	return duration_ms(s, n);
}

int sweep_parse(const char *spec, struct sweep *sw, char *why, size_t len)
{
	/* the dimensions a sweep can vary: each a duration dimension of the cell ids */
	static const char *const keys[] = { "stagger", "signal-delay" };
	const char *eq = strchr(spec, '='), *dots, *slash, *key = NULL;
	int lo, hi, step, unit;
	size_t nto;

	memset(sw, 0, sizeof(*sw));
	for (size_t i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((size_t)(eq - spec) == strlen(keys[i]) &&
		    strncmp(spec, keys[i], strlen(keys[i])) == 0)
			key = keys[i];
	if (!key) {
		snprintf(why, len, "--sweep %s: expected stagger=FROM..TO/STEP or "
			 "signal-delay=FROM..TO/STEP (e.g. stagger=0..200ms/10); a sweep varies "
			 "stagger or signal-delay", spec);
		return -EINVAL;
	}
	dots = strstr(eq + 1, "..");
	slash = dots ? strchr(dots + 2, '/') : NULL;
	if (!dots || !slash) {
		snprintf(why, len, "--sweep %s: expected %s=FROM..TO/STEP (e.g. "
			 "%s=0..200ms/10)", spec, key, key);
		return -EINVAL;
	}
	/* bare numbers take TO's unit: 0..200ms/10 is 0, 10, ... 200 ms; 0..2s/1 is 0, 1, 2 s */
	nto = (size_t)(slash - dots - 2);
	unit = nto >= 1 && dots[2 + nto - 1] == 's' && !(nto >= 2 && dots[2 + nto - 2] == 'm')
		       ? 1000 : 1;
	lo = token_ms(eq + 1, (size_t)(dots - eq - 1), unit);
	hi = token_ms(dots + 2, nto, unit);
	step = token_ms(slash + 1, strlen(slash + 1), unit);
	if (lo < 0 || hi < 0 || step < 0) {
		snprintf(why, len, "--sweep %s: %s is not a duration of 0 to %d ms (40ms, 1s, or a "
			 "number in TO's unit)", spec, lo < 0 ? "FROM" : hi < 0 ? "TO" : "STEP",
			 SWEEP_MAX_MS);
		return -EINVAL;
	}
	if (hi < lo) {
		snprintf(why, len, "--sweep %s: TO (%d ms) is below FROM (%d ms)", spec, hi, lo);
		return -EINVAL;
	}
	if (step == 0) {
		snprintf(why, len, "--sweep %s: STEP must be above 0 ms", spec);
		return -EINVAL;
	}
	if ((hi - lo) / step + 1 > SWEEP_MAX_POINTS) {
		snprintf(why, len, "--sweep %s: %d points, expected at most %d (give a larger STEP)",
			 spec, (hi - lo) / step + 1, SWEEP_MAX_POINTS);
		return -EINVAL;
	}
	snprintf(sw->key, sizeof(sw->key), "%s", key);
	for (int v = lo; v <= hi; v += step)
		sw->points[sw->npoints++] = v;
	return 0;
}

int shard_parse(const char *s, int *k, int *n)
{
	char *end;
	long kk = strtol(s, &end, 10), nn;

	if (end == s || *end != '/')
		return -EINVAL;
	nn = strtol(end + 1, &end, 10);
	if (*end || nn < 1 || nn > 1000 || kk < 1 || kk > nn)
		return -EINVAL;
	*k = (int)kk;
	*n = (int)nn;
	return 0;
}

bool shard_has(int index, int k, int n)
{
	return index % n == k - 1;
}
