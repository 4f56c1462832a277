/* Unit tests of the attestation over IPv6 and through firewalls that do not translate
 * (src/matrix/attest.c, issue 15): two-way flows of either family, translated or not, opened
 * from either side, held to the endpoints the engine reported; and what must still fail (a
 * relayed path, a flow without reply packets, a flow between other endpoints). */
#include <arpa/inet.h>
#include <errno.h>
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

static void set6(struct in6_addr *dst, const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, dst), 1);
}

/* An IPv6 flow as conntrack.c orients it. status: 0 (a firewall), IPS_SRC_NAT (nat66, host
 * -> remote translated to pub) or IPS_DST_NAT (let in: remote -> pub, to host). */
static struct ct_mapping flow6(uint8_t proto, uint32_t status, const char *host, uint16_t hp,
			       const char *pub, uint16_t pp, const char *remote, uint16_t rp,
			       uint64_t out, uint64_t back)
{
	struct ct_mapping m = { .family = AF_INET6, .proto = proto,
				.status = status | (back ? IPS_SEEN_REPLY : 0), .has_counters = true,
				.orig_packets = out, .reply_packets = back, .orig_bytes = out * 100,
				.reply_bytes = back * 100, .tcp_state = TCP_CONNTRACK_ESTABLISHED };

	set6(&m.internal_addr6, host);
	set6(&m.public_addr6, pub);
	set6(&m.remote_addr6, remote);
	m.internal_port = hp;
	m.public_port = pp;
	m.remote_port = rp;
	if (status & IPS_DST_NAT) {
		m.inbound = true;
		m.orig_src6 = m.reply_dst6 = m.remote_addr6;
		m.orig_dst6 = m.public_addr6;
		m.reply_src6 = m.internal_addr6;
	} else {
		m.orig_src6 = m.internal_addr6;
		m.orig_dst6 = m.reply_src6 = m.remote_addr6;
		m.reply_dst6 = m.public_addr6;
	}
	return m;
}

/* A firewall's flow opened from outside (b's probe first): no NAT, the original source is the
 * remote peer. conntrack.c then names the original source "internal". */
static struct ct_mapping flow6_from_outside(const char *remote, uint16_t rp, const char *host,
					    uint16_t hp, uint64_t in, uint64_t back)
{
	return flow6(IPPROTO_UDP, 0, remote, rp, remote, rp, host, hp, in, back);
}

/* two-nats-dual over IPv6: host-a 2001:db8:1::10 behind nat-a (WAN 2001:db8:a::2), host-b
 * 2001:db8:2::10 behind nat-b (2001:db8:b::2); the relay on 2001:db8:100::10 and ::11. Both
 * families' addresses in the sets, as attest_lab() fills them. */
static void lab6_init(struct attest_lab *l, uint8_t proto)
{
	attest_lab_init(l, proto);
	for (int i = 0; i < 2; i++) {
		struct attest_side *s = &l->in.side[i];

		s->nhost = 2;
		s->nother = 4;
		s->host[0] = attest_lab_addr(i ? "10.0.2.10" : "10.0.1.10");
		s->host[1] = attest_lab_addr(i ? "2001:db8:2::10" : "2001:db8:1::10");
		s->other[0] = attest_lab_addr(i ? "10.0.1.10" : "10.0.2.10");
		s->other[1] = attest_lab_addr(i ? "2001:db8:1::10" : "2001:db8:2::10");
		s->other[2] = attest_lab_addr(i ? "203.0.113.2" : "203.0.113.18");
		s->other[3] = attest_lab_addr(i ? "2001:db8:a::2" : "2001:db8:b::2");
	}
	l->in.nrelay = 3;
	l->in.relay[0] = attest_lab_addr("198.51.100.10");
	l->in.relay[1] = attest_lab_addr("2001:db8:100::10");
	l->in.relay[2] = attest_lab_addr("2001:db8:100::11");
}

static void claim(struct attest_side *s, const char *local, const char *peer)
{
	uint16_t port;

	s->claimed = true;
	assert_int_equal(attest_endpoint_parse(peer, &s->claimed_peer, &s->claimed_peer_port), 0);
	assert_int_equal(attest_endpoint_parse(local, &s->claimed_local, &port), 0);
}

/* ipv6-firewall: no translation; a's flow opened by a, b's opened by a's probe arriving first
 * (endpoint-independent filtering lets it in once b sent anything out). Direct, held to the
 * endpoints both engines reported. */
