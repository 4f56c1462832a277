/* punch probe's report: the profile header fields (measured or `unknown`), the evidence, and
 * the `punchlab profile new` line; text or JSON. With --redact every public address of the
 * reporter (any mapped address that is not private) is printed as REDACTED. */
#include <stdio.h>
#include <string.h>

#include "endpoint.h"
#include "probe.h"

#define REDACTED "REDACTED"

const char *probe_dep_name(enum probe_dep d)
{
	switch (d) {
	case DEP_EI: return "endpoint-independent";
	case DEP_AD: return "address-dependent";
	case DEP_APD: return "address-and-port-dependent";
	default: return "unknown";
	}
}

const char *probe_ports_name(enum probe_ports p)
{
	switch (p) {
	case PORTS_PRESERVE: return "preserve";
	case PORTS_SEQUENTIAL: return "sequential";
	case PORTS_RANDOM: return "random";
	default: return "unknown";
	}
}

/* Is @ss an address of the reporter that --redact hides: one of its public endpoints? */
static bool is_reporter_public(const struct probe_result *r, const struct sockaddr_storage *ss)
{
	int i;

	if (ep_is_private(ss))
		return false;
	if (ep_equal(ss, &r->local, false))
		return true;
	for (i = 0; i < PS_MAX; i++)
		if ((r->map_ok[i] && ep_equal(ss, &r->map_seen[i], false)) ||
		    (r->tcp_ok[i] && ep_equal(ss, &r->tcp_seen[i], false)))
			return true;
	return false;
}

static const char *ep_show(const struct probe_opts *o, const struct probe_result *r,
			   const struct sockaddr_storage *ss, char *buf)
{
	if (o->redact && is_reporter_public(r, ss)) {
		snprintf(buf, EP_STRLEN, "%s:%u", REDACTED, ep_port(ss));
		return buf;
	}
	return ep_format(ss, buf);
}

static const char *rfc3489_name(const struct probe_result *r)
{
	if (r->mapping == DEP_UNKNOWN)
		return "unknown";
	if (r->mapping != DEP_EI)
		return "symmetric";
	switch (r->filtering) {
	case DEP_EI: return "full-cone";
	case DEP_AD: return "restricted-cone";
	case DEP_APD: return "port-restricted-cone";
	default: return "unknown";
	}
}

static const char *predictable(const struct probe_result *r)
{
	if (r->mapping == DEP_EI || r->ports == PORTS_PRESERVE || r->ports == PORTS_SEQUENTIAL)
		return "yes";
	return r->ports == PORTS_RANDOM ? "no" : "unknown";
}

static const char *hairpin_name(int h)
{
	return h < 0 ? "unknown" : h ? "yes" : "no";
}

/* The `punchlab profile new` line. profile new needs every one of its six flags, so a field
 * not measured takes port-restricted-cone's value (the typical home router: plain masquerade,
 * drop, 30 s) and is named in @assumed. */
