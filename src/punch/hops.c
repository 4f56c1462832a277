/* Hop measurement (see hops.h), moved here from tech_ttl.c so that tcp's ordered attempts
 * use the same measurement as tcp-ttl. */
#include "hops.h"

#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "endpoint.h"
#include "peer.h"

#define HOPS_TRACE_PORT 33434
#define HOP_TIMEOUT_MIN_US 100000
#define HOP_TIMEOUT_MAX_US 1000000

int ttl_choose(const bool *hop_private, int n, bool reached)
{
	int i;

	(void)reached;
	for (i = 0; i < n; i++)
		if (!hop_private[i])
			return i >= 1 ? i + 1 : -1;  /* hop 1 public: no NAT of ours to pass */
	/* Every answering hop was ours: the SYN would have to die at the other NAT itself. */
	return -1;
}

static void hops_close(struct hops *h)
{
	loop_timer_stop(&h->timer);
	if (h->fd >= 0) {
		loop_io_del(&h->io);
		close(h->fd);
		h->fd = -1;
	}
}

static void hops_finish(struct hops *h)
{
	struct peer *p = h->p;
	int ttl;

	if (h->finished)
		return;
	h->finished = true;
	hops_close(h);
	ttl = ttl_choose(h->hop_private, h->n, h->reached);
	/* Our hops answered, the next one stayed silent for HOPS_SILENT_US: a router out of
	 * ICMP budget (back-to-back runs from one host spend it: the low-TTL SYNs that die
	 * there are answered with time-exceeded too), or the other NAT dropping the probe
	 * silently. A SYN that dies at the silent hop is right in the first case and harmless
	 * in the second (a NAT that drops the probe drops the SYN too, and sends no RST). A NAT
	 * that answers unsolicited traffic answers the probe (port unreachable: reached). */
	if (ttl < 0 && h->silent && !h->reached && h->n >= 1 && h->n < HOPS_MAX &&
	    ttl_choose(h->hop_private, h->n, false) < 0 && h->hop_private[h->n - 1])
		ttl = h->n + 1;
	p->hops = h->n;
	evout_begin(&p->ev, "ttl");
	evout_int(&p->ev, "hops_answered", h->n);
	evout_bool(&p->ev, "reached_peer", h->reached);
	if (ttl > 0)
		evout_int(&p->ev, "ttl", ttl);
	else
		evout_str(&p->ev, "ttl", NULL);
	evout_bool(&p->ev, "silent_hop", h->silent);
	evout_end(&p->ev);
	h->done(p, ttl);
}

static uint64_t hop_timeout(struct peer *p)
{
	uint64_t t = p->rtt_rdv_us * 4;

	if (t < HOP_TIMEOUT_MIN_US)
		t = HOP_TIMEOUT_MIN_US;
	if (t > HOP_TIMEOUT_MAX_US)
		t = HOP_TIMEOUT_MAX_US;
	return t;
}

/* again: the same TTL once more (the hop was silent so far). */
static void send_hop_probe(struct hops *h, bool again)
{
	uint8_t b[8] = { 'p', 'u', 'n', 'c', 'h', 't', 't', 0 };

	if (!again)
		h->ttl_since_us = loop_now_us();
	b[7] = (uint8_t)h->ttl;
	if (sock_set_ttl(h->fd, h->p->family, h->ttl) < 0 ||
	    send(h->fd, b, sizeof(b), MSG_DONTWAIT) < 0) {
		hops_finish(h);
		return;
	}
	loop_timer_in(&h->timer, hop_timeout(h->p));
}

static void on_hop_timer(struct loop_timer *t)
{
	struct hops *h = t->arg;

	/* Rate-limited (see hops.h): ask again, bounded. */
	if (loop_now_us() - h->ttl_since_us + hop_timeout(h->p) <= HOPS_SILENT_US) {
		send_hop_probe(h, true);
		return;
	}
	h->silent = true;
	hops_finish(h);       /* a silent hop: stop here rather than risk the other NAT */
}

static void on_err(struct loop_io *io, uint32_t events)
{
	struct hops *h = io->arg;
	struct peer *p = h->p;
	int i;

	(void)events;
	for (i = 0; i < 8 && h->fd >= 0 && !h->finished; i++) {
		uint8_t data[64], ctl[512];
		struct sockaddr_storage name;
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh = { .msg_name = &name, .msg_namelen = sizeof(name), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct cmsghdr *c;
		ssize_t n = recvmsg(h->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (n < 0) {
			/* Drain a plain datagram (or a pending error) so epoll does not spin. */
			if (recv(h->fd, data, sizeof(data), MSG_DONTWAIT) < 0 && errno == EAGAIN)
				return;
			continue;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			struct sock_extended_err *ee;
			struct sockaddr_storage off = { 0 };
			bool te, unreach;
			int ttl;

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (struct sock_extended_err *)CMSG_DATA(c);
			memcpy(&off, SO_EE_OFFENDER(ee),
			       ee->ee_origin == SO_EE_ORIGIN_ICMP6 ? sizeof(struct sockaddr_in6) :
								      sizeof(struct sockaddr_in));
			te = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_TIME_EXCEEDED) ||
			     (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == ICMP6_TIME_EXCEEDED);
			unreach = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_DEST_UNREACH) ||
				  (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == ICMP6_DST_UNREACH);
			ttl = n >= 8 ? data[7] : h->ttl;
			if (ttl != h->ttl)
				continue;           /* a late answer to an earlier probe */
			if (te && ttl <= HOPS_MAX) {
				bool priv = ep_is_private(&off) || ep_equal(&off, &p->public1, false);

				h->hop_private[ttl - 1] = priv;
				h->n = ttl;
				if (!priv || ttl >= HOPS_MAX) {
					hops_finish(h);
					return;
				}
				h->ttl++;
				send_hop_probe(h, false);
				return;     /* @h may be finished if sending failed */
			} else if (unreach) {
				h->reached = ep_equal(&off, &p->peer_pub, false);
				hops_finish(h);
				return;
			}
		}
	}
}

void hops_start(struct peer *p, struct hops *h, hops_done_cb done)
{
	struct sockaddr_storage to = p->peer_pub;
	int one = 1;

	memset(h, 0, sizeof(*h));
	h->p = p;
	h->done = done;
	h->fd = -1;
	loop_timer_init(&p->loop, &h->timer, on_hop_timer, h);
	h->fd = sock_open_bound(p->family, SOCK_DGRAM, &p->o->bind, 0, false);
	if (h->fd < 0)
		goto no_trace;
	ep_set_port(&to, HOPS_TRACE_PORT);
	if ((p->family == AF_INET6 ?
	     setsockopt(h->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one)) :
	     setsockopt(h->fd, SOL_IP, IP_RECVERR, &one, sizeof(one))) < 0 ||
	    connect(h->fd, (struct sockaddr *)&to, ep_len(&to)) < 0 ||
	    loop_io_add(&p->loop, &h->io, h->fd, EPOLLIN | EPOLLERR, on_err, h) < 0) {
		close(h->fd);
		h->fd = -1;
		goto no_trace;
	}
	h->ttl = 1;
	send_hop_probe(h, false);
	return;
no_trace:
	hops_finish(h);
}

void hops_stop(struct hops *h)
{
	if (!h->p)
		return;
	h->finished = true;
	hops_close(h);
}
