/* The theory (src/matrix/theory.c) over the IPv4 firewall (nat-profiles/firewall.nft, issue 15
 * item 2). It translates nothing, so its header says endpoint-independent mapping, preserved
 * ports and (RFC 6092's default) endpoint-independent filtering, and the parser holds a header
 * of "translation: none" to the first two; the theory needs no rule of its own: a firewall
 * pairs like a full cone. These tests hold it to what `punchlab matrix -t two-firewalls`
 * measured (docs/profile-format.md): the firewall direct against every shipped kind, UDP and
 * TCP, with punch's auto, even against a random symmetric NAT (whose unannounced port the
 * firewall's filtering lets in), where a port-restricted cone is not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "shipped.h"

static enum cell_outcome predict(const char *a, const char *b, bool tcp, const char *technique)
{
	struct profile_header ha, hb;
	struct theory t;
	struct theory_input in = { .a = &ha, .b = &hb, .layout = LAYOUT_TWO_NATS, .tcp = tcp,
				   .technique = technique };

	shipped_profile_load(a, &ha);
	shipped_profile_load(b, &hb);
	theory_predict(&in, &t);
	return t.outcome;
}

static void test_header(void **state)
{
	struct profile_header h;

	(void)state;
	shipped_profile_load("firewall", &h);
	assert_int_equal(h.translation, PROFILE_TRANSLATION_NONE);
	assert_int_equal(h.family, PROFILE_FAMILY_IPV4);
	assert_int_equal(h.mapping, PROFILE_ENDPOINT_INDEPENDENT);
	assert_int_equal(h.filtering, PROFILE_ENDPOINT_INDEPENDENT);
	assert_int_equal(h.ports, PROFILE_PORTS_PRESERVE);
	assert_true(h.udp_timeout >= 120); /* RFC 6092: at least two minutes idle */
}

static void test_pairings(void **state)
{
	static const char *const others[] = { "firewall", "full-cone", "port-restricted-cone",
					      "symmetric", "symmetric-sequential" };

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		for (int tcp = 0; tcp < 2; tcp++) {
			if (predict("firewall", others[i], tcp, "auto") != CELL_DIRECT ||
			    predict(others[i], "firewall", tcp, "auto") != CELL_DIRECT)
				fail_msg("firewall with %s over %s: not direct", others[i],
					 tcp ? "tcp" : "udp");
		}
	/* the contrast the firewall's filtering makes: a port-restricted cone with a random
	 * symmetric NAT over TCP is relayed (measured in two-firewalls and two-nats alike) */
	assert_int_not_equal(predict("port-restricted-cone", "symmetric", true, "auto"),
			     CELL_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_pairings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
