/* Unit tests of the classifier's pure parts (src/lab/classify.c, classify_verdict.c): deciding
 * mapping behaviour, port allocation and hairpin filtering from observations, combining rounds,
 * and comparing measured with declared. */
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

static void test_hairpin_filtering_of(void **state)
{
	(void)state;
	/* without the control (the mutual exchange) nothing else counts */
	assert_int_equal(classify_hairpin_filtering_of(false, true, true), PROFILE_DEPENDENCY_NONE);
	assert_int_equal(classify_hairpin_filtering_of(true, true, true),
			 PROFILE_ENDPOINT_INDEPENDENT);
	assert_int_equal(classify_hairpin_filtering_of(true, false, true), PROFILE_ADDRESS_DEPENDENT);
	assert_int_equal(classify_hairpin_filtering_of(true, false, false),
			 PROFILE_ADDRESS_AND_PORT_DEPENDENT);
}

/* A port-restricted cone declared over UDP and TCP, measured so in every round. */
static void declare(struct classify_result *r)
{
	memset(r, 0, sizeof(*r));
	r->declared.rfc3489 = PROFILE_PORT_RESTRICTED_CONE;
	r->declared.mapping = PROFILE_ENDPOINT_INDEPENDENT;
	r->declared.filtering = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	r->declared.ports = PROFILE_PORTS_PRESERVE;
	r->declared.stride = 1;
	r->declared.hairpin_filtering = PROFILE_DEPENDENCY_UNDECLARED;
	r->declared.predictable = true;
	r->declared.transports = PROFILE_UDP | PROFILE_TCP;
	r->declared.udp_timeout = 30;
	r->lifetime_lo = r->lifetime_hi = -1;
	r->nrounds = CLASSIFY_ROUNDS;
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			struct classify_measure *m = &r->round[i][tr];

			m->handled_known = m->handled = true;
			m->mapping_known = m->filtering_known = m->ports_known = true;
			m->hairpin_known = m->hairpin_filtering_known = true;
			m->unsolicited_known = m->mapped_unsolicited_known = true;
			m->mapping = r->declared.mapping;
			m->filtering = r->declared.filtering;
			m->ports = r->declared.ports;
			m->stride = 1;
			m->hairpin_filtering = PROFILE_DEPENDENCY_NONE;
			m->ct_unreplied = m->ct_replied = 29; /* truncated: 30 s less a moment */
		}
}

static unsigned judge(struct classify_result *r)
{
	classify_combine(r);
	return classify_compare(r);
}

static void test_compare(void **state)
{
	struct classify_result r;
	char buf[64];

	(void)state;
	declare(&r);
	assert_int_equal(judge(&r), 0);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_TRANSPORTS, CLASSIFY_TCP, buf,
					      sizeof(buf)), "yes");

	/* one UDP key wrong: that key, and what is derived from it */
	declare(&r);
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		r.round[i][CLASSIFY_UDP].filtering = PROFILE_ENDPOINT_INDEPENDENT;
	assert_int_equal(judge(&r), (1u << PROFILE_KEY_FILTERING) | (1u << PROFILE_KEY_RFC3489));
	assert_string_equal(classify_measured(&r, PROFILE_KEY_RFC3489, CLASSIFY_UDP, buf,
					      sizeof(buf)), "full-cone");

	/* unknown is a mismatch */
	declare(&r);
	r.round[1][CLASSIFY_UDP].hairpin_known = false;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_HAIRPIN);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_HAIRPIN, CLASSIFY_UDP, buf,
					      sizeof(buf)), "?");

	/* stride is part of ports */
	declare(&r);
	r.declared.ports = PROFILE_PORTS_SEQUENTIAL;
	r.declared.stride = 3;
	for (int i = 0; i < CLASSIFY_ROUNDS; i++) {
		r.round[i][CLASSIFY_UDP].ports = r.round[i][CLASSIFY_TCP].ports = PROFILE_PORTS_SEQUENTIAL;
		r.round[i][CLASSIFY_UDP].stride = 2;
		r.round[i][CLASSIFY_TCP].stride = 3;
	}
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_PORTS);
	assert_string_equal(classify_declared(&r, PROFILE_KEY_PORTS, buf, sizeof(buf)),
			    "sequential, stride 3");

	/* the lifetime end to end: the declared timeout must lie in the bracket (1 s slack) */
	declare(&r);
	r.lifetime_lo = 29;
	r.lifetime_hi = 32;
	assert_int_equal(judge(&r), 0);
	r.lifetime_lo = 15;
	r.lifetime_hi = 22;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	r.lifetime_lo = 60;
	r.lifetime_hi = -1; /* never gone within the bound */
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_UDP_TIMEOUT, CLASSIFY_UDP, buf,
					      sizeof(buf)), "ct 29/29, lives > 60");
	/* asked for (--timeouts) and not measured */
	declare(&r);
	r.timeouts = true;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
}

