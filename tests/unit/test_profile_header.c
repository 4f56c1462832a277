/* Unit tests of the profile header parser (src/nft/profile.c): good and bad headers, one table
 * row each, then every profile shipped in nat-profiles/ and every test profile in
 * tests/data/profiles/. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "nft/profile.h"

/* The lines of a complete, valid header, so that a case can swap one of them. */
#define H_NAME "# name: test-profile\n"
#define H_RFC "# rfc3489: port-restricted-cone\n"
#define H_MAP "# mapping: endpoint-independent\n"
#define H_FILT "# filtering: address-and-port-dependent\n"
#define H_PORTS "# ports: preserve\n"
#define H_HAIR "# hairpin: no\n"
#define H_TCPU "# tcp-unsolicited: drop\n"
#define H_PRED "# predictable: yes\n"
#define H_TRANS "# transports: udp, tcp\n"
#define H_TMO "# udp-timeout: 30\n"
#define H_DESC "# description: a test profile\n"
#define RULES "#\n# free text: not a key\n\ntable ip punchlab_nat {\n}\n"
#define HEADER(...) __VA_ARGS__ RULES
#define ALL H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS H_TMO H_DESC

struct header_case {
	const char *what;
	const char *text;
	int ret;          /* 0 or -EINVAL */
	int nerrors;      /* diagnostics expected (bad cases) */
	int line;         /* line of the first diagnostic */
	const char *msg;  /* substring of the first diagnostic */
};

