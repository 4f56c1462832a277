#include "ct/ct_events.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CT_EVENTS_BUF 65536
/* A NAT of the lab creates a handful of entries per cell; a burst of a few thousand (a
 * birthday probe) fits in 4 MiB without ENOBUFS. Forced past rmem_max: we are root. */
#define CT_EVENTS_RCVBUF (4 * 1024 * 1024)

const char *ct_event_kind_name(enum ct_event_kind k)
{
	return k == CT_EVENT_NEW ? "new" : k == CT_EVENT_UPDATE ? "update" : "destroy";
}

struct mnl_socket *ct_events_open(int netns_fd)
{
	return ct_socket_open_opts(netns_fd, SOCK_NONBLOCK,
				   NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
				   NF_NETLINK_CONNTRACK_DESTROY, CT_EVENTS_RCVBUF);
}

struct read_ctx {
	ct_event_cb cb;
	void *arg;
	int n;
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *r = data;
	struct ct_mapping m;
	enum ct_event_kind kind;
	int nat;

	switch (nlh->nlmsg_type & 0xff) {
	case IPCTNL_MSG_CT_NEW:
		/* NEW and UPDATE share the message type; the kernel marks a creation with
		 * NLM_F_CREATE (ctnetlink_conntrack_event) */
		kind = (nlh->nlmsg_flags & NLM_F_CREATE) ? CT_EVENT_NEW : CT_EVENT_UPDATE;
		break;
	case IPCTNL_MSG_CT_DELETE:
		kind = CT_EVENT_DESTROY;
		break;
	default:
		return MNL_CB_OK;
	}
	nat = ct_mapping_from_msg(nlh, &m);
	if (nat < 0)
		return MNL_CB_OK; /* not a conntrack entry, or unreadable */
	r->cb(kind, &m, nat == 1, r->arg);
	r->n++;
	return MNL_CB_OK;
}

int ct_events_read(struct mnl_socket *nl, ct_event_cb cb, void *arg)
{
	struct read_ctx r = { .cb = cb, .arg = arg };
	char *buf = malloc(CT_EVENTS_BUF);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	/* bounded: a NAT cannot outpace us forever within one call */
	for (int guard = 0; guard < 10000; guard++) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, CT_EVENTS_BUF);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
			break;
		}
		/* events carry no sequence number or port id to match: seq 0, portid 0 */
		if (mnl_cb_run(buf, (size_t)n, 0, 0, event_cb, &r) < 0 && errno != 0) {
			ret = -errno;
			break;
		}
	}
	free(buf);
	return ret < 0 ? ret : r.n;
}
