/* The pure helpers of the topology model (src/lab/topo.c): address parsing and formatting,
 * lookups, and topo_expect_reachable() on every shipped topology. The registry's record round
 * trip writes under /run/punchlab and is not pure: the lab suite covers it. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/topo.h"

/* --- net_addr_parse / net_addr_format / net_addr_network ------------------------------- */

struct addr_ok {
	const char *in;
	int family, prefix;
	const char *addr;    /* formatted without prefix */
	const char *network; /* net_addr_network() */
};

static const struct addr_ok addr_ok_cases[] = {
	{ "10.0.1.10/24", AF_INET, 24, "10.0.1.10", "10.0.1.0/24" },
	{ "203.0.113.18/28", AF_INET, 28, "203.0.113.18", "203.0.113.16/28" },
	{ "100.64.0.2/10", AF_INET, 10, "100.64.0.2", "100.64.0.0/10" },
	{ "198.51.100.10/32", AF_INET, 32, "198.51.100.10", "198.51.100.10/32" },
	{ "198.51.100.10/31", AF_INET, 31, "198.51.100.10", "198.51.100.10/31" },
	{ "255.255.255.255/1", AF_INET, 1, "255.255.255.255", "128.0.0.0/1" },
	{ "10.1.2.3/9", AF_INET, 9, "10.1.2.3", "10.0.0.0/9" },
	{ "2001:db8::1/64", AF_INET6, 64, "2001:db8::1", "2001:db8::/64" },
	{ "2001:db8:1:2:3:4:5:6/48", AF_INET6, 48, "2001:db8:1:2:3:4:5:6", "2001:db8:1::/48" },
	{ "2001:db8::ff/121", AF_INET6, 121, "2001:db8::ff", "2001:db8::80/121" },
	{ "2001:db8::1/128", AF_INET6, 128, "2001:db8::1", "2001:db8::1/128" },
	{ "fe80::1/10", AF_INET6, 10, "fe80::1", "fe80::/10" },
};

static void test_addr_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(addr_ok_cases) / sizeof(addr_ok_cases[0]); i++) {
		const struct addr_ok *c = &addr_ok_cases[i];
		struct net_addr a;
		const char *why = "untouched";
		char buf[INET6_ADDRSTRLEN + 4], with[INET6_ADDRSTRLEN + 4];

		print_message("%s\n", c->in);
		assert_int_equal(net_addr_parse(c->in, &a, &why), 0);
		assert_null(why);
		assert_int_equal(a.family, c->family);
		assert_int_equal(a.prefix, c->prefix);
		assert_string_equal(net_addr_format(&a, false, buf, sizeof(buf)), c->addr);
		/* formatting with the prefix gives the input back (inputs are canonical) */
		assert_string_equal(net_addr_format(&a, true, with, sizeof(with)), c->in);
		assert_string_equal(net_addr_network(&a, buf, sizeof(buf)), c->network);
		/* the network leaves the address it was computed from alone */
		assert_string_equal(net_addr_format(&a, true, with, sizeof(with)), c->in);
	}
}

struct addr_bad {
	const char *in;
	const char *why;
};

static const struct addr_bad addr_bad_cases[] = {
	{ "10.0.1.10", "missing /PREFIX" },
	{ "", "missing /PREFIX" },
	{ "/24", "not an address" },
	{ "10.0.1.300/24", "not an IPv4 or IPv6 address" },
	{ "10.0.1/24", "not an IPv4 or IPv6 address" },
	{ "host-a/24", "not an IPv4 or IPv6 address" },
	{ " 10.0.1.10/24", "not an IPv4 or IPv6 address" },
	{ "2001:db8::g/64", "not an IPv4 or IPv6 address" },
	{ "0123456789012345678901234567890123456789012345678/8", "not an address" },
	{ "10.0.1.10/", "prefix must be 1..32" },
	{ "10.0.1.10/0", "prefix must be 1..32" },
	{ "10.0.1.10/33", "prefix must be 1..32" },
	{ "10.0.1.10/-1", "prefix must be 1..32" },
	{ "10.0.1.10/24x", "prefix must be 1..32" },
	{ "10.0.1.10/24/24", "prefix must be 1..32" },
	{ "10.0.1.10/99999999999999999999", "prefix must be 1..32" },
	{ "2001:db8::1/129", "prefix must be 1..128" },
	{ "2001:db8::1/0", "prefix must be 1..128" },
};

static void test_addr_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(addr_bad_cases) / sizeof(addr_bad_cases[0]); i++) {
		const struct addr_bad *c = &addr_bad_cases[i];
		struct net_addr a;
		const char *why = NULL;

		print_message("\"%s\"\n", c->in);
		assert_int_equal(net_addr_parse(c->in, &a, &why), -EINVAL);
		assert_non_null(why);
		assert_string_equal(why, c->why);
	}
}

