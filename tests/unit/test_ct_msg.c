/* Unit tests of conntrack message parsing (src/ct/conntrack.c): ctnetlink entries of both
 * families, built in memory the way the kernel writes them (ctnetlink_fill_info: the tuples,
 * status, timeout, counters, TCP protoinfo), read back by ct_mapping_from_msg() and formatted by
 * ct_mapping_format(). No kernel: the lab tests (attest-ipv6.sh) read real entries. */
#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ct/conntrack.h"

#define MSG_BUF 4096 /* one entry is a few hundred bytes */

/* One end of a tuple: an address of either family (by its text) and a port. */
struct ep {
	const char *addr;
	uint16_t port;
};

/* What an entry is made of; counters when out_pk or back_pk is non-zero. */
struct entry {
	uint8_t proto;
	struct ep osrc, odst, rsrc, rdst; /* original and reply tuples */
	uint32_t status, timeout;
	uint64_t out_pk, back_pk;
	uint8_t tcp_state;               /* 0: no protoinfo */
	bool short_addr;                 /* a truncated address attribute (malformed) */
};

static void put_tuple(struct nlmsghdr *nlh, int type, const struct ep *src, const struct ep *dst,
		      uint8_t proto, bool short_addr)
{
	struct nlattr *tuple = mnl_attr_nest_start(nlh, (uint16_t)type), *nest;
	unsigned char a[16], b[16];
	bool v6 = strchr(src->addr, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, src->addr, a), 1);
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, dst->addr, b), 1);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, short_addr ? 3 : v6 ? 16 : 4, a);
	mnl_attr_put(nlh, v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, v6 ? 16 : 4, b);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(src->port));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dst->port));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tuple);
}

static void put_counters(struct nlmsghdr *nlh, int type, uint64_t packets)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, (uint16_t)type);

	mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(packets));
	mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(packets * 100));
	mnl_attr_nest_end(nlh, nest);
}

/* An IPCTNL_MSG_CT_NEW message for e in buf (an event or a dump's answer look alike). */
static struct nlmsghdr *build(char *buf, const struct entry *e, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	put_tuple(nlh, CTA_TUPLE_ORIG, &e->osrc, &e->odst, e->proto, e->short_addr);
	put_tuple(nlh, CTA_TUPLE_REPLY, &e->rsrc, &e->rdst, e->proto, false);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(e->status));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(e->timeout));
	if (e->out_pk || e->back_pk) {
		put_counters(nlh, CTA_COUNTERS_ORIG, e->out_pk);
		put_counters(nlh, CTA_COUNTERS_REPLY, e->back_pk);
	}
	if (e->tcp_state) {
		struct nlattr *pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		struct nlattr *tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);

		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, e->tcp_state);
		mnl_attr_nest_end(nlh, tcp);
		mnl_attr_nest_end(nlh, pi);
	}
	return nlh;
}

static struct net_addr addr(const char *s)
{
	struct net_addr a = { .family = strchr(s, ':') ? AF_INET6 : AF_INET };

	assert_int_equal(inet_pton(a.family, s, &a.a), 1);
	return a;
}

static void assert_addr(const struct ct_mapping *m, enum ct_addr_field f, const char *want)
{
	struct net_addr a = addr(want);
	char got[64];

	net_addr_format((struct net_addr[]){ ct_mapping_addr(m, f) }, false, got, sizeof(got));
	if (!ct_mapping_addr_is(m, f, &a))
		fail_msg("field %d is %s, expected %s", (int)f, got, want);
}

