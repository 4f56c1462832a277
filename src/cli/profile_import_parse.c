/* The parsers of `punchlab profile import`: what Debian's stun-client (`stun SERVER`, RFC
 * 3489's tests) and coturn's turnutils_natdiscovery (RFC 5780's) print, read into profile
 * header fields. Each tool fills what it measures; a field it cannot tell apart is `assumed`
 * (with the reason), the rest `unknown`. Lines a tool prints in verbose mode are skipped; what
 * is checked is the structure: the first line, the section headers and the verdicts, so that a
 * truncated or foreign file is refused at FILE:LINE with what was expected. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/profile_import.h"

static const char *key_names[IK_MAX] = { "mapping", "filtering", "ports", "hairpin",
					 "tcp-unsolicited", "udp-timeout" };

const char *import_key_name(enum import_key k)
{
	return k < IK_MAX ? key_names[k] : "?";
}

const char *import_tool_name(enum import_tool t)
{
	return t == IMPORT_STUN_CLIENT ? "stun-client" : t == IMPORT_NATDISCOVERY ? "natdiscovery" :
	       "auto";
}

int import_tool_parse(const char *s, enum import_tool *t)
{
	if (!strcmp(s, "stun-client") || !strcmp(s, "stun"))
		*t = IMPORT_STUN_CLIENT;
	else if (!strcmp(s, "natdiscovery") || !strcmp(s, "turnutils_natdiscovery"))
		*t = IMPORT_NATDISCOVERY;
	else
		return -EINVAL;
	return 0;
}

static int fail(struct diag *d, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct diag *d, const char *path, int line, const char *fmt, ...)
{
	va_list ap;

	snprintf(d->file, sizeof(d->file), "%s", path);
	d->line = line;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void set(struct import_result *r, enum import_key k, enum import_how how, const char *v,
		const char *why)
{
	r->f[k].how = how;
	snprintf(r->f[k].value, sizeof(r->f[k].value), "%s", v);
	snprintf(r->f[k].why, sizeof(r->f[k].why), "%s", why ? why : "");
}

/* Strip the newline and trailing blanks (stun ends its verdict with a tab). */
static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static bool starts(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* ---- stun-client ---- */

/* stun's verdicts (client.cxx's switch over the NAT type) after "Primary: ". */
static int stun_verdict(struct import_result *r, const char *v, const char *path, int line,
			struct diag *d)
{
	static const struct {
		const char *text;
		const char *mapping, *filtering;
	} cones[] = {
		{ "Independent Mapping, Independent Filter", "endpoint-independent",
		  "endpoint-independent" },
		{ "Independent Mapping, Address Dependent Filter", "endpoint-independent",
		  "address-dependent" },
		{ "Independent Mapping, Port Dependent Filter", "endpoint-independent",
		  "address-and-port-dependent" },
		{ "Dependent Mapping", NULL, NULL },
	};
	const char *rest = NULL;
	size_t i;

	snprintf(r->verdict, sizeof(r->verdict), "%s", v);
	if (!strcmp(v, "Open") || !strcmp(v, "Firewall")) {
		r->reached = true;
		r->no_nat = true;
		return 0;
	}
	if (starts(v, "Blocked or could not reach STUN server") ||
	    starts(v, "Some stun error") || starts(v, "Some unknown type error"))
		return 0;   /* the tool measured nothing: every field stays unknown */
	for (i = 0; i < sizeof(cones) / sizeof(cones[0]) && !rest; i++) {
		if (!starts(v, cones[i].text))
			continue;
		rest = v + strlen(cones[i].text);
		if (cones[i].mapping) {
			set(r, IK_MAPPING, IMPORT_MEASURED, cones[i].mapping, NULL);
			set(r, IK_FILTERING, IMPORT_MEASURED, cones[i].filtering, NULL);
		} else {
			set(r, IK_MAPPING, IMPORT_ASSUMED, "address-and-port-dependent",
			    "RFC 3489 sees only that the mapping changes with the server address; "
			    "address-dependent is not told apart");
			set(r, IK_FILTERING, IMPORT_ASSUMED, "address-and-port-dependent",
			    "RFC 3489 runs no filtering test once the mapping changes");
		}
	}
	if (!rest)
		return fail(d, path, line, "\"Primary: %s\": expected one of stun's NAT types (Open, "
			    "Independent Mapping, Independent/Address Dependent/Port Dependent Filter, "
			    "Dependent Mapping, Firewall, Blocked ...)", v);
	r->reached = true;
	if (starts(rest, ", preserves ports"))
		set(r, IK_PORTS, IMPORT_MEASURED, "preserve", NULL);
	else if (starts(rest, ", random port"))
		set(r, IK_PORTS, IMPORT_ASSUMED, "random",
		    "stun only sees that the port is not preserved; sequential is not told apart");
	else
		return fail(d, path, line, "\"Primary: %s\": expected \", preserves ports\" or "
			    "\", random port\" after the NAT type", v);
	rest = strchr(rest + 1, ',');
	if (rest && !strcmp(rest, ", will hairpin"))
		set(r, IK_HAIRPIN, IMPORT_MEASURED, "yes", NULL);
	else if (rest && !strcmp(rest, ", no hairpin"))
		set(r, IK_HAIRPIN, IMPORT_MEASURED, "no", NULL);
	else
		return fail(d, path, line, "\"Primary: %s\": expected \", will hairpin\" or "
			    "\", no hairpin\" at the end", v);
	return 0;
}

static int parse_stun_client(FILE *f, const char *path, struct import_result *r, struct diag *d)
{
	char buf[1024];
	int line = 0, verdict_line = 0, first = 0;

	while (fgets(buf, sizeof(buf), f)) {
		line++;
		chomp(buf);
		if (!first && !buf[0])
			continue;
		if (!first) {
			first = line;
			if (!starts(buf, "STUN client version "))
				return fail(d, path, line, "expected \"STUN client version ...\", the first "
					    "line of stun-client's output (--from stun-client)");
			continue;
		}
		if (!starts(buf, "Primary: "))
			continue;
		if (verdict_line)
			return fail(d, path, line, "a second \"Primary:\" verdict (the first at line %d): "
				    "expected the output of one run", verdict_line);
		verdict_line = line;
		if (stun_verdict(r, buf + strlen("Primary: "), path, line, d))
			return -EINVAL;
	}
	if (!first)
		return fail(d, path, 1, "empty: expected stun-client's output");
	if (!verdict_line)
		return fail(d, path, line, "no \"Primary: ...\" line: expected stun's verdict (the "
			    "output ends early?)");
	return 0;
}

/* ---- turnutils_natdiscovery ---- */

enum nd_section { ND_NONE, ND_MAPPING, ND_FILTERING, ND_LIFETIME, ND_HAIRPIN, ND_COLLISION };

struct nd_state {
	enum nd_section sec;
	int sec_line;
	int responses;                /* "RFC 5780 response N" lines in this section */
	bool timeout, hairpin_request, decided;
};

static const struct {
	const char *header;
	enum nd_section sec;
} nd_sections[] = {
	{ "-= Mapping Behavior Discovery =-", ND_MAPPING },
	{ "-= Filtering Behavior Discovery =-", ND_FILTERING },
	{ "-= Mapping Lifetime Behavior Discovery =-", ND_LIFETIME },
	{ "-= Hairpinning Behavior Discovery =-", ND_HAIRPIN },
	{ "-= Collision Behavior Discovery =-", ND_COLLISION },
};

static const struct {
	const char *text;
	enum nd_section sec;
	enum import_key key;
	const char *value;
} nd_decisions[] = {
	{ "NAT with Endpoint Independent Mapping!", ND_MAPPING, IK_MAPPING, "endpoint-independent" },
	{ "NAT with Address Dependent Mapping!", ND_MAPPING, IK_MAPPING, "address-dependent" },
	{ "NAT with Address and Port Dependent Mapping!", ND_MAPPING, IK_MAPPING,
	  "address-and-port-dependent" },
	{ "NAT with Endpoint Independent Filtering!", ND_FILTERING, IK_FILTERING,
	  "endpoint-independent" },
	{ "NAT with Address Dependent Filtering!", ND_FILTERING, IK_FILTERING, "address-dependent" },
	{ "NAT with Address and Port Dependent Filtering!", ND_FILTERING, IK_FILTERING,
	  "address-and-port-dependent" },
};

/* A section ends (the next header or the end of the file): what it showed. */
static void nd_close(struct nd_state *s, struct import_result *r)
{
	switch (s->sec) {
	case ND_MAPPING:
	case ND_FILTERING:
		if (s->responses)
			r->reached = true;
		if (!s->decided && !r->no_nat)
			set(r, s->sec == ND_MAPPING ? IK_MAPPING : IK_FILTERING, IMPORT_UNKNOWN,
			    "unknown", s->responses ? "no verdict: the server gave no OTHER-ADDRESS "
			    "(RFC 5780 needs two addresses)" : "the server did not answer");
		break;
	case ND_HAIRPIN:
		if (!s->responses)
			break;
		r->reached = true;
		/* natdiscovery's second socket writes to the first's public endpoint, which wrote
		 * to no one but the server: only an endpoint-independent hairpin filter passes it.
		 * It does not check the source address (it says "maybe"). */
		set(r, IK_HAIRPIN, IMPORT_MEASURED, s->hairpin_request ? "yes" : "no",
		    s->hairpin_request ? NULL : "no request arrived through the NAT");
		break;
	case ND_LIFETIME:
		if (r->n_life < IMPORT_MAX_LIFE)
			r->life[r->n_life++] = !s->responses ? -1 : s->responses >= 2 ? 1 :
					       s->timeout ? 0 : -1;
		if (s->responses)
			r->reached = true;
		break;
	default:
		break;
	}
	memset(s, 0, sizeof(*s));
}

/* The lifetime sections with their timers: the longest wait survived and the shortest not. */
static void nd_lifetime(struct import_result *r, const uint32_t *timers, int n_timers)
{
	long lo = -1, hi = -1;
	char why[160];
	int i;

	if (!r->n_life)
		return;
	if (n_timers < r->n_life) {
		set(r, IK_UDP_TIMEOUT, IMPORT_UNKNOWN, "unknown",
		    "the output does not say how long each -t test waited: give --timer S for each");
		return;
	}
	for (i = 0; i < r->n_life; i++) {
		if (r->life[i] == 1 && (long)timers[i] > lo)
			lo = timers[i];
		if (r->life[i] == 0 && (hi < 0 || (long)timers[i] < hi))
			hi = timers[i];
	}
	if (hi < 0) {
		snprintf(why, sizeof(why), "alive after %ld s, the longest -T: longer than that", lo);
		set(r, IK_UDP_TIMEOUT, IMPORT_UNKNOWN, "unknown", why);
	} else if (lo >= hi) {
		snprintf(why, sizeof(why), "the -t tests disagree: alive after %ld s, gone after %ld s",
			 lo, hi);
		set(r, IK_UDP_TIMEOUT, IMPORT_UNKNOWN, "unknown", why);
	} else {
		char v[16];

		snprintf(v, sizeof(v), "%ld", hi);
		if (lo < 0)
			snprintf(why, sizeof(why), "gone after %ld s, no shorter -T in the output: at "
				 "most that, the upper end taken", hi);
		else
			snprintf(why, sizeof(why), "between %ld and %ld s (alive after %ld, gone after "
				 "%ld): the upper end taken", lo, hi, lo, hi);
		set(r, IK_UDP_TIMEOUT, IMPORT_ASSUMED, v, why);
	}
}

static int parse_natdiscovery(FILE *f, const char *path, const uint32_t *timers, int n_timers,
			      struct import_result *r, struct diag *d)
{
	struct nd_state s = { 0 };
	char buf[1024], prev[1024] = "";
	int line = 0, sections = 0;
	size_t i;

	while (fgets(buf, sizeof(buf), f)) {
		line++;
		chomp(buf);
		if (starts(buf, "-= ")) {
			for (i = 0; i < sizeof(nd_sections) / sizeof(nd_sections[0]); i++)
				if (!strcmp(buf, nd_sections[i].header))
					break;
			if (i == sizeof(nd_sections) / sizeof(nd_sections[0]))
				return fail(d, path, line, "\"%s\": expected a section of "
					    "turnutils_natdiscovery (-= Mapping / Filtering / Mapping "
					    "Lifetime / Hairpinning / Collision Behavior Discovery =-)", buf);
			nd_close(&s, r);
			s.sec = nd_sections[i].sec;
			s.sec_line = line;
			sections++;
		} else if (starts(buf, "Please use either -f or -m")) {
			return fail(d, path, line, "natdiscovery ran without a test: expected the output "
				    "of turnutils_natdiscovery -m -f [-H] [-t -T S] SERVER");
		} else if (!strcmp(prev, "========================================") && buf[0] &&
			   !starts(buf, "RFC 5780 response ")) {
			/* A verdict: the line after a ruler that starts no response. */
			if (!strcmp(buf, "No NAT! (Endpoint Independent Mapping)")) {
				r->no_nat = true;
				r->reached = true;
				snprintf(r->verdict, sizeof(r->verdict), "%s", buf);
			} else {
				for (i = 0; i < sizeof(nd_decisions) / sizeof(nd_decisions[0]); i++)
					if (!strcmp(buf, nd_decisions[i].text))
						break;
				if (i == sizeof(nd_decisions) / sizeof(nd_decisions[0]))
					return fail(d, path, line, "\"%s\": expected a verdict of "
						    "turnutils_natdiscovery (NAT with ... Mapping! / "
						    "Filtering!, No NAT!)", buf);
				if (nd_decisions[i].sec != s.sec)
					return fail(d, path, line, "\"%s\" outside its section: expected "
						    "it after \"%s\"", buf,
						    nd_sections[nd_decisions[i].sec - 1].header);
				if (s.decided)
					return fail(d, path, line, "a second verdict in the section of line "
						    "%d: expected one", s.sec_line);
				s.decided = true;
				set(r, nd_decisions[i].key, IMPORT_MEASURED, nd_decisions[i].value, NULL);
			}
		} else if (starts(buf, "RFC 5780 response ")) {
			if (s.sec == ND_NONE)
				return fail(d, path, line, "a response before any section: expected a "
					    "\"-= ... Behavior Discovery =-\" line first");
			s.responses++;
		} else if (!strcmp(buf, "STUN receive timeout..")) {
			s.timeout = true;
		} else if (starts(buf, "Received a request (maybe a successful hairpinning)")) {
			s.hairpin_request = true;
		}
		snprintf(prev, sizeof(prev), "%s", buf);
	}
	nd_close(&s, r);
	if (!sections)
		return fail(d, path, line ? line : 1, "no \"-= ... Behavior Discovery =-\" section: "
			    "expected turnutils_natdiscovery's output (--from natdiscovery)");
	nd_lifetime(r, timers, n_timers);
	return 0;
}

/* ---- both ---- */

static enum import_tool detect(FILE *f)
{
	char buf[1024];
	enum import_tool t = IMPORT_AUTO;
	int n = 0;

	while (t == IMPORT_AUTO && n++ < 64 && fgets(buf, sizeof(buf), f)) {
		if (starts(buf, "STUN client version "))
			t = IMPORT_STUN_CLIENT;
		else if (starts(buf, "-= ") && strstr(buf, "Behavior Discovery =-"))
			t = IMPORT_NATDISCOVERY;
	}
	rewind(f);
	return t;
}

int import_parse(FILE *f, const char *path, enum import_tool tool, const uint32_t *timers,
		 int n_timers, struct import_result *r, struct diag *d)
{
	static const char *stun_never[IK_MAX] = {
		[IK_TCP_UNSOLICITED] = "stun-client sends no TCP: only the lab (classify) sees it",
		[IK_UDP_TIMEOUT] = "stun-client does not measure binding lifetimes",
	};
	static const char *nd_never[IK_MAX] = {
		[IK_MAPPING] = "no -m test in the output",
		[IK_FILTERING] = "no -f test in the output",
		[IK_PORTS] = "natdiscovery does not test port allocation",
		[IK_HAIRPIN] = "no -H test in the output",
		[IK_TCP_UNSOLICITED] = "natdiscovery sends no TCP: only the lab (classify) sees it",
		[IK_UDP_TIMEOUT] = "no -t test in the output",
	};
	const char **never;
	int k;

	memset(r, 0, sizeof(*r));
	if (tool == IMPORT_AUTO)
		tool = detect(f);
	r->tool = tool;
	never = tool == IMPORT_STUN_CLIENT ? stun_never : nd_never;
	for (k = 0; k < IK_MAX; k++)
		set(r, (enum import_key)k, IMPORT_UNKNOWN, "unknown",
		    never[k] ? never[k] : "the tool did not measure it");
	if (tool == IMPORT_STUN_CLIENT)
		return parse_stun_client(f, path, r, d);
	if (tool == IMPORT_NATDISCOVERY)
		return parse_natdiscovery(f, path, timers, n_timers, r, d);
	return fail(d, path, 1, "neither stun-client's output (\"STUN client version ...\") nor "
		    "turnutils_natdiscovery's (\"-= ... Behavior Discovery =-\"): expected one of "
		    "them, or name the tool with --from");
}

const char *import_default(enum import_key k)
{
	static const char *dflt[IK_MAX] = { "endpoint-independent", "address-and-port-dependent",
					    "preserve", "no", "drop", "30" };

	return k < IK_MAX ? dflt[k] : "?";
}

int import_profile_args(const struct import_result *r, const char **argv, unsigned *defaulted)
{
	static const char *flags[IK_MAX] = { "--mapping", "--filtering", "--ports", "--hairpin",
					     "--tcp-unsolicited", "--udp-timeout" };
	int k, n = 0;

	*defaulted = 0;
	for (k = 0; k < IK_MAX; k++) {
		argv[n++] = flags[k];
		if (r->f[k].how == IMPORT_UNKNOWN) {
			argv[n++] = import_default((enum import_key)k);
			*defaulted |= 1u << k;
		} else {
			argv[n++] = r->f[k].value;
		}
	}
	return n;
}