static void test_firewall_direct(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	lab6_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 50753, "2001:db8:1::10",
				    50753, "2001:db8:2::10", 59370, 4, 5));
	attest_lab_add(&l.mb, flow6_from_outside("2001:db8:1::10", 50753, "2001:db8:2::10", 59370,
						 5, 4));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	assert_int_equal(a.family, 6); /* the family the path took, the lab's word */
	assert_non_null(strstr(a.evidence, "nat-a (peer A): udp [2001:db8:1::10]:50753 -> "
				       "[2001:db8:1::10]:50753 remote [2001:db8:2::10]:59370"));
	assert_non_null(strstr(a.evidence, "packets 5/4"));

	/* the engines' reported endpoints: the same flows join them (b's from either side) */
	claim(&l.in.side[0], "[2001:db8:1::10]:50753", "[2001:db8:2::10]:59370");
	claim(&l.in.side[1], "[2001:db8:2::10]:59370", "[2001:db8:1::10]:50753");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	assert_non_null(strstr(a.summary, "nat-b: two-way udp flow between peer B and "
				      "[2001:db8:1::10]:50753, the endpoint it reported"));
}

/* What a firewall's flows do not prove. */
static void test_firewall_refusals(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	/* b's firewall let nothing back to a: a's flow has no reply packets */
	lab6_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 6000, "2001:db8:1::10", 6000,
				    "2001:db8:2::10", 6001, 3, 0));
	claim(&l.in.side[0], "[2001:db8:1::10]:6000", "[2001:db8:2::10]:6001");
	claim(&l.in.side[1], "[2001:db8:2::10]:6001", "[2001:db8:1::10]:6000");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	assert_non_null(strstr(a.summary, "nat-a: 1 flow(s) between peer A and "
				      "[2001:db8:2::10]:6001, the endpoint it reported, none two-way"));
	assert_non_null(strstr(a.summary, "nat-b: no flow between peer B"));
	assert_int_equal(attest_judge(CELL_DIRECT, &a, (char[200]){ 0 }, 200), CELL_DISPUTED);

	/* a two-way flow between the two hosts, but not the one the engines named (other
	 * ports): not their path, and the summary says a flow joins other endpoints */
	lab6_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 50753, "2001:db8:1::10",
				    50753, "2001:db8:2::10", 59370, 4, 5));
	attest_lab_add(&l.mb, flow6(IPPROTO_UDP, 0, "2001:db8:2::10", 59370, "2001:db8:2::10",
				    59370, "2001:db8:1::10", 50753, 5, 4));
	claim(&l.in.side[0], "[2001:db8:1::10]:50753", "[2001:db8:2::10]:59371");
	claim(&l.in.side[1], "[2001:db8:2::10]:59370", "[2001:db8:1::10]:50753");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	assert_non_null(strstr(a.summary, "nat-a: no flow between peer A and "
				      "[2001:db8:2::10]:59371, the endpoint it reported (a two-way "
				      "flow joins other endpoints)"));
	assert_non_null(strstr(a.evidence, "nat-a (peer A, not its reported path): udp "
				       "[2001:db8:1::10]:50753"));
	/* the reported local address is not the one that has the flow */
	claim(&l.in.side[0], "[2001:db8:1::11]:50753", "[2001:db8:2::10]:59370");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
	/* an IPv4 claim is not met by IPv6 flows */
	claim(&l.in.side[0], "10.0.1.10:50753", "203.0.113.18:59370");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
}

/* A relayed path over IPv6 is never direct, even when the engine names the relay as its
 * peer, and the TCP transport is not proven by UDP flows. */
static void test_relay_and_transport(void **state)
{
	struct attest_lab l;
	struct run_attestation a;
	char note[200];

	(void)state;
	lab6_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 4000, "2001:db8:1::10", 4000,
				    "2001:db8:100::10", 3478, 20, 20));
	attest_lab_add(&l.mb, flow6(IPPROTO_UDP, 0, "2001:db8:2::10", 4001, "2001:db8:2::10", 4001,
				    "2001:db8:100::10", 3478, 20, 20));
	claim(&l.in.side[0], "[2001:db8:1::10]:4000", "[2001:db8:100::10]:3478");
	claim(&l.in.side[1], "[2001:db8:2::10]:4001", "[2001:db8:100::10]:3478");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_RELAYED);
	assert_int_equal(attest_judge(CELL_DIRECT, &a, note, sizeof(note)), CELL_DISPUTED);
	assert_int_equal(attest_judge(CELL_RELAYED, &a, note, sizeof(note)), CELL_RELAYED);

	lab6_init(&l, IPPROTO_TCP);
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 1, "2001:db8:1::10", 1,
				    "2001:db8:2::10", 2, 5, 5));
	attest_lab_add(&l.mb, flow6(IPPROTO_UDP, 0, "2001:db8:2::10", 2, "2001:db8:2::10", 2,
				    "2001:db8:1::10", 1, 5, 5));
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
}

