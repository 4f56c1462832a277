/* Both families at once (src/punch/dual.h): the decision after every event (which family
 * starts when, which is cancelled, which is kept), and the options that ask for it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dual.h"
#include "endpoint.h"
#include "evout.h"
#include "opts.h"
#include "peer_parse.h"
#include "peer.h"

static struct dual_action next(enum dual_state v6, enum dual_state v4, bool delay_passed)
{
	struct dual_view v = { .st = { v6, v4 }, .delay_passed = delay_passed };
	struct dual_action a;

	dual_next(&v, &a);
	return a;
}

/* The delay schedule: IPv6 at once, IPv4 after the delay, or as soon as IPv6 ended without a
 * direct path (RFC 8305 section 5: the next attempt starts early when one fails). */
static void test_schedule(void **state)
{
	struct dual_action a;

	(void)state;
	a = next(DS_IDLE, DS_IDLE, false);
	assert_true(a.start[DUAL_V6]);
	assert_false(a.start[DUAL_V4]);
	assert_false(a.done);
	/* a zero delay starts both together */
	a = next(DS_IDLE, DS_IDLE, true);
	assert_true(a.start[DUAL_V6] && a.start[DUAL_V4]);
	/* IPv6 running, delay not over: wait */
	a = next(DS_RUNNING, DS_IDLE, false);
	assert_false(a.start[DUAL_V4] || a.start[DUAL_V6] || a.done);
	assert_false(a.cancel[DUAL_V4] || a.cancel[DUAL_V6]);
	/* delay over: IPv4 too */
	a = next(DS_RUNNING, DS_IDLE, true);
	assert_true(a.start[DUAL_V4]);
	assert_false(a.done);
	/* IPv6 failed (no route) before the delay: IPv4 at once */
	a = next(DS_FAILED, DS_IDLE, false);
	assert_true(a.start[DUAL_V4]);
	assert_false(a.done);
	a = next(DS_RELAYED, DS_IDLE, false);
	assert_true(a.start[DUAL_V4]);
	/* IPv6 verified before the delay: IPv4 never starts, it is cancelled */
	a = next(DS_VERIFIED, DS_IDLE, false);
	assert_false(a.start[DUAL_V4]);
	assert_true(a.cancel[DUAL_V4]);
	assert_int_equal(a.keep, DUAL_V6);
	assert_false(a.done); /* still answering the other peer */
}

/* The first direct path verified both ways is kept; the other family stops at once. */
static void test_first_verified_wins(void **state)
{
	struct dual_action a;

	(void)state;
	a = next(DS_RUNNING, DS_VERIFIED, true);
	assert_int_equal(a.keep, DUAL_V4);
	assert_true(a.cancel[DUAL_V6]);
	assert_false(a.cancel[DUAL_V4]);
	a = next(DS_VERIFIED, DS_RUNNING, true);
	assert_int_equal(a.keep, DUAL_V6);
	assert_true(a.cancel[DUAL_V4]);
	/* the kept one ended direct, the other cancelled: done */
	a = next(DS_DIRECT, DS_CANCELLED, true);
	assert_true(a.done);
	assert_int_equal(a.keep, DUAL_V6);
	assert_false(a.cancel[DUAL_V4]);
	/* a direct path beats a relayed one that ended earlier: nothing running to cancel */
	a = next(DS_RELAYED, DS_DIRECT, true);
	assert_true(a.done);
	assert_int_equal(a.keep, DUAL_V4);
	/* a relayed ending does not end the run while the other family may still go direct */
	a = next(DS_RELAYED, DS_RUNNING, true);
	assert_false(a.done);
	assert_false(a.cancel[DUAL_V4]);
	/* both verified: IPv6 (preferred) kept, the verified IPv4 closed */
	a = next(DS_VERIFIED, DS_VERIFIED, true);
	assert_int_equal(a.keep, DUAL_V6);
	assert_true(a.cancel[DUAL_V4]);
	assert_false(a.done);
	a = next(DS_DIRECT, DS_VERIFIED, true);
	assert_true(a.cancel[DUAL_V4]);
	assert_int_equal(a.keep, DUAL_V6);
	a = next(DS_DIRECT, DS_DIRECT, true);
	assert_true(a.done);
	assert_int_equal(a.keep, DUAL_V6);
}

