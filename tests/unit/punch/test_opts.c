/* Option parsing of the punch verbs: defaults, every value checked, one clear error line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "opts.h"
#include "peer_parse.h"

static void test_peer_defaults(void **state)
{
	struct peer_opts o;
	char b[EP_STRLEN];

	(void)state;
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "198.51.100.66:3478", "--session", "s1"), 0);
	assert_string_equal(ep_format(&o.rdv, b), "198.51.100.66:3478");
	assert_string_equal(o.session, "s1");
	assert_int_equal(o.tech, TECH_AUTO);
	assert_int_equal(o.proto, PROTO_UDP);
	assert_int_equal(o.role, 0);
	assert_int_equal(o.timeout_ms, 10000);
	assert_false(o.json);
	assert_false(o.has_rdv2);
}

static void test_peer_full(void **state)
{
	struct peer_opts o;
	char b[EP_STRLEN];

	(void)state;
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "[2001:db8::1]:3478", "--rendezvous2",
			      "[2001:db8::1]:3479", "--session", "cell-7", "--role", "b",
			      "--technique", "tcp-ttl", "--timeout", "2.5", "--json", "--port", "4000",
			      "--payload", "64", "--hold", "250ms", "--revalidate", "0.2"), 0);
	assert_string_equal(ep_format(&o.rdv2, b), "[2001:db8::1]:3479");
	assert_int_equal(o.role, WIRE_ROLE_B);
	assert_int_equal(o.tech, TECH_TCP_TTL);
	assert_int_equal(o.proto, PROTO_TCP);       /* implied by the technique */
	assert_int_equal(o.timeout_ms, 2500);
	assert_true(o.json);
	assert_int_equal(o.port, 4000);
	assert_int_equal(o.payload, 64);
	assert_int_equal(o.hold_ms, 250);
	assert_int_equal(o.revalidate_ms, 200);
}

static void test_peer_errors(void **state)
{
	struct peer_opts o;

	(void)state;
	assert_int_equal(PEER(&o, "peer", "--session", "s"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--rendezvous"));
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:3478"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--session"));
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4", "--session", "s"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:0", "--session", "s"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:65536", "--session", "s"),
			 -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "2001:db8::1:3478", "--session", "s"),
			 -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "a b"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s", "--role",
			      "c"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--technique", "magic"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "magic"));
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--timeout", "0"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--timeout", "-1"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--timeout", "abc"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--proto", "udp", "--technique", "tcp"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--proto", "tcp", "--technique", "birthday"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--rendezvous2", "[2001:db8::1]:1"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--payload", "2000"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--bogus"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--bogus"));
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s", "extra"),
			 -EINVAL);
	/* revalidation: only of a held path, and not absurdly often */
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--revalidate", "250ms"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--revalidate needs --hold"));
	assert_int_equal(PEER(&o, "peer", "--rendezvous", "1.2.3.4:1", "--session", "s",
			      "--hold", "10", "--revalidate", "5ms"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "at least 10ms"));
	/* One line per error. */
	assert_non_null(strchr(peer_parse_err, '\n'));
	assert_null(strchr(strchr(peer_parse_err, '\n') + 1, '\n'));
}

/* Keep-alives and the idle gap: --keepalive's default follows --hold (5 s) or --idle-gap
 * (none), 0 in any spelling is none, and the combinations that make no sense are refused. */
