#include "nft/profile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A header is the first few lines of a file; a profile with a big generated map is ~30 KB.
 * Reading this much is always enough to see the whole header. */
#define PROFILE_READ_MAX (1u << 20)
#define LINE_MAX_LEN 1024

static const char *const rfc3489_names[] = {
	[PROFILE_FULL_CONE] = "full-cone",
	[PROFILE_RESTRICTED_CONE] = "restricted-cone",
	[PROFILE_PORT_RESTRICTED_CONE] = "port-restricted-cone",
	[PROFILE_SYMMETRIC] = "symmetric",
};

static const char *const dependency_names[] = {
	[PROFILE_ENDPOINT_INDEPENDENT] = "endpoint-independent",
	[PROFILE_ADDRESS_DEPENDENT] = "address-dependent",
	[PROFILE_ADDRESS_AND_PORT_DEPENDENT] = "address-and-port-dependent",
	[PROFILE_DEPENDENCY_NONE] = "none",
	[PROFILE_DEPENDENCY_UNDECLARED] = "undeclared",
};
/* mapping and filtering take the first three; hairpin-filtering "none" too ("undeclared" is
 * what an absent key reads as, never a value to write) */
#define DEPENDENCY_RFC4787 3
#define DEPENDENCY_HAIRPIN 4

static const char *const ports_names[] = {
	[PROFILE_PORTS_PRESERVE] = "preserve",
	[PROFILE_PORTS_SEQUENTIAL] = "sequential",
	[PROFILE_PORTS_RANDOM] = "random",
};

static const char *const unsolicited_names[] = {
	[PROFILE_UNSOLICITED_DROP] = "drop",
	[PROFILE_UNSOLICITED_RST] = "rst",
};

static const char *const bool_names[] = { "no", "yes" };

static const char *const family_names[] = {
	[PROFILE_FAMILY_IPV4] = "ipv4",
	[PROFILE_FAMILY_IPV6] = "ipv6",
};

static const char *const translation_names[] = {
	[PROFILE_TRANSLATION_NAPT] = "napt",
	[PROFILE_TRANSLATION_NONE] = "none",
	[PROFILE_TRANSLATION_PREFIX] = "prefix",
};

struct key_def {
	const char *name;
	bool optional;
	const char *expect; /* what a value looks like, for messages */
};

static const struct key_def key_defs[PROFILE_KEY_COUNT] = {
	[PROFILE_KEY_NAME] = { "name", false,
		"a name of lowercase letters, digits and dashes (at most 63), e.g. full-cone" },
	[PROFILE_KEY_RFC3489] = { "rfc3489", false,
		"full-cone, restricted-cone, port-restricted-cone or symmetric" },
	[PROFILE_KEY_MAPPING] = { "mapping", false,
		"endpoint-independent, address-dependent or address-and-port-dependent" },
	[PROFILE_KEY_FILTERING] = { "filtering", false,
		"endpoint-independent, address-dependent or address-and-port-dependent" },
	[PROFILE_KEY_PORTS] = { "ports", false, "preserve, sequential or random" },
	[PROFILE_KEY_STRIDE] = { "stride", true, "a whole number from 1 to 1024" },
	[PROFILE_KEY_HAIRPIN] = { "hairpin", false, "yes or no" },
	[PROFILE_KEY_HAIRPIN_FILTERING] = { "hairpin-filtering", true,
		"endpoint-independent, address-dependent, address-and-port-dependent or none" },
	[PROFILE_KEY_TCP_UNSOLICITED] = { "tcp-unsolicited", false, "drop or rst" },
	[PROFILE_KEY_PREDICTABLE] = { "predictable", false, "yes or no" },
	[PROFILE_KEY_TRANSPORTS] = { "transports", false, "udp, tcp, or both as \"udp, tcp\"" },
	[PROFILE_KEY_UDP_TIMEOUT] = { "udp-timeout", false,
		"whole seconds from 1 to 86400, e.g. 30, or \"unreplied 30, replied 120\"" },
	[PROFILE_KEY_DESCRIPTION] = { "description", false,
		"one line of text (at most 255 characters)" },
	[PROFILE_KEY_PORT_PARITY] = { "port-parity", true, "yes or no" },
	[PROFILE_KEY_PORT_BLOCK] = { "port-block", true,
		"ports per subscriber, a whole number from 0 (no blocks) to 256" },
	[PROFILE_KEY_POOLING] = { "pooling", true,
		"paired or arbitrary, then 2 to 8 IPv4 addresses separated by commas, e.g. "
		"\"paired 203.0.113.2, 203.0.113.3\"" },
	[PROFILE_KEY_FAMILY] = { "family", true, "ipv4 or ipv6" },
	[PROFILE_KEY_OUTBOUND] = { "outbound", true,
		"all, no-udp, or tcp: then 1 to 8 ports separated by commas, e.g. tcp:80,443" },
	[PROFILE_KEY_PORTMAP] = { "portmap", true,
		"none, or one or more of upnp, natpmp, pcp separated by commas, e.g. \"upnp, natpmp\"" },
	[PROFILE_KEY_TRANSLATION] = { "translation", true,
		"napt, none (a firewall) or prefix (NPTv6, family ipv6 only)" },
};