static void test_addr_format_truncates(void **state)
{
	struct net_addr a;
	const char *why;
	char small[8];

	(void)state;
	assert_int_equal(net_addr_parse("203.0.113.18/28", &a, &why), 0);
	/* snprintf semantics: a short buffer gets a terminated prefix of the text */
	assert_ptr_equal(net_addr_format(&a, true, small, sizeof(small)), small);
	assert_string_equal(small, "203.0.1");
}

/* --- names and lookups --------------------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(topo_kind_name(NODE_HOST), "host");
	assert_string_equal(topo_kind_name(NODE_NAT), "nat");
	assert_string_equal(topo_kind_name(NODE_INET), "inet");
	assert_string_equal(topo_kind_name(NODE_SERVER), "server");
	assert_string_equal(topo_kind_name((enum node_kind)42), "?");
	assert_string_equal(topo_role_name(ROLE_PEER_A), "peer-a");
	assert_string_equal(topo_role_name(ROLE_PEER_B), "peer-b");
	assert_string_equal(topo_role_name(ROLE_NAT_A), "nat-a");
	assert_string_equal(topo_role_name(ROLE_NAT_B), "nat-b");
	assert_string_equal(topo_role_name(ROLE_RENDEZVOUS), "rendezvous");
	assert_string_equal(topo_role_name(ROLE_COUNT), "?");
	assert_string_equal(topo_role_name((enum topo_role)-1), "?");
}

static void load(const char *name, struct topo *t)
{
	struct diag_list dl = { .count = 0 };
	char path[512];

	snprintf(path, sizeof(path), PUNCHLAB_SOURCE_DIR "/topologies/%s.yaml", name);
	if (topo_parse_file(t, path, &dl) != 0)
		for (int i = 0; i < dl.count; i++)
			print_message("%s:%d: %s\n", dl.items[i].file, dl.items[i].line,
				      dl.items[i].msg);
	assert_int_equal(dl.count, 0);
}

static void test_lookups(void **state)
{
	struct topo t;
	const struct topo_link *lan;
	int na, ha, hb, srv;
	char buf[64];

	(void)state;
	load("same-nat", &t);
	na = topo_node_find(&t, "nat-a");
	ha = topo_node_find(&t, "host-a");
	hb = topo_node_find(&t, "host-b");
	srv = topo_node_find(&t, "server");
	assert_true(na >= 0 && ha >= 0 && hb >= 0 && srv >= 0);
	assert_int_equal(topo_node_find(&t, "nat-b"), -1);
	assert_int_equal(topo_node_find(&t, ""), -1);
	assert_int_equal(topo_node_find(&t, "nat-a-"), -1);

	lan = &t.links[t.nodes[na].lan_link];
	assert_int_equal(topo_link_end_of(lan, na), 0);
	assert_int_equal(topo_link_end_of(lan, ha), 1);
	assert_int_equal(topo_link_end_of(lan, hb), 2);
	assert_int_equal(topo_link_end_of(lan, srv), -1);
	/* on a LAN the hub's interface is the bridge, a member's is its veth */
	assert_string_equal(topo_end_ifname(lan, 0), "nat-a-br0");
	assert_string_equal(topo_end_ifname(lan, 1), "host-a-eth0");
	/* on a two-end link both ends are veths */
	assert_string_equal(topo_end_ifname(&t.links[0], 0), "inet-eth0");
	assert_string_equal(topo_end_ifname(&t.links[0], 1), "server-eth0");

	/* first address of a family, NULL when the end has none */
	assert_string_equal(net_addr_format(topo_end_addr(&lan->ends[2], AF_INET), true, buf,
					     sizeof(buf)), "10.0.1.11/24");
	assert_null(topo_end_addr(&lan->ends[2], AF_INET6));
	assert_string_equal(net_addr_format(topo_end_addr(&t.links[0].ends[1], AF_INET), false,
					     buf, sizeof(buf)), "198.51.100.10");
}

/* --- topo_expect_reachable ----------------------------------------------------------------- */

/* The link nodes a and b share. */
static int link_of(const struct topo *t, const char *a, const char *b)
{
	int x = topo_node_find(t, a), y = topo_node_find(t, b);

	assert_true(x >= 0 && y >= 0);
	for (int li = 0; li < t->nlinks; li++)
		if (topo_link_end_of(&t->links[li], x) >= 0 && topo_link_end_of(&t->links[li], y) >= 0)
			return li;
	fail_msg("%s and %s share no link", a, b);
	return -1;
}

struct reach {
	const char *from;
	const char *a, *b; /* the link between a and b */
	bool want;
};

