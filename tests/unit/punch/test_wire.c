/* Wire format: round trips, and every way a packet can be wrong (truncated, oversized,
 * wrong magic/version/type, malformed or missing attributes), plus the peer's check of
 * token, role and nonce on an otherwise valid message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "peer.h"
#include "wire.h"

static int encode_peer_msg(uint8_t *buf, size_t cap)
{
	struct wire_msg m;
	struct sockaddr_storage a, b;

	wire_msg_init(&m, WIRE_PEER);
	m.role = WIRE_ROLE_A;
	m.flags = WIRE_F_RELAY;
	m.token = 0x1122334455667788ULL;
	m.nonce = 42;
	m.round = 3;
	assert_int_equal(ep_parse("198.51.100.2:4000", true, &a), 0);
	assert_int_equal(ep_parse("[2001:db8::5]:5000", true, &b), 0);
	ep_to_wire(&a, &m.observed);
	ep_to_wire(&b, &m.peer_public);
	ep_to_wire(&a, &m.peer_priv[0]);
	ep_to_wire(&b, &m.peer_priv[1]);
	m.n_peer_priv = 2;
	m.peer_nat = (struct wire_natinfo){ NAT_SEQUENTIAL, -2, 30000, 29998 };
	m.peer_nonce = 77;
	m.peer_role = WIRE_ROLE_B;
	m.present = WA_BIT(WA_ROUND) | WA_BIT(WA_OBSERVED) | WA_BIT(WA_PEER_PUBLIC) |
		    WA_BIT(WA_PEER_PRIVATE) | WA_BIT(WA_PEER_NAT) | WA_BIT(WA_PEER_NONCE) |
		    WA_BIT(WA_PEER_ROLE);
	return wire_encode(&m, buf, cap);
}

static void test_roundtrip_peer(void **state)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct wire_msg m;
	struct sockaddr_storage ss;
	char s[EP_STRLEN];
	int n = encode_peer_msg(buf, sizeof(buf));

	(void)state;
	assert_true(n > WIRE_HDR_LEN);
	assert_int_equal(wire_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.type, WIRE_PEER);
	assert_int_equal(m.role, WIRE_ROLE_A);
	assert_int_equal(m.flags, WIRE_F_RELAY);
	assert_true(m.token == 0x1122334455667788ULL);
	assert_int_equal(m.nonce, 42);
	assert_int_equal(m.round, 3);
	assert_int_equal(m.n_peer_priv, 2);
	ep_from_wire(&m.peer_public, &ss);
	assert_string_equal(ep_format(&ss, s), "[2001:db8::5]:5000");
	ep_from_wire(&m.peer_priv[0], &ss);
	assert_string_equal(ep_format(&ss, s), "198.51.100.2:4000");
	assert_int_equal(m.peer_nat.kind, NAT_SEQUENTIAL);
	assert_int_equal(m.peer_nat.stride, -2);
	assert_int_equal(m.peer_nat.last_port, 29998);
	assert_int_equal(m.peer_nonce, 77);
	assert_int_equal(m.peer_role, WIRE_ROLE_B);
}

static void test_roundtrip_register_and_payload(void **state)
{
	uint8_t buf[WIRE_MAX_LEN], pl[WIRE_MAX_PAYLOAD];
	struct wire_msg m, d;
	int n;

	(void)state;
	wire_msg_init(&m, WIRE_REGISTER);
	strcpy(m.session, "cell-42/a.b:c@d+e");
	m.round = 65535;
	m.proto = 6;
	m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_ROUND) | WA_BIT(WA_PROTO);
	n = wire_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_decode(buf, (size_t)n, &d), 0);
	assert_string_equal(d.session, "cell-42/a.b:c@d+e");
	assert_int_equal(d.round, 65535);
	assert_int_equal(d.proto, 6);

	memset(pl, 0xab, sizeof(pl));
	wire_msg_init(&m, WIRE_DATA);
	m.payload = pl;
	m.payload_len = WIRE_MAX_PAYLOAD;
	m.present = WA_BIT(WA_PAYLOAD);
	n = wire_encode(&m, buf, sizeof(buf));
	assert_true(n > WIRE_MAX_PAYLOAD);
	assert_int_equal(wire_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.payload_len, WIRE_MAX_PAYLOAD);
	assert_memory_equal(d.payload, pl, WIRE_MAX_PAYLOAD);
}

/* The shared moment (PEER's START) and the RTT it is computed from (REGISTER's RTT): both
 * round-trip, and a malformed length rejects the message like every fixed-size attribute. */
