/* Unit tests of punch's portmap pure parts (src/punch/portmap.c): when a run asks the router,
 * which endpoints it registers, the mapped endpoint from a router's answer; and the technique's
 * name and place in auto's race. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "opts.h"
#include "portmap.h"
#include "race.h"

static void test_wanted(void **state)
{
	bool upnp = true;

	(void)state;
	assert_true(portmap_wanted(TECH_PORTMAP, PROTO_UDP, AF_INET, &upnp));
	assert_true(upnp); /* asked by name: discovery may take its time */
	assert_true(portmap_wanted(TECH_AUTO, PROTO_UDP, AF_INET, &upnp));
	assert_false(upnp); /* auto: NAT-PMP only, bounded */
	assert_false(portmap_wanted(TECH_UDP, PROTO_UDP, AF_INET, &upnp));
	assert_false(portmap_wanted(TECH_BIRTHDAY, PROTO_UDP, AF_INET, &upnp));
	assert_false(portmap_wanted(TECH_AUTO, PROTO_TCP, AF_INET, &upnp));
	assert_false(portmap_wanted(TECH_PORTMAP, PROTO_UDP, AF_INET6, &upnp));
}

static void test_announce(void **state)
{
	struct sockaddr_storage local, mapped, back;
	struct wire_ep eps[WIRE_MAX_EPS];

	(void)state;
	assert_int_equal(ep_parse("10.0.1.10:40000", true, &local), 0);
	assert_int_equal(ep_parse("203.0.113.2:40000", true, &mapped), 0);
	assert_int_equal(portmap_announce(&local, &mapped, eps, WIRE_MAX_EPS), 2);
	ep_from_wire(&eps[0], &back);
	assert_true(ep_equal(&back, &local, true));
	ep_from_wire(&eps[1], &back);
	assert_true(ep_equal(&back, &mapped, true));
	/* no mapping: the private endpoint alone, as before portmap */
	memset(&mapped, 0, sizeof(mapped));
	assert_int_equal(portmap_announce(&local, &mapped, eps, WIRE_MAX_EPS), 1);
	/* a mapping equal to the local endpoint (no NAT in between) is said once */
	assert_int_equal(portmap_announce(&local, &local, eps, WIRE_MAX_EPS), 1);
	/* room for one */
	assert_int_equal(ep_parse("203.0.113.2:40000", true, &mapped), 0);
	assert_int_equal(portmap_announce(&local, &mapped, eps, 1), 1);
}

static void test_endpoint(void **state)
{
	struct sockaddr_storage ss;
	char b[EP_STRLEN];

	(void)state;
	assert_int_equal(portmap_endpoint(htonl(0xcb007102), 40000, &ss), 0);
	assert_string_equal(ep_format(&ss, b), "203.0.113.2:40000");
	/* a router that granted nothing */
	assert_int_equal(portmap_endpoint(htonl(0xcb007102), 0, &ss), -EINVAL);
	assert_int_equal(portmap_endpoint(0, 40000, &ss), -EINVAL);
}

static void test_technique(void **state)
{
	enum technique t;
	const char *why = NULL;

	(void)state;
	assert_int_equal(technique_parse("portmap", &t), 0);
	assert_int_equal(t, TECH_PORTMAP);
	assert_string_equal(technique_name(TECH_PORTMAP), "portmap");
	assert_string_equal(portmap_proto_name(PORTMAP_NATPMP), "nat-pmp");
	assert_string_equal(portmap_proto_name(PORTMAP_UPNP), "upnp-igd");
	/* portmap punches like udp, from the main socket */
	assert_true(race_covers(PROTO_UDP, TECH_PORTMAP, TECH_UDP));
	assert_false(race_covers(PROTO_TCP, TECH_PORTMAP, TECH_TCP));
	assert_true(race_compatible(TECH_PORTMAP, TECH_UDP, &why));
	assert_false(race_compatible(TECH_PORTMAP, TECH_AUTO, &why));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_technique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