static void check_reach(const char *topology, const struct reach *r, size_t n)
{
	struct topo t;

	load(topology, &t);
	for (size_t i = 0; i < n; i++) {
		int from = topo_node_find(&t, r[i].from);
		bool got;

		assert_true(from >= 0);
		got = topo_expect_reachable(&t, from, link_of(&t, r[i].a, r[i].b));
		if (got != r[i].want)
			fail_msg("%s: from %s to the %s-%s link: expected %s, got %s", topology,
				 r[i].from, r[i].a, r[i].b, r[i].want ? "reach" : "blocked",
				 got ? "reach" : "blocked");
	}
	/* Whatever the topology: every node reaches the links it is on, and every host reaches
	 * the rendezvous server's addresses. */
	for (int n2 = 0; n2 < t.nnodes; n2++)
		for (int li = 0; li < t.nlinks; li++)
			if (topo_link_end_of(&t.links[li], n2) >= 0)
				assert_true(topo_expect_reachable(&t, n2, li));
	for (int n2 = 0; n2 < t.nnodes; n2++) {
		int srv = t.roles[ROLE_RENDEZVOUS];
		if (t.nodes[n2].kind != NODE_HOST)
			continue;
		for (int li = 0; li < t.nlinks; li++)
			if (topo_link_end_of(&t.links[li], srv) >= 0)
				assert_true(topo_expect_reachable(&t, n2, li));
	}
}

#define CHECK_REACH(topology, table) check_reach(topology, table, sizeof(table) / sizeof(table[0]))

static void test_reach_two_nats(void **state)
{
	static const struct reach r[] = {
		{ "host-a", "inet", "server", true },
		{ "host-a", "nat-a", "host-a", true },
		{ "host-a", "inet", "nat-a", true },
		{ "host-a", "inet", "nat-b", true },  /* nat-b's public address */
		{ "host-a", "nat-b", "host-b", false }, /* the other NAT's LAN */
		{ "host-b", "nat-a", "host-a", false },
		{ "host-b", "inet", "nat-a", true },
		{ "server", "nat-a", "host-a", false },
		{ "server", "nat-b", "host-b", false },
		{ "server", "inet", "nat-b", true },
		{ "inet", "nat-a", "host-a", false },  /* a router is not behind the NAT either */
		{ "nat-a", "nat-a", "host-a", true },
		{ "nat-a", "nat-b", "host-b", false },
	};

	(void)state;
	CHECK_REACH("two-nats", r);
}

static void test_reach_same_nat(void **state)
{
	static const struct reach r[] = {
		{ "host-a", "nat-a", "host-b", true }, /* one LAN: its hub's address; not the other
							* member's (isolated: test_topo_layouts.c) */
		{ "host-b", "nat-a", "host-a", true },
		{ "host-a", "inet", "server", true },
		{ "host-b", "inet", "nat-a", true },
		{ "server", "nat-a", "host-a", false },
		{ "inet", "nat-a", "host-b", false },
	};

	(void)state;
	CHECK_REACH("same-nat", r);
}

static void test_reach_double_nat(void **state)
{
	static const struct reach r[] = {
		{ "host-a", "inet", "server", true },
		{ "host-a", "cgn", "nat-a", true },   /* the shared space, through nat-a */
		{ "host-a", "nat-b", "host-b", false },
		{ "host-b", "nat-a", "host-a", false },
		{ "nat-a", "cgn", "nat-b", true },    /* both home NATs sit on the CGN's LAN */
		{ "nat-a", "nat-b", "host-b", false },
		{ "server", "cgn", "nat-a", false },  /* the shared space is behind the CGN */
		{ "server", "inet", "cgn", true },
		{ "inet", "cgn", "nat-b", false },
		{ "cgn", "nat-a", "host-a", false },  /* the CGN cannot see into a home LAN */
	};

	(void)state;
	CHECK_REACH("double-nat", r);
}

static void test_reach_public_peer(void **state)
{
	static const struct reach r[] = {
		{ "host-a", "inet", "host-b", true },  /* the public peer's address */
		{ "host-b", "nat-a", "host-a", false },
		{ "host-b", "inet", "nat-a", true },
		{ "host-b", "inet", "server", true },
		{ "server", "inet", "host-b", true },
		{ "server", "nat-a", "host-a", false },
	};

	(void)state;
	CHECK_REACH("public-peer", r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_ok),
		cmocka_unit_test(test_addr_parse_bad),
		cmocka_unit_test(test_addr_format_truncates),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_reach_two_nats),
		cmocka_unit_test(test_reach_same_nat),
		cmocka_unit_test(test_reach_double_nat),
		cmocka_unit_test(test_reach_public_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
