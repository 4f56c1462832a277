/* punch probe without a network: the classifiers (mapping from four public endpoints, port
 * allocation from four local -> public pairs), the STUN codec (a request's CHANGE-REQUEST and
 * RESPONSE-PORT bytes; an answer's XOR-MAPPED-ADDRESS and OTHER-ADDRESS, and what is not an
 * answer to us), the punch BIND's CHANGE flags and RESPONSE_PORT on the wire (v2: session,
 * counter, padding and MAC; only a verified answer with our nonce counts), and options (the
 * secret --server requires). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "endpoint.h"
#include "probe.h"
#include "wire.h"

static void eps(struct sockaddr_storage *m, const char *a, const char *b, const char *c,
		const char *d)
{
	assert_int_equal(ep_parse(a, true, &m[PS_PRIMARY]), 0);
	assert_int_equal(ep_parse(b, true, &m[PS_ALT_PORT]), 0);
	assert_int_equal(ep_parse(c, true, &m[PS_ALT_ADDR]), 0);
	assert_int_equal(ep_parse(d, true, &m[PS_ALT_BOTH]), 0);
}

static void test_mapping(void **state)
{
	struct sockaddr_storage m[PS_MAX];
	bool ok[PS_MAX] = { true, true, true, true };

	(void)state;
	eps(m, "203.0.113.2:4000", "203.0.113.2:4000", "203.0.113.2:4000", "203.0.113.2:4000");
	assert_int_equal(probe_classify_mapping(m, ok), DEP_EI);
	eps(m, "203.0.113.2:4000", "203.0.113.2:4000", "203.0.113.2:4001", "203.0.113.2:4001");
	assert_int_equal(probe_classify_mapping(m, ok), DEP_AD);
	eps(m, "203.0.113.2:4000", "203.0.113.2:4001", "203.0.113.2:4002", "203.0.113.2:4003");
	assert_int_equal(probe_classify_mapping(m, ok), DEP_APD);
	/* a random-port NAT reusing a port by chance towards the other address: the primary's
	 * other port changed, so not address-dependent */
	eps(m, "203.0.113.2:4000", "203.0.113.2:5123", "203.0.113.2:6000", "203.0.113.2:6000");
	assert_int_equal(probe_classify_mapping(m, ok), DEP_APD);
	/* without the other address nothing is known */
	ok[PS_ALT_ADDR] = false;
	assert_int_equal(probe_classify_mapping(m, ok), DEP_UNKNOWN);
}

static void test_ports(void **state)
{
	uint16_t local[4] = { 30000, 30001, 30002, 30003 };
	uint16_t same[4] = { 30000, 30001, 30002, 30003 };
	uint16_t seq[4] = { 1024, 1025, 1026, 1027 };
	uint16_t seq3[4] = { 1024, 1027, 1030, 1033 };
	uint16_t rnd[4] = { 49200, 49163, 49390, 49211 };
	uint16_t down[4] = { 1030, 1029, 1028, 1027 };
	int stride;

	(void)state;
	assert_int_equal(probe_classify_ports(local, same, 4, &stride), PORTS_PRESERVE);
	assert_int_equal(probe_classify_ports(local, seq, 4, &stride), PORTS_SEQUENTIAL);
	assert_int_equal(stride, 1);
	assert_int_equal(probe_classify_ports(local, seq3, 4, &stride), PORTS_SEQUENTIAL);
	assert_int_equal(stride, 3);
	assert_int_equal(probe_classify_ports(local, rnd, 4, &stride), PORTS_RANDOM);
	assert_int_equal(probe_classify_ports(local, down, 4, &stride), PORTS_RANDOM);
	assert_int_equal(probe_classify_ports(local, seq, 2, &stride), PORTS_UNKNOWN);
}

