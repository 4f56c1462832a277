/* punch probe without a network: the classifiers (mapping from four public endpoints, port
 * allocation from four local -> public pairs), the STUN codec (a request's CHANGE-REQUEST and
 * RESPONSE-PORT bytes; an answer's XOR-MAPPED-ADDRESS and OTHER-ADDRESS, and what is not an
 * answer to us), the punch BIND's CHANGE flags and RESPONSE_PORT on the wire, and options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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
	n = probe_ops_stun.encode(b, sizeof(b), 0x0102030405060708ULL,
				  WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT, 0);
	assert_int_equal(n, 28);
	/* Binding request, 8 bytes of attributes, the magic cookie, our transaction id */
	static const uint8_t hdr[20] = { 0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
					 0, 0, 0, 0 };
	assert_memory_equal(b, hdr, 20);
	/* CHANGE-REQUEST with change IP (4) and change port (2) */
	static const uint8_t cr[8] = { 0, 3, 0, 4, 0, 0, 0, 6 };
	assert_memory_equal(b + 20, cr, 8);
	n = probe_ops_stun.encode(b, sizeof(b), 1, WIRE_F_CHANGE_PORT, 40000);
	assert_int_equal(n, 36);
	static const uint8_t rest[16] = { 0, 3, 0, 4, 0, 0, 0, 2, 0, 0x27, 0, 4, 0x9c, 0x40, 0, 0 };
	assert_memory_equal(b + 20, rest, 16);
	n = probe_ops_stun.encode(b, sizeof(b), 1, 0, 0);
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
	assert_int_equal(probe_ops_stun.decode(b, n, 1, &a), 0);
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
		assert_int_equal(probe_ops_stun.decode(b2, n + sizeof(junk), 1, &a), 0);
		assert_string_equal(ep_format(&a.mapped, s), "203.0.113.2:4000");
	}
	/* another transaction, a truncated message, an error response: not an answer to us */
	assert_int_equal(probe_ops_stun.decode(b, n, 2, &a), -EINVAL);
	assert_int_equal(probe_ops_stun.decode(b, n - 4, 1, &a), -EINVAL);
	b[1] = 0x11;
	assert_int_equal(probe_ops_stun.decode(b, n, 1, &a), -EINVAL);
}

static void test_wire_bind(void **state)
{
	uint8_t b[WIRE_MAX_LEN];
	struct wire_msg m;
	int n;

	(void)state;
	n = probe_ops_wire.encode(b, sizeof(b), 99, WIRE_F_CHANGE_PORT, 40000);
	assert_true(n > 0);
	assert_int_equal(wire_decode(b, (size_t)n, &m), 0);
	assert_int_equal(m.type, WIRE_BIND);
	assert_int_equal(m.nonce, 99);
	assert_int_equal(m.flags, WIRE_F_CHANGE_PORT);
	assert_true(m.present & WA_BIT(WA_RESPONSE_PORT));
	assert_int_equal(m.response_port, 40000);
	/* RESPONSE_PORT 0 is malformed: the whole message is refused */
	b[n - 2] = 0;
	b[n - 1] = 0;
	assert_int_equal(wire_decode(b, (size_t)n, &m), -WIRE_EATTR);
}

static void test_opts(void **state)
{
	struct probe_opts o;
	char err[256];
	FILE *ef;
	char s[EP_STRLEN];
	char *ok1[] = { "probe", "--server", "198.51.100.10", "--lifetime-max", "40", "--redact", NULL };
	char *ok2[] = { "probe", "--stun", "198.51.100.10:3479", "--json", NULL };
	char *bad1[] = { "probe", NULL };
	char *bad2[] = { "probe", "--server", "198.51.100.10", "--stun", "198.51.100.10", NULL };
	char *bad3[] = { "probe", "--server", "198.51.100.10", "--lifetime-max", "x", NULL };

	(void)state;
	ef = fmemopen(err, sizeof(err), "w");
	assert_int_equal(probe_opts_parse(6, ok1, &o, stdout, ef), 0);
	assert_string_equal(ep_format(&o.server, s), "198.51.100.10:3478");
	assert_int_equal(o.lifetime_max_s, 40);
	assert_true(o.redact && !o.stun && o.tcp);
	assert_int_equal(probe_opts_parse(4, ok2, &o, stdout, ef), 0);
	assert_true(o.stun && o.json);
	assert_int_equal(ep_port(&o.server), 3479);
	assert_int_equal(probe_opts_parse(1, bad1, &o, stdout, ef), -EINVAL);
	assert_int_equal(probe_opts_parse(5, bad2, &o, stdout, ef), -EINVAL);
	assert_int_equal(probe_opts_parse(5, bad3, &o, stdout, ef), -EINVAL);
	fclose(ef);
	assert_non_null(strstr(err, "--lifetime-max wants seconds"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_stun_request),
		cmocka_unit_test(test_stun_answer),
		cmocka_unit_test(test_wire_bind),
		cmocka_unit_test(test_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
