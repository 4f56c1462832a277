/* tcp: simultaneous open from the port that spoke to the rendezvous. Every socket of the
 * attempt (the rendezvous connection, a listener, one connecting socket per target) is bound
 * to that one port with SO_REUSEADDR + SO_REUSEPORT, so the NAT mapping the rendezvous saw is
 * the one the SYNs use. A connect that fails (RST: ECONNREFUSED; ICMP: EHOSTUNREACH) or that
 * sees no answer within a short timeout is retried on a fresh socket with the same 4-tuple
 * (the kernel's own SYN retransmission waits a whole second); the listener accepts a SYN
 * that arrives between two attempts. The first connection whose other end says hello with
 * the session token wins; the payload is then verified on it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "endpoint.h"
#include "peer.h"

#define TCP_RETRY_MIN_US 10000
#define TCP_RETRY_MAX_US 250000

static void tconn_open(struct tconn *tc);

static void tconn_close_fd(struct tconn *tc)
{
	if (tc->fd < 0)
		return;
	loop_io_del(&tc->io);
	close(tc->fd);
	tc->fd = -1;
	tc->established = false;
	tc->st.len = 0;
}

/* Retry delay: doubling from about one RTT, jittered so that two peers that failed together do
 * not retry in lockstep forever. */
static uint64_t retry_delay(struct tconn *tc)
{
	struct peer *p = tc->p;
	uint64_t base = p->rtt_rdv_us * 2, d;
	uint32_t shift = tc->tries < 5 ? tc->tries : 5;

	if (base < TCP_RETRY_MIN_US)
		base = TCP_RETRY_MIN_US;
	d = base << shift;
	if (d > TCP_RETRY_MAX_US)
		d = TCP_RETRY_MAX_US;
	return d + rand_u64() % (d / 4 + 1);
}

static void on_retry(struct loop_timer *t)
{
	struct tconn *tc = t->arg;
	struct peer *p = tc->p;

	if (p->finished || tc->dead || p->phase != PH_PROBING)
		return;
	if (tc->fd >= 0 && !tc->established)
		tconn_close_fd(tc);    /* no answer to this SYN: a new one, same 4-tuple */
	if (tc->fd < 0)
		tconn_open(tc);
}

static void tconn_fail(struct tconn *tc)
{
	tconn_close_fd(tc);
	if (tc->accepted || tc->dead) {
		tc->dead = true;
		return;
	}
	loop_timer_in(&tc->retry, retry_delay(tc));
}

static int tconn_msg(void *arg, const uint8_t *buf, size_t len)
{
	struct tconn *tc = arg;
	struct peer *p = tc->p;
	struct chan c = { .kind = CHAN_TCP, .tc = tc, .to = tc->to };
	struct wire_msg m;
	enum msg_check mc;

	if (wire_decode(buf, len, &m)) {
		p->bad_msgs++;
		return 0;
	}
	mc = peer_msg_check(true, p->token, p->nonce, p->peer_nonce, p->peer_role, &m);
	if (mc != MSG_OK) {
		if (mc == MSG_SELF)
			p->self_msgs++;
		else
			p->bad_msgs++;
		/* Not the other peer: a stray listener or ourselves. Drop the connection. */
		tconn_close_fd(tc);
		tc->dead = true;
		return 1;
	}
	if (m.type == WIRE_PROBE)
		tc->hello_ok = true;
	peer_on_peer_msg(p, &c, &m);
	return tc->fd < 0 || p->finished;
}

static void send_hello(struct tconn *tc)
{
	struct peer *p = tc->p;
	struct chan c = { .kind = CHAN_TCP, .tc = tc, .to = tc->to };
	struct wire_msg m;

	peer_msg_init(p, &m, WIRE_PROBE);
	m.seq = ++p->seq;
	m.time_us = loop_now_us();
	m.present = WA_BIT(WA_SEQ) | WA_BIT(WA_TIME);
	peer_chan_send(p, &c, &m);
}

static bool is_self(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);

	if (getsockname(fd, (struct sockaddr *)&a, &al) || getpeername(fd, (struct sockaddr *)&b, &bl))
		return false;
	return ep_equal(&a, &b, true);
}

