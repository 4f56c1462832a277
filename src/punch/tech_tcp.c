/* tcp: simultaneous open from the port that spoke to the rendezvous. Every socket of the
 * attempt (the rendezvous connection, a listener, one connecting socket per target) is bound
 * to that one port with SO_REUSEADDR + SO_REUSEPORT, so the NAT mapping the rendezvous saw is
 * the one the SYNs use. The listener accepts a SYN that arrives between two attempts. The
 * first connection whose other end says hello with the session token wins; the payload is
 * then verified on it.
 *
 * When SYNs leave, and why (measured with packet captures on both NATs, Linux 6.18; see
 * docs/punch.md): against a NAT that answers an unsolicited SYN with RST, our SYN gets
 * through only if the other peer's SYN has already left the other NAT (its conntrack entry
 * lets ours in as the reply of a simultaneous open), and the RST that answers an early SYN
 * deletes our own NAT's entry on its way back (conntrack kills an entry whose only reply is
 * a RST), so the other peer's SYN then meets no entry either. A crossing wins only when the
 * two SYNs leave their NATs within one NAT-to-NAT one-way delay of each other: milliseconds
 * on the internet, a few microseconds between two namespaces. Hence:
 *  - both peers send the first SYN at the shared moment the rendezvous sets (PEER's START,
 *    each peer subtracting half its round trip to the server, as libp2p's DCUtR times its
 *    dial from a measured RTT): a crossing on the internet at the first attempt;
 *  - attempts follow one schedule on both peers (tcp_attempt_offset_us, no jitter, the same
 *    4-tuple on a fresh socket), so a lost crossing, or a peer that woke late, is followed
 *    by SYNs that leave together again;
 *  - after a refused crossing the attempts are ordered (tcp, and predict over TCP): role b,
 *    whose hops towards a were measured while the moment approached (hops.c), sends its SYN
 *    with a TTL that dies between the NATs: its NAT keeps the entry, no RST comes back, the
 *    socket waits in SYN_SENT. Role a keeps b's attempts and adds one halfway between each
 *    two (tcp_attempt_offset_us, follow), so one of its SYNs leaves after b's whatever the
 *    peers' timers did within half a gap, and meets b's socket: tcp-ttl's simultaneous open,
 *    timed by the shared schedule instead of a relayed "ready". Where the one-way delay is
 *    below any timer's precision (two namespaces: about 5 us) this, not the timing, wins.
 * A SYN refused by RST, or unanswered (a NAT that drops), is replaced at the next scheduled
 * attempt, as the kernel would wait a whole second; not at once: a refused SYN sent again
 * at once (tried: up to 16 per attempt) won the first crossing in only 2 of 90 runs, took
 * the CPU from the other peer on a 2-core host, and made half crossings (below) likelier. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "endpoint.h"
#include "hops.h"
#include "peer.h"

/* A socket past SYN_SENT without the other peer's hello for this long is stuck. */
#define TCP_STALE_MIN_US 200000
/* Gaps between scheduled attempts: 20 ms doubling to 250 ms. */
#define TCP_GAP_FIRST_US 20000
#define TCP_GAP_MAX_US 250000

static uint64_t base_offset_us(uint32_t k)
{
	uint64_t off = 0, gap = TCP_GAP_FIRST_US;
	uint32_t i;

	for (i = 0; i < k; i++) {
		off += gap;
		if (gap < TCP_GAP_MAX_US)
			gap = gap * 2 < TCP_GAP_MAX_US ? gap * 2 : TCP_GAP_MAX_US;
		if (gap == TCP_GAP_MAX_US && i + 1 < k) {
			/* The rest are evenly spaced: no need to count them one by one. */
			off += (uint64_t)(k - i - 1) * gap;
			break;
		}
	}
	return off;
}

uint64_t tcp_attempt_offset_us(uint32_t k, bool follow)
{
	if (!follow)
		return base_offset_us(k);
	if (k % 2 == 0)
		return base_offset_us(k / 2);
	return (base_offset_us(k / 2) + base_offset_us(k / 2 + 1)) / 2;
}

uint32_t tcp_attempt_next(uint64_t t0, uint64_t now, bool follow)
{
	uint32_t k = 0;

	/* Bounded: attempt 20000 is over an hour away, far beyond any step's deadline. */
	while (t0 + tcp_attempt_offset_us(k, follow) <= now && k < 20000)
		k++;
	return k;
}

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

static void schedule_next(struct tconn *tc)
{
	uint64_t now = loop_now_us();

	tc->attempt = tcp_attempt_next(tc->t0_us, now, tc->follow);
	loop_timer_at(&tc->retry, tc->t0_us + tcp_attempt_offset_us(tc->attempt, tc->follow));
}

/* The kernel's state of a TCP socket (TCP_SYN_SENT, ...), -1 when unknown. */
static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
		return -1;
	return ti.tcpi_state;
}

