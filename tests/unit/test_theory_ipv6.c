/* The theory (src/matrix/theory.c) over the shipped IPv6 profiles (issue 15 item 1). A firewall
 * translates nothing, so its header says endpoint-independent mapping and preserved ports, and
 * the theory needs no rule of its own for it: these tests hold it to what
 * tests/lab/ipv6-profiles.sh measures (every pairing of the three direct over UDP and TCP in
 * two-nats-dual), and to the filtering each header declares, which the same lab test checks
 * with packets from an address and a port host-a did not write to. */
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

static const char *const v6_profiles[] = { "ipv6-firewall", "ipv6-firewall-ad", "nat66" };
#define NV6 (sizeof(v6_profiles) / sizeof(v6_profiles[0]))

static void test_headers(void **state)
{
	struct profile_header fw, ad, n66;

	(void)state;
	shipped_profile_load("ipv6-firewall", &fw);
	shipped_profile_load("ipv6-firewall-ad", &ad);
	shipped_profile_load("nat66", &n66);
	for (size_t i = 0; i < NV6; i++) {
		struct profile_header h;

		shipped_profile_load(v6_profiles[i], &h);
		assert_int_equal(h.family, PROFILE_FAMILY_IPV6);
		/* no translation (firewalls) or stock masquerade (nat66): one mapping per internal
		 * endpoint, its port kept */
		assert_int_equal(h.mapping, PROFILE_ENDPOINT_INDEPENDENT);
		assert_int_equal(h.ports, PROFILE_PORTS_PRESERVE);
		assert_true(h.predictable);
	}
	/* RFC 6092 section 3.2.2: endpoint-independent by default, address-dependent stringent */
	assert_int_equal(fw.filtering, PROFILE_ENDPOINT_INDEPENDENT);
	assert_int_equal(ad.filtering, PROFILE_ADDRESS_DEPENDENT);
	assert_int_equal(n66.filtering, PROFILE_ADDRESS_AND_PORT_DEPENDENT);
	/* RFC 6092: UDP state lasts at least two minutes idle */
	assert_true(fw.udp_timeout >= 120 && ad.udp_timeout >= 120);
}

static void test_every_pairing_direct(void **state)
{
	static const char *const techs[][2] = { { "udp", "udp" }, { "tcp", "tcp" },
						{ "auto", "udp" }, { "auto", "tcp" } };

	(void)state;
	for (size_t i = 0; i < NV6; i++)
		for (size_t j = 0; j < NV6; j++)
			for (size_t k = 0; k < sizeof(techs) / sizeof(techs[0]); k++) {
				struct profile_header a, b;
				struct theory t;
				struct theory_input in = { .a = &a, .b = &b,
							   .layout = LAYOUT_TWO_NATS,
							   .tcp = strcmp(techs[k][1], "tcp") == 0,
							   .technique = techs[k][0] };

				shipped_profile_load(v6_profiles[i], &a);
				shipped_profile_load(v6_profiles[j], &b);
				theory_predict(&in, &t);
				if (t.outcome != CELL_DIRECT || theory_class(&t) != CLASS_DETERMINED)
					fail_msg("%s~%s %s/%s: outcome %d, class %d, expected direct, "
						 "determined: %s", v6_profiles[i], v6_profiles[j],
						 techs[k][1], techs[k][0], (int)t.outcome,
						 (int)theory_class(&t), t.why);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_every_pairing_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