static const struct header_case cases[] = {
	{ "complete header", HEADER(ALL), 0, 0, 0, NULL },
	{ "shebang, CRLF line ends and extra blanks",
	  "#!/usr/sbin/nft -f\r\n#  name:   test-profile  \r\n" H_RFC H_MAP H_FILT H_PORTS H_HAIR
	  H_TCPU H_PRED "#transports:tcp,udp\r\n" H_TMO H_DESC "#\r\n",
	  0, 0, 0, NULL },
	{ "ruleset right after the header", ALL "table ip punchlab_nat {\n}\n", 0, 0, 0, NULL },
	{ "header is the whole file, no final newline", ALL "# udp-timeout-extra: 5", -EINVAL, 1, 12,
	  "unknown key \"udp-timeout-extra\"" },
	{ "sequential with stride",
	  HEADER(H_NAME "# rfc3489: symmetric\n# mapping: address-and-port-dependent\n" H_FILT
		 "# ports: sequential\n# stride: 3\n" H_HAIR H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  0, 0, 0, NULL },
	{ "no header at all", "table ip punchlab_nat {\n}\n", -EINVAL, 1, 1, "no profile header" },
	{ "only free comments", "# A NAT profile.\n# It does things.\n\ntable ip t {\n}\n", -EINVAL,
	  1, 1, "no profile header" },
	{ "empty buffer", "", -EINVAL, 1, 1, "no profile header" },
	{ "unknown key",
	  HEADER(H_NAME H_RFC "# mappping: endpoint-independent\n" H_FILT H_PORTS H_HAIR H_TCPU
		 H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 2, 3, "unknown key \"mappping\": expected one of name, rfc3489, mapping" },
	{ "unknown mapping value",
	  HEADER(H_NAME H_RFC "# mapping: endpoint-indep\n" H_FILT H_PORTS H_HAIR H_TCPU H_PRED
		 H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 3,
	  "mapping: unknown value \"endpoint-indep\": expected endpoint-independent, "
	  "address-dependent or address-and-port-dependent" },
	{ "value in capitals",
	  HEADER("# name: test-profile\n# rfc3489: Full-Cone\n" H_MAP
		 "# filtering: endpoint-independent\n" H_PORTS H_HAIR H_TCPU H_PRED H_TRANS H_TMO
			 H_DESC),
	  -EINVAL, 1, 2, "rfc3489: unknown value \"Full-Cone\"" },
	{ "missing key",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS H_DESC), -EINVAL,
	  1, 11, "missing key \"udp-timeout\": expected whole seconds" },
	{ "two missing keys, both reported",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_HAIR H_TCPU H_PRED H_TRANS H_DESC), -EINVAL, 2, 10,
	  "missing key \"ports\"" },
	{ "duplicate key", HEADER(ALL H_HAIR), -EINVAL, 1, 12,
	  "hairpin: duplicate key (first given at line 6)" },
	{ "rfc3489 contradicts mapping and filtering",
	  HEADER(H_NAME "# rfc3489: full-cone\n" H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS
		 H_TMO H_DESC),
	  -EINVAL, 1, 2,
	  "rfc3489: full-cone contradicts mapping endpoint-independent and filtering "
	  "address-and-port-dependent: expected port-restricted-cone" },
	{ "symmetric must not have an endpoint-independent mapping",
	  HEADER(H_NAME "# rfc3489: symmetric\n" H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS
		 H_TMO H_DESC),
	  -EINVAL, 1, 2, "expected port-restricted-cone" },
	{ "stride without sequential ports", HEADER(ALL "# stride: 2\n"), -EINVAL, 1, 12,
	  "stride: only meaningful with ports: sequential (ports is preserve)" },
	{ "stride zero",
	  HEADER(H_NAME "# rfc3489: symmetric\n# mapping: address-and-port-dependent\n" H_FILT
		 "# ports: sequential\n# stride: 0\n" H_HAIR H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 6, "stride: unknown value \"0\": expected a whole number from 1 to 1024" },
	{ "udp-timeout with a unit",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS
		 "# udp-timeout: 30s\n" H_DESC),
	  -EINVAL, 1, 10, "udp-timeout: unknown value \"30s\": expected whole seconds" },
	{ "udp-timeout out of range",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS
		 "# udp-timeout: 0\n" H_DESC),
	  -EINVAL, 1, 10, "udp-timeout: unknown value \"0\"" },
	{ "unknown transport",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED "# transports: udp, sctp\n"
		 H_TMO H_DESC),
	  -EINVAL, 1, 9, "transports: unknown value \"udp, sctp\"" },
	{ "transport twice",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED "# transports: udp,udp\n"
		 H_TMO H_DESC),
	  -EINVAL, 1, 9, "transports: unknown value" },
	{ "tcp-unsolicited reject is not a value",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR "# tcp-unsolicited: reject\n" H_PRED
		 H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 7, "tcp-unsolicited: unknown value \"reject\": expected drop or rst" },
	{ "hairpin true is not a value",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS "# hairpin: true\n" H_TCPU H_PRED H_TRANS H_TMO
		 H_DESC),
	  -EINVAL, 1, 6, "hairpin: unknown value \"true\": expected yes or no" },
	{ "hairpin without hairpin-filtering",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS "# hairpin: yes\n" H_TCPU H_PRED H_TRANS H_TMO
		 H_DESC),
	  -EINVAL, 1, 12, "missing key \"hairpin-filtering\" (hairpin is yes)" },
	{ "hairpin-filtering of a NAT that does not hairpin",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR "# hairpin-filtering: endpoint-independent\n"
		 H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 7,
	  "hairpin-filtering: endpoint-independent contradicts hairpin no: expected none" },
	{ "hairpin-filtering none with hairpin",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS "# hairpin: yes\n# hairpin-filtering: none\n"
		 H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 7, "hairpin-filtering: none contradicts hairpin yes" },
	{ "hairpin-filtering none without hairpin",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR "# hairpin-filtering: none\n" H_TCPU
		 H_PRED H_TRANS H_TMO H_DESC),
	  0, 0, 0, NULL },
	{ "hairpin-filtering undeclared is not a value",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR "# hairpin-filtering: undeclared\n"
		 H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 7,
	  "hairpin-filtering: unknown value \"undeclared\": expected endpoint-independent, "
	  "address-dependent, address-and-port-dependent or none" },
	{ "filtering none is not a value",
	  HEADER(H_NAME H_RFC H_MAP "# filtering: none\n" H_PORTS H_HAIR H_TCPU H_PRED H_TRANS H_TMO
		 H_DESC),
	  -EINVAL, 1, 4, "filtering: unknown value \"none\"" },
	{ "empty value",
	  HEADER(H_NAME H_RFC H_MAP H_FILT "# ports:\n" H_HAIR H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 5, "ports: missing value: expected preserve, sequential or random" },
	{ "bad name", HEADER("# name: Full Cone\n" H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED
			     H_TRANS H_TMO H_DESC),
	  -EINVAL, 1, 1, "name: unknown value \"Full Cone\"" },
	{ "free text before the separator",
	  HEADER(ALL "# This NAT is special.\n"), -EINVAL, 1, 12,
	  "expected \"# key: value\" in the header" },
	{ "description too long",
	  HEADER(H_NAME H_RFC H_MAP H_FILT H_PORTS H_HAIR H_TCPU H_PRED H_TRANS H_TMO
		 "# description: "
		 "0123456789012345678901234567890123456789012345678901234567890123456789"
		 "0123456789012345678901234567890123456789012345678901234567890123456789"
		 "0123456789012345678901234567890123456789012345678901234567890123456789"
		 "0123456789012345678901234567890123456789012345678901234567890123456789\n"),
	  -EINVAL, 1, 11, "description: 280 characters: expected one line of text" },
	{ "family ipv6", HEADER(ALL "# family: ipv6\n"), 0, 0, 0, NULL },
	{ "family ipv4 written out", HEADER(ALL "# family: ipv4\n"), 0, 0, 0, NULL },
	{ "unknown family", HEADER(ALL "# family: inet6\n"), -EINVAL, 1, 12,
	  "family: unknown value \"inet6\": expected ipv4 or ipv6" },
	{ "pooling needs family ipv4",
	  HEADER(ALL "# family: ipv6\n# pooling: paired 203.0.113.2, 203.0.113.3\n"), -EINVAL, 1,
	  13, "pooling: only for family ipv4 (family is ipv6)" },
	{ "outbound: no-udp", HEADER(ALL "# outbound: no-udp\n"), 0, 0, 0, NULL },
	{ "outbound: a tcp port list", HEADER(ALL "# outbound: tcp:80, 443\n"), 0, 0, 0, NULL },
	{ "outbound: unknown value", HEADER(ALL "# outbound: udp-only\n"), -EINVAL, 1, 12,
	  "outbound: unknown value \"udp-only\": expected all, no-udp, or tcp:" },
	{ "outbound: port out of range", HEADER(ALL "# outbound: tcp:80,65536\n"), -EINVAL, 1, 12,
	  "outbound: unknown value \"tcp:80,65536\"" },
	{ "outbound: empty port list", HEADER(ALL "# outbound: tcp:\n"), -EINVAL, 1, 12,
	  "outbound: unknown value \"tcp:\"" },
	{ "outbound: a port twice", HEADER(ALL "# outbound: tcp:443,443\n"), -EINVAL, 1, 12,
	  "outbound: unknown value \"tcp:443,443\"" },
	{ "outbound: nine ports", HEADER(ALL "# outbound: tcp:1,2,3,4,5,6,7,8,9\n"), -EINVAL, 1, 12,
	  "outbound: unknown value" },
	{ "every error of a bad header is reported",
	  HEADER("# name: x\n# rfc3489: cone\n# mapping: eim\n" H_FILT "# ports: odd\n" H_HAIR
		 H_TCPU H_PRED H_TRANS H_TMO H_DESC),
	  -EINVAL, 3, 2, "rfc3489: unknown value \"cone\"" },
};