static void on_tconn(struct loop_io *io, uint32_t events)
{
	struct tconn *tc = io->arg;
	struct peer *p = tc->p;
	int err = 0;

	if (!tc->established) {
		socklen_t sl = sizeof(err);

		getsockopt(tc->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			tconn_fail(tc);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (is_self(tc->fd)) {
			/* Our own address and port: the two LANs share addressing. */
			p->self_msgs++;
			tconn_close_fd(tc);
			tc->dead = true;
			return;
		}
		tc->established = true;
		loop_timer_stop(&tc->retry);
		loop_io_mod(&tc->io, EPOLLIN | EPOLLRDHUP);
		send_hello(tc);
		return;
	}
	err = stream_read(&tc->st, tc->fd, tconn_msg, tc);
	if (err == 1 || tc->fd < 0)
		return;
	if (err < 0 || (events & (EPOLLHUP | EPOLLERR))) {
		/* Lost after it was up: if it was never verified, try again. */
		if (p->phase == PH_PROBING)
			tconn_fail(tc);
		else
			tconn_close_fd(tc);
	}
}

static void tconn_open(struct tconn *tc)
{
	struct peer *p = tc->p;
	char b[EP_STRLEN];
	int fd;

	fd = sock_open_bound(p->family, SOCK_STREAM, &p->o->bind, p->local_port, true);
	if (fd < 0) {
		tconn_fail(tc);
		return;
	}
	tc->tries++;
	p->attempts++;
	if (tc->prime_ttl > 0 &&
	    (sock_set_minttl(fd, p->family, 2) < 0 || sock_set_ttl(fd, p->family, tc->prime_ttl) < 0)) {
		close(fd);
		tconn_fail(tc);
		return;
	}
	if (connect(fd, (const struct sockaddr *)&tc->to, ep_len(&tc->to)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		tconn_fail(tc);
		return;
	}
	/* The SYN is out with the low TTL; everything after it (our SYN-ACK in the simultaneous
	 * open, retransmissions) must reach the other peer. */
	if (tc->prime_ttl > 0)
		sock_set_ttl(fd, p->family, -1);
	tc->fd = fd;
	tc->established = false;
	if (loop_io_add(&p->loop, &tc->io, fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP, on_tconn, tc) < 0) {
		close(fd);
		tc->fd = -1;
		tconn_fail(tc);
		return;
	}
	if (tc->tries == 1 && !tc->quiet) {
		evout_begin(&p->ev, "probe");
		evout_str(&p->ev, "to", ep_format(&tc->to, b));
		evout_str(&p->ev, "via", "tcp-syn");
		evout_end(&p->ev);
	}
	/* No SYN-ACK within this time: the SYN was dropped (filter not open yet); send anew.
	 * Not for a primed socket: it waits for the other peer's SYN, and a new SYN would carry
	 * a new ISN that its NAT's window tracking no longer accepts. */
	if (!tc->prime_ttl)
		loop_timer_in(&tc->retry, retry_delay(tc) * 2);
}

static struct tconn *tconn_new(struct peer *p, const struct sockaddr_storage *to)
{
	struct tconn *tc;

	if (p->n_tconns >= PEER_MAX_TCONNS) {
		errno = EMFILE;
		return NULL;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tc->p = p;
	tc->fd = -1;
	tc->to = *to;
	loop_timer_init(&p->loop, &tc->retry, on_retry, tc);
	p->tconns[p->n_tconns++] = tc;
	return tc;
}

struct tconn *tcp_punch_prime(struct peer *p, const struct sockaddr_storage *to, int ttl)
{
	struct tconn *tc = tconn_new(p, to);

	if (!tc)
		return NULL;
	tc->prime_ttl = ttl;
	tconn_open(tc);
	return tc;
}

struct tconn *tcp_punch_connect(struct peer *p, const struct sockaddr_storage *to, bool quiet)
{
	struct tconn *tc = tconn_new(p, to);

	if (!tc)
		return NULL;
	tc->quiet = quiet;
	tconn_open(tc);
	return tc;
}

static void on_listen(struct loop_io *io, uint32_t events)
{
	struct peer *p = io->arg;

	(void)events;
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct tconn *tc;
		int fd = accept4(p->listen_fd, (struct sockaddr *)&from, &fl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		ep_unmap(&from);
		tc = p->phase == PH_PROBING ? tconn_new(p, &from) : NULL;
		if (!tc) {
			close(fd);
			continue;
		}
		tc->accepted = true;
		tc->established = true;
		tc->fd = fd;
		sock_set_nodelay(fd);
		if (loop_io_add(&p->loop, &tc->io, fd, EPOLLIN | EPOLLRDHUP, on_tconn, tc) < 0) {
			close(fd);
			tc->fd = -1;
			tc->dead = true;
			continue;
		}
		send_hello(tc);
	}
}

int tcp_punch_begin(struct peer *p)
{
	int fd, err;

	if (p->listen_fd >= 0)
		return 0;
	fd = sock_open_bound(p->family, SOCK_STREAM, &p->o->bind, p->local_port, true);
	if (fd < 0)
		return fd;
	if (listen(fd, 16) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	p->listen_fd = fd;
	err = loop_io_add(&p->loop, &p->listen_io, fd, EPOLLIN, on_listen, p);
	if (err) {
		close(fd);
		p->listen_fd = -1;
	}
	return err;
}

void tcp_punch_end(struct peer *p)
{
	int i;

	for (i = 0; i < p->n_tconns; i++) {
		struct tconn *tc = p->tconns[i];

		if (p->chan.kind == CHAN_TCP && p->chan.tc == tc)
			continue;
		loop_timer_stop(&tc->retry);
		tconn_close_fd(tc);
		tc->dead = true;
	}
}

/* Connections are freed only here (end of a step or of the run), never from a callback. */
void tcp_punch_close_all(struct peer *p)
{
	int i;

	if (p->listen_fd >= 0) {
		loop_io_del(&p->listen_io);
		close(p->listen_fd);
		p->listen_fd = -1;
	}
	for (i = 0; i < p->n_tconns; i++) {
		loop_timer_stop(&p->tconns[i]->retry);
		tconn_close_fd(p->tconns[i]);
		free(p->tconns[i]);
	}
	p->n_tconns = 0;
}

static int tcp_start(struct peer *p)
{
	struct sockaddr_storage t[1 + WIRE_MAX_EPS];
	int n = peer_targets(p, t), i, err;

	err = tcp_punch_begin(p);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		if (!tcp_punch_connect(p, &t[i], false))
			return -errno;
	return 0;
}

static void tcp_stop(struct peer *p)
{
	tcp_punch_close_all(p);
}

const struct tech_ops tech_tcp_ops = {
	.id = TECH_TCP,
	.start = tcp_start,
	.stop = tcp_stop,
};