static void test_stun_request(void **state)
{
	uint8_t b[64];
	int n;

	(void)state;
	n = probe_ops_stun.encode(NULL, b, sizeof(b), 0x0102030405060708ULL,
				  WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT, 0);
	assert_int_equal(n, 28);
	/* Binding request, 8 bytes of attributes, the magic cookie, our transaction id */
	static const uint8_t hdr[20] = { 0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
					 0, 0, 0, 0 };
	assert_memory_equal(b, hdr, 20);
	/* CHANGE-REQUEST with change IP (4) and change port (2) */
	static const uint8_t cr[8] = { 0, 3, 0, 4, 0, 0, 0, 6 };
	assert_memory_equal(b + 20, cr, 8);
	n = probe_ops_stun.encode(NULL, b, sizeof(b), 1, WIRE_F_CHANGE_PORT, 40000);
	assert_int_equal(n, 36);
	static const uint8_t rest[16] = { 0, 3, 0, 4, 0, 0, 0, 2, 0, 0x27, 0, 4, 0x9c, 0x40, 0, 0 };
	assert_memory_equal(b + 20, rest, 16);
	n = probe_ops_stun.encode(NULL, b, sizeof(b), 1, 0, 0);
	assert_int_equal(n, 20);
}

/* A Binding success for transaction 1: XOR-MAPPED-ADDRESS 203.0.113.2:4000, OTHER-ADDRESS
 * 198.51.100.11:3479, an unknown attribute (SOFTWARE, 5 bytes: padded) in between. */
static size_t stun_answer(uint8_t *b)
{
	static const uint8_t a[] = {
		0x01, 0x01, 0, 36, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		0x00, 0x20, 0, 8, 0, 1, 0x0f ^ 0x21, 0xa0 ^ 0x12,
		203 ^ 0x21, 0 ^ 0x12, 113 ^ 0xa4, 2 ^ 0x42,
		0x80, 0x22, 0, 5, 'c', 'o', 't', 'u', 'r', 0, 0, 0,
		0x80, 0x2c, 0, 8, 0, 1, 0x0d, 0x97, 198, 51, 100, 11,
	};
	memcpy(b, a, sizeof(a));
	return sizeof(a);
}

static void test_stun_answer(void **state)
{
	struct probe_answer a;
	uint8_t b[64];
	char s[EP_STRLEN];
	size_t n = stun_answer(b);

	(void)state;
	assert_int_equal(probe_ops_stun.decode(NULL, b, n, 1, &a), 0);
	assert_string_equal(ep_format(&a.mapped, s), "203.0.113.2:4000");
	assert_int_equal(a.n_other, 1);
	assert_string_equal(ep_format(&a.other[0], s), "198.51.100.11:3479");
	/* a second XOR-MAPPED-ADDRESS of an unknown family after the good one: the good one
	 * stays (fuzz_stun found it zeroed) */
	{
		uint8_t b2[80];
		static const uint8_t junk[12] = { 0x00, 0x20, 0, 8, 0, 9, 0, 0, 0, 0, 0, 0 };

		memcpy(b2, b, n);
		memcpy(b2 + n, junk, sizeof(junk));
		b2[3] = (uint8_t)(n - 20 + sizeof(junk));
		assert_int_equal(probe_ops_stun.decode(NULL, b2, n + sizeof(junk), 1, &a), 0);
		assert_string_equal(ep_format(&a.mapped, s), "203.0.113.2:4000");
	}
	/* another transaction, a truncated message, an error response: not an answer to us */
	assert_int_equal(probe_ops_stun.decode(NULL, b, n, 2, &a), -EINVAL);
	assert_int_equal(probe_ops_stun.decode(NULL, b, n - 4, 1, &a), -EINVAL);
	b[1] = 0x11;
	assert_int_equal(probe_ops_stun.decode(NULL, b, n, 1, &a), -EINVAL);
}

#define SECRET "0123456789abcdef0123456789abcdef"

/* Options as probe_opts_parse leaves them for --server with a secret and --session @session. */
static void wire_opts(struct probe_opts *o, const char *session)
{
	struct auth_key master;
	char why[256];

	memset(o, 0, sizeof(*o));
	setenv("PUNCH_SECRET", SECRET, 1);
	assert_int_equal(auth_secret_load(NULL, &master, why, sizeof(why)), 0);
	strcpy(o->session, session);
	auth_session_key(&master, session, &o->key);
}

/* The BIND a probe sends is wire v2 as a peer's: session, counter, padded to WIRE_MIN_BIND,
 * a MAC by the session's key; the CHANGE flags and RESPONSE_PORT ride along. */