static void test_peer_keepalive_idle(void **state)
{
	struct peer_opts o;

	(void)state;
#define BASE "peer", "--rendezvous", "198.51.100.66:3478", "--session", "s1"
	assert_int_equal(PEER(&o, BASE), 0);
	assert_int_equal(o.keepalive_ms, 0);
	assert_int_equal(o.idle_gap_ms, 0);
	assert_int_equal(PEER(&o, BASE, "--hold", "60"), 0);
	assert_int_equal(o.keepalive_ms, PEER_KEEPALIVE_MS);
	assert_int_equal(PEER(&o, BASE, "--hold", "60", "--keepalive", "1.5"), 0);
	assert_int_equal(o.keepalive_ms, 1500);
	assert_int_equal(PEER(&o, BASE, "--hold", "60", "--keepalive", "0"), 0);
	assert_int_equal(o.keepalive_ms, 0);
	assert_int_equal(PEER(&o, BASE, "--hold", "60", "--keepalive", "0.0s"), 0);
	assert_int_equal(o.keepalive_ms, 0);
	assert_int_equal(PEER(&o, BASE, "--idle-gap", "6"), 0);
	assert_int_equal(o.idle_gap_ms, 6000);
	assert_int_equal(o.keepalive_ms, 0); /* silence means silence unless asked */
	assert_int_equal(PEER(&o, BASE, "--idle-gap", "6", "--keepalive", "250ms",
			      "--idle-after", "3"), 0);
	assert_int_equal(o.keepalive_ms, 250);
	assert_int_equal(o.idle_after_ms, 3000);

	assert_int_equal(PEER(&o, BASE, "--hold", "60", "--keepalive", "soon"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--keepalive wants an interval"));
	assert_non_null(strstr(peer_parse_err, "\"soon\""));
	assert_int_equal(PEER(&o, BASE, "--hold", "60", "--keepalive", "-1"), -EINVAL);
	assert_int_equal(PEER(&o, BASE, "--keepalive", "1"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--keepalive needs --hold or --idle-gap"));
	assert_int_equal(PEER(&o, BASE, "--idle-gap", "0"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--idle-gap wants seconds > 0"));
	assert_int_equal(PEER(&o, BASE, "--idle-gap", "6", "--hold", "6"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "exclude each other"));
	assert_int_equal(PEER(&o, BASE, "--idle-after", "3"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--idle-after needs --idle-gap"));
#undef BASE
}

static void test_peer_help(void **state)
{
	struct peer_opts o;

	(void)state;
	assert_int_equal(PEER(&o, "peer", "--help"), 1);
}

static void test_rdv(void **state)
{
	struct rdv_opts o;
	FILE *err = fmemopen(peer_parse_err, sizeof(peer_parse_err), "w");
	FILE *out = fopen("/dev/null", "w");

	(void)state;
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous", "--listen", "0.0.0.0:3478", "--listen",
					     "0.0.0.0:3479", "--no-relay", "--rate-limit", "0"),
				       ARGV("rendezvous", "--listen", "0.0.0.0:3478", "--listen",
					    "0.0.0.0:3479", "--no-relay", "--rate-limit", "0"),
				       &o, out, err), 0);
	assert_int_equal(o.n_listen, 2);
	assert_false(o.relay);
	assert_int_equal(o.rate_limit, 0);
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous"), ARGV("rendezvous"), &o, out, err),
			 -EINVAL);
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous", "--listen", "x"),
				       ARGV("rendezvous", "--listen", "x"), &o, out, err), -EINVAL);
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous", "--listen", "1.2.3.4:1", "--duration",
					     "never"),
				       ARGV("rendezvous", "--listen", "1.2.3.4:1", "--duration",
					    "never"), &o, out, err), -EINVAL);
	/* the secret: a file to read, or one to make (--new-secret), not both */
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous", "--listen", "1.2.3.4:1", "--secret-file",
					     "/s"),
				       ARGV("rendezvous", "--listen", "1.2.3.4:1", "--secret-file",
					    "/s"), &o, out, err), 0);
	assert_string_equal(o.secret_file, "/s");
	assert_false(o.new_secret);
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous", "--listen", "1.2.3.4:1", "--new-secret",
					     "/n"),
				       ARGV("rendezvous", "--listen", "1.2.3.4:1", "--new-secret",
					    "/n"), &o, out, err), 0);
	assert_string_equal(o.secret_file, "/n");
	assert_true(o.new_secret);
	assert_int_equal(rdv_opts_parse(ARGC("rendezvous", "--listen", "1.2.3.4:1", "--new-secret",
					     "/n", "--secret-file", "/s"),
				       ARGV("rendezvous", "--listen", "1.2.3.4:1", "--new-secret",
					    "/n", "--secret-file", "/s"), &o, out, err), -EINVAL);
	fclose(err);
	fclose(out);
}