static void profile_line(const struct probe_result *r, char *buf, size_t cap, char *assumed,
			 size_t acap)
{
	char t[16];
	const char *v[6][2] = {
		{ "--mapping", r->mapping != DEP_UNKNOWN ? probe_dep_name(r->mapping) : NULL },
		{ "--filtering", r->filtering != DEP_UNKNOWN ? probe_dep_name(r->filtering) : NULL },
		{ "--ports", r->ports != PORTS_UNKNOWN ? probe_ports_name(r->ports) : NULL },
		{ "--hairpin", r->hairpin >= 0 ? hairpin_name(r->hairpin) : NULL },
		{ "--tcp-unsolicited", NULL },
		{ "--udp-timeout", NULL },
	};
	static const char *dflt[6] = { "endpoint-independent", "address-and-port-dependent",
				       "preserve", "no", "drop", "30" };
	size_t n = (size_t)snprintf(buf, cap, "punchlab profile new"), an = 0;
	int i;

	if (r->udp_timeout > 0) {
		snprintf(t, sizeof(t), "%d", r->udp_timeout);
		v[5][1] = t;
	}
	assumed[0] = '\0';
	for (i = 0; i < 6 && n < cap; i++) {
		n += (size_t)snprintf(buf + n, cap - n, " %s %s", v[i][0], v[i][1] ? v[i][1] : dflt[i]);
		if (!v[i][1] && an < acap)
			an += (size_t)snprintf(assumed + an, acap - an, "%s%s %s", an ? ", " : "",
					       v[i][0] + 2, dflt[i]);
	}
	if (r->ports == PORTS_SEQUENTIAL && r->stride != 1 && n < cap)
		snprintf(buf + n, cap - n, " --stride %d", r->stride);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *srv_key[PS_MAX] = { "primary", "alt-port", "alt-addr", "alt-both" };

static void print_json(const struct probe_opts *o, const struct probe_result *r, FILE *f,
		       const char *line, const char *assumed)
{
	char b[EP_STRLEN], t[32];
	int i;

	fprintf(f, "{\"server\":");
	json_str(f, ep_format(&o->server, b));
	fprintf(f, ",\"protocol\":\"%s\",\"reached\":%s", o->stun ? "stun" : "punch",
		r->reached ? "true" : "false");
	if (!r->reached) {
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, ",\"behind_nat\":%s,\"fields\":{", r->behind_nat ? "true" : "false");
	fprintf(f, "\"mapping\":\"%s\",\"filtering\":\"%s\",\"ports\":\"%s\",",
		probe_dep_name(r->mapping), probe_dep_name(r->filtering), probe_ports_name(r->ports));
	if (r->ports == PORTS_SEQUENTIAL)
		fprintf(f, "\"stride\":\"%d\",", r->stride);
	snprintf(t, sizeof(t), "%d", r->udp_timeout);
	fprintf(f, "\"hairpin\":\"%s\",\"tcp-unsolicited\":\"unknown\",\"udp-timeout\":\"%s\","
		"\"rfc3489\":\"%s\",\"predictable\":\"%s\"},", hairpin_name(r->hairpin),
		r->udp_timeout > 0 ? t : "unknown", rfc3489_name(r), predictable(r));
	fprintf(f, "\"tcp_mapping\":\"%s\",\"evidence\":{\"local\":", probe_dep_name(r->tcp_mapping));
	json_str(f, ep_show(o, r, &r->local, b));
	fprintf(f, ",\"servers\":{");
	for (i = 0; i < PS_MAX; i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", srv_key[i]);
		if (r->have_srv[i])
			json_str(f, ep_format(&r->srv[i], b));
		else
			fputs("null", f);
	}
	fprintf(f, "},\"udp_mapped\":{");
	for (i = 0; i < PS_MAX; i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", srv_key[i]);
		if (r->map_ok[i])
			json_str(f, ep_show(o, r, &r->map_seen[i], b));
		else
			fputs("null", f);
	}
	fprintf(f, "},\"tcp_mapped\":{");
	for (i = 0; i < PS_MAX; i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", srv_key[i]);
		if (r->tcp_ok[i])
			json_str(f, ep_show(o, r, &r->tcp_seen[i], b));
		else
			fputs("null", f);
	}
	fprintf(f, "},\"ports\":[");
	for (i = 0; i < r->n_ports; i++)
		fprintf(f, "%s[%u,%u]", i ? "," : "", r->port_local[i], r->port_public[i]);
	fprintf(f, "],\"lifetime\":[");
	for (i = 0; i < r->n_life; i++)
		fprintf(f, "%s[%u,%d]", i ? "," : "", r->life_at_ms[i], r->life_alive[i]);
	fprintf(f, "],\"notes\":{\"filtering\":");
	json_str(f, r->filtering_note);
	fprintf(f, ",\"hairpin\":");
	json_str(f, r->hairpin_note);
	fprintf(f, ",\"udp-timeout\":");
	json_str(f, r->lifetime_note);
	fprintf(f, ",\"tcp\":");
	json_str(f, r->tcp_note);
	fprintf(f, "}},\"profile_new\":");
	if (r->behind_nat)
		json_str(f, line);
	else
		fputs("null", f);
	fprintf(f, ",\"assumed\":");
	json_str(f, r->behind_nat ? assumed : "");
	fprintf(f, "}\n");
}

static void print_text(const struct probe_opts *o, const struct probe_result *r, FILE *f,
		       const char *line, const char *assumed)
{
	char b[EP_STRLEN], b2[EP_STRLEN];
	int i;

	fprintf(f, "server: %s (%s)\n", ep_format(&o->server, b), o->stun ? "stun" : "punch");
	if (!r->reached) {
		fprintf(f, "the server did not answer: nothing measured\n");
		return;
	}
	fprintf(f, "public endpoint: %s (local %s)%s\n", ep_show(o, r, &r->map_seen[PS_PRIMARY], b),
		ep_show(o, r, &r->local, b2), r->behind_nat ? "" : ": no NAT");
	fprintf(f, "\n# the profile header fields measured (unknown: not measured from here)\n");
	fprintf(f, "rfc3489: %s\n", rfc3489_name(r));
	fprintf(f, "mapping: %s\n", probe_dep_name(r->mapping));
	fprintf(f, "filtering: %s\n", probe_dep_name(r->filtering));
	fprintf(f, "ports: %s\n", probe_ports_name(r->ports));
	if (r->ports == PORTS_SEQUENTIAL)
		fprintf(f, "stride: %d\n", r->stride);
	fprintf(f, "hairpin: %s\n", hairpin_name(r->hairpin));
	fprintf(f, "tcp-unsolicited: unknown\n");
	fprintf(f, "predictable: %s\n", predictable(r));
	if (r->udp_timeout > 0)
		fprintf(f, "udp-timeout: %d\n", r->udp_timeout);
	else
		fprintf(f, "udp-timeout: unknown\n");
	fprintf(f, "\n# evidence\n");
	for (i = 0; i < PS_MAX; i++)
		if (r->map_ok[i])
			fprintf(f, "udp to %-8s %-22s seen as %s\n", srv_key[i],
				ep_format(&r->srv[i], b), ep_show(o, r, &r->map_seen[i], b2));
	for (i = 0; i < PS_MAX; i++)
		if (r->tcp_ok[i])
			fprintf(f, "tcp to %-8s %-22s seen as %s\n", srv_key[i],
				ep_format(&r->srv[i], b), ep_show(o, r, &r->tcp_seen[i], b2));
	fprintf(f, "tcp mapping: %s%s%s\n", probe_dep_name(r->tcp_mapping),
		r->tcp_note[0] ? ": " : "", r->tcp_note);
	if (r->filtering_note[0])
		fprintf(f, "filtering: %s\n", r->filtering_note);
	fprintf(f, "ports (local -> public):");
	for (i = 0; i < r->n_ports; i++)
		fprintf(f, " %u->%u", r->port_local[i], r->port_public[i]);
	fprintf(f, "\nhairpin: %s\n", r->hairpin_note);
	if (r->n_life) {
		fprintf(f, "lifetime (silence s: alive):");
		for (i = 0; i < r->n_life; i++)
			fprintf(f, " %.1f:%s", r->life_at_ms[i] / 1000.0,
				r->life_alive[i] < 0 ? "-" : r->life_alive[i] ? "yes" : "no");
		fputc('\n', f);
	}
	if (r->lifetime_note[0])
		fprintf(f, "udp-timeout: %s\n", r->lifetime_note);
	if (!r->behind_nat) {
		fprintf(f, "\n# no NAT between this host and the server: no profile to rebuild\n");
		return;
	}
	fprintf(f, "\n# rebuild this NAT in the lab\n");
	fprintf(f, "%s\n", line);
	if (assumed[0])
		fprintf(f, "# assumed, not measured (port-restricted-cone's values): %s\n", assumed);
}

void probe_print(const struct probe_opts *o, const struct probe_result *r, FILE *out)
{
	char line[512], assumed[160];

	profile_line(r, line, sizeof(line), assumed, sizeof(assumed));
	if (o->json)
		print_json(o, r, out, line, assumed);
	else
		print_text(o, r, out, line, assumed);
	fflush(out);
}