static void test_wire_bind(void **state)
{
	uint8_t b[WIRE_MAX_LEN];
	struct probe_opts o, other;
	struct wire_msg m;
	int n;

	(void)state;
	wire_opts(&o, "probe");
	wire_opts(&other, "another");
	n = probe_ops_wire.encode(&o, b, sizeof(b), 99, WIRE_F_CHANGE_PORT, 40000);
	assert_int_equal(n, WIRE_MIN_BIND);
	assert_int_equal(auth_decode(&o.key, b, (size_t)n, &m), 0);
	assert_int_equal(m.type, WIRE_BIND);
	assert_int_equal(m.nonce, 99);
	assert_string_equal(m.session, "probe");
	assert_true(m.present & WA_BIT(WA_CTR));
	assert_true(auth_fresh(m.ctr, auth_now_us()));
	assert_int_equal(m.flags, WIRE_F_CHANGE_PORT);
	assert_true(m.present & WA_BIT(WA_RESPONSE_PORT));
	assert_int_equal(m.response_port, 40000);
	/* another session's key does not verify it, nor does a changed byte */
	assert_int_equal(auth_decode(&other.key, b, (size_t)n, &m), -EBADMSG);
	b[30] ^= 1;
	assert_int_equal(auth_decode(&o.key, b, (size_t)n, &m), -EBADMSG);
	/* both flags, no RESPONSE_PORT: still the padded size; each BIND a new counter */
	{
		uint64_t first = m.ctr;

		n = probe_ops_wire.encode(&o, b, sizeof(b), 7,
					  WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT, 0);
		assert_int_equal(n, WIRE_MIN_BIND);
		assert_int_equal(auth_decode(&o.key, b, (size_t)n, &m), 0);
		assert_int_equal(m.flags, WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT);
		assert_false(m.present & WA_BIT(WA_RESPONSE_PORT));
		assert_true(m.ctr > first);
	}
}

/* A BIND_REPLY as the rendezvous seals it, for nonce @nonce, with key @k (NULL: no MAC). */
static size_t wire_reply(uint8_t *b, const struct auth_key *k, uint64_t nonce)
{
	struct wire_msg m;
	struct sockaddr_storage ss;
	int n;

	wire_msg_init(&m, WIRE_BIND_REPLY);
	m.role = WIRE_ROLE_SERVER;
	m.nonce = nonce;
	assert_int_equal(ep_parse("203.0.113.2:4000", true, &ss), 0);
	ep_to_wire(&ss, &m.observed);
	assert_int_equal(ep_parse("198.51.100.11:3479", true, &ss), 0);
	ep_to_wire(&ss, &m.alt[0]);
	m.n_alt = 1;
	m.present = WA_BIT(WA_OBSERVED) | WA_BIT(WA_ALT);
	if (k)
		n = auth_encode(k, &m, b, WIRE_MAX_LEN);
	else
		n = wire_encode(&m, b, WIRE_MAX_LEN);
	assert_true(n > 0);
	return (size_t)n;
}

/* Only a BIND_REPLY with our nonce and the session key's MAC is an answer. */
static void test_wire_reply(void **state)
{
	uint8_t b[WIRE_MAX_LEN];
	struct probe_opts o, other;
	struct probe_answer a;
	char s[EP_STRLEN];
	size_t n;

	(void)state;
	wire_opts(&o, "probe");
	wire_opts(&other, "another");
	n = wire_reply(b, &o.key, 99);
	assert_int_equal(probe_ops_wire.decode(&o, b, n, 99, &a), 0);
	assert_string_equal(ep_format(&a.mapped, s), "203.0.113.2:4000");
	assert_int_equal(a.n_other, 1);
	assert_string_equal(ep_format(&a.other[0], s), "198.51.100.11:3479");
	/* another transaction */
	assert_int_equal(probe_ops_wire.decode(&o, b, n, 98, &a), -EINVAL);
	/* sealed with another session's key (or forged without the secret) */
	n = wire_reply(b, &other.key, 99);
	assert_int_equal(probe_ops_wire.decode(&o, b, n, 99, &a), -EINVAL);
	/* no MAC at all (a wire-v1-style answer) */
	n = wire_reply(b, NULL, 99);
	assert_int_equal(probe_ops_wire.decode(&o, b, n, 99, &a), -EINVAL);
	/* a byte changed in flight */
	n = wire_reply(b, &o.key, 99);
	b[n - AUTH_MAC_ATTR_LEN - 1] ^= 1;
	assert_int_equal(probe_ops_wire.decode(&o, b, n, 99, &a), -EINVAL);
}