static void test_durations(void **state)
{
	uint32_t ms, v;

	(void)state;
	assert_int_equal(opts_parse_duration("1", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(opts_parse_duration("0.001", &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(opts_parse_duration("20ms", &ms), 0);
	assert_int_equal(ms, 20);
	assert_int_equal(opts_parse_duration("3s", &ms), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(opts_parse_duration("nan", &ms), -EINVAL);
	assert_int_equal(opts_parse_duration("1e9", &ms), -EINVAL);
	assert_int_equal(opts_parse_duration("", &ms), -EINVAL);
	assert_int_equal(opts_parse_uint("12", 1, 20, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(opts_parse_uint("21", 1, 20, &v), -EINVAL);
	assert_int_equal(opts_parse_uint("-1", 0, 20, &v), -EINVAL);
	assert_int_equal(opts_parse_uint("1x", 0, 20, &v), -EINVAL);
}

static void test_endpoints(void **state)
{
	struct sockaddr_storage a, b;
	char s[EP_STRLEN];

	(void)state;
	assert_int_equal(ep_parse("[::ffff:10.0.0.1]:5", true, &a), 0);
	ep_unmap(&a);
	assert_string_equal(ep_format(&a, s), "10.0.0.1:5");
	assert_int_equal(ep_parse("10.0.0.1:5", true, &b), 0);
	assert_true(ep_equal(&a, &b, true));
	assert_true(ep_is_private(&b));
	assert_int_equal(ep_parse("100.64.0.1:5", true, &b), 0);
	assert_true(ep_is_private(&b));
	assert_int_equal(ep_parse("198.51.100.1:5", true, &b), 0);
	assert_false(ep_is_private(&b));
	assert_int_equal(ep_parse("[fd00::1]:5", true, &b), 0);
	assert_true(ep_is_private(&b));
	assert_int_equal(ep_parse("[2001:db8::1]:5", true, &b), 0);
	assert_false(ep_is_private(&b));
	assert_int_equal(ep_parse("[2001:db8::1]5", true, &b), -EINVAL);
	assert_int_equal(ep_parse(":5", true, &b), -EINVAL);
}

/* --signal-delay (the signal-delay= sweep's knob): 0 by default and in any spelling of zero,
 * a duration in ms or seconds, refused beyond a minute or when not a duration. */
static void test_peer_signal_delay(void **state)
{
	struct peer_opts o;

	(void)state;
#define BASE "peer", "--rendezvous", "198.51.100.66:3478", "--session", "s1"
	assert_int_equal(PEER(&o, BASE), 0);
	assert_int_equal(o.signal_delay_ms, 0);
	assert_int_equal(PEER(&o, BASE, "--signal-delay", "120ms"), 0);
	assert_int_equal(o.signal_delay_ms, 120);
	assert_int_equal(PEER(&o, BASE, "--signal-delay", "0.2"), 0);
	assert_int_equal(o.signal_delay_ms, 200);
	assert_int_equal(PEER(&o, BASE, "--signal-delay", "0ms"), 0);
	assert_int_equal(o.signal_delay_ms, 0);
	assert_int_equal(PEER(&o, BASE, "--signal-delay", "61"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--signal-delay wants a delay of 0 to 60 s"));
	assert_non_null(strstr(peer_parse_err, "\"61\""));
	assert_int_equal(PEER(&o, BASE, "--signal-delay", "soon"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--signal-delay"));
	assert_int_equal(PEER(&o, BASE, "--signal-delay", "-5ms"), -EINVAL);
#undef BASE
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_defaults),
		cmocka_unit_test(test_peer_full),
		cmocka_unit_test(test_peer_errors),
		cmocka_unit_test(test_peer_keepalive_idle),
		cmocka_unit_test(test_peer_signal_delay),
		cmocka_unit_test(test_peer_help),
		cmocka_unit_test(test_rdv),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_endpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