static const char *name_of(const char *const *names, size_t n, int v)
{
	return (v >= 0 && (size_t)v < n && names[v]) ? names[v] : "?";
}

const char *profile_rfc3489_name(enum profile_rfc3489 v)
{
	return name_of(rfc3489_names, ARRAY_SIZE(rfc3489_names), (int)v);
}

const char *profile_dependency_name(enum profile_dependency v)
{
	return name_of(dependency_names, ARRAY_SIZE(dependency_names), (int)v);
}

const char *profile_ports_name(enum profile_ports v)
{
	return name_of(ports_names, ARRAY_SIZE(ports_names), (int)v);
}

const char *profile_unsolicited_name(enum profile_unsolicited v)
{
	return name_of(unsolicited_names, ARRAY_SIZE(unsolicited_names), (int)v);
}

const char *profile_family_name(enum profile_family v)
{
	return name_of(family_names, ARRAY_SIZE(family_names), (int)v);
}

const char *profile_translation_name(enum profile_translation v)
{
	return name_of(translation_names, ARRAY_SIZE(translation_names), (int)v);
}

const char *profile_key_name(enum profile_key k)
{
	return ((int)k >= 0 && k < PROFILE_KEY_COUNT) ? key_defs[k].name : "?";
}

char *profile_transports_format(unsigned transports, char *buf, size_t len)
{
	const char *s = "none";

	if ((transports & PROFILE_UDP) && (transports & PROFILE_TCP))
		s = "udp, tcp";
	else if (transports & PROFILE_UDP)
		s = "udp";
	else if (transports & PROFILE_TCP)
		s = "tcp";
	snprintf(buf, len, "%s", s);
	return buf;
}

enum profile_rfc3489 profile_rfc3489_of(enum profile_dependency mapping,
					enum profile_dependency filtering)
{
	/* RFC 3489's tests tell the cones apart only when the mapping stays the same for every
	 * remote; any other mapping makes its "Test I" to the changed address see a new mapped
	 * address, which it calls symmetric. */
	if (mapping != PROFILE_ENDPOINT_INDEPENDENT)
		return PROFILE_SYMMETRIC;
	switch (filtering) {
	case PROFILE_ENDPOINT_INDEPENDENT:
		return PROFILE_FULL_CONE;
	case PROFILE_ADDRESS_DEPENDENT:
		return PROFILE_RESTRICTED_CONE;
	default:
		return PROFILE_PORT_RESTRICTED_CONE;
	}
}

bool profile_predictable_of(enum profile_dependency mapping, enum profile_ports ports)
{
	return mapping == PROFILE_ENDPOINT_INDEPENDENT || ports == PROFILE_PORTS_PRESERVE ||
	       ports == PROFILE_PORTS_SEQUENTIAL;
}

/* Index of v in names, -1 when absent. */
static int lookup(const char *const *names, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], v) == 0)
			return (int)i;
	return -1;
}

/* A whole decimal number in [lo, hi]; -1 otherwise. */
static long parse_uint(const char *v, long lo, long hi)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)v[0]) || strlen(v) > 9)
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	return n;
}

/* "N" (both lifetimes) or "unreplied N, replied M" (in that order: the form conntrack's
 * policy is written in). Returns 0 or -1. */
