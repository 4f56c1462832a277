/* Unit tests of NAT64 in the matrix (docs/matrix.md "NAT64"): the prefix and synthesized
 * addresses an IPv6-only peer gets (engine/reach.c: {{self.nat64}}, {{self.rendezvous64.N}}),
 * and the attestation of its path (attest_topo_input() over topologies/nat64.yaml, then
 * attest_path()). Before it, punch's direct path through NAT64 was "disputed": peer A claimed
 * the other peer at its synthesized address, which no node has; and what must still fail does
 * (a relayed path, a one-way flow, a flow to another endpoint than the one claimed). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest_lab.h"
#include "config.h"
#include "engine/reach.h"
#include "lab/topo.h"
#include "matrix/attest.h"

static struct topo *load(const char *name)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list dl = { .count = 0 };
	char path[512];

	assert_non_null(t);
	snprintf(path, sizeof(path), "%s/topologies/%s.yaml", PUNCHLAB_SOURCE_DIR, name);
	assert_int_equal(topo_parse_file(t, path, &dl), 0);
	return t;
}

static const char *fmt(const struct net_addr *a, char *buf)
{
	return net_addr_format(a, false, buf, 64);
}

/* RFC 6052 section 2.4's table: 192.0.2.33 under each prefix length */
static void test_embed(void **state)
{
	static const struct {
		const char *prefix;
		int len;
		const char *want;
	} cases[] = {
		{ "2001:db8::", 32, "2001:db8:c000:221::" },
		{ "2001:db8:100::", 40, "2001:db8:1c0:2:21::" },
		{ "2001:db8:122::", 48, "2001:db8:122:c000:2:2100::" },
		{ "2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::" },
		{ "2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0" },
		{ "2001:db8:122:344::", 96, "2001:db8:122:344::c000:221" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_addr p = attest_lab_addr(cases[i].prefix), out;
		struct net_addr v4 = attest_lab_addr("192.0.2.33");

		p.prefix = cases[i].len;
		engine_nat64_embed(&p, &v4, &out);
		assert_string_equal(fmt(&out, buf), cases[i].want);
		assert_int_equal(out.prefix, 128);
	}
}

/* Only an IPv6-only host behind a NAT64 has a prefix; the addresses attestation accepts. */
static void test_prefix_and_addrs(void **state)
{
	struct topo *t = load("nat64"), *t2 = load("two-nats");
	struct net_addr p, set[ATTEST_MAX_ADDRS];
	char buf[64];
	int n = 0;

	(void)state;
	assert_int_equal(engine_nat64_prefix(t, topo_node_find(t, "host-a"), &p), 0);
	assert_string_equal(net_addr_format(&p, true, buf, sizeof(buf)), "2001:db8:64::/96");
	/* host-b has IPv4 and no NAT64 on its way; two-nats has none at all */
	assert_int_equal(engine_nat64_prefix(t, topo_node_find(t, "host-b"), &p), -ENOENT);
	assert_int_equal(engine_nat64_prefix(t2, topo_node_find(t2, "host-a"), &p), -ENOENT);

	attest_nat64_addrs(t, topo_node_find(t, "host-a"), topo_node_find(t, "host-b"), set, &n);
	assert_int_equal(n, 1);
	assert_string_equal(fmt(&set[0], buf), "2001:db8:64::cb00:7112");
	attest_nat64_addrs(t, topo_node_find(t, "host-a"), topo_node_find(t, "server"), set, &n);
	assert_int_equal(n, 3);
	assert_string_equal(fmt(&set[1], buf), "2001:db8:64::c633:640a");
	assert_string_equal(fmt(&set[2], buf), "2001:db8:64::c633:640b");
	n = 0;
	attest_nat64_addrs(t, topo_node_find(t, "host-b"), topo_node_find(t, "server"), set, &n);
	attest_nat64_addrs(t2, topo_node_find(t2, "host-a"), topo_node_find(t2, "host-b"), set, &n);
	assert_int_equal(n, 0);
	free(t);
	free(t2);
}

/* What nat-a's conntrack holds for host-a's flow to remote (IPv6, before tayga: not
 * translated by the node's profile) and the IPv4 flow tayga makes of it (from its pool,
 * source-NATed to nat-a's WAN address). */
static void flows_of(struct ct_mapping *f, uint8_t proto, const char *remote6, const char *remote4,
		     uint16_t rp, uint64_t out, uint64_t back)
{
	struct ct_mapping v6 = { .family = AF_INET6, .proto = proto,
				 .status = back ? IPS_SEEN_REPLY : 0, .has_counters = true,
				 .orig_packets = out, .reply_packets = back,
				 .tcp_state = back ? TCP_CONNTRACK_ESTABLISHED
						   : TCP_CONNTRACK_SYN_SENT };
	struct ct_mapping v4 = v6;

	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::10", &v6.internal_addr6), 1);
	v6.public_addr6 = v6.orig_src6 = v6.reply_dst6 = v6.internal_addr6;
	assert_int_equal(inet_pton(AF_INET6, remote6, &v6.remote_addr6), 1);
	v6.orig_dst6 = v6.reply_src6 = v6.remote_addr6;
	v6.internal_port = v6.public_port = 5000;
	v6.remote_port = rp;
	f[0] = v6;

	v4.family = AF_INET;
	v4.status |= IPS_SRC_NAT;
	assert_int_equal(inet_pton(AF_INET, "10.64.64.5", &v4.internal_addr), 1);
	assert_int_equal(inet_pton(AF_INET, "203.0.113.2", &v4.public_addr), 1);
	assert_int_equal(inet_pton(AF_INET, remote4, &v4.remote_addr), 1);
	v4.orig_src = v4.internal_addr;
	v4.orig_dst = v4.reply_src = v4.remote_addr;
	v4.reply_dst = v4.public_addr;
	v4.internal_port = v4.public_port = 5000;
	v4.remote_port = rp;
	f[1] = v4;
}

/* nat-a's conntrack as the lab reads it: the IPv4 flow from tayga's pool only (conntrack
 * follows IPv6 in nat-a only when an IPv6 ruleset asks: its profile is IPv4), or with v6 the
 * IPv6 flow before tayga too (a node whose IPv6 traffic is tracked). */
static enum attest_verdict judge_in(bool v6, uint8_t proto, const char *remote6,
				    const char *remote4, uint16_t rp, uint64_t back,
				    const char *claim_a, struct run_attestation *a)
{
	struct topo *t = load("nat64");
	struct ct_mappings *flows = calloc((size_t)t->nnodes, sizeof(*flows));
	struct ct_mapping fa[2];
	struct attest_report said[2] = { { "[2001:db8:1::10]:5000", claim_a, 0 },
					 { "203.0.113.18:6000", "203.0.113.2:5000", 0 } };
	struct attest_input *in = calloc(1, sizeof(*in));

	assert_non_null(flows);
	assert_non_null(in);
	flows_of(fa, proto, remote6, remote4, rp, 6, back);
	flows[topo_node_find(t, "nat-a")] = (struct ct_mappings){ .v = v6 ? fa : fa + 1,
							      .n = v6 ? 2 : 1 };
	attest_topo_input(t, proto, flows, said, in);
	attest_path(in, a);
	free(in);
	free(flows);
	free(t);
	return a->verdict;
}

static enum attest_verdict judge(uint8_t proto, const char *remote6, const char *remote4,
				 uint16_t rp, uint64_t back, const char *claim_a,
				 struct run_attestation *a)
{
	return judge_in(false, proto, remote6, remote4, rp, back, claim_a, a);
}

static void test_attest(void **state)
{
	struct run_attestation a;
	char note[200];

	(void)state;
	/* punch's direct path, udp and tcp: a aims at b's synthesized endpoint */
	assert_int_equal(judge(IPPROTO_UDP, "2001:db8:64::cb00:7112", "203.0.113.18", 6000, 5,
			       "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_DIRECT);
	assert_non_null(strstr(a.evidence, "nat-a (peer A): udp 10.64.64.5:5000 -> "
				       "203.0.113.2:5000 remote 203.0.113.18:6000"));
	assert_int_equal(attest_judge(CELL_DIRECT, &a, note, sizeof(note)), CELL_DIRECT);
	assert_int_equal(judge(IPPROTO_TCP, "2001:db8:64::cb00:7112", "203.0.113.18", 6000, 5,
			       "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_DIRECT);
	/* unclaimed: any two-way flow with b's synthesized address */
	assert_int_equal(judge(IPPROTO_UDP, "2001:db8:64::cb00:7112", "203.0.113.18", 6000, 5,
			       NULL, &a), ATTEST_DIRECT);

	/* where IPv6 is tracked too, the same */
	assert_int_equal(judge_in(true, IPPROTO_UDP, "2001:db8:64::cb00:7112", "203.0.113.18", 6000,
				  5, "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_DIRECT);
	assert_int_equal(judge_in(true, IPPROTO_UDP, "2001:db8:64::c633:640a", "198.51.100.10",
				  3478, 5, "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_RELAYED);
	/* one-way: a's probes went out, nothing came back */
	assert_int_equal(judge(IPPROTO_UDP, "2001:db8:64::cb00:7112", "203.0.113.18", 6000, 0,
			       "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_NONE);
	assert_int_equal(attest_judge(CELL_DIRECT, &a, note, sizeof(note)), CELL_DISPUTED);
	/* relayed: the flow goes to the rendezvous' synthesized address */
	assert_int_equal(judge(IPPROTO_UDP, "2001:db8:64::c633:640a", "198.51.100.10", 3478, 5,
			       "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_RELAYED);
	assert_int_equal(attest_judge(CELL_DIRECT, &a, note, sizeof(note)), CELL_DISPUTED);
	assert_int_equal(attest_judge(CELL_RELAYED, &a, note, sizeof(note)), CELL_RELAYED);
	/* the engine claims another port than the flow's */
	assert_int_equal(judge(IPPROTO_UDP, "2001:db8:64::cb00:7112", "203.0.113.18", 6001, 5,
			       "[2001:db8:64::cb00:7112]:6000", &a), ATTEST_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embed),
		cmocka_unit_test(test_prefix_and_addrs),
		cmocka_unit_test(test_attest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
