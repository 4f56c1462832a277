/* Unit tests of the classifier's pure parts (src/lab/classify.c): deciding mapping behaviour
 * and port allocation from observed endpoints, and comparing measured with declared. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lab/classify.h"

#define X 0x0271cbcbu /* any address */
#define Y 0x0371cbcbu

static void test_mapping_of(void **state)
{
	const uint32_t same[4] = { X, X, X, X }, two[4] = { X, X, Y, Y };
	const uint16_t eim[4] = { 4000, 4000, 4000, 4000 }, adm[4] = { 4000, 4000, 5000, 5000 },
		       apdm[4] = { 4000, 4001, 4002, 4003 },
		       /* a random NAT that drew the same port twice for one address */
		       lucky[4] = { 4000, 4000, 5000, 5001 };

	(void)state;
	assert_int_equal(classify_mapping_of(same, eim), PROFILE_ENDPOINT_INDEPENDENT);
	assert_int_equal(classify_mapping_of(same, adm), PROFILE_ADDRESS_DEPENDENT);
	assert_int_equal(classify_mapping_of(same, apdm), PROFILE_ADDRESS_AND_PORT_DEPENDENT);
	assert_int_equal(classify_mapping_of(same, lucky), PROFILE_ADDRESS_AND_PORT_DEPENDENT);
	/* a different public address per server address is address-dependent too */
	assert_int_equal(classify_mapping_of(two, eim), PROFILE_ADDRESS_DEPENDENT);
}

static void test_ports_of(void **state)
{
	const uint16_t in[4] = { 40021, 40022, 40023, 40024 };
	const uint16_t seq1[4] = { 20003, 20004, 20005, 20006 }, seq3[4] = { 30009, 30012, 30015, 30018 };
	const uint16_t rnd[4] = { 38645, 26307, 2237, 59304 }, down[4] = { 20006, 20005, 20004, 20003 };
	const uint16_t gap[4] = { 20003, 20004, 20006, 20007 };
	int stride = 0;

	(void)state;
	assert_int_equal(classify_ports_of(in, in, 4, &stride), PROFILE_PORTS_PRESERVE);
	assert_int_equal(classify_ports_of(in, seq1, 4, &stride), PROFILE_PORTS_SEQUENTIAL);
	assert_int_equal(stride, 1);
	assert_int_equal(classify_ports_of(in, seq3, 4, &stride), PROFILE_PORTS_SEQUENTIAL);
	assert_int_equal(stride, 3);
	assert_int_equal(classify_ports_of(in, rnd, 4, &stride), PROFILE_PORTS_RANDOM);
	assert_int_equal(classify_ports_of(in, down, 4, &stride), PROFILE_PORTS_RANDOM);
	assert_int_equal(classify_ports_of(in, gap, 4, &stride), PROFILE_PORTS_RANDOM);
}

static void declare(struct classify_result *r)
{
	memset(r, 0, sizeof(*r));
	r->declared.rfc3489 = PROFILE_PORT_RESTRICTED_CONE;
	r->declared.mapping = PROFILE_ENDPOINT_INDEPENDENT;
	r->declared.filtering = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	r->declared.ports = PROFILE_PORTS_PRESERVE;
	r->declared.stride = 1;
	r->declared.predictable = true;
	r->declared.transports = PROFILE_UDP;
	r->declared.udp_timeout = 30;
	r->lifetime_lo = r->lifetime_hi = -1;
	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
		struct classify_measure *m = &r->m[tr];

		m->mapping_known = m->filtering_known = m->ports_known = true;
		m->hairpin_known = m->unsolicited_known = true;
		m->mapping = r->declared.mapping;
		m->filtering = r->declared.filtering;
		m->ports = r->declared.ports;
		m->stride = 1;
	}
}

static void test_compare(void **state)
{
	struct classify_result r;
	char buf[64];

	(void)state;
	declare(&r);
	assert_int_equal(classify_compare(&r), 0);

	/* TCP is not declared: its differences are shown, not counted */
	r.m[CLASSIFY_TCP].mapping = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	assert_int_equal(classify_compare(&r), 0);
	assert_false(classify_compared(&r, PROFILE_KEY_MAPPING, CLASSIFY_TCP));

	/* one UDP key wrong: that key, and what is derived from it */
	r.m[CLASSIFY_UDP].filtering = PROFILE_ENDPOINT_INDEPENDENT;
	assert_int_equal(classify_compare(&r),
			 (1u << PROFILE_KEY_FILTERING) | (1u << PROFILE_KEY_RFC3489));
	assert_string_equal(classify_measured(&r, PROFILE_KEY_RFC3489, CLASSIFY_UDP, buf,
					      sizeof(buf)),
			    "full-cone");

	/* unknown is a mismatch */
	declare(&r);
	r.m[CLASSIFY_UDP].hairpin_known = false;
	assert_int_equal(classify_compare(&r), 1u << PROFILE_KEY_HAIRPIN);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_HAIRPIN, CLASSIFY_UDP, buf,
					      sizeof(buf)),
			    "?");

	/* stride is part of ports */
	declare(&r);
	r.declared.ports = r.m[CLASSIFY_UDP].ports = PROFILE_PORTS_SEQUENTIAL;
	r.declared.stride = 3;
	r.m[CLASSIFY_UDP].stride = 2;
	assert_int_equal(classify_compare(&r), 1u << PROFILE_KEY_PORTS);
	assert_string_equal(classify_declared(&r, PROFILE_KEY_PORTS, buf, sizeof(buf)),
			    "sequential, stride 3");

	/* the lifetime: the declared timeout must lie in the measured bracket (1 s slack) */
	declare(&r);
	r.lifetime_lo = 29;
	r.lifetime_hi = 32;
	assert_int_equal(classify_compare(&r), 0);
	r.lifetime_lo = 15;
	r.lifetime_hi = 22;
	assert_int_equal(classify_compare(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	r.lifetime_lo = 60;
	r.lifetime_hi = -1; /* never gone within the bound */
	assert_int_equal(classify_compare(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_UDP_TIMEOUT, CLASSIFY_UDP, buf,
					      sizeof(buf)),
			    "> 60");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping_of),
		cmocka_unit_test(test_ports_of),
		cmocka_unit_test(test_compare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