static int parse_udp_timeout(const char *v, int *unreplied, int *replied)
{
	char u[16], r[16];
	long nu, nr;
	int end = 0;

	nu = parse_uint(v, 1, PROFILE_UDP_TIMEOUT_MAX);
	if (nu > 0) {
		*unreplied = *replied = (int)nu;
		return 0;
	}
	if (sscanf(v, "unreplied %15[0-9], replied %15[0-9]%n", u, r, &end) != 2 || v[end])
		return -1;
	nu = parse_uint(u, 1, PROFILE_UDP_TIMEOUT_MAX);
	nr = parse_uint(r, 1, PROFILE_UDP_TIMEOUT_MAX);
	if (nu < 0 || nr < 0)
		return -1;
	*unreplied = (int)nu;
	*replied = (int)nr;
	return 0;
}

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static bool valid_name(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > PROFILE_NAME_MAX || !isalnum((unsigned char)v[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '-'))
			return false;
	return true;
}

static int parse_transports(char *v, unsigned *out)
{
	unsigned seen = 0;
	char *save = NULL;

	if (!*v)
		return -1;
	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok);
		unsigned bit;

		if (strcmp(t, "udp") == 0)
			bit = PROFILE_UDP;
		else if (strcmp(t, "tcp") == 0)
			bit = PROFILE_TCP;
		else
			return -1;
		if (seen & bit)
			return -1;
		seen |= bit;
	}
	if (!seen)
		return -1;
	*out = seen;
	return 0;
}

/* "paired|arbitrary ADDR, ADDR...": 2 to PROFILE_POOL_MAX distinct dotted IPv4 addresses.
 * Returns 0 or -1. */
int profile_pooling_parse(const char *v, struct profile_header *h)
{
	char copy[LINE_MAX_LEN], *save = NULL, *tok;
	struct in_addr a;
	size_t n;

	if (strncmp(v, "paired ", 7) == 0) {
		h->pooling = PROFILE_POOLING_PAIRED;
		n = 7;
	} else if (strncmp(v, "arbitrary ", 10) == 0) {
		h->pooling = PROFILE_POOLING_ARBITRARY;
		n = 10;
	} else {
		return -1;
	}
	snprintf(copy, sizeof(copy), "%s", v + n);
	h->npool = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (h->npool == PROFILE_POOL_MAX || inet_pton(AF_INET, tok, &a) != 1 ||
		    strlen(tok) >= sizeof(h->pool[0]))
			return -1;
		for (int i = 0; i < h->npool; i++)
			if (strcmp(h->pool[i], tok) == 0)
				return -1;
		snprintf(h->pool[h->npool++], sizeof(h->pool[0]), "%s", tok);
	}
	return h->npool >= 2 ? 0 : -1;
}

int profile_outbound_parse(const char *v, struct profile_header *h)
{
	char copy[LINE_MAX_LEN];
	char *save = NULL;

	h->outbound_no_udp = false;
	h->outbound_nports = 0;
	if (strcmp(v, "all") == 0)
		return 0;
	if (strcmp(v, "no-udp") == 0) {
		h->outbound_no_udp = true;
		return 0;
	}
	if (strncmp(v, "tcp:", 4) != 0)
		return -1;
	snprintf(copy, sizeof(copy), "%s", v + 4);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long port = parse_uint(trim(tok), 1, 65535);

		if (port < 0 || h->outbound_nports == PROFILE_OUTBOUND_PORTS_MAX)
			return -1;
		for (int i = 0; i < h->outbound_nports; i++)
			if (h->outbound_ports[i] == port)
				return -1;
		h->outbound_ports[h->outbound_nports++] = (int)port;
	}
	if (h->outbound_nports == 0)
		return -1;
	/* only these TCP ports leave: no UDP either */
	h->outbound_no_udp = true;
	return 0;
}

bool profile_outbound_allows(const struct profile_header *h, bool tcp, int port)
{
	if (!h)
		return true;
	if (!tcp)
		return !h->outbound_no_udp;
	if (h->outbound_nports == 0)
		return true;
	for (int i = 0; i < h->outbound_nports; i++)
		if (h->outbound_ports[i] == port)
			return true;
	return false;
}