static void test_roundtrip_start_rtt(void **state)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct wire_msg m;
	int n, i;

	(void)state;
	n = encode_peer_msg(buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, (size_t)n, &m), 0);
	assert_false(m.present & WA_BIT(WA_START));  /* optional: an older server sends none */
	m.start_us = 5123456;
	m.present |= WA_BIT(WA_START);
	n = wire_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(wire_decode(buf, (size_t)n, &m), 0);
	assert_true(m.present & WA_BIT(WA_START));
	assert_int_equal(m.start_us, 5123456);

	wire_msg_init(&m, WIRE_REGISTER);
	strcpy(m.session, "s1");
	m.round = 1;
	m.proto = 6;
	m.rtt_us = 0xfedcba98u;
	m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_ROUND) | WA_BIT(WA_PROTO) | WA_BIT(WA_RTT);
	n = wire_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(wire_decode(buf, (size_t)n, &m), 0);
	assert_true(m.present & WA_BIT(WA_RTT));
	assert_true(m.rtt_us == 0xfedcba98u);
	/* The RTT attribute is last: type 17, length 4. A length of 3 is malformed. */
	for (i = WIRE_HDR_LEN; i + 1 < n; i += 2 + buf[i + 1])
		if (buf[i] == WA_RTT)
			break;
	assert_int_equal(buf[i], WA_RTT);
	assert_int_equal(buf[i + 1], 4);
	buf[i + 1] = 3;
	buf[7] = (uint8_t)(n - 1);       /* length field, so only the attribute is wrong */
	assert_int_equal(wire_decode(buf, (size_t)n - 1, &m), -WIRE_EATTR);
}

static void test_truncated(void **state)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct wire_msg m;
	int n = encode_peer_msg(buf, sizeof(buf)), i;

	(void)state;
	/* Every proper prefix is rejected, whatever it is cut at. */
	for (i = 0; i < n; i++)
		assert_true(wire_decode(buf, (size_t)i, &m) < 0);
	assert_int_equal(wire_decode(buf, 10, &m), -WIRE_ETRUNC);
	assert_int_equal(wire_decode(buf, (size_t)n - 1, &m), -WIRE_ETRUNC);
}

static void test_oversized(void **state)
{
	uint8_t buf[WIRE_MAX_LEN + 100];
	struct wire_msg m;
	int n = encode_peer_msg(buf, sizeof(buf));

	(void)state;
	/* Trailing bytes beyond the length field. */
	assert_int_equal(wire_decode(buf, (size_t)n + 1, &m), -WIRE_EOVERSIZE);
	/* Larger than any message may be. */
	memset(buf + n, 0, sizeof(buf) - (size_t)n);
	assert_int_equal(wire_decode(buf, WIRE_MAX_LEN + 1, &m), -WIRE_EOVERSIZE);
	/* Length field below the header size. */
	buf[6] = 0;
	buf[7] = 4;
	assert_int_equal(wire_decode(buf, (size_t)n, &m), -WIRE_EOVERSIZE);
}

static void test_magic_version_type(void **state)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct wire_msg m;
	int n = encode_peer_msg(buf, sizeof(buf));

	(void)state;
	buf[2] = WIRE_VERSION + 1;
	assert_int_equal(wire_decode(buf, (size_t)n, &m), -WIRE_EVERSION);
	buf[2] = WIRE_VERSION;
	buf[0] ^= 0xff;
	assert_int_equal(wire_decode(buf, (size_t)n, &m), -WIRE_EMAGIC);
	buf[0] ^= 0xff;
	buf[3] = WIRE_TYPE_MAX;
	assert_int_equal(wire_decode(buf, (size_t)n, &m), -WIRE_ETYPE);
	buf[3] = 0;
	assert_int_equal(wire_decode(buf, (size_t)n, &m), -WIRE_ETYPE);
	buf[3] = WIRE_PEER;
	buf[4] = 9;     /* role */
	assert_int_equal(wire_decode(buf, (size_t)n, &m), -WIRE_EATTR);
}

