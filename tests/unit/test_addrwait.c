/* Unit tests of the IPv6 readiness wait (src/nl/addrwait.c): which route messages finish an
 * address. The watch socket is one end of a datagram socketpair; the test writes, on the other
 * end, the rtnetlink messages the kernel would (the dump's routes, NLMSG_DONE, later route
 * notifications). No kernel: tests/lab/first_exchange.c checks real labs. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nl/nl.h"

#define DUMP_SEQ 0x6add /* the wait's own dump sequence number */

/* One RTM_NEWROUTE (type, destination /128 or prefix, output interface) into the peer. */
static void put_route(int peer, unsigned char type, const char *dst, int prefix, int oif)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	struct in6_addr a;

	nlh->nlmsg_type = RTM_NEWROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_type = type;
	rtm->rtm_dst_len = (unsigned char)prefix;
	rtm->rtm_table = type == RTN_LOCAL ? RT_TABLE_LOCAL : RT_TABLE_MAIN;
	assert_int_equal(inet_pton(AF_INET6, dst, &a), 1);
	mnl_attr_put(nlh, RTA_DST, sizeof(a), &a);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	assert_int_equal(send(peer, buf, nlh->nlmsg_len, 0), (ssize_t)nlh->nlmsg_len);
}

static void put_done(int peer, unsigned seq)
{
	char buf[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_seq = seq;
	mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	assert_int_equal(send(peer, buf, nlh->nlmsg_len, 0), (ssize_t)nlh->nlmsg_len);
}

/* A wait on one socketpair end, pending one global address and the link-local of ifindex 3. */
static void setup_wait(struct nl_addr6_wait *w, int sp[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sp), 0);
	memset(w, 0, sizeof(*w));
	w->fd = sp[0];
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::1", &w->pending[0]), 1);
	w->npending = 1;
	w->pending_ll[0] = 3;
	w->npending_ll = 1;
}

/* Only local /128 routes finish an address: the prefix route of the same address, a link-local
 * local route on another interface and an unrelated local route leave things pending. */
static void test_only_local_routes_count(void **state)
{
	struct nl_addr6_wait w;
	char stuck[64] = "";
	int sp[2];

	(void)state;
	setup_wait(&w, sp);
	put_route(sp[1], RTN_UNICAST, "2001:db8:1::", 64, 3);   /* prefix route */
	put_route(sp[1], RTN_UNICAST, "2001:db8:1::1", 128, 3); /* not local */
	put_route(sp[1], RTN_LOCAL, "fe80::1", 128, 4);         /* other interface */
	put_route(sp[1], RTN_LOCAL, "2001:db8:1::2", 128, 3);   /* other address */
	put_done(sp[1], DUMP_SEQ);
	assert_int_equal(nl_addrs6_wait_ready(&w, 1, 20, stuck, sizeof(stuck)), -ETIMEDOUT);
	assert_int_equal(w.npending, 1);
	assert_int_equal(w.npending_ll, 1);
	assert_string_equal(stuck, "2001:db8:1::1");
	close(sp[0]);
	close(sp[1]);
}

/* The global address finished by the dump, the link-local one by a later notification. */
static void test_dump_then_event(void **state)
{
	struct nl_addr6_wait w;
	char stuck[64] = "";
	int sp[2];

	(void)state;
	setup_wait(&w, sp);
	put_route(sp[1], RTN_LOCAL, "2001:db8:1::1", 128, 3);
	put_done(sp[1], DUMP_SEQ);
	assert_int_equal(nl_addrs6_wait_ready(&w, 1, 20, stuck, sizeof(stuck)), -ETIMEDOUT);
	assert_int_equal(w.npending, 0);
	assert_string_equal(stuck, "the link-local address of ifindex 3");
	put_route(sp[1], RTN_LOCAL, "fe80::a8c1:abff:fe12:3456", 128, 3);
	put_done(sp[1], DUMP_SEQ); /* the second call dumps again */
	assert_int_equal(nl_addrs6_wait_ready(&w, 1, 20, stuck, sizeof(stuck)), 0);
	assert_int_equal(w.npending_ll, 0);
	close(sp[0]);
	close(sp[1]);
}

/* Every address ready but the wait's own dump not read to its end (the NLMSG_DONE is another
 * request's): not over yet; a later call, with nothing left pending, is over at once. */
static void test_needs_its_own_done(void **state)
{
	struct nl_addr6_wait w;
	char stuck[64] = "";
	int sp[2];

	(void)state;
	setup_wait(&w, sp);
	put_route(sp[1], RTN_LOCAL, "2001:db8:1::1", 128, 3);
	put_route(sp[1], RTN_LOCAL, "fe80::1", 128, 3);
	put_done(sp[1], DUMP_SEQ + 1);
	assert_int_equal(nl_addrs6_wait_ready(&w, 1, 20, stuck, sizeof(stuck)), -ETIMEDOUT);
	put_done(sp[1], DUMP_SEQ);
	assert_int_equal(nl_addrs6_wait_ready(&w, 1, 20, stuck, sizeof(stuck)), 0);
	close(sp[0]);
	close(sp[1]);
}

/* Nothing to wait for: no dump, at once. */
static void test_nothing_pending(void **state)
{
	struct nl_addr6_wait w = { .fd = -1 };
	char stuck[64];

	(void)state;
	assert_int_equal(nl_addrs6_wait_ready(&w, 1, 0, stuck, sizeof(stuck)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_local_routes_count),
		cmocka_unit_test(test_dump_then_event),
		cmocka_unit_test(test_needs_its_own_done),
		cmocka_unit_test(test_nothing_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
