/* Waiting until new IPv6 addresses are usable.
 *
 * Adding an IPv6 address with IFA_F_NODAD returns at once, but the address is not yet ready to
 * receive: the kernel finishes it later, in the addrconf work queue (addrconf_dad_start() only
 * schedules addrconf_dad_work(), which takes the rtnl lock). That work joins the address's
 * solicited-node multicast group (addrconf_dad_begin()) and inserts its local route
 * (addrconf_dad_completed() -> ipv6_ifa_notify(RTM_NEWADDR)). Until then a neighbour
 * solicitation for the address, sent to that multicast group, is not received, and the
 * neighbour retransmits only after its retrans timer, a second: measured in fresh dual-stack
 * labs built ten at a time, the first IPv6 datagram of about one host in ten arrived 1000 ms
 * late (tests/lab/first_exchange.c). Under rtnl contention the work runs well after lab_up()
 * would otherwise have returned. So the lab waits, event-driven and bounded, for the local route
 * of every IPv6 address it added: the last thing the work does for it.
 *
 * The same holds for the link-local address the kernel gives every interface when it comes up:
 * it stays tentative until the work has run for it, and a router forwarding a packet solicits
 * its next hop from its link-local address (ndisc_send_ns() with no source of its own on that
 * link): while that is tentative, ndisc_solicit() sends nothing and the packet waits for the
 * neighbour timer, a second. So an interface is waited for too, until its link-local address
 * has its local route. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nl/nl.h"
#include "nl/watch.h"

int nl_addr6_watch_open(void)
{
	return nl_watch_open(RTMGRP_IPV6_ROUTE);
}

/* A local route (type RTN_LOCAL, a /128) for one of w's pending addresses, or for a link-local
 * address on one of its pending interfaces: that address is ready. */
static void note_route(void *ctx, const struct nlmsghdr *nlh)
{
	struct nl_addr6_wait *w = ctx;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct in6_addr *dst = NULL;
	const struct nlattr *a;
	int oif = 0;

	if (rtm->rtm_family != AF_INET6 || rtm->rtm_type != RTN_LOCAL || rtm->rtm_dst_len != 128)
		return;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) == RTA_DST && mnl_attr_get_payload_len(a) == 16)
			dst = mnl_attr_get_payload(a);
		else if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_get_payload_len(a) == 4)
			oif = (int)mnl_attr_get_u32(a);
	}
	if (!dst)
		return;
	if (IN6_IS_ADDR_LINKLOCAL(dst)) {
		for (int i = 0; i < w->npending_ll; i++)
			if (w->pending_ll[i] == oif) {
				w->pending_ll[i] = w->pending_ll[--w->npending_ll];
				break;
			}
		return;
	}
	for (int i = 0; i < w->npending; i++)
		if (memcmp(&w->pending[i], dst, 16) == 0) {
			w->pending[i] = w->pending[--w->npending];
			break;
		}
}

static bool waiting(const struct nl_addr6_wait *w)
{
	return !w->dumped || w->npending || w->npending_ll;
}

/* Read what is queued; returns 0, or -errno on a socket error (-ENOBUFS: events were lost). */
static int wait_read(struct nl_addr6_wait *w, unsigned seq)
{
	return nl_watch_read(w->fd, RTM_NEWROUTE, note_route, w, seq, &w->dumped);
}

static int wait_dump(int fd, unsigned seq)
{
	return nl_watch_dump(fd, RTM_GETROUTE, sizeof(struct rtmsg), AF_INET6, seq);
}

static double now_ms(void)
{
	return nl_watch_now_ms();
}

int nl_addrs6_wait_ready(struct nl_addr6_wait *w, int n, int timeout_ms, char *stuck,
			 size_t len)
{
	const unsigned seq = 0x6add;
	struct pollfd pfd[NL_ADDR6_WAIT_NODES];
	double deadline = now_ms() + timeout_ms;

	if (n > NL_ADDR6_WAIT_NODES)
		return -EINVAL;
	/* A dump answers what is ready now; the group membership (taken before the addresses
	 * were added) delivers every route inserted after. Both arrive on one socket, in order. */
	for (int i = 0; i < n; i++) {
		int ret;
		w[i].dumped = w[i].npending == 0 && w[i].npending_ll == 0;
		if (w[i].dumped)
			continue;
		ret = wait_dump(w[i].fd, seq);
		if (ret < 0)
			return ret;
	}
	for (int guard = 0; guard < 10000; guard++) {
		int pending = 0, np = 0, ready, left = (int)(deadline - now_ms());

		for (int i = 0; i < n; i++)
			if (waiting(&w[i]))
				pfd[np++] = (struct pollfd){ .fd = w[i].fd, .events = POLLIN };
		if (np == 0)
			return 0;
		ready = poll(pfd, (nfds_t)np, left > 0 ? left : 0);
		if (ready < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			int ret = waiting(&w[i]) ? wait_read(&w[i], seq) : 0;
			if (ret < 0)
				return ret;
			pending += waiting(&w[i]);
		}
		if (!pending)
			return 0;
		/* what is queued is read before giving up (timeout 0 reads a whole dump) */
		if (ready <= 0 && now_ms() >= deadline) {
			for (int i = 0; i < n; i++)
				if (w[i].npending) {
					inet_ntop(AF_INET6, &w[i].pending[0], stuck, (socklen_t)len);
					break;
				} else if (w[i].npending_ll) {
					snprintf(stuck, len, "the link-local address of ifindex %d",
						 w[i].pending_ll[0]);
					break;
				}
			return -ETIMEDOUT;
		}
	}
	return -ETIMEDOUT;
}