static void test_transports(void **state)
{
	struct classify_result r;

	(void)state;
	/* the NAT handles TCP, the header says udp only: transports, nothing else (TCP's keys
	 * are outside the declared behaviour and only shown) */
	declare(&r);
	r.declared.transports = PROFILE_UDP;
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		r.round[i][CLASSIFY_TCP].mapping = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_TRANSPORTS);
	assert_true(classify_mismatch(&r, PROFILE_KEY_TRANSPORTS, CLASSIFY_TCP));
	assert_false(classify_mismatch(&r, PROFILE_KEY_TRANSPORTS, CLASSIFY_UDP));
	assert_false(classify_compared(&r, PROFILE_KEY_MAPPING, CLASSIFY_TCP));

	/* declared, not handled: transports alone (the unknown TCP keys are not compared) */
	declare(&r);
	for (int i = 0; i < CLASSIFY_ROUNDS; i++) {
		struct classify_measure *m = &r.round[i][CLASSIFY_TCP];

		m->handled = false;
		m->mapping_known = m->filtering_known = m->hairpin_known = false;
	}
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_TRANSPORTS);
}

static void test_rounds_disagree(void **state)
{
	struct classify_result r;
	char buf[64];

	(void)state;
	/* one round of three answers otherwise: no value, "disagree", a mismatch, a note */
	declare(&r);
	r.round[2][CLASSIFY_TCP].unsolicited = PROFILE_UNSOLICITED_RST;
	r.round[2][CLASSIFY_TCP].mapped_unsolicited = PROFILE_UNSOLICITED_RST;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_TCP_UNSOLICITED);
	assert_true(r.m[CLASSIFY_TCP].disagree & (1u << PROFILE_KEY_TCP_UNSOLICITED));
	assert_false(r.m[CLASSIFY_TCP].unsolicited_known);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_TCP_UNSOLICITED, CLASSIFY_TCP, buf,
					      sizeof(buf)), "disagree");
	assert_non_null(strstr(r.m[CLASSIFY_TCP].note,
			       "tcp-unsolicited: the rounds disagree (drop / drop / rst)"));

	/* a round that could not tell is unknown, not a disagreement */
	declare(&r);
	r.round[0][CLASSIFY_UDP].mapping_known = false;
	assert_int_equal(judge(&r), (1u << PROFILE_KEY_MAPPING) | (1u << PROFILE_KEY_RFC3489) |
					    (1u << PROFILE_KEY_PREDICTABLE));
	assert_int_equal(r.m[CLASSIFY_UDP].disagree, 0);
}

static void test_unsolicited_mapped(void **state)
{
	struct classify_result r;
	char buf[64];

	(void)state;
	/* a mapped port answered otherwise than an unmapped one */
	declare(&r);
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		r.round[i][CLASSIFY_TCP].mapped_unsolicited = PROFILE_UNSOLICITED_RST;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_TCP_UNSOLICITED);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_TCP_UNSOLICITED, CLASSIFY_TCP, buf,
					      sizeof(buf)), "drop, mapped port rst");

	/* a filter that let the mapped probe in says nothing about unsolicited SYNs */
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		r.round[i][CLASSIFY_TCP].mapped_unsolicited_let_in = true;
	assert_int_equal(judge(&r), 0);
}