static void test_header_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct header_case *c = &cases[i];
		struct profile_header h;
		struct diag_list dl = { .count = 0 };
		int ret = profile_header_parse_buffer(&h, "case.nft", c->text, strlen(c->text), &dl);

		if (ret != c->ret || dl.count != c->nerrors ||
		    (c->nerrors && (dl.items[0].line != c->line ||
				    !strstr(dl.items[0].msg, c->msg)))) {
			print_error("case \"%s\": ret %d (want %d), %d errors (want %d)\n", c->what,
				    ret, c->ret, dl.count, c->nerrors);
			for (int j = 0; j < dl.count; j++)
				print_error("  %s:%d: %s\n", dl.items[j].file, dl.items[j].line,
					    dl.items[j].msg);
			if (c->nerrors)
				print_error("  want line %d: ...%s...\n", c->line, c->msg);
			fail();
		}
		if (c->nerrors)
			assert_string_equal(dl.items[0].file, "case.nft");
	}
}

static void test_values(void **state)
{
	const char *text = HEADER(H_NAME "# rfc3489: symmetric\n"
				  "# mapping: address-dependent\n"
				  "# filtering: address-dependent\n"
				  "# ports: sequential\n# stride: 7\n# hairpin: yes\n"
				  "# hairpin-filtering: address-dependent\n"
				  "# tcp-unsolicited: rst\n# predictable: no\n"
				  "# transports: tcp\n# udp-timeout: 86400\n"
				  "# description: values: with a colon\n");
	struct profile_header h;
	struct diag_list dl = { .count = 0 };
	char buf[32];

	(void)state;
	assert_int_equal(profile_header_parse_buffer(&h, "v.nft", text, strlen(text), &dl), 0);
	assert_string_equal(h.name, "test-profile");
	assert_int_equal(h.rfc3489, PROFILE_SYMMETRIC);
	assert_int_equal(h.mapping, PROFILE_ADDRESS_DEPENDENT);
	assert_int_equal(h.filtering, PROFILE_ADDRESS_DEPENDENT);
	assert_int_equal(h.ports, PROFILE_PORTS_SEQUENTIAL);
	assert_int_equal(h.stride, 7);
	assert_true(h.hairpin);
	assert_int_equal(h.hairpin_filtering, PROFILE_ADDRESS_DEPENDENT);
	assert_int_equal(h.line[PROFILE_KEY_HAIRPIN_FILTERING], 8);
	assert_int_equal(h.tcp_unsolicited, PROFILE_UNSOLICITED_RST);
	assert_false(h.predictable);
	assert_int_equal(h.transports, PROFILE_TCP);
	assert_int_equal(h.udp_timeout, 86400);
	assert_string_equal(h.description, "values: with a colon");
	assert_int_equal(h.line[PROFILE_KEY_STRIDE], 6);
	assert_int_equal(h.line[PROFILE_KEY_DESCRIPTION], 13);
	assert_int_equal(h.end_line, 14);
	assert_string_equal(profile_transports_format(PROFILE_UDP | PROFILE_TCP, buf, sizeof(buf)),
			    "udp, tcp");
}

