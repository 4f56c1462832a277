/* Prediction arithmetic, NAT classification from two observations, the low-TTL choice and
 * the auto step rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "peer.h"

static struct sockaddr_storage ep(const char *s)
{
	struct sockaddr_storage ss;

	assert_int_equal(ep_parse(s, false, &ss), 0);
	return ss;
}

static void test_predict_port(void **state)
{
	(void)state;
	assert_int_equal(predict_port(20000, 1, 1), 20001);
	assert_int_equal(predict_port(20000, 2, 3), 20006);
	assert_int_equal(predict_port(20000, -3, 2), 19994);
	/* Wraps modulo 65536; port 0 is reported as 0 (callers skip it). */
	assert_int_equal(predict_port(65535, 1, 1), 0);
	assert_int_equal(predict_port(65535, 1, 2), 1);
	assert_int_equal(predict_port(2, -1, 3), 65535);
}

static void test_predict_ports(void **state)
{
	struct wire_natinfo seq = { NAT_SEQUENTIAL, 2, 30000, 30002 };
	struct wire_natinfo cone = { NAT_CONE, 0, 4000, 4000 };
	struct wire_natinfo wrap = { NAT_SEQUENTIAL, 1, 65533, 65534 };
	uint16_t out[16];
	int n;

	(void)state;
	n = predict_ports(&seq, 30000, 4, out, 16);
	assert_int_equal(n, 4);
	assert_int_equal(out[0], 30004);
	assert_int_equal(out[3], 30010);
	/* Bounded by the output size. */
	assert_int_equal(predict_ports(&seq, 30000, 8, out, 3), 3);
	/* Endpoint-independent: the public port itself. */
	n = predict_ports(&cone, 4000, 8, out, 16);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 4000);
	/* Port 0 is skipped when the counter wraps. */
	n = predict_ports(&wrap, 65533, 3, out, 16);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 65535);
	assert_int_equal(out[1], 1);
}

static void test_classify(void **state)
{
	struct sockaddr_storage priv = ep("10.0.1.2:5000"), none = { 0 }, a, b;
	struct wire_natinfo n;

	(void)state;
	/* Not measured twice: unknown, unless the public endpoint is the private one. */
	a = ep("198.51.100.2:5000");
	nat_classify(&priv, &a, &none, &n);
	assert_int_equal(n.kind, NAT_UNKNOWN);
	nat_classify(&priv, &priv, &none, &n);
	assert_int_equal(n.kind, NAT_NONE);
	/* Same public port to both servers. */
	nat_classify(&priv, &a, &a, &n);
	assert_int_equal(n.kind, NAT_CONE);
	/* Sequential, stride 1 and 2, and a counter that wrapped. */
	b = ep("198.51.100.2:5001");
	nat_classify(&priv, &a, &b, &n);
	assert_int_equal(n.kind, NAT_SEQUENTIAL);
	assert_int_equal(n.stride, 1);
	assert_int_equal(n.first_port, 5000);
	assert_int_equal(n.last_port, 5001);
	b = ep("198.51.100.2:4998");
	nat_classify(&priv, &a, &b, &n);
	assert_int_equal(n.kind, NAT_SEQUENTIAL);
	assert_int_equal(n.stride, -2);
	a = ep("198.51.100.2:65535");
	b = ep("198.51.100.2:1");
	nat_classify(&priv, &a, &b, &n);
	assert_int_equal(n.kind, NAT_SEQUENTIAL);
	assert_int_equal(n.stride, 2);
	/* Far apart: random. Another public address: random too. */
	a = ep("198.51.100.2:5000");
	b = ep("198.51.100.2:41000");
	nat_classify(&priv, &a, &b, &n);
	assert_int_equal(n.kind, NAT_RANDOM);
	b = ep("198.51.100.3:5001");
	nat_classify(&priv, &a, &b, &n);
	assert_int_equal(n.kind, NAT_RANDOM);
}

static void test_ttl_choose(void **state)
{
	const bool home[] = { true, false };              /* home NAT, then a public router */
	const bool cgn[] = { true, true, false };         /* home NAT, CGN, public router */
	const bool own_only[] = { true, true };
	const bool public_first[] = { false };

	(void)state;
	assert_int_equal(ttl_choose(home, 2, false), 2);
	assert_int_equal(ttl_choose(cgn, 3, false), 3);
	/* No public router before the other NAT: no TTL can stop in between. */
	assert_int_equal(ttl_choose(own_only, 2, true), -1);
	assert_int_equal(ttl_choose(own_only, 2, false), -1);
	/* No NAT of ours (hop 1 is public): a low TTL has nothing to open. */
	assert_int_equal(ttl_choose(public_first, 1, false), -1);
	assert_int_equal(ttl_choose(home, 0, false), -1);
}