/* Both peers keep the same family although their verifications end in different orders: a
 * family verifying a path of its own is awaited (bounded), then preference order decides. */
static void test_peers_agree(void **state)
{
	struct dual_view v = { .delay_passed = true };
	struct dual_action a;

	(void)state;
	/* peer A: IPv6 verified first, IPv4 still verifying: wait, cancel nothing */
	a = next(DS_VERIFIED, DS_VERIFYING, true);
	assert_false(a.cancel[DUAL_V4] || a.cancel[DUAL_V6] || a.done);
	/* then IPv4 verifies too: IPv6 kept, IPv4 closed */
	a = next(DS_VERIFIED, DS_VERIFIED, true);
	assert_int_equal(a.keep, DUAL_V6);
	assert_true(a.cancel[DUAL_V4]);
	/* peer B saw them in the other order: IPv4 first, IPv6 verifying: wait */
	a = next(DS_VERIFYING, DS_VERIFIED, true);
	assert_false(a.cancel[DUAL_V4] || a.cancel[DUAL_V6] || a.done);
	/* IPv4 even ended direct meanwhile: still waiting for IPv6 */
	a = next(DS_VERIFYING, DS_DIRECT, true);
	assert_false(a.cancel[DUAL_V6] || a.done);
	/* IPv6 verifies: kept, as on peer A */
	a = next(DS_VERIFIED, DS_DIRECT, true);
	assert_int_equal(a.keep, DUAL_V6);
	assert_false(a.done);
	a = next(DS_DIRECT, DS_DIRECT, true);
	assert_true(a.done);
	assert_int_equal(a.keep, DUAL_V6);
	/* the wait is bounded: a verification that does not end is cancelled */
	v.st[DUAL_V6] = DS_VERIFYING;
	v.st[DUAL_V4] = DS_VERIFIED;
	v.wait_over = true;
	dual_next(&v, &a);
	assert_true(a.cancel[DUAL_V6]);
	assert_int_equal(a.keep, DUAL_V4);
	/* one that fails instead: the verified family is kept */
	a = next(DS_FAILED, DS_VERIFIED, true);
	assert_int_equal(a.keep, DUAL_V4);
	assert_false(a.cancel[DUAL_V6]);
	/* an attempt merely running (no path answering) is not waited for */
	a = next(DS_RUNNING, DS_VERIFIED, true);
	assert_true(a.cancel[DUAL_V6]);
}

/* Nobody direct: relayed over failed, then the later phase, then IPv6. */
static void test_keep_without_direct(void **state)
{
	struct dual_view v = { .st = { DS_FAILED, DS_RELAYED }, .delay_passed = true };
	struct dual_action a;

	(void)state;
	dual_next(&v, &a);
	assert_true(a.done);
	assert_int_equal(a.keep, DUAL_V4);
	v.st[DUAL_V6] = DS_RELAYED;
	dual_next(&v, &a);
	assert_int_equal(a.keep, DUAL_V6);
	/* both failed: the one that got further (probing over registration) */
	v.st[DUAL_V6] = DS_FAILED;
	v.st[DUAL_V4] = DS_FAILED;
	v.phase[DUAL_V6] = PH_REGISTRATION;
	v.phase[DUAL_V4] = PH_PROBING;
	dual_next(&v, &a);
	assert_int_equal(a.keep, DUAL_V4);
	v.phase[DUAL_V6] = PH_PROBING;
	dual_next(&v, &a);
	assert_int_equal(a.keep, DUAL_V6);
	/* one failed, the other still running: wait */
	v.st[DUAL_V4] = DS_RUNNING;
	dual_next(&v, &a);
	assert_false(a.done);
	/* interrupted before IPv4 started: IPv4 cancelled, IPv6's failure kept */
	v.st[DUAL_V4] = DS_CANCELLED;
	dual_next(&v, &a);
	assert_true(a.done);
	assert_int_equal(a.keep, DUAL_V6);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(dual_state_name(DS_VERIFYING), "verifying");
	assert_string_equal(dual_state_name(DS_VERIFIED), "direct");
	assert_string_equal(dual_state_name(DS_DIRECT), "direct");
	assert_string_equal(dual_state_name(DS_RELAYED), "relayed");
	assert_string_equal(dual_state_name(DS_FAILED), "failed");
	assert_string_equal(dual_state_name(DS_CANCELLED), "cancelled");
}

