/* Unit tests of the attestation (src/matrix/attest.c): which conntrack flows prove a direct or
 * relayed path, and how the engine's word and the lab's evidence combine into an outcome. */
#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attest_lab.h"
#include "matrix/attest.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a;
}

/* An outbound NATed flow: host:hp -> remote:rp, translated to public:hp, with counters. */
static struct ct_mapping flow(uint8_t proto, const char *host, const char *pub, const char *remote,
			      uint64_t out, uint64_t back)
{
	struct ct_mapping m = { .proto = proto, .status = IPS_SRC_NAT | IPS_SEEN_REPLY,
				.has_counters = true, .orig_packets = out, .reply_packets = back,
				.orig_bytes = out * 100, .reply_bytes = back * 100 };

	m.orig_src = m.internal_addr = ip(host);
	m.orig_dst = m.reply_src = m.remote_addr = ip(remote);
	m.reply_dst = m.public_addr = ip(pub);
	m.tcp_state = TCP_CONNTRACK_ESTABLISHED;
	return m;
}

/* two-nats: host-a 10.0.1.10 behind nat-a 203.0.113.2, host-b 10.0.2.10 behind nat-b
 * 203.0.113.18, the relay on 198.51.100.10 */
static void lab2_init(struct attest_lab *l, uint8_t proto)
{
	attest_lab_init(l, proto);
	l->in.side[0].nhost = l->in.side[1].nhost = 1;
	l->in.side[0].nother = l->in.side[1].nother = 2;
	l->in.side[0].host[0] = attest_lab_addr("10.0.1.10");
	l->in.side[0].other[0] = attest_lab_addr("10.0.2.10");
	l->in.side[0].other[1] = attest_lab_addr("203.0.113.18");
	l->in.side[1].host[0] = attest_lab_addr("10.0.2.10");
	l->in.side[1].other[0] = attest_lab_addr("10.0.1.10");
	l->in.side[1].other[1] = attest_lab_addr("203.0.113.2");
	l->in.nrelay = 1;
	l->in.relay[0] = attest_lab_addr("198.51.100.10");
}

static void test_direct_needs_both_nats(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	lab2_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow(IPPROTO_UDP, "10.0.1.10", "203.0.113.2", "203.0.113.18", 5, 4));
	attest_lab_add(&l.mb, flow(IPPROTO_UDP, "10.0.2.10", "203.0.113.18", "203.0.113.2", 4, 5));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	assert_non_null(strstr(a.evidence, "packets 5/4"));
	assert_non_null(strstr(a.evidence, "nat-b (peer B)"));

	/* B's NAT saw B's probes leave but nothing come back: not a path */
	l.fb[0].reply_packets = 0;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	assert_non_null(strstr(a.summary, "nat-b: 1 flow(s) between peer B and the other side, "
				      "none two-way"));
	/* nothing at all in B's NAT */
	l.mb.n = 0;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	assert_non_null(strstr(a.summary, "nat-b: no flow"));
}

static void test_flows_that_prove_nothing(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	/* flows with the relay are never direct, however busy */
	lab2_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow(IPPROTO_UDP, "10.0.1.10", "203.0.113.2", "198.51.100.10", 50,
				   50));
	attest_lab_add(&l.mb, flow(IPPROTO_UDP, "10.0.2.10", "203.0.113.18", "198.51.100.10", 50,
				   50));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_RELAYED);

	/* the other transport proves nothing about this one */
	lab2_init(&l, IPPROTO_TCP);
	attest_lab_add(&l.ma, flow(IPPROTO_UDP, "10.0.1.10", "203.0.113.2", "203.0.113.18", 5, 5));
	attest_lab_add(&l.mb, flow(IPPROTO_UDP, "10.0.2.10", "203.0.113.18", "203.0.113.2", 5, 5));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);

	/* a SYN answered by RST counts a packet each way, but the handshake never completed */
	lab2_init(&l, IPPROTO_TCP);
	attest_lab_add(&l.ma, flow(IPPROTO_TCP, "10.0.1.10", "203.0.113.2", "203.0.113.18", 1, 1));
	attest_lab_add(&l.mb, flow(IPPROTO_TCP, "10.0.2.10", "203.0.113.18", "203.0.113.2", 1, 1));
	l.fa[0].tcp_state = l.fb[0].tcp_state = TCP_CONNTRACK_CLOSE;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	/* the same after a completed handshake, closed cleanly: a path */
	l.fa[0].tcp_state = l.fb[0].tcp_state = TCP_CONNTRACK_TIME_WAIT;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);

	/* without accounting there are no counters: nothing is proven */
	l.fa[0].has_counters = false;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
}

/* same-nat: one NAT for both peers; only a flow that reaches the other host counts (the NAT's
 * own public address is not the other side) */
