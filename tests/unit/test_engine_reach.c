/* Unit test of engine_reach() (src/engine/reach.c), {{PEER.reach}}: the address a peer is
 * reached at from outside its home, from the shipped topologies and what each NAT translates;
 * and the shipped IPv6 firewall profiles declaring that they translate nothing (before, they
 * defaulted to napt, and netcat aimed at the firewall's own address: every cell failed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config.h"
#include "engine/reach.h"
#include "lab/topo.h"

static struct topo *load(const char *topology)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char path[512];

	assert_non_null(t);
	assert_non_null(dl);
	snprintf(path, sizeof(path), "%s/topologies/%s.yaml", PUNCHLAB_SOURCE_DIR, topology);
	assert_int_equal(topo_parse_file(t, path, dl), 0);
	free(dl);
	return t;
}

/* The reach of host in family, every NAT doing what tr says (all napt when every is napt). */
static const char *reach(const struct topo *t, const char *host, int family,
			 const char *nat, enum profile_translation tr, char *buf, size_t len)
{
	struct reach_translations x;
	struct net_addr a;

	for (int n = 0; n < TOPO_MAX_NODES; n++)
		x.tr[n] = PROFILE_TRANSLATION_NAPT;
	if (nat)
		x.tr[topo_node_find(t, nat)] = tr;
	if (engine_reach(t, topo_node_find(t, host), family, &x, &a) < 0)
		return "none";
	return net_addr_format(&a, false, buf, len);
}

static void test_dual(void **state)
{
	struct topo *t = load("two-nats-dual");
	char b[64];

	(void)state;
	/* napt: the NAT's WAN address of the family (seed 002's target) */
	assert_string_equal(reach(t, "host-b", AF_INET, NULL, 0, b, sizeof(b)), "203.0.113.18");
	assert_string_equal(reach(t, "host-b", AF_INET6, NULL, 0, b, sizeof(b)), "2001:db8:b::2");
	/* none (an RFC 6092 firewall): the host's own */
	assert_string_equal(reach(t, "host-b", AF_INET6, "nat-b", PROFILE_TRANSLATION_NONE, b,
				  sizeof(b)), "2001:db8:2::10");
	/* prefix (NPTv6): the host's interface identifier under nat-b's external prefix */
	assert_string_equal(reach(t, "host-b", AF_INET6, "nat-b", PROFILE_TRANSLATION_PREFIX, b,
				  sizeof(b)), "2001:db8:1002:efff::10");
	assert_string_equal(reach(t, "host-a", AF_INET6, "nat-a", PROFILE_TRANSLATION_PREFIX, b,
				  sizeof(b)), "2001:db8:1001:efff::10");
	/* the other NAT's translation is not this host's */
	assert_string_equal(reach(t, "host-a", AF_INET6, "nat-b", PROFILE_TRANSLATION_NONE, b,
				  sizeof(b)), "2001:db8:a::2");
	free(t);
}

static void test_other_topologies(void **state)
{
	struct topo *t = load("two-level");
	char b[64];

	(void)state;
	/* two levels: the outer NAT's public address, not the home NAT's (100.64.2.2) */
	assert_string_equal(reach(t, "host-b", AF_INET, NULL, 0, b, sizeof(b)), "203.0.113.18");
	/* the outer NAT translating nothing: the home NAT's WAN address shows */
	assert_string_equal(reach(t, "host-b", AF_INET, "outer-b", PROFILE_TRANSLATION_NONE, b,
				  sizeof(b)), "100.64.2.2");
	free(t);
	t = load("two-firewalls");
	assert_string_equal(reach(t, "host-a", AF_INET, "nat-a", PROFILE_TRANSLATION_NONE, b,
				  sizeof(b)), "203.0.113.34");
	/* no IPv6 anywhere: no reach, the engine file's variable goes missing */
	assert_string_equal(reach(t, "host-a", AF_INET6, "nat-a", PROFILE_TRANSLATION_NONE, b,
				  sizeof(b)), "none");
	/* prefix translation without an external prefix on the LAN: none rather than a guess */
	assert_string_equal(reach(t, "host-a", AF_INET, "nat-a", PROFILE_TRANSLATION_PREFIX, b,
				  sizeof(b)), "none");
	free(t);
}

static void test_ipv6_firewalls_translate_nothing(void **state)
{
	static const char *const names[] = { "ipv6-firewall", "ipv6-firewall-ad", "nat66",
					     "nptv6", "firewall" };
	static const enum profile_translation want[] = {
		PROFILE_TRANSLATION_NONE, PROFILE_TRANSLATION_NONE, PROFILE_TRANSLATION_NAPT,
		PROFILE_TRANSLATION_PREFIX, PROFILE_TRANSLATION_NONE };
	struct diag_list *dl = calloc(1, sizeof(*dl));

	(void)state;
	assert_non_null(dl);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct profile_header h;
		char path[512];

		snprintf(path, sizeof(path), "%s/nat-profiles/%s.nft", PUNCHLAB_SOURCE_DIR,
			 names[i]);
		dl->count = 0;
		assert_int_equal(profile_header_parse_file(&h, path, dl), 0);
		if (h.translation != want[i])
			fail_msg("%s: translation %s, expected %s", names[i],
				 profile_translation_name(h.translation),
				 profile_translation_name(want[i]));
	}
	free(dl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dual),
		cmocka_unit_test(test_other_topologies),
		cmocka_unit_test(test_ipv6_firewalls_translate_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