/* ---- output: every event of a dual run names its family; the result maps both ---- */

static void test_evout_family(void **state)
{
	static const char *const keys[] = { "6", "4" };
	static const char *const vals[] = { "direct", "cancelled" };
	static const char *const phases[] = { NULL, "probing" };
	char buf[1024];
	struct evout e;
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	evout_init(&e, f, stderr, true, 0);
	e.family = 6;
	evout_begin(&e, "verified");
	evout_int(&e, "bytes", 256);
	evout_end(&e);
	e.family = 0;
	evout_begin(&e, "result");
	evout_map(&e, "families", keys, vals, 2);
	evout_map(&e, "families_phase", keys, phases, 2);
	evout_end(&e);
	fclose(f);
	assert_non_null(strstr(buf, "\"event\":\"verified\",\"t_ms\":"));
	assert_non_null(strstr(buf, ",\"family\":6,\"bytes\":256}\n"));
	assert_non_null(strstr(buf, "\"families\":{\"6\":\"direct\",\"4\":\"cancelled\"},"
				    "\"families_phase\":{\"6\":null,\"4\":\"probing\"}}\n"));
	/* no family without a tag */
	assert_null(strstr(strstr(buf, "\"result\""), "\"family\":"));

	/* the human form: k=v pairs */
	f = fmemopen(buf, sizeof(buf), "w");
	evout_init(&e, f, stderr, false, 0);
	e.family = 4;
	evout_begin(&e, "result");
	evout_map(&e, "families", keys, vals, 2);
	evout_map(&e, "families_phase", keys, phases, 2);
	evout_end(&e);
	fclose(f);
	assert_non_null(strstr(buf, " family=4 families=6=direct,4=cancelled "
				    "families_phase=6=-,4=probing\n"));
}

/* ---- options ---- */

#define BASE "peer", "--session", "s", "--rendezvous", "198.51.100.10:3478"

static void test_opts(void **state)
{
	struct peer_opts o;
	char b[EP_STRLEN];

	(void)state;
	assert_int_equal(PEER(&o, BASE), 0);
	assert_false(o.has_rdv6);
	assert_int_equal(o.family_delay_ms, DUAL_DELAY_MS);
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8:100::10]:3478"), 0);
	assert_true(o.has_rdv6);
	assert_string_equal(ep_format(&o.rdv6, b), "[2001:db8:100::10]:3478");
	assert_int_equal(o.family_delay_ms, 50);
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8:100::10]:3478",
			      "--family-delay", "0"), 0);
	assert_int_equal(o.family_delay_ms, 0);
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8:100::10]:3478",
			      "--family-delay", "250ms"), 0);
	assert_int_equal(o.family_delay_ms, 250);
	/* an IPv6 --bind with an IPv4 --rendezvous is fine once IPv6 is in the run */
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8:100::10]:3478", "--bind",
			      "2001:db8:1::10"), 0);
	assert_int_equal(PEER(&o, BASE, "--bind", "2001:db8:1::10"), -EINVAL);

	/* bad input: one line naming the option and what it wants */
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "198.51.100.10:3478"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--rendezvous6 wants [IPV6ADDR]:PORT"));
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8::1]"), -EINVAL);
	assert_int_equal(PEER(&o, "peer", "--session", "s", "--rendezvous", "[2001:db8::1]:3478",
			      "--rendezvous6", "[2001:db8::2]:3478"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--rendezvous6 needs an IPv4 --rendezvous"));
	assert_int_equal(PEER(&o, BASE, "--family-delay", "50ms"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--family-delay needs --rendezvous6"));
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8::1]:3478", "--family-delay",
			      "11"), -EINVAL);
	assert_non_null(strstr(peer_parse_err, "--family-delay wants a delay of 0 to 10 s"));
	assert_int_equal(PEER(&o, BASE, "--rendezvous6", "[2001:db8::1]:3478", "--family-delay",
			      "soon"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_first_verified_wins),
		cmocka_unit_test(test_peers_agree),
		cmocka_unit_test(test_keep_without_direct),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_evout_family),
		cmocka_unit_test(test_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