/* IPv4 SNAT, as a home NAT holds an outbound flow: the same as before IPv6 was read. */
static void test_ipv4_snat(void **state)
{
	char buf[MSG_BUF] = { 0 }, line[256];
	struct entry e = { .proto = IPPROTO_UDP, .osrc = { "10.0.1.10", 4242 },
			   .odst = { "198.51.100.10", 3478 }, .rsrc = { "198.51.100.10", 3478 },
			   .rdst = { "203.0.113.2", 4243 },
			   .status = IPS_SRC_NAT | IPS_SEEN_REPLY | IPS_CONFIRMED, .timeout = 29,
			   .out_pk = 3, .back_pk = 2 };
	struct ct_mapping m;

	(void)state;
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET), &m), 1);
	assert_int_equal(ct_mapping_family(&m), AF_INET);
	assert_true(ct_mapping_nated(&m));
	/* the IPv4 fields every existing caller reads */
	assert_int_equal(m.internal_addr.s_addr, inet_addr("10.0.1.10"));
	assert_int_equal(m.public_addr.s_addr, inet_addr("203.0.113.2"));
	assert_int_equal(m.remote_addr.s_addr, inet_addr("198.51.100.10"));
	assert_int_equal(m.reply_dst.s_addr, inet_addr("203.0.113.2"));
	assert_int_equal(m.internal_port, 4242);
	assert_int_equal(m.public_port, 4243);
	assert_int_equal(m.remote_port, 3478);
	assert_true(m.has_counters);
	assert_int_equal(m.orig_packets, 3);
	assert_int_equal(m.reply_bytes, 200);
	assert_string_equal(ct_mapping_format(&m, line, sizeof(line)),
			    "udp 10.0.1.10:4242 -> 203.0.113.2:4243 remote 198.51.100.10:3478 REPLIED "
			    "29s packets 3/2 bytes 300/200");
	/* the generic view agrees, and the IPv6 twins stay zero */
	assert_addr(&m, CT_ADDR_INTERNAL, "10.0.1.10");
	assert_addr(&m, CT_ADDR_ORIG_DST, "198.51.100.10");
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&m.internal_addr6));
}

/* IPv6 through a firewall that does not translate (ipv6-firewall): no NAT, internal and public
 * are the original source; the IPv4 fields stay 0.0.0.0. */
static void test_ipv6_not_nated(void **state)
{
	char buf[MSG_BUF] = { 0 }, line[256];
	struct entry e = { .proto = IPPROTO_UDP, .osrc = { "2001:db8:1::10", 50753 },
			   .odst = { "2001:db8:2::10", 59370 }, .rsrc = { "2001:db8:2::10", 59370 },
			   .rdst = { "2001:db8:1::10", 50753 },
			   .status = IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED, .timeout = 120,
			   .out_pk = 4, .back_pk = 5 };
	struct ct_mapping m;

	(void)state;
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET6), &m), 0);
	assert_int_equal(ct_mapping_family(&m), AF_INET6);
	assert_false(ct_mapping_nated(&m));
	assert_addr(&m, CT_ADDR_INTERNAL, "2001:db8:1::10");
	assert_addr(&m, CT_ADDR_PUBLIC, "2001:db8:1::10");
	assert_addr(&m, CT_ADDR_REMOTE, "2001:db8:2::10");
	assert_addr(&m, CT_ADDR_REPLY_SRC, "2001:db8:2::10");
	assert_int_equal(m.internal_port, 50753);
	assert_int_equal(m.public_port, 50753);
	assert_int_equal(m.remote_port, 59370);
	assert_int_equal(m.internal_addr.s_addr, 0);
	assert_int_equal(m.remote_addr.s_addr, 0);
	assert_int_equal(m.orig_src.s_addr, 0);
	assert_int_equal(m.reply_packets, 5);
	assert_string_equal(ct_mapping_format(&m, line, sizeof(line)),
			    "udp [2001:db8:1::10]:50753 -> [2001:db8:1::10]:50753 remote "
			    "[2001:db8:2::10]:59370 ASSURED 120s packets 4/5 bytes 400/500");
	/* an IPv4 address with the same first four bytes is not this address */
	struct net_addr v4 = addr("32.1.13.184"); /* 2001:0db8 */
	assert_false(ct_mapping_addr_is(&m, CT_ADDR_INTERNAL, &v4));
}

/* NAT66 masquerade (source NAT over IPv6), TCP established. */
static void test_ipv6_snat_tcp(void **state)
{
	char buf[MSG_BUF] = { 0 }, line[300];
	struct entry e = { .proto = IPPROTO_TCP, .osrc = { "2001:db8:1::10", 40000 },
			   .odst = { "2001:db8:b::2", 41000 }, .rsrc = { "2001:db8:b::2", 41000 },
			   .rdst = { "2001:db8:a::2", 40000 },
			   .status = IPS_SRC_NAT | IPS_SEEN_REPLY | IPS_ASSURED, .timeout = 7440,
			   .out_pk = 6, .back_pk = 6, .tcp_state = TCP_CONNTRACK_ESTABLISHED };
	struct ct_mapping m;

	(void)state;
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET6), &m), 1);
	assert_addr(&m, CT_ADDR_INTERNAL, "2001:db8:1::10");
	assert_addr(&m, CT_ADDR_PUBLIC, "2001:db8:a::2");
	assert_addr(&m, CT_ADDR_REMOTE, "2001:db8:b::2");
	assert_int_equal(m.tcp_state, TCP_CONNTRACK_ESTABLISHED);
	assert_false(m.inbound);
	assert_string_equal(ct_mapping_format(&m, line, sizeof(line)),
			    "tcp [2001:db8:1::10]:40000 -> [2001:db8:a::2]:40000 remote "
			    "[2001:db8:b::2]:41000 ESTABLISHED 7440s packets 6/6 bytes 600/600");
}

