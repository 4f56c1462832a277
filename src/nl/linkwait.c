/* Waiting until new links pass packets.
 *
 * A link set up by netlink is not usable at once: the kernel's linkwatch work activates its
 * queueing discipline later (until then the noop qdisc drops every packet) and only then marks
 * it operationally up. Under load that can take a second, and a cell whose first probes vanish
 * would report a NAT result that is really a harness artefact. So lab_up() ends by waiting,
 * event-driven and bounded, until every link of every node reports IF_OPER_UP. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nl/nl.h"
#include "nl/watch.h"

#define MAX_WATCHED 64

struct watch {
	int fd;
	int pending[MAX_WATCHED]; /* ifindexes not up yet */
	int npending;
	char names[MAX_WATCHED][IFNAMSIZ];
	unsigned seq;
	bool dumped;              /* the dump's NLMSG_DONE arrived */
};

int nl_link_watch_open(void)
{
	return nl_watch_open(RTMGRP_LINK);
}

static void note_link(void *ctx, const struct nlmsghdr *nlh)
{
	struct watch *w = ctx;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	int oper = -1, found = -1;
	const char *name = "?";

	if (ifi->ifi_flags & IFF_LOOPBACK)
		return;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(a) == IFLA_OPERSTATE)
			oper = mnl_attr_get_u8(a);
		else if (mnl_attr_get_type(a) == IFLA_IFNAME)
			name = mnl_attr_get_str(a);
	}
	for (int i = 0; i < w->npending; i++)
		if (w->pending[i] == ifi->ifi_index)
			found = i;
	if (oper == IF_OPER_UP) {
		if (found >= 0) {
			w->pending[found] = w->pending[--w->npending];
			memcpy(w->names[found], w->names[w->npending], IFNAMSIZ);
		}
	} else if (found < 0 && w->npending < MAX_WATCHED && nlh->nlmsg_type == RTM_NEWLINK) {
		w->pending[w->npending] = ifi->ifi_index;
		snprintf(w->names[w->npending++], IFNAMSIZ, "%s", name);
	}
}

/* Read what is queued on the socket; returns 0, or -errno on a socket error. */
static int watch_read(struct watch *w)
{
	return nl_watch_read(w->fd, RTM_NEWLINK, note_link, w, w->seq, &w->dumped);
}

static int watch_dump(struct watch *w)
{
	return nl_watch_dump(w->fd, RTM_GETLINK, sizeof(struct rtgenmsg), AF_UNSPEC, ++w->seq);
}

static double now_ms(void)
{
	return nl_watch_now_ms();
}

int nl_links_wait_up(const int *fds, int n, int timeout_ms, char *stuck, size_t len)
{
	struct watch w[16];
	struct pollfd pfd[16];
	double deadline = now_ms() + timeout_ms;
	int left;

	if (n > 16)
		return -EINVAL;
	/* A dump answers what the state is now; the group membership (from before the links
	 * existed) delivers every change after. Both arrive on one socket, in order. */
	for (int i = 0; i < n; i++) {
		w[i] = (struct watch){ .fd = fds[i] };
		if (watch_dump(&w[i]) < 0)
			return -errno;
	}
	for (int guard = 0; guard < 10000; guard++) {
		int pending = 0, np = 0, dumped = 0;

		for (int i = 0; i < n; i++) {
			pfd[np++] = (struct pollfd){ .fd = w[i].fd, .events = POLLIN };
		}
		left = (int)(deadline - now_ms());
		if (poll(pfd, (nfds_t)np, left > 0 ? left : 0) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			int ret = watch_read(&w[i]);
			if (ret < 0)
				return ret;
			pending += w[i].npending;
			dumped += w[i].dumped;
		}
		if (!pending && dumped == n)
			return 0;
		if (now_ms() >= deadline) {
			for (int i = 0; i < n; i++)
				if (w[i].npending) {
					snprintf(stuck, len, "%s", w[i].names[0]);
					break;
				}
			return -ETIMEDOUT;
		}
	}
	return -ETIMEDOUT;
}
