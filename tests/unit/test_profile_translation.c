/* Unit tests of the header key translation (src/nft/profile.c), of the lab classify picks for
 * it (classify_default_topology) and of the lab's check that a node's addressing fits it
 * (lab_translation_check, src/lab/translation.c) with the shipped profiles and topologies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/classify.h"
#include "lab/lab_internal.h"
#include "nft/profile.h"

/* A valid header but for the keys given; rfc3489 follows the mapping (E... endpoint-independent:
 * a port-restricted cone, else symmetric). translation is line 13. */
#define PRC "port-restricted-cone"
#define SYM "symmetric"
#define BASE5(RFC, MAP, PORTS, FAMILY, TRANSLATION)                                                \
	"# name: t\n# rfc3489: " RFC "\n# mapping: " MAP "\n"                                       \
	"# filtering: address-and-port-dependent\n# ports: " PORTS "\n# hairpin: no\n"              \
	"# tcp-unsolicited: drop\n# predictable: yes\n# transports: udp, tcp\n"                     \
	"# udp-timeout: 30\n# description: d\n# family: " FAMILY "\n" TRANSLATION "#\n"
#define BASE(MAP, PORTS, FAMILY, TRANSLATION) BASE5(PRC, MAP, PORTS, FAMILY, TRANSLATION)

static int parse(const char *text, struct profile_header *h, struct diag_list *dl)
{
	memset(dl, 0, sizeof(*dl));
	return profile_header_parse_buffer(h, "t.nft", text, strlen(text), dl);
}

static void test_values(void **state)
{
	struct profile_header h;
	struct diag_list dl;

	(void)state;
	assert_int_equal(parse(BASE("endpoint-independent", "preserve", "ipv4", ""), &h, &dl), 0);
	assert_int_equal(h.translation, PROFILE_TRANSLATION_NAPT);
	assert_int_equal(h.line[PROFILE_KEY_TRANSLATION], 0);
	assert_int_equal(parse(BASE("endpoint-independent", "preserve", "ipv4",
				    "# translation: none\n"), &h, &dl), 0);
	assert_int_equal(h.translation, PROFILE_TRANSLATION_NONE);
	assert_int_equal(h.line[PROFILE_KEY_TRANSLATION], 13);
	assert_int_equal(parse(BASE("endpoint-independent", "preserve", "ipv6",
				    "# translation: prefix\n"), &h, &dl), 0);
	assert_int_equal(h.translation, PROFILE_TRANSLATION_PREFIX);
	assert_int_equal(parse(BASE5(SYM, "address-and-port-dependent", "random", "ipv4",
				     "# translation: napt\n"), &h, &dl), 0);
	assert_string_equal(profile_translation_name(PROFILE_TRANSLATION_PREFIX), "prefix");
	assert_string_equal(classify_default_topology(&h), "two-nats");
	h.translation = PROFILE_TRANSLATION_NONE;
	assert_string_equal(classify_default_topology(&h), "two-firewalls");
}

static void test_bad(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ BASE("endpoint-independent", "preserve", "ipv4", "# translation: nat\n"),
		  "t.nft:13: translation: unknown value \"nat\": expected napt, none (a firewall) or "
		  "prefix (NPTv6, family ipv6 only)" },
		{ BASE("endpoint-independent", "preserve", "ipv4", "# translation: prefix\n"),
		  "t.nft:13: translation: prefix is NPTv6, for family ipv6 only (family is ipv4)" },
		{ BASE5(SYM, "address-and-port-dependent", "preserve", "ipv4",
			"# translation: none\n"),
		  "t.nft:13: translation: none keeps every port and maps each internal endpoint to "
		  "one public endpoint, but mapping is address-and-port-dependent and ports "
		  "preserve" },
		{ BASE("endpoint-independent", "random", "ipv6", "# translation: prefix\n"),
		  "but mapping is endpoint-independent and ports random" },
	};
	struct profile_header h;
	struct diag_list dl;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[600];

		assert_int_equal(parse(cases[i].text, &h, &dl), -EINVAL);
		assert_int_equal(dl.count, 1);
		snprintf(line, sizeof(line), "%s:%d: %s", dl.items[0].file, dl.items[0].line,
			 dl.items[0].msg);
		if (!strstr(line, cases[i].msg))
			fail_msg("case %zu: got \"%s\", expected \"%s\"", i, line, cases[i].msg);
	}
}

/* The shipped topologies and profiles: which pairs the lab lets build. */
static int check(const char *topology, const char *node, const char *profile, char *msg,
		 size_t len)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list dl = { .count = 0 };
	char tp[512], pp[512];
	int n, ret;

	snprintf(tp, sizeof(tp), "%s/topologies/%s.yaml", PUNCHLAB_SOURCE_DIR, topology);
	snprintf(pp, sizeof(pp), "%s/nat-profiles/%s.nft", PUNCHLAB_SOURCE_DIR, profile);
	assert_non_null(t);
	assert_int_equal(topo_parse_file(t, tp, &dl), 0);
	n = topo_node_find(t, node);
	assert_true(n >= 0);
	ret = lab_translation_check(t, n, pp, "F", 7, &dl);
	msg[0] = '\0';
	if (dl.count)
		snprintf(msg, len, "%s:%d: %s", dl.items[0].file, dl.items[0].line, dl.items[0].msg);
	free(t);
	return ret;
}

static void test_lab_check(void **state)
{
	char msg[600];

	(void)state;
	assert_int_equal(check("two-firewalls", "nat-a", "firewall", msg, sizeof(msg)), 0);
	assert_int_equal(check("two-nats", "nat-a", "port-restricted-cone", msg, sizeof(msg)), 0);
	assert_int_equal(check("two-nats-dual", "nat-b", "nptv6", msg, sizeof(msg)), 0);
	/* a NAT profile on a public LAN is fine: it translates (the mixed two-firewalls lab) */
	assert_int_equal(check("two-firewalls", "nat-b", "port-restricted-cone", msg, sizeof(msg)),
			 0);
	assert_int_equal(check("two-nats", "nat-a", "firewall", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "F:7: node \"nat-a\": profile "));
	assert_non_null(strstr(msg, "translates nothing (header \"translation: none\") but its "
				    "LAN 10.0.1.0/24 is private address space"));
	assert_int_equal(check("double-nat", "nat-a", "firewall", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(check("two-firewalls", "nat-a", "nptv6", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "its LAN link has one IPv6 prefix (none)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_lab_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