static void test_opts(void **state)
{
	struct probe_opts o;
	struct auth_key def;
	char err[1024];
	FILE *ef;
	char s[EP_STRLEN];
	char *ok1[] = { "probe", "--server", "198.51.100.10", "--lifetime-max", "40", "--redact", NULL };
	char *ok2[] = { "probe", "--stun", "198.51.100.10:3479", "--json", NULL };
	char *ok3[] = { "probe", "--server", "198.51.100.10", "--session", "lab-7", NULL };
	char *bad1[] = { "probe", NULL };
	char *bad2[] = { "probe", "--server", "198.51.100.10", "--stun", "198.51.100.10", NULL };
	char *bad3[] = { "probe", "--server", "198.51.100.10", "--lifetime-max", "x", NULL };
	char *bad4[] = { "probe", "--server", "198.51.100.10", "--session", "a b", NULL };
	char *bad5[] = { "probe", "--stun", "198.51.100.10", "--secret-file", "/x", NULL };
	char *bad6[] = { "probe", "--server", "198.51.100.10", "--secret-file",
			 "/nonexistent/punch-probe-secret", NULL };

	(void)state;
	ef = fmemopen(err, sizeof(err), "w");
	setbuf(ef, NULL);
	setenv("PUNCH_SECRET", SECRET, 1);
	unsetenv("PUNCH_SECRET_FILE");
	assert_int_equal(probe_opts_parse(6, ok1, &o, stdout, ef), 0);
	assert_string_equal(ep_format(&o.server, s), "198.51.100.10:3478");
	assert_int_equal(o.lifetime_max_s, 40);
	assert_true(o.redact && !o.stun && o.tcp);
	assert_string_equal(o.session, "probe");
	def = o.key;
	{
		struct probe_opts w;

		wire_opts(&w, "probe");
		assert_memory_equal(def.k, w.key.k, AUTH_KEY_LEN);
	}
	assert_int_equal(probe_opts_parse(5, ok3, &o, stdout, ef), 0);
	assert_string_equal(o.session, "lab-7");
	assert_memory_not_equal(def.k, o.key.k, AUTH_KEY_LEN);
	assert_int_equal(probe_opts_parse(4, ok2, &o, stdout, ef), 0);
	assert_true(o.stun && o.json);
	assert_int_equal(ep_port(&o.server), 3479);
	assert_int_equal(probe_opts_parse(1, bad1, &o, stdout, ef), -EINVAL);
	assert_int_equal(probe_opts_parse(5, bad2, &o, stdout, ef), -EINVAL);
	assert_int_equal(probe_opts_parse(5, bad3, &o, stdout, ef), -EINVAL);
	assert_non_null(strstr(err, "--lifetime-max wants seconds"));
	assert_int_equal(probe_opts_parse(5, bad4, &o, stdout, ef), -EINVAL);
	assert_non_null(strstr(err, "--session wants"));
	assert_int_equal(probe_opts_parse(5, bad5, &o, stdout, ef), -EINVAL);
	assert_non_null(strstr(err, "go with --server only"));
	assert_int_equal(probe_opts_parse(5, bad6, &o, stdout, ef), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/punch-probe-secret"));
	/* no secret anywhere: --server refuses to start, --stun needs none */
	unsetenv("PUNCH_SECRET");
	rewind(ef);
	memset(err, 0, sizeof(err));
	assert_int_equal(probe_opts_parse(6, ok1, &o, stdout, ef), -EINVAL);
	assert_non_null(strstr(err, "punch probe: --server: no secret: give --secret-file FILE"));
	assert_int_equal(probe_opts_parse(4, ok2, &o, stdout, ef), 0);
	fclose(ef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_stun_request),
		cmocka_unit_test(test_stun_answer),
		cmocka_unit_test(test_wire_bind),
		cmocka_unit_test(test_wire_reply),
		cmocka_unit_test(test_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