/* nat66: translated IPv6 flows, one outbound (source NAT), one let in through a map
 * (destination NAT), both to the endpoints reported. TCP needs its handshake. */
static void test_nat66(void **state)
{
	struct attest_lab l;
	struct run_attestation a;

	(void)state;
	lab6_init(&l, IPPROTO_TCP);
	attest_lab_add(&l.ma, flow6(IPPROTO_TCP, IPS_SRC_NAT, "2001:db8:1::10", 40000,
				    "2001:db8:a::2", 40000, "2001:db8:b::2", 41000, 6, 6));
	attest_lab_add(&l.mb, flow6(IPPROTO_TCP, IPS_DST_NAT, "2001:db8:2::10", 41000,
				    "2001:db8:b::2", 41000, "2001:db8:a::2", 40000, 6, 6));
	claim(&l.in.side[0], "[2001:db8:1::10]:40000", "[2001:db8:b::2]:41000");
	claim(&l.in.side[1], "[2001:db8:2::10]:41000", "[2001:db8:a::2]:40000");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	assert_non_null(strstr(a.evidence, "nat-b (peer B): tcp [2001:db8:2::10]:41000 -> "
				       "[2001:db8:b::2]:41000 remote [2001:db8:a::2]:40000 "
				       "ESTABLISHED 0s inbound"));
	/* a SYN answered by RST: a packet each way, no handshake */
	l.fa[0].tcp_state = TCP_CONNTRACK_CLOSE;
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
}

/* An IPv4 firewall-only profile (no NAT over IPv4): the same rules; a dual-stack host's
 * IPv4 path is found among IPv6 flows of other endpoints, and IPv4 entries (IPv6 twins zero)
 * never match IPv6 sets. */
static void test_ipv4_firewall_and_dual(void **state)
{
	struct attest_lab l;
	struct run_attestation a;
	struct ct_mapping v4 = { .family = AF_INET, .proto = IPPROTO_UDP, .has_counters = true,
				 .orig_packets = 3, .reply_packets = 3, .internal_port = 7000,
				 .public_port = 7000, .remote_port = 7001 };

	(void)state;
	lab6_init(&l, IPPROTO_UDP);
	/* host-a 10.0.1.10 -> host-b 10.0.2.10, untranslated (a firewall routing a public /24
	 * would show public addresses; the rule does not care which) */
	v4.internal_addr = v4.public_addr = attest_lab_addr("10.0.1.10").a.v4;
	v4.orig_src = v4.reply_dst = v4.internal_addr;
	v4.remote_addr = v4.orig_dst = v4.reply_src = attest_lab_addr("10.0.2.10").a.v4;
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 1, "2001:db8:1::10", 1,
				    "2001:db8:2::10", 2, 1, 0));
	attest_lab_add(&l.ma, v4);
	struct ct_mapping v4b = v4;
	v4b.internal_addr = v4b.public_addr = attest_lab_addr("10.0.2.10").a.v4;
	v4b.orig_src = v4b.reply_dst = v4b.internal_addr;
	v4b.remote_addr = v4b.orig_dst = v4b.reply_src = attest_lab_addr("10.0.1.10").a.v4;
	v4b.internal_port = v4b.public_port = 7001;
	v4b.remote_port = 7000;
	attest_lab_add(&l.mb, v4b);
	claim(&l.in.side[0], "10.0.1.10:7000", "10.0.2.10:7001");
	claim(&l.in.side[1], "10.0.2.10:7001", "10.0.1.10:7000");
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	/* a dual cell's NATs hold an IPv6 flow too, one way only: the path is IPv4's */
	assert_int_equal(a.family, 4);
	assert_non_null(strstr(a.evidence, "nat-a (peer A): udp 10.0.1.10:7000 -> 10.0.1.10:7000 "
				       "remote 10.0.2.10:7001"));

	/* one NAT's flow IPv6, the other's IPv4 (a translator between them): direct, but no one
	 * family the path took */
	lab6_init(&l, IPPROTO_UDP);
	attest_lab_add(&l.ma, flow6(IPPROTO_UDP, 0, "2001:db8:1::10", 1, "2001:db8:1::10", 1,
				    "2001:db8:2::10", 2, 3, 3));
	attest_lab_add(&l.mb, v4b);
	attest_path(&l.in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	assert_int_equal(a.family, 0);

	/* an IPv6 set holding :: does not match an IPv4 entry's zero twins */
	lab6_init(&l, IPPROTO_UDP);
	l.in.side[0].host[0] = attest_lab_addr("::");
	l.in.side[0].other[0] = attest_lab_addr("::");
	l.in.side[0].nhost = l.in.side[0].nother = 1;
	v4 = (struct ct_mapping){ .proto = IPPROTO_UDP, .has_counters = true, .orig_packets = 1,
				  .reply_packets = 1 };
	attest_lab_add(&l.ma, v4);
	attest_path(&l.in, &a);
	assert_non_null(strstr(a.summary, "nat-a: no flow between peer A"));
}

