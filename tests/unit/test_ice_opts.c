/* The ICE driver's command line (src/ice/opts.c): relays given as an IPv4 address or a
 * bracketed IPv6 one, at most one --turn per family (two), --local addresses of either family;
 * every bad value refused with what is expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"

/* parse a NULL-terminated argument list (getopt keeps state between calls: reset it) */
static int parse(struct ice_opts *o, char *why, const char *const *args)
{
	extern int optind;
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"ice";
	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	optind = 0;
	why[0] = '\0';
	return ice_opts_parse(argc, argv, o, why, 200);
}

static void test_families(void **state)
{
	struct ice_opts o;
	char why[200];

	(void)state;
	assert_int_equal(parse(&o, why, (const char *const[]){ "--side", "a", "--turn-user", "u",
		"--turn-password", "p", "--turn", "198.51.100.10:3478",
		"--turn", "[2001:db8:100::10]:3479", "--turn-tls", "[2001:db8:100::10]:443",
		"--local", "10.0.1.10", "--local", "2001:db8:1::10", NULL }), 0);
	assert_string_equal(o.turn_host, "198.51.100.10");
	assert_int_equal(o.turn_port, 3478);
	assert_string_equal(o.turn2_host, "2001:db8:100::10");
	assert_int_equal(o.turn2_port, 3479);
	assert_string_equal(o.turn_tls_host, "2001:db8:100::10");
	assert_int_equal(o.turn_tls_port, 443);
	assert_int_equal(o.nlocal, 2);
	assert_string_equal(o.local[1], "2001:db8:1::10");
}

static void test_bad(void **state)
{
	static const struct {
		const char *flag, *value, *why;
	} bad[] = {
		/* an IPv6 address needs brackets: its last colon would be taken for the port's */
		{ "--turn", "2001:db8:100::10:3478", "--turn \"2001:db8:100::10:3478\": expected "
		  "HOST:PORT (an IPv4 address or a bracketed IPv6 one, and a port from 1 to 65535)" },
		{ "--turn", "[2001:db8:100::10]", "expected HOST:PORT" },
		{ "--turn", "[198.51.100.10]:3478", "expected HOST:PORT" },
		{ "--turn", "relay.example:3478", "expected HOST:PORT" },
		{ "--stun", "[2001:db8::1]:0", "expected HOST:PORT" },
		{ "--turn-tls", "[2001:db8::1:443", "expected HOST:PORT" },
		{ "--local", "2001:db8:1::zz", "--local \"2001:db8:1::zz\": expected an IPv4 or IPv6 "
		  "address" },
	};
	struct ice_opts o;
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, why, (const char *const[]){ "--side", "a",
			bad[i].flag, bad[i].value, NULL }), -1);
		if (!strstr(why, bad[i].why))
			fail_msg("%s %s: \"%s\", expected \"%s\"", bad[i].flag, bad[i].value, why,
				 bad[i].why);
	}
	/* a third --turn: one per family */
	assert_int_equal(parse(&o, why, (const char *const[]){ "--side", "a", "--turn",
		"198.51.100.10:3478", "--turn", "[2001:db8:100::10]:3478", "--turn",
		"198.51.100.11:3478", NULL }), -1);
	assert_string_equal(why, "--turn \"198.51.100.11:3478\": at most two (one per address "
			    "family)");
	/* a fifth --local */
	assert_int_equal(parse(&o, why, (const char *const[]){ "--side", "a", "--local", "10.0.1.1",
		"--local", "10.0.1.2", "--local", "10.0.1.3", "--local", "10.0.1.4", "--local",
		"10.0.1.5", NULL }), -1);
	assert_non_null(strstr(why, "at most 4 --local"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