char *profile_outbound_format(const struct profile_header *h, char *buf, size_t len)
{
	size_t used;

	if (h->outbound_nports == 0) {
		snprintf(buf, len, "%s", h->outbound_no_udp ? "no-udp" : "all");
		return buf;
	}
	used = (size_t)snprintf(buf, len, "tcp:");
	for (int i = 0; i < h->outbound_nports && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "",
					 h->outbound_ports[i]);
	return buf;
}

/* Parse one value into h. Returns 0, or -EINVAL after adding a diagnostic. */
/* "none" or a comma-separated list of upnp, natpmp, pcp (each at most once) into *mask. */
int profile_portmap_parse(char *v, unsigned *mask)
{
	static const char *const names[] = { "upnp", "natpmp", "pcp" };

	*mask = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	/* strsep, not strtok: "upnp," has an empty item, which is an error */
	for (char *rest = v, *tok; (tok = strsep(&rest, ",")) != NULL;) {
		int i = lookup(names, ARRAY_SIZE(names), trim(tok));

		if (i < 0 || (*mask & (1u << i)))
			return -EINVAL;
		*mask |= 1u << i;
	}
	return 0;
}

char *profile_portmap_format(unsigned mask, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", mask ? "" : "none",
		 (mask & PROFILE_PORTMAP_UPNP) ? "upnp" : "",
		 (mask & PROFILE_PORTMAP_NATPMP) ? ((mask & PROFILE_PORTMAP_UPNP) ? ", natpmp" : "natpmp") : "",
		 (mask & PROFILE_PORTMAP_PCP) && (mask & 3u) ? ", " : "",
		 (mask & PROFILE_PORTMAP_PCP) ? "pcp" : "");
	return buf;
}

static int parse_value(struct profile_header *h, enum profile_key k, char *v, int line,
		       struct diag_list *dl)
{
	const struct key_def *kd = &key_defs[k];
	long n;
	int i = 0;

	if (!*v)
		return diag_add(dl, h->file, line, "%s: missing value: expected %s", kd->name,
				kd->expect);

