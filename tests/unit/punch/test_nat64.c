/* NAT64 synthesis (src/punch/nat64.c, RFC 6052 section 2.2) for every prefix length, the
 * prefix's parsing, and punch peer's --nat64-prefix. The expected addresses are RFC 6052
 * section 2.4's table worked for 198.51.100.10 (c6.33.64.0a) instead of its 192.0.2.33. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "nat64.h"
#include "opts.h"

static void test_synthesize(void **state)
{
	static const struct { const char *prefix, *want; } cases[] = {
		{ "2001:db8::/32", "[2001:db8:c633:640a::]:4242" },
		{ "2001:db8:100::/40", "[2001:db8:1c6:3364:a::]:4242" },
		{ "2001:db8:122::/48", "[2001:db8:122:c633:64:a00::]:4242" },
		{ "2001:db8:122:300::/56", "[2001:db8:122:3c6:33:640a::]:4242" },
		{ "2001:db8:122:344::/64", "[2001:db8:122:344:c6:3364:a00:0]:4242" },
		{ "2001:db8:122:344::/96", "[2001:db8:122:344::c633:640a]:4242" },
		/* the lab's (topologies/nat64.yaml), as tests/lab/nat64.sh expects it */
		{ "2001:db8:64::/96", "[2001:db8:64::c633:640a]:4242" },
	};
	struct sockaddr_storage v4, out;
	char b[EP_STRLEN];

	(void)state;
	assert_int_equal(ep_parse("198.51.100.10:4242", true, &v4), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nat64_prefix p;

		assert_int_equal(nat64_prefix_parse(cases[i].prefix, &p), 0);
		nat64_synthesize(&p, &v4, &out);
		if (strcmp(ep_format(&out, b), cases[i].want))
			fail_msg("%s: %s, expected %s", cases[i].prefix, b, cases[i].want);
		/* in place, as the peer rewrites its endpoints */
		out = v4;
		nat64_synthesize(&p, &out, &out);
		assert_string_equal(ep_format(&out, b), cases[i].want);
	}
}

static void test_prefix_errors(void **state)
{
	static const char *const bad[] = {
		"2001:db8:64::/80",      /* no RFC 6052 length */
		"2001:db8:64::",         /* no length */
		"2001:db8:64::/",
		"2001:db8:64::/96x",
		"198.51.100.0/24",       /* not IPv6 */
		"2001:db8:0:0:ff00::/96", /* bits 64-71 set */
	};
	struct nat64_prefix p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (nat64_prefix_parse(bad[i], &p) != -EINVAL)
			fail_msg("%s was accepted", bad[i]);
	/* bits past the prefix are the synthesis' own */
	assert_int_equal(nat64_prefix_parse("2001:db8:64::1:2/64", &p), 0);
	assert_int_equal(p.len, 64);
	assert_int_equal(p.addr.s6_addr[15], 0);
}

static char errbuf[512];

static void test_opt(void **state)
{
	char *ok[] = { "peer", "--rendezvous", "[2001:db8:64::c633:640a]:3478", "--session", "s",
		       "--nat64-prefix", "2001:db8:64::/96", NULL };
	char *bad[] = { "peer", "--rendezvous", "[2001:db8:64::c633:640a]:3478", "--session", "s",
			"--nat64-prefix", "2001:db8:64::/80", NULL };
	FILE *out = fopen("/dev/null", "w"), *err;
	struct peer_opts o;

	(void)state;
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_int_equal(peer_opts_parse(7, ok, &o, out, err), 0);
	fclose(err);
	assert_int_equal(o.nat64.len, 96);
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_int_equal(peer_opts_parse(7, bad, &o, out, err), -EINVAL);
	fclose(err);
	assert_non_null(strstr(errbuf, "--nat64-prefix wants an IPv6 prefix of length 32, 40, 48, "
				       "56, 64 or 96"));
	assert_non_null(strstr(errbuf, "\"2001:db8:64::/80\""));
	/* without it: none */
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_int_equal(peer_opts_parse(5, ok, &o, out, err), 0);
	fclose(err);
	assert_int_equal(o.nat64.len, 0);
	fclose(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthesize),
		cmocka_unit_test(test_prefix_errors),
		cmocka_unit_test(test_opt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