static void test_auto_steps(void **state)
{
	struct wire_natinfo cone = { NAT_CONE, 0, 1, 1 }, seq = { NAT_SEQUENTIAL, 1, 1, 2 };
	struct wire_natinfo rnd = { NAT_RANDOM, 0, 1, 9000 }, unk = { 0 };
	const struct auto_step *s;
	int n;

	(void)state;
	s = auto_steps(PROTO_UDP, &n);
	assert_int_equal(n, 4);
	assert_int_equal(s[0].tech, TECH_UDP);
	assert_int_equal(s[n - 1].tech, TECH_RELAY);
	s = auto_steps(PROTO_TCP, &n);
	assert_int_equal(s[0].tech, TECH_TCP);
	assert_int_equal(s[1].tech, TECH_TCP_TTL);
	assert_true(auto_step_applies(TECH_PREDICT, &seq, &cone, true));
	assert_true(auto_step_applies(TECH_PREDICT, &cone, &seq, true));
	assert_false(auto_step_applies(TECH_PREDICT, &cone, &rnd, true));
	assert_true(auto_step_applies(TECH_BIRTHDAY, &rnd, &cone, true));
	assert_true(auto_step_applies(TECH_BIRTHDAY, &cone, &rnd, true));
	assert_false(auto_step_applies(TECH_BIRTHDAY, &rnd, &rnd, true));
	assert_false(auto_step_applies(TECH_BIRTHDAY, &rnd, &unk, true));
	/* A random NAT with a narrow range looks sequential about every other time, or cone
	 * when it draws one port twice: birthday still follows (predict and udp come first). */
	assert_true(auto_step_applies(TECH_BIRTHDAY, &seq, &cone, true));
	assert_true(auto_step_applies(TECH_BIRTHDAY, &cone, &seq, true));
	assert_true(auto_step_applies(TECH_BIRTHDAY, &cone, &cone, true));
	assert_false(auto_step_applies(TECH_BIRTHDAY, &seq, &rnd, true));
	assert_false(auto_step_applies(TECH_BIRTHDAY, &unk, &unk, true));
	assert_true(auto_step_applies(TECH_RELAY, &unk, &unk, true));
	assert_false(auto_step_applies(TECH_RELAY, &unk, &unk, false));
}

/* The TCP attempt schedule both peers share: no jitter, 20 ms doubling to 250 ms; role a
 * of tcp's ordered attempts adds one attempt halfway between each two. */
static void test_tcp_schedule(void **state)
{
	const uint64_t base[] = { 0, 20000, 60000, 140000, 300000, 550000, 800000, 1050000 };
	uint32_t k;

	(void)state;
	for (k = 0; k < sizeof(base) / sizeof(base[0]); k++) {
		assert_true(tcp_attempt_offset_us(k, false) == base[k]);
		assert_true(tcp_attempt_offset_us(2 * k, true) == base[k]);
	}
	assert_true(tcp_attempt_offset_us(1, true) == 10000);
	assert_true(tcp_attempt_offset_us(3, true) == 40000);
	assert_true(tcp_attempt_offset_us(9, true) == 425000);
	assert_true(tcp_attempt_offset_us(1000, false) == 300000 + 996ull * 250000);
	/* Strictly increasing: every attempt comes after the one before. */
	for (k = 0; k < 200; k++) {
		assert_true(tcp_attempt_offset_us(k + 1, false) > tcp_attempt_offset_us(k, false));
		assert_true(tcp_attempt_offset_us(k + 1, true) > tcp_attempt_offset_us(k, true));
	}
	/* The next attempt due: the first one strictly after now. */
	assert_int_equal(tcp_attempt_next(1000000, 500000, false), 0);     /* before the moment */
	assert_int_equal(tcp_attempt_next(1000000, 1000000, false), 1);
	assert_int_equal(tcp_attempt_next(1000000, 1059999, false), 2);
	assert_int_equal(tcp_attempt_next(1000000, 1060000, false), 3);
	assert_int_equal(tcp_attempt_next(1000000, 1035000, true), 3);     /* 40 ms is next */
}

/* birthday sprays ports near the ones the hard side's NAT was seen to use first, keeping
 * every port exactly once and the (shuffled) order within each part. */
static void test_birthday_near_first(void **state)
{
	uint16_t ports[2000], seen[3] = { 49200, 0, 49300 };
	uint32_t i, near, count[2000] = { 0 }, pos[2000];

	(void)state;
	for (i = 0; i < 2000; i++) {
		ports[i] = (uint16_t)(48000 + (i * 7919u) % 2000);  /* a permutation of 48000.. */
		pos[ports[i] - 48000] = i;
	}
	near = birthday_near_first(ports, 2000, seen, 3, 100);
	assert_int_equal(near, 201 + 100);        /* 49100..49400 */
	for (i = 0; i < 2000; i++) {
		bool in = ports[i] >= 49100 && ports[i] <= 49400;

		assert_true(i < near ? in : !in);
		count[ports[i] - 48000]++;
	}
	for (i = 0; i < 2000; i++)
		assert_int_equal(count[i], 1);
	for (i = 1; i < 2000; i++)                /* order kept within each part */
		if (i != near)
			assert_true(pos[ports[i] - 48000] > pos[ports[i - 1] - 48000]);
	assert_int_equal(birthday_near_first(ports, 2000, seen, 0, 100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_predict_port),
		cmocka_unit_test(test_predict_ports),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_ttl_choose),
		cmocka_unit_test(test_auto_steps),
		cmocka_unit_test(test_tcp_schedule),
		cmocka_unit_test(test_birthday_near_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