/* outbound: parsed into the header, read back by profile_outbound_allows() and the header
 * spelling; absent, everything leaves. */
static void test_outbound(void **state)
{
	const char *web = HEADER(ALL "# outbound: tcp:80,443\n");
	const char *noudp = HEADER(ALL "# outbound: no-udp\n");
	const char *plain = HEADER(ALL);
	struct profile_header h;
	struct diag_list dl = { .count = 0 };
	char buf[64];

	(void)state;
	assert_int_equal(profile_header_parse_buffer(&h, "w.nft", web, strlen(web), &dl), 0);
	assert_int_equal(h.line[PROFILE_KEY_OUTBOUND], 12);
	assert_false(profile_outbound_allows(&h, false, 3478));
	assert_false(profile_outbound_allows(&h, false, 443));
	assert_true(profile_outbound_allows(&h, true, 443));
	assert_true(profile_outbound_allows(&h, true, 80));
	assert_false(profile_outbound_allows(&h, true, 3478));
	assert_string_equal(profile_outbound_format(&h, buf, sizeof(buf)), "tcp:80,443");

	assert_int_equal(profile_header_parse_buffer(&h, "u.nft", noudp, strlen(noudp), &dl), 0);
	assert_false(profile_outbound_allows(&h, false, 3478));
	assert_true(profile_outbound_allows(&h, true, 3478));
	assert_string_equal(profile_outbound_format(&h, buf, sizeof(buf)), "no-udp");

	assert_int_equal(profile_header_parse_buffer(&h, "p.nft", plain, strlen(plain), &dl), 0);
	assert_int_equal(h.line[PROFILE_KEY_OUTBOUND], 0);
	assert_true(profile_outbound_allows(&h, false, 3478));
	assert_true(profile_outbound_allows(&h, true, 12345));
	assert_string_equal(profile_outbound_format(&h, buf, sizeof(buf)), "all");
	assert_true(profile_outbound_allows(NULL, false, 1));
	assert_int_equal(dl.count, 0);
}