/* An IPv6 flow the other side opened (a destination NAT through a map): inbound. */
static void test_ipv6_dnat_inbound(void **state)
{
	char buf[MSG_BUF] = { 0 };
	struct entry e = { .proto = IPPROTO_UDP, .osrc = { "2001:db8:b::2", 5000 },
			   .odst = { "2001:db8:a::2", 6000 }, .rsrc = { "2001:db8:1::10", 6001 },
			   .rdst = { "2001:db8:b::2", 5000 }, .status = IPS_DST_NAT, .timeout = 30 };
	struct ct_mapping m;

	(void)state;
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET6), &m), 1);
	assert_true(m.inbound);
	assert_addr(&m, CT_ADDR_INTERNAL, "2001:db8:1::10");
	assert_int_equal(m.internal_port, 6001);
	assert_addr(&m, CT_ADDR_PUBLIC, "2001:db8:a::2");
	assert_int_equal(m.public_port, 6000);
	assert_addr(&m, CT_ADDR_REMOTE, "2001:db8:b::2");
	assert_false(m.has_counters);
}

/* What is not an entry of either family is refused, not half-read. */
static void test_malformed(void **state)
{
	char buf[MSG_BUF] = { 0 };
	struct entry e = { .proto = IPPROTO_UDP, .osrc = { "2001:db8:1::10", 1 },
			   .odst = { "2001:db8:2::10", 2 }, .rsrc = { "2001:db8:2::10", 2 },
			   .rdst = { "2001:db8:1::10", 1 }, .short_addr = true };
	struct ct_mapping m;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	(void)state;
	/* an IPv6 source address of 3 bytes */
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET6), &m), -1);
	/* a message with no tuples at all */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET6;
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_SRC_NAT));
	assert_int_equal(ct_mapping_from_msg(nlh, &m), -1);
	/* an original tuple of one family and a reply of the other */
	memset(buf, 0, sizeof(buf));
	e = (struct entry){ .proto = IPPROTO_UDP, .osrc = { "10.0.1.10", 1 },
			    .odst = { "198.51.100.10", 2 }, .rsrc = { "2001:db8:2::10", 2 },
			    .rdst = { "2001:db8:1::10", 1 } };
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET), &m), -1);
}

/* Two dumps' copies of one flow are the same flow; another family or port is not. */
static void test_same_flow(void **state)
{
	char buf[MSG_BUF] = { 0 };
	struct entry e = { .proto = IPPROTO_UDP, .osrc = { "2001:db8:1::10", 1000 },
			   .odst = { "2001:db8:2::10", 2000 }, .rsrc = { "2001:db8:2::10", 2000 },
			   .rdst = { "2001:db8:1::10", 1000 }, .out_pk = 1, .back_pk = 1 };
	struct ct_mapping a, b;

	(void)state;
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET6), &a), 0);
	e.out_pk = 9;
	e.timeout = 100;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ct_mapping_from_msg(build(buf, &e, AF_INET6), &b), 0);
	assert_true(ct_mapping_same_flow(&a, &b));
	b.remote_port = 2001;
	assert_false(ct_mapping_same_flow(&a, &b));
	b.remote_port = 2000;
	b.remote_addr6.s6_addr[15] ^= 1;
	assert_false(ct_mapping_same_flow(&a, &b));
	/* an IPv4 entry whose IPv4 fields are all zero, like an IPv6 one's: still another flow */
	b = a;
	b.family = AF_INET;
	assert_false(ct_mapping_same_flow(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_snat),
		cmocka_unit_test(test_ipv6_not_nated),
		cmocka_unit_test(test_ipv6_snat_tcp),
		cmocka_unit_test(test_ipv6_dnat_inbound),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_same_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