static void test_same_nat_hairpin(void **state)
{
	struct ct_mapping f[1];
	struct ct_mappings m = { .v = f };
	struct attest_input in = { .proto = IPPROTO_UDP, .nrelay = 1 };
	struct run_attestation a;

	(void)state;
	in.relay[0] = attest_lab_addr("198.51.100.10");
	for (int i = 0; i < 2; i++) {
		in.side[i] = (struct attest_side){ .nat_name = "nat-a", .flows = &m, .nhost = 1,
						   .nother = 1 };
		in.side[i].host[0] = attest_lab_addr(i ? "10.0.1.11" : "10.0.1.10");
		in.side[i].other[0] = attest_lab_addr(i ? "10.0.1.10" : "10.0.1.11");
	}
	/* A -> the NAT's public address, answered by the NAT's own stack: no */
	f[0] = flow(IPPROTO_UDP, "10.0.1.10", "203.0.113.2", "203.0.113.2", 3, 3);
	m.n = 1;
	attest_path(&in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	/* hairpinned: the reply comes from host-b: both peers' flow */
	f[0].reply_src = ip("10.0.1.11");
	f[0].status |= IPS_DST_NAT;
	attest_path(&in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
}

static void test_peer_without_nat(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	lab2_init(&l, IPPROTO_UDP);
	l.in.side[1].nat_name = NULL;
	l.in.side[1].flows = NULL;
	attest_lab_add(&l.ma, flow(IPPROTO_UDP, "10.0.1.10", "203.0.113.2", "203.0.113.18", 2, 2));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	assert_non_null(strstr(a.summary, "peer B: no NAT of its own, not checked"));
	/* neither has a NAT: nothing in the lab can see the path */
	l.in.side[0].nat_name = NULL;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_UNCHECKED);
}

/* Peers whose paths differ in transport (ice: A reaches its TURN relay over TLS, B sends UDP to
 * that relay's address): each NAT is read for its own peer's transport. Held to one transport,
 * one side shows no relay flow; a side's own transport is no licence for a direct verdict. */
static void test_side_transports(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	lab2_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow(IPPROTO_TCP, "10.0.1.10", "203.0.113.2", "198.51.100.10", 27,
				   27));
	attest_lab_add(&l.mb, flow(IPPROTO_UDP, "10.0.2.10", "203.0.113.18", "198.51.100.10", 9,
				   8));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE); /* A held to UDP: no relay flow of A's */
	l.in.side[0].proto = IPPROTO_TCP;
	l.in.side[1].proto = IPPROTO_UDP;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_RELAYED);
	assert_non_null(strstr(a.evidence, "nat-a (peer A): tcp "));
	assert_non_null(strstr(a.evidence, "nat-b (peer B): udp "));
	/* the side's transport decides which flows count: A's TCP relay flow is not enough for a
	 * side held to UDP, and a TCP flow to the other side never proves B's UDP path */
	l.in.side[0].proto = 0;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	l.in.side[0].proto = IPPROTO_TCP;
	attest_lab_add(&l.ma, flow(IPPROTO_TCP, "10.0.1.10", "203.0.113.2", "203.0.113.18", 5, 5));
	attest_lab_add(&l.mb, flow(IPPROTO_TCP, "10.0.2.10", "203.0.113.18", "203.0.113.2", 5, 5));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_RELAYED);
	assert_non_null(strstr(a.summary, "nat-a: two-way tcp flow"));
	assert_non_null(strstr(a.summary, "nat-b: no flow between peer B and the other side"));
}

static void test_judge(void **state)
{
	static const struct {
		enum cell_outcome said;
		enum attest_verdict lab;
		enum cell_outcome outcome;
	} table[] = {
		{ CELL_DIRECT, ATTEST_DIRECT, CELL_DIRECT },
		{ CELL_DIRECT, ATTEST_RELAYED, CELL_DISPUTED },
		{ CELL_DIRECT, ATTEST_NONE, CELL_DISPUTED },
		{ CELL_DIRECT, ATTEST_UNCHECKED, CELL_DIRECT },
		{ CELL_RELAYED, ATTEST_RELAYED, CELL_RELAYED },
		{ CELL_RELAYED, ATTEST_DIRECT, CELL_RELAYED },
		{ CELL_RELAYED, ATTEST_NONE, CELL_DISPUTED },
		{ CELL_FAILED, ATTEST_NONE, CELL_FAILED },
		{ CELL_FAILED, ATTEST_DIRECT, CELL_FAILED },
		{ CELL_ERROR, ATTEST_NONE, CELL_ERROR },
	};
	char note[200];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct run_attestation a = { .verdict = table[i].lab };
		assert_int_equal(attest_judge(table[i].said, &a, note, sizeof(note)),
				 table[i].outcome);
		if (table[i].outcome == CELL_DISPUTED)
			assert_true(strlen(note) > 10);
	}
	/* a path the engine missed is said, not hidden */
	struct run_attestation a = { .verdict = ATTEST_DIRECT };
	attest_judge(CELL_FAILED, &a, note, sizeof(note));
	assert_non_null(strstr(note, "did not report"));
	/* disputed ranks below failed */
	assert_true(cell_outcome_worse(CELL_DISPUTED, CELL_FAILED));
	assert_false(cell_outcome_worse(CELL_DISPUTED, CELL_ERROR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_needs_both_nats),
		cmocka_unit_test(test_flows_that_prove_nothing),
		cmocka_unit_test(test_same_nat_hairpin),
		cmocka_unit_test(test_peer_without_nat),
		cmocka_unit_test(test_side_transports),
		cmocka_unit_test(test_judge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