static void test_defaults_and_names(void **state)
{
	const char *text = HEADER(ALL);
	struct profile_header h;
	struct diag_list dl = { .count = 0 };

	(void)state;
	assert_int_equal(profile_header_parse_buffer(&h, "d.nft", text, strlen(text), &dl), 0);
	assert_int_equal(h.stride, 1);
	assert_int_equal(h.transports, PROFILE_UDP | PROFILE_TCP);
	assert_int_equal(h.line[PROFILE_KEY_STRIDE], 0);
	/* absent with hairpin: no */
	assert_int_equal(h.hairpin_filtering, PROFILE_DEPENDENCY_UNDECLARED);
	assert_int_equal(h.line[PROFILE_KEY_HAIRPIN_FILTERING], 0);
	assert_string_equal(profile_key_name(PROFILE_KEY_HAIRPIN_FILTERING), "hairpin-filtering");
	/* no family line: IPv4, so every header written before the key existed stays valid */
	assert_int_equal(h.family, PROFILE_FAMILY_IPV4);
	assert_int_equal(h.line[PROFILE_KEY_FAMILY], 0);
	assert_string_equal(profile_family_name(PROFILE_FAMILY_IPV6), "ipv6");
	assert_string_equal(profile_key_name(PROFILE_KEY_FAMILY), "family");
	assert_string_equal(profile_dependency_name(PROFILE_DEPENDENCY_NONE), "none");
	assert_string_equal(profile_rfc3489_name(PROFILE_PORT_RESTRICTED_CONE),
			    "port-restricted-cone");
	assert_string_equal(profile_dependency_name(PROFILE_ADDRESS_AND_PORT_DEPENDENT),
			    "address-and-port-dependent");
	assert_string_equal(profile_ports_name(PROFILE_PORTS_RANDOM), "random");
	assert_string_equal(profile_unsolicited_name(PROFILE_UNSOLICITED_RST), "rst");
	assert_string_equal(profile_key_name(PROFILE_KEY_TCP_UNSOLICITED), "tcp-unsolicited");
	assert_string_equal(profile_key_name(PROFILE_KEY_COUNT), "?");
	assert_string_equal(profile_ports_name((enum profile_ports)42), "?");
	assert_int_equal(profile_rfc3489_of(PROFILE_ENDPOINT_INDEPENDENT,
					    PROFILE_ENDPOINT_INDEPENDENT), PROFILE_FULL_CONE);
	assert_int_equal(profile_rfc3489_of(PROFILE_ENDPOINT_INDEPENDENT,
					    PROFILE_ADDRESS_DEPENDENT), PROFILE_RESTRICTED_CONE);
	assert_int_equal(profile_rfc3489_of(PROFILE_ADDRESS_DEPENDENT,
					    PROFILE_ENDPOINT_INDEPENDENT), PROFILE_SYMMETRIC);
	assert_true(profile_predictable_of(PROFILE_ENDPOINT_INDEPENDENT, PROFILE_PORTS_RANDOM));
	assert_true(profile_predictable_of(PROFILE_ADDRESS_AND_PORT_DEPENDENT,
					   PROFILE_PORTS_SEQUENTIAL));
	assert_false(profile_predictable_of(PROFILE_ADDRESS_AND_PORT_DEPENDENT,
					    PROFILE_PORTS_RANDOM));
}

static void test_missing_file(void **state)
{
	struct profile_header h;
	struct diag_list dl = { .count = 0 };

	(void)state;
	assert_int_equal(profile_header_parse_file(&h, PUNCHLAB_SOURCE_DIR "/nat-profiles/nope.nft",
						   &dl),
			 -ENOENT);
	assert_int_equal(dl.count, 1);
	assert_non_null(strstr(dl.items[0].msg, "cannot read profile"));
}

/* Parse every *.nft of a directory; the header's name must be the file's name. */
static int parse_dir(const char *dir, int *nfiles)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int bad = 0;

	assert_non_null(d);
	*nfiles = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char path[1024], stem[256];
		struct profile_header h;
		struct diag_list dl = { .count = 0 };

		if (n < 5 || strcmp(e->d_name + n - 4, ".nft") != 0)
			continue;
		(*nfiles)++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(stem, sizeof(stem), "%.*s", (int)(n - 4), e->d_name);
		if (profile_header_parse_file(&h, path, &dl) != 0) {
			for (int j = 0; j < dl.count; j++)
				print_error("%s:%d: %s\n", dl.items[j].file, dl.items[j].line,
					    dl.items[j].msg);
			bad++;
		} else if (strcmp(h.name, stem) != 0) {
			print_error("%s: name \"%s\" is not the file's name\n", path, h.name);
			bad++;
		}
	}
	closedir(d);
	return bad;
}