	switch (k) {
	case PROFILE_KEY_NAME:
		if (!valid_name(v))
			goto bad;
		snprintf(h->name, sizeof(h->name), "%s", v);
		return 0;
	case PROFILE_KEY_RFC3489:
		i = lookup(rfc3489_names, ARRAY_SIZE(rfc3489_names), v);
		if (i < 0)
			goto bad;
		h->rfc3489 = (enum profile_rfc3489)i;
		return 0;
	case PROFILE_KEY_MAPPING:
	case PROFILE_KEY_FILTERING:
		i = lookup(dependency_names, DEPENDENCY_RFC4787, v);
		if (i < 0)
			goto bad;
		if (k == PROFILE_KEY_MAPPING)
			h->mapping = (enum profile_dependency)i;
		else
			h->filtering = (enum profile_dependency)i;
		return 0;
	case PROFILE_KEY_PORTS:
		i = lookup(ports_names, ARRAY_SIZE(ports_names), v);
		if (i < 0)
			goto bad;
		h->ports = (enum profile_ports)i;
		return 0;
	case PROFILE_KEY_STRIDE:
		n = parse_uint(v, 1, PROFILE_STRIDE_MAX);
		if (n < 0)
			goto bad;
		h->stride = (int)n;
		return 0;
	case PROFILE_KEY_HAIRPIN:
	case PROFILE_KEY_PREDICTABLE:
	case PROFILE_KEY_PORT_PARITY:
		i = lookup(bool_names, ARRAY_SIZE(bool_names), v);
		if (i < 0)
			goto bad;
		if (k == PROFILE_KEY_HAIRPIN)
			h->hairpin = i == 1;
		else if (k == PROFILE_KEY_PREDICTABLE)
			h->predictable = i == 1;
		else
			h->port_parity = i == 1;
		return 0;
	case PROFILE_KEY_POOLING:
		if (profile_pooling_parse(v, h) < 0)
			goto bad;
		return 0;
	case PROFILE_KEY_FAMILY:
		i = lookup(family_names, ARRAY_SIZE(family_names), v);
		if (i < 0)
			goto bad;
		h->family = (enum profile_family)i;
		return 0;
	case PROFILE_KEY_TRANSLATION:
		i = lookup(translation_names, ARRAY_SIZE(translation_names), v);
		if (i < 0)
			goto bad;
		h->translation = (enum profile_translation)i;
		return 0;
	case PROFILE_KEY_OUTBOUND:
		if (profile_outbound_parse(v, h) < 0)
			goto bad;
		return 0;
	case PROFILE_KEY_PORTMAP: {
		char copy[LINE_MAX_LEN];

		snprintf(copy, sizeof(copy), "%s", v);
		if (profile_portmap_parse(copy, &h->portmap) < 0)
			goto bad;
		return 0;
	}
	case PROFILE_KEY_PORT_BLOCK:
		n = parse_uint(v, 0, PROFILE_PORT_BLOCK_MAX);
		if (n < 0)
			goto bad;
		h->port_block = (int)n;
		return 0;
	case PROFILE_KEY_HAIRPIN_FILTERING:
		i = lookup(dependency_names, DEPENDENCY_HAIRPIN, v);
		if (i < 0)
			goto bad;
		h->hairpin_filtering = (enum profile_dependency)i;
		return 0;
	case PROFILE_KEY_TCP_UNSOLICITED:
		i = lookup(unsolicited_names, ARRAY_SIZE(unsolicited_names), v);
		if (i < 0)
			goto bad;
		h->tcp_unsolicited = (enum profile_unsolicited)i;
		return 0;
	case PROFILE_KEY_TRANSPORTS: {
		char copy[LINE_MAX_LEN];

		snprintf(copy, sizeof(copy), "%s", v);
		if (parse_transports(copy, &h->transports) < 0)
			goto bad;
		return 0;
	}
	case PROFILE_KEY_UDP_TIMEOUT:
		if (parse_udp_timeout(v, &h->udp_timeout_unreplied, &h->udp_timeout) < 0)
			goto bad;
		return 0;
	case PROFILE_KEY_DESCRIPTION:
		if (strlen(v) > PROFILE_DESCRIPTION_MAX)
			return diag_add(dl, h->file, line,
					"description: %zu characters: expected %s", strlen(v),
					kd->expect);
		snprintf(h->description, sizeof(h->description), "%s", v);
		return 0;
	case PROFILE_KEY_COUNT:
		break;
	}
bad:
	return diag_add(dl, h->file, line, "%s: unknown value \"%s\": expected %s", kd->name, v,
			kd->expect);
}

static void list_keys(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int k = 0; k < PROFILE_KEY_COUNT && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "",
					 key_defs[k].name);
}

/* One header line, without the leading '#'. Returns 0 or -EINVAL (diagnostic added). */
static int parse_line(struct profile_header *h, char *text, int line, bool ok[],
		      struct diag_list *dl)
{
	char *colon = strchr(text, ':');
	char *key, *value;
	int k;

	if (!colon)
		return diag_add(dl, h->file, line,
				"expected \"# key: value\" in the header (a line holding only "
				"'#' ends the header; free text goes after it)");
	*colon = '\0';
	key = trim(text);
	value = trim(colon + 1);
	for (k = 0; k < PROFILE_KEY_COUNT; k++)
		if (strcmp(key, key_defs[k].name) == 0)
			break;
	if (k == PROFILE_KEY_COUNT) {
		char keys[256];

		list_keys(keys, sizeof(keys));
		return diag_add(dl, h->file, line, "unknown key \"%s\": expected one of %s", key,
				keys);
	}
	if (h->line[k])
		return diag_add(dl, h->file, line, "%s: duplicate key (first given at line %d)",
				key_defs[k].name, h->line[k]);
	h->line[k] = line;
	if (parse_value(h, (enum profile_key)k, value, line, dl) == 0)
		ok[k] = true;
	return ok[k] ? 0 : -EINVAL;
}