static void test_hairpin_filtering(void **state)
{
	struct classify_result r;

	(void)state;
	/* a hairpinning NAT declared endpoint-independent, measured address-dependent */
	declare(&r);
	r.declared.hairpin = true;
	r.declared.hairpin_filtering = PROFILE_ENDPOINT_INDEPENDENT;
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			r.round[i][tr].hairpin = true;
			r.round[i][tr].hairpin_filtering = PROFILE_ADDRESS_DEPENDENT;
		}
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_HAIRPIN_FILTERING);

	/* no hairpinning at all: hairpin's mismatch alone (hairpin-filtering refines it) */
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			r.round[i][tr].hairpin = false;
			r.round[i][tr].hairpin_filtering = PROFILE_DEPENDENCY_NONE;
		}
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_HAIRPIN);
	assert_false(classify_compared(&r, PROFILE_KEY_HAIRPIN_FILTERING, CLASSIFY_UDP));
}

/* A node that does not translate (an IPv6 firewall): mapping reads "no translation", which
 * only a declared endpoint-independent mapping matches; hairpinning does not apply. */
static void test_no_translation(void **state)
{
	struct classify_result r;
	char buf[64];

	(void)state;
	declare(&r);
	r.declared.filtering = PROFILE_ENDPOINT_INDEPENDENT;
	r.declared.rfc3489 = PROFILE_FULL_CONE;
	for (int i = 0; i < CLASSIFY_ROUNDS; i++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			struct classify_measure *m = &r.round[i][tr];

			m->no_translation = true;
			m->filtering = PROFILE_ENDPOINT_INDEPENDENT;
			/* not measured without translation (classify.c skips the test) */
			m->hairpin_known = m->hairpin_filtering_known = false;
		}
	assert_int_equal(judge(&r), 0);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_MAPPING, CLASSIFY_UDP, buf,
					      sizeof(buf)), CLASSIFY_NO_TRANSLATION);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_HAIRPIN, CLASSIFY_TCP, buf,
					      sizeof(buf)), CLASSIFY_NOT_APPLICABLE);
	assert_false(classify_compared(&r, PROFILE_KEY_HAIRPIN, CLASSIFY_UDP));
	assert_false(classify_compared(&r, PROFILE_KEY_HAIRPIN_FILTERING, CLASSIFY_UDP));
	/* derived keys read it as endpoint-independent */
	assert_string_equal(classify_measured(&r, PROFILE_KEY_RFC3489, CLASSIFY_UDP, buf,
					      sizeof(buf)), "full-cone");

	/* a header that claims a translating mapping type is caught */
	r.declared.mapping = PROFILE_ADDRESS_DEPENDENT;
	r.declared.rfc3489 = PROFILE_SYMMETRIC;
	assert_int_equal(judge(&r), (1u << PROFILE_KEY_MAPPING) | (1u << PROFILE_KEY_RFC3489));

	/* rounds that disagree on translation disagree on mapping */
	declare(&r);
	r.round[1][CLASSIFY_UDP].no_translation = true;
	assert_int_equal(judge(&r) & (1u << PROFILE_KEY_MAPPING), 1u << PROFILE_KEY_MAPPING);
	assert_string_equal(classify_measured(&r, PROFILE_KEY_MAPPING, CLASSIFY_UDP, buf,
					      sizeof(buf)), "disagree");
}

static void test_udp_timeout_conntrack(void **state)
{
	struct classify_result r;

	(void)state;
	declare(&r);
	assert_int_equal(judge(&r), 0);
	/* a full 30 is fine too; 31 is more than declared */
	r.round[0][CLASSIFY_UDP].ct_replied = 30;
	assert_int_equal(judge(&r), 0);
	r.round[0][CLASSIFY_UDP].ct_replied = 31;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	/* declared 60, conntrack says 29 left right after the packet */
	declare(&r);
	r.declared.udp_timeout = 60;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	/* a reading a second late is allowed a second more */
	declare(&r);
	r.round[1][CLASSIFY_UDP].ct_unreplied = 28;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
	r.round[1][CLASSIFY_UDP].ct_slack = 1;
	assert_int_equal(judge(&r), 0);
	/* no reading is a mismatch */
	r.round[2][CLASSIFY_UDP].ct_replied = -1;
	assert_int_equal(judge(&r), 1u << PROFILE_KEY_UDP_TIMEOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping_of),
		cmocka_unit_test(test_ports_of),
		cmocka_unit_test(test_hairpin_filtering_of),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_transports),
		cmocka_unit_test(test_rounds_disagree),
		cmocka_unit_test(test_unsolicited_mapped),
		cmocka_unit_test(test_hairpin_filtering),
		cmocka_unit_test(test_udp_timeout_conntrack),
		cmocka_unit_test(test_no_translation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