static void test_shipped_profiles(void **state)
{
	static const struct {
		const char *name;
		enum profile_rfc3489 rfc3489;
		enum profile_ports ports;
		bool hairpin;
		enum profile_unsolicited tcp;
		enum profile_family family; /* IPv4 (0) unless written */
	} want[] = {
		{ "full-cone", PROFILE_FULL_CONE, PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP },
		{ "restricted-cone", PROFILE_RESTRICTED_CONE, PROFILE_PORTS_PRESERVE, false,
		  PROFILE_UNSOLICITED_DROP },
		{ "port-restricted-cone", PROFILE_PORT_RESTRICTED_CONE, PROFILE_PORTS_PRESERVE, false,
		  PROFILE_UNSOLICITED_DROP },
		{ "symmetric", PROFILE_SYMMETRIC, PROFILE_PORTS_RANDOM, false, PROFILE_UNSOLICITED_DROP },
		{ "symmetric-sequential", PROFILE_SYMMETRIC, PROFILE_PORTS_SEQUENTIAL, false,
		  PROFILE_UNSOLICITED_DROP },
		{ "port-restricted-cone-rst", PROFILE_PORT_RESTRICTED_CONE, PROFILE_PORTS_PRESERVE, false,
		  PROFILE_UNSOLICITED_RST },
		{ "full-cone-hairpin", PROFILE_FULL_CONE, PROFILE_PORTS_PRESERVE, true,
		  PROFILE_UNSOLICITED_DROP },
		{ "symmetric-port-range", PROFILE_SYMMETRIC, PROFILE_PORTS_RANDOM, false,
		  PROFILE_UNSOLICITED_DROP },
		{ "cgn", PROFILE_PORT_RESTRICTED_CONE, PROFILE_PORTS_PRESERVE, true,
		  PROFILE_UNSOLICITED_DROP, PROFILE_FAMILY_IPV4 },
		{ "ipv6-firewall", PROFILE_FULL_CONE, PROFILE_PORTS_PRESERVE, false,
		  PROFILE_UNSOLICITED_DROP, PROFILE_FAMILY_IPV6 },
		{ "ipv6-firewall-ad", PROFILE_RESTRICTED_CONE, PROFILE_PORTS_PRESERVE, false,
		  PROFILE_UNSOLICITED_DROP, PROFILE_FAMILY_IPV6 },
		{ "nat66", PROFILE_PORT_RESTRICTED_CONE, PROFILE_PORTS_PRESERVE, false,
		  PROFILE_UNSOLICITED_DROP, PROFILE_FAMILY_IPV6 },
	};
	int n;

	(void)state;
	assert_int_equal(parse_dir(PUNCHLAB_SOURCE_DIR "/nat-profiles", &n), 0);
	assert_true(n >= (int)(sizeof(want) / sizeof(want[0])));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char path[512];
		struct profile_header h;
		struct diag_list dl = { .count = 0 };

		snprintf(path, sizeof(path), "%s/nat-profiles/%s.nft", PUNCHLAB_SOURCE_DIR,
			 want[i].name);
		assert_int_equal(profile_header_parse_file(&h, path, &dl), 0);
		assert_int_equal(h.rfc3489, want[i].rfc3489);
		assert_int_equal(h.ports, want[i].ports);
		assert_int_equal(h.hairpin, want[i].hairpin);
		assert_int_equal(h.tcp_unsolicited, want[i].tcp);
		assert_int_equal(h.transports, PROFILE_UDP | PROFILE_TCP);
		assert_int_equal(h.predictable, profile_predictable_of(h.mapping, h.ports));
		assert_int_equal(h.stride, 1);
		assert_int_equal(h.family, want[i].family);
	}
}

static void test_test_profiles(void **state)
{
	struct profile_header h;
	struct diag_list dl = { .count = 0 };
	int n;

	(void)state;
	assert_int_equal(parse_dir(PUNCHLAB_SOURCE_DIR "/tests/data/profiles", &n), 0);
	assert_true(n >= 6);
	assert_int_equal(profile_header_parse_file(
				 &h, PUNCHLAB_SOURCE_DIR "/tests/data/profiles/sequential-stride3.nft",
				 &dl),
			 0);
	assert_int_equal(h.ports, PROFILE_PORTS_SEQUENTIAL);
	assert_int_equal(h.stride, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_cases),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_outbound),
		cmocka_unit_test(test_defaults_and_names),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_shipped_profiles),
		cmocka_unit_test(test_test_profiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