/* Checks between keys, made only when the keys involved parsed. */
static void check_consistency(struct profile_header *h, const bool ok[], struct diag_list *dl)
{
	if (ok[PROFILE_KEY_RFC3489] && ok[PROFILE_KEY_MAPPING] && ok[PROFILE_KEY_FILTERING]) {
		enum profile_rfc3489 want = profile_rfc3489_of(h->mapping, h->filtering);

		if (want != h->rfc3489)
			diag_add(dl, h->file, h->line[PROFILE_KEY_RFC3489],
				 "rfc3489: %s contradicts mapping %s and filtering %s: expected %s",
				 profile_rfc3489_name(h->rfc3489),
				 profile_dependency_name(h->mapping),
				 profile_dependency_name(h->filtering), profile_rfc3489_name(want));
	}
	/* hairpin-filtering refines hairpin: a NAT that hairpins says whom it lets through (the
	 * theory of a shared outer NAT depends on it), one that does not can only say none */
	if (ok[PROFILE_KEY_HAIRPIN] && h->hairpin && !h->line[PROFILE_KEY_HAIRPIN_FILTERING])
		diag_add(dl, h->file, h->end_line, "missing key \"hairpin-filtering\" (hairpin is "
			 "yes): expected endpoint-independent, address-dependent or "
			 "address-and-port-dependent");
	if (ok[PROFILE_KEY_HAIRPIN] && ok[PROFILE_KEY_HAIRPIN_FILTERING] &&
	    h->hairpin != (h->hairpin_filtering != PROFILE_DEPENDENCY_NONE))
		diag_add(dl, h->file, h->line[PROFILE_KEY_HAIRPIN_FILTERING],
			 "hairpin-filtering: %s contradicts hairpin %s: expected %s",
			 profile_dependency_name(h->hairpin_filtering), h->hairpin ? "yes" : "no",
			 h->hairpin ? "endpoint-independent, address-dependent or "
				      "address-and-port-dependent" : "none (or no hairpin-filtering line)");
	/* pool addresses are dotted IPv4 (struct profile_header's pool) */
	if (ok[PROFILE_KEY_POOLING] && ok[PROFILE_KEY_FAMILY] && h->family != PROFILE_FAMILY_IPV4 &&
	    h->pooling != PROFILE_POOLING_NONE)
		diag_add(dl, h->file, h->line[PROFILE_KEY_POOLING],
			 "pooling: only for family ipv4 (family is %s): expected no pooling line",
			 profile_family_name(h->family));
	/* NPTv6 is IPv6's (RFC 6296); IPv4 has no prefix translation worth the name */
	if (ok[PROFILE_KEY_TRANSLATION] && ok[PROFILE_KEY_FAMILY] &&
	    h->translation == PROFILE_TRANSLATION_PREFIX && h->family != PROFILE_FAMILY_IPV6)
		diag_add(dl, h->file, h->line[PROFILE_KEY_TRANSLATION],
			 "translation: prefix is NPTv6, for family ipv6 only (family is %s): expected "
			 "napt or none, or family: ipv6", profile_family_name(h->family));
	/* nothing translated: the public endpoint is the host's own, whatever else is said */
	if (ok[PROFILE_KEY_TRANSLATION] && ok[PROFILE_KEY_MAPPING] && ok[PROFILE_KEY_PORTS] &&
	    h->translation != PROFILE_TRANSLATION_NAPT &&
	    (h->mapping != PROFILE_ENDPOINT_INDEPENDENT || h->ports != PROFILE_PORTS_PRESERVE))
		diag_add(dl, h->file, h->line[PROFILE_KEY_TRANSLATION],
			 "translation: %s keeps every port and maps each internal endpoint to one "
			 "public endpoint, but mapping is %s and ports %s: expected mapping "
			 "endpoint-independent and ports preserve",
			 profile_translation_name(h->translation),
			 profile_dependency_name(h->mapping), profile_ports_name(h->ports));
	if (ok[PROFILE_KEY_STRIDE] && ok[PROFILE_KEY_PORTS] &&
	    h->ports != PROFILE_PORTS_SEQUENTIAL)
		diag_add(dl, h->file, h->line[PROFILE_KEY_STRIDE],
			 "stride: only meaningful with ports: sequential (ports is %s)",
			 profile_ports_name(h->ports));
}