static int hdr(uint8_t *b, uint8_t type, size_t total)
{
	memset(b, 0, WIRE_HDR_LEN);
	b[0] = 0x50;
	b[1] = 0x48;
	b[2] = WIRE_VERSION;
	b[3] = type;
	b[6] = (uint8_t)(total >> 8);
	b[7] = (uint8_t)total;
	return WIRE_HDR_LEN;
}

static void test_bad_attributes(void **state)
{
	uint8_t b[64];
	struct wire_msg m;
	int o;

	(void)state;
	/* Attribute longer than the message. */
	o = hdr(b, WIRE_PROBE, WIRE_HDR_LEN + 3);
	b[o] = WA_SEQ;
	b[o + 1] = 4;
	b[o + 2] = 0;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 3, &m), -WIRE_EATTR);
	/* Wrong fixed size. */
	o = hdr(b, WIRE_PROBE, WIRE_HDR_LEN + 5);
	b[o] = WA_SEQ;
	b[o + 1] = 3;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 5, &m), -WIRE_EATTR);
	/* A lone attribute type byte. */
	o = hdr(b, WIRE_PROBE, WIRE_HDR_LEN + 1);
	b[o] = WA_SEQ;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 1, &m), -WIRE_EATTR);
	/* Endpoint with a bad family. */
	o = hdr(b, WIRE_BIND_REPLY, WIRE_HDR_LEN + 9);
	b[o] = WA_OBSERVED;
	b[o + 1] = 7;
	b[o + 2] = 5;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 9, &m), -WIRE_EATTR);
	/* Session with a forbidden character. */
	o = hdr(b, WIRE_BYE, WIRE_HDR_LEN + 5);
	b[o] = WA_SESSION;
	b[o + 1] = 3;
	memcpy(b + o + 2, "a b", 3);
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 5, &m), -WIRE_EATTR);
	/* Payload: zero length, and a length beyond the message. */
	o = hdr(b, WIRE_DATA, WIRE_HDR_LEN + 4);
	b[o] = WA_PAYLOAD;
	b[o + 1] = 0;
	b[o + 2] = 0;
	b[o + 3] = 0;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 4, &m), -WIRE_EATTR);
	b[o + 3] = 9;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 4, &m), -WIRE_EATTR);
	/* Unknown attributes are skipped; the required SEQ is then missing. */
	o = hdr(b, WIRE_PROBE, WIRE_HDR_LEN + 4);
	b[o] = 200;
	b[o + 1] = 2;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 4, &m), -WIRE_EMISSING);
	/* Version 2: a BIND names its session (the key the server checks its MAC with). */
	hdr(b, WIRE_BIND, WIRE_HDR_LEN);
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN, &m), -WIRE_EMISSING);
	o = hdr(b, WIRE_BIND, WIRE_HDR_LEN + 3);
	b[o] = WA_SESSION;
	b[o + 1] = 1;
	b[o + 2] = 's';
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 3, &m), 0);
	/* A MAC attribute of the wrong size, or not the last one. */
	o = hdr(b, WIRE_BIND, WIRE_HDR_LEN + 3 + 17);
	b[o] = WA_SESSION;
	b[o + 1] = 1;
	b[o + 2] = 's';
	b[o + 3] = WA_MAC;
	b[o + 4] = 15;
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 3 + 17, &m), -WIRE_EATTR);
	o = hdr(b, WIRE_BIND, WIRE_HDR_LEN + 18 + 3);
	b[o] = WA_MAC;
	b[o + 1] = 16;
	memset(b + o + 2, 0, 16);
	b[o + 18] = WA_SESSION;
	b[o + 19] = 1;
	b[o + 20] = 's';
	assert_int_equal(wire_decode(b, WIRE_HDR_LEN + 18 + 3, &m), -WIRE_EATTR);
}