/* Close with a RST (SO_LINGER 0): a socket past SYN_SENT that never carried the other
 * peer's hello. The RST, leaving from our side, is what lets our NAT's conntrack reopen the
 * 4-tuple for the next SYN (an entry closed by a RST from the other side ignores our SYNs
 * until it times out, 10 s). */
static void tconn_abort_fd(struct tconn *tc)
{
	struct linger l = { 1, 0 };

	if (tc->fd >= 0)
		setsockopt(tc->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	tconn_close_fd(tc);
}

/* A scheduled attempt: a SYN on a fresh socket, same 4-tuple, unless this one is on its way.
 * A connection counts only once the other peer's hello came over it (then the schedule
 * stops). A socket the kernel took past SYN_SENT (the other side's SYN or SYN-ACK came in)
 * is left alone for TCP_STALE_MIN_US (or four round trips to the server, if longer): the
 * handshake completes in the kernel while either peer may not have run yet on a busy host.
 * Without a hello by then it is stuck, and aborted. Seen in 2 runs of about 120 (RST x RST,
 * before this abort existed): both peers retried to the deadline while one NAT held the
 * 4-tuple in CLOSE, which drops the other peer's SYNs; the likely path (from the conntrack
 * states, not a capture) is two first SYNs that crossed only half way: ours passed the other
 * NAT, then the other NAT's RST for the other peer's SYN followed it. A RST from our side
 * lets that NAT's conntrack reopen the 4-tuple. */
static void on_retry(struct loop_timer *t)
{
	struct tconn *tc = t->arg;
	struct peer *p = tc->p;
	int st;

	if (p->finished || tc->dead || p->phase != PH_PROBING || tc->hello_ok)
		return;
	if (tc->fd >= 0) {
		st = tcp_state(tc->fd);
		if (st != TCP_SYN_SENT && st != TCP_CLOSE && st >= 0) {
			uint64_t now = loop_now_us(), grace = 4 * p->rtt_rdv_us;

			if (grace < TCP_STALE_MIN_US)
				grace = TCP_STALE_MIN_US;
			if (!tc->stale_since_us)
				tc->stale_since_us = now;
			if (now - tc->stale_since_us < grace)
				goto next;
			tconn_abort_fd(tc);
		} else if (st == TCP_SYN_SENT && !tc->prime_ttl &&
			   loop_now_us() - tc->opened_us < 2 * p->rtt_rdv_us) {
			/* A SYN younger than a round trip to the other peer (estimated as two of
			 * ours to the rendezvous: the path crosses both NATs' links) may still be
			 * answered: a new one on the same 4-tuple carries a new ISN, the late
			 * SYN-ACK meets it, the host resets it and the NAT's entry closes (seen
			 * under the lte impairment: ~1 s of probing for a 120 ms round trip).
			 * Between two namespaces the round trip is microseconds: no change. */
			goto next;
		} else if (tc->prime_ttl) {
			/* A primed socket (tcp-ttl) waits for the other peer's SYN: a new SYN
			 * would carry a new ISN that its NAT's window tracking no longer
			 * accepts. */
			goto next;
		}
	}
	/* tcp's ordered attempts: b's public target was refused by a RST (the other NAT
	 * answers unsolicited SYNs so), so from now on its SYN leaves with a TTL that dies
	 * before that NAT: our NAT keeps the entry, no RST comes back, and a's next SYN
	 * meets it (a simultaneous open, as in tcp-ttl, timed by the schedule instead of a
	 * relayed "ready"). */
	if (p->tcp_order_ttl > 0 && tc->refused && !tc->prime_ttl &&
	    ep_equal(&tc->to, &p->peer_pub, true)) {
		tc->prime_ttl = p->tcp_order_ttl;
		p->ttl_used = (uint32_t)p->tcp_order_ttl;
	}
	tconn_close_fd(tc);
	tconn_open(tc);
next:
	if (!tc->dead && !tc->hello_ok)
		schedule_next(tc);
}

/* @err: why (a positive errno). A RST (ECONNREFUSED) says the other NAT answers unsolicited
 * SYNs so (tcp's ordered attempts start from that); either way the next SYN waits for the
 * next scheduled attempt. */
static void tconn_fail(struct tconn *tc, int err)
{
	tconn_close_fd(tc);
	if (tc->accepted || tc->dead) {
		tc->dead = true;
		return;
	}
	if (err == ECONNREFUSED)
		tc->refused = true;
	if (!loop_timer_armed(&tc->retry))
		schedule_next(tc);
}

static int tconn_msg(void *arg, const uint8_t *buf, size_t len)
{
	struct tconn *tc = arg;
	struct peer *p = tc->p;
	struct chan c = { .kind = CHAN_TCP, .tc = tc, .to = tc->to };
	struct wire_msg m;
	enum msg_check mc;

	if (peer_decode(p, buf, len, &m))
		return 0;
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
	if (!peer_replay_ok(p, &m))
		return 0;
	if (m.type == WIRE_PROBE) {
		tc->hello_ok = true;
		loop_timer_stop(&tc->retry);
	}
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
			tconn_fail(tc, err);
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
			tconn_fail(tc, err < 0 ? -err : EPIPE);
		else
			tconn_close_fd(tc);
	}
}