int profile_header_parse_buffer(struct profile_header *h, const char *name, const char *buf,
				size_t len, struct diag_list *dl)
{
	bool ok[PROFILE_KEY_COUNT] = { false };
	int saved_count = dl->count, saved_dropped = dl->dropped;
	int errors = dl->count + dl->dropped;
	bool any = false;
	size_t pos = 0;
	int line = 0;
	bool in_header = true;

	memset(h, 0, sizeof(*h));
	snprintf(h->file, sizeof(h->file), "%s", name ? name : "-");
	h->stride = 1;
	h->hairpin_filtering = PROFILE_DEPENDENCY_UNDECLARED;

	while (pos < len && in_header) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		char text[LINE_MAX_LEN];

		pos += n + (nl ? 1 : 0);
		line++;
		if (n == 0 || start[0] != '#') {
			in_header = false; /* a blank line or the ruleset: the header is over */
			break;
		}
		if (line == 1 && n >= 2 && start[1] == '!')
			continue; /* #!/usr/sbin/nft -f */
		if (n >= sizeof(text)) {
			diag_add(dl, h->file, line, "header line longer than %zu characters",
				 sizeof(text) - 1);
			continue;
		}
		memcpy(text, start + 1, n - 1);
		text[n - 1] = '\0';
		if (!*trim(text)) {
			in_header = false; /* "#" alone: the separator before free text */
			break;
		}
		parse_line(h, text, line, ok, dl);
	}
	/* The first line after the header (or one past the last line of the file). */
	h->end_line = in_header ? line + 1 : line;

	for (int k = 0; k < PROFILE_KEY_COUNT; k++)
		any = any || h->line[k];
	if (!any) {
		/* Not one known key: this is no header (a file of free comments, or none at all).
		 * Say that once instead of one error per comment line and per missing key. */
		dl->count = saved_count;
		dl->dropped = saved_dropped;
		return diag_add(dl, h->file, 1,
				"no profile header: expected \"# key: value\" lines at the top of "
				"the file (name, rfc3489, mapping, filtering, ports, hairpin, "
				"hairpin-filtering, tcp-unsolicited, predictable, transports, udp-timeout, "
				"description; docs/profile-format.md)");
	}
	for (int k = 0; k < PROFILE_KEY_COUNT; k++)
		if (!h->line[k] && !key_defs[k].optional)
			diag_add(dl, h->file, h->end_line, "missing key \"%s\": expected %s",
				 key_defs[k].name, key_defs[k].expect);
	check_consistency(h, ok, dl);
	return dl->count + dl->dropped == errors ? 0 : -EINVAL;
}

int profile_header_parse_file(struct profile_header *h, const char *path, struct diag_list *dl)
{
	char *buf = NULL;
	size_t used = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		memset(h, 0, sizeof(*h));
		diag_add(dl, path, 0, "cannot read profile: %s", strerror(-ret));
		return ret;
	}
	buf = malloc(PROFILE_READ_MAX);
	if (!buf) {
		ret = -ENOMEM;
		diag_add(dl, path, 0, "cannot read profile: %s", strerror(ENOMEM));
		goto out;
	}
	while (used < PROFILE_READ_MAX) {
		ssize_t r = read(fd, buf + used, PROFILE_READ_MAX - used);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			diag_add(dl, path, 0, "cannot read profile: %s", strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	if (used == 0) {
		ret = diag_add(dl, path, 0, "empty file: expected a profile header "
				 "(docs/profile-format.md)");
		goto out;
	}
	ret = profile_header_parse_buffer(h, path, buf, used, dl);
out:
	free(buf);
	close(fd);
	return ret;
}

int profile_family_of_file(const char *path)
{
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct profile_header h;
	int ret = -1;

	if (dl && profile_header_parse_file(&h, path, dl) == 0)
		ret = (int)h.family;
	free(dl);
	return ret;
}

int profile_udp_unreplied(const struct profile_header *h)
{
	return h->udp_timeout_unreplied ? h->udp_timeout_unreplied : h->udp_timeout;
}

char *profile_udp_timeout_format(const struct profile_header *h, char *buf, size_t len)
{
	if (profile_udp_unreplied(h) == h->udp_timeout)
		snprintf(buf, len, "%d", h->udp_timeout);
	else
		snprintf(buf, len, "unreplied %d, replied %d", h->udp_timeout_unreplied,
			 h->udp_timeout);
	return buf;
}