static void test_too_many_endpoints(void **state)
{
	uint8_t b[WIRE_HDR_LEN + 9 * 5];
	struct wire_msg m;
	int o = hdr(b, WIRE_REGISTER, sizeof(b)), i;

	(void)state;
	for (i = 0; i < 5; i++) {
		b[o] = WA_PRIVATE;
		b[o + 1] = 7;
		b[o + 2] = 4;
		memset(b + o + 3, 1, 6);
		o += 9;
	}
	assert_int_equal(wire_decode(b, sizeof(b), &m), -WIRE_EATTR);
}

static void test_encode_errors(void **state)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct wire_msg m;

	(void)state;
	wire_msg_init(&m, WIRE_BYE);
	strcpy(m.session, "bad session");
	m.present = WA_BIT(WA_SESSION);
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	strcpy(m.session, "ok");
	assert_int_equal(wire_encode(&m, buf, 10), -EMSGSIZE);
	assert_true(wire_encode(&m, buf, sizeof(buf)) > 0);
	wire_msg_init(&m, 0);
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
	wire_msg_init(&m, WIRE_DATA);
	m.present = WA_BIT(WA_PAYLOAD);
	assert_int_equal(wire_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_session_valid(void **state)
{
	char s[70];

	(void)state;
	assert_true(wire_session_valid("a"));
	assert_false(wire_session_valid(""));
	assert_false(wire_session_valid("x\n"));
	memset(s, 'x', 64);
	s[64] = 0;
	assert_true(wire_session_valid(s));
	s[64] = 'x';
	s[65] = 0;
	assert_false(wire_session_valid(s));
}

static void test_msg_check(void **state)
{
	struct wire_msg m;

	(void)state;
	wire_msg_init(&m, WIRE_PROBE);
	m.token = 100;
	m.nonce = 7;
	m.role = WIRE_ROLE_B;
	assert_int_equal(peer_msg_check(true, 100, 5, 7, WIRE_ROLE_B, &m), MSG_OK);
	/* Wrong token: a stray or spoofed packet. */
	assert_int_equal(peer_msg_check(true, 101, 5, 7, WIRE_ROLE_B, &m), MSG_BAD);
	/* Before the endpoints are known nothing is accepted. */
	assert_int_equal(peer_msg_check(false, 100, 5, 7, WIRE_ROLE_B, &m), MSG_BAD);
	/* Our own probe, bounced back by the same private address on the other LAN. */
	m.nonce = 5;
	m.role = WIRE_ROLE_A;
	assert_int_equal(peer_msg_check(true, 100, 5, 7, WIRE_ROLE_B, &m), MSG_SELF);
	/* Right token, wrong role or nonce. */
	m.nonce = 7;
	assert_int_equal(peer_msg_check(true, 100, 5, 7, WIRE_ROLE_B, &m), MSG_BAD);
	m.role = WIRE_ROLE_B;
	m.nonce = 8;
	assert_int_equal(peer_msg_check(true, 100, 5, 7, WIRE_ROLE_B, &m), MSG_BAD);
}

static void test_payload_fill(void **state)
{
	uint8_t a[300], b[300];

	(void)state;
	payload_fill(a, sizeof(a), 1234, WIRE_ROLE_A);
	payload_fill(b, sizeof(b), 1234, WIRE_ROLE_A);
	assert_memory_equal(a, b, sizeof(a));
	payload_fill(b, sizeof(b), 1234, WIRE_ROLE_B);
	assert_memory_not_equal(a, b, sizeof(a));
	payload_fill(b, sizeof(b), 1235, WIRE_ROLE_A);
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_peer),
		cmocka_unit_test(test_roundtrip_register_and_payload),
		cmocka_unit_test(test_roundtrip_start_rtt),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_magic_version_type),
		cmocka_unit_test(test_bad_attributes),
		cmocka_unit_test(test_too_many_endpoints),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_session_valid),
		cmocka_unit_test(test_msg_check),
		cmocka_unit_test(test_payload_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