/* same-nat: one hairpinned entry is both peers' flow; B, its receiver, reported A's public
 * endpoint (the reply's destination) as its peer. */
static void test_hairpin_claims(void **state)
{
	struct ct_mapping f = { .family = AF_INET, .proto = IPPROTO_UDP,
				.status = IPS_SRC_NAT | IPS_DST_NAT | IPS_SEEN_REPLY,
				.hairpin = true, .has_counters = true, .orig_packets = 4,
				.reply_packets = 4, .internal_port = 5000, .public_port = 6000,
				.remote_port = 7000 };
	struct ct_mappings m = { .v = &f, .n = 1 };
	struct attest_input in = { .proto = IPPROTO_UDP, .nrelay = 1 };
	struct run_attestation a;

	(void)state;
	/* host-a 10.0.1.10:5000 -> 203.0.113.2:7000 (B's mapping), reply from host-b
	 * 10.0.1.11:5001 to 203.0.113.2:6000 (A's mapping) */
	f.internal_addr = f.orig_src = attest_lab_addr("10.0.1.10").a.v4;
	f.public_addr = f.remote_addr = attest_lab_addr("203.0.113.2").a.v4;
	f.orig_dst = f.reply_dst = f.public_addr;
	f.reply_src = attest_lab_addr("10.0.1.11").a.v4;
	in.relay[0] = attest_lab_addr("198.51.100.10");
	for (int i = 0; i < 2; i++) {
		in.side[i] = (struct attest_side){ .nat_name = "nat-a", .flows = &m, .nhost = 1,
						   .nother = 1 };
		in.side[i].host[0] = attest_lab_addr(i ? "10.0.1.11" : "10.0.1.10");
		in.side[i].other[0] = attest_lab_addr(i ? "10.0.1.10" : "10.0.1.11");
	}
	claim(&in.side[0], "10.0.1.10:5000", "203.0.113.2:7000");
	claim(&in.side[1], "10.0.1.11:5001", "203.0.113.2:6000");
	attest_path(&in, &a);
	assert_int_equal(a.verdict, ATTEST_DIRECT);
	/* B claiming another public port of A: not this flow */
	claim(&in.side[1], "10.0.1.11:5001", "203.0.113.2:6001");
	attest_path(&in, &a);
	assert_int_equal(a.verdict, ATTEST_NONE);
}

static void test_endpoint_parse(void **state)
{
	static const struct {
		const char *s;
		int family;
		uint16_t port;
	} ok[] = {
		{ "203.0.113.18:37249", AF_INET, 37249 },
		{ "[2001:db8:2::10]:59370", AF_INET6, 59370 },
		{ "[::ffff:10.0.1.10]:1", AF_INET6, 1 },
	};
	static const char *const bad[] = {
		"", "203.0.113.18", "203.0.113.18:", "203.0.113.18:0", "203.0.113.18:65536",
		"2001:db8::1:5000", "[2001:db8::1]", "[2001:db8::1]5000", "[10.0.1.10]:5",
		"host:5000", "10.0.1.10:5x", "[2001:db8::1:5000",
	};
	struct net_addr a;
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(attest_endpoint_parse(ok[i].s, &a, &port), 0);
		assert_int_equal(a.family, ok[i].family);
		assert_int_equal(port, ok[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (attest_endpoint_parse(bad[i], &a, &port) == 0)
			fail_msg("\"%s\" parsed as an endpoint", bad[i]);
	assert_int_equal(attest_endpoint_parse(NULL, &a, &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_firewall_direct),
		cmocka_unit_test(test_firewall_refusals),
		cmocka_unit_test(test_relay_and_transport),
		cmocka_unit_test(test_nat66),
		cmocka_unit_test(test_ipv4_firewall_and_dual),
		cmocka_unit_test(test_hairpin_claims),
		cmocka_unit_test(test_endpoint_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