static void tconn_open(struct tconn *tc)
{
	struct peer *p = tc->p;
	char b[EP_STRLEN];
	int fd, err;

	fd = sock_open_bound(p->family, SOCK_STREAM, &p->o->bind, p->local_port, true);
	if (fd < 0) {
		tconn_fail(tc, -fd);
		return;
	}
	tc->tries++;
	p->attempts++;
	if (tc->prime_ttl > 0 &&
	    (sock_set_minttl(fd, p->family, 2) < 0 || sock_set_ttl(fd, p->family, tc->prime_ttl) < 0)) {
		err = errno;
		close(fd);
		tconn_fail(tc, err);
		return;
	}
	if (connect(fd, (const struct sockaddr *)&tc->to, ep_len(&tc->to)) < 0 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(fd);
		tconn_fail(tc, err);
		return;
	}
	/* The SYN is out with the low TTL; everything after it (our SYN-ACK in the simultaneous
	 * open, retransmissions) must reach the other peer. */
	if (tc->prime_ttl > 0)
		sock_set_ttl(fd, p->family, -1);
	tc->fd = fd;
	tc->established = false;
	tc->stale_since_us = 0;
	tc->opened_us = loop_now_us();
	err = loop_io_add(&p->loop, &tc->io, fd, EPOLLOUT | EPOLLIN | EPOLLRDHUP, on_tconn, tc);
	if (err < 0) {
		close(fd);
		tc->fd = -1;
		tconn_fail(tc, -err);
		return;
	}
	if (tc->tries == 1 && !tc->quiet) {
		evout_begin(&p->ev, "probe");
		evout_str(&p->ev, "to", ep_format(&tc->to, b));
		evout_str(&p->ev, "via", "tcp-syn");
		evout_end(&p->ev);
	}
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
	/* tcp-ttl orders the two peers itself (b primes, a connects on b's "ready"). */
	tc->t0_us = loop_now_us();
	tconn_open(tc);
	if (!tc->dead && !tc->established && !loop_timer_armed(&tc->retry))
		schedule_next(tc);
	return tc;
}

struct tconn *tcp_punch_connect(struct peer *p, const struct sockaddr_storage *to, bool quiet)
{
	struct tconn *tc = tconn_new(p, to);

	if (!tc)
		return NULL;
	tc->quiet = quiet;
	tc->follow = p->tcp_ordered && p->role == WIRE_ROLE_A;
	/* The first SYN at the shared moment, or at once when it has passed (then the later
	 * attempts still keep to the schedule both peers share). */
	tc->t0_us = p->t_start_us ? p->t_start_us : loop_now_us();
	if (loop_now_us() < tc->t0_us) {
		tc->attempt = 0;
		loop_timer_at(&tc->retry, tc->t0_us);
		return tc;
	}
	tconn_open(tc);
	if (!tc->dead && !tc->established)
		schedule_next(tc);
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

/* The ordered attempts' state: b's hop measurement. */
struct tcp_state {
	struct hops hops;
};

static void tcp_measured(struct peer *p, int ttl)
{
	p->tcp_order_ttl = ttl > 0 ? ttl : 0;
}

int tcp_ordered_begin(struct peer *p)
{
	struct tcp_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	p->ts = s;
	/* Ordered attempts need b's TTL: measured now, while the first (synchronized) crossing
	 * is still ahead, by probes that stop before the other NAT. */
	p->tcp_ordered = true;
	p->tcp_order_ttl = 0;
	if (p->role == WIRE_ROLE_B)
		hops_start(p, &s->hops, tcp_measured);
	return 0;
}

void tcp_ordered_end(struct peer *p)
{
	struct tcp_state *s = p->ts;

	p->tcp_ordered = false;
	p->tcp_order_ttl = 0;
	if (!s)
		return;
	hops_stop(&s->hops);
	free(s);
	p->ts = NULL;
}

static int tcp_start(struct peer *p)
{
	struct sockaddr_storage t[1 + WIRE_MAX_EPS];
	int n = peer_targets(p, t), i, err;

	err = tcp_punch_begin(p);
	if (!err)
		err = tcp_ordered_begin(p);
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
	tcp_ordered_end(p);
}

const struct tech_ops tech_tcp_ops = {
	.id = TECH_TCP,
	.start = tcp_start,
	.stop = tcp_stop,
};
