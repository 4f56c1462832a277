/* The peer: registration, message dispatch, UDP candidates, payload verification, steps and
 * the final report. Techniques (tech_*.c) plug in through struct tech_ops. */
#include "peer.h"
#include "portmap.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "endpoint.h"
#include "nat64.h"
#include "dual.h"
#include "race.h"

#define REG_FIRST_MS 25               /* first registration retransmission */
#define REG_MAX_MS 1000
/* auto over UDP: no peer by then, go on over TCP. Pairing with a reachable server takes a few
 * round trips (well below 100 ms on an unimpaired lab), so 2.5 s of nothing means UDP does
 * not get through on one side; 2.5 s of auto's deadline (9 s) is what trying UDP first costs
 * such a pair. A longer --timeout (the harness adds the impairment's round trips and losses,
 * src/matrix/impair_deadline.h) and a held answer (--signal-delay) push it back by as much,
 * so a slow but working UDP path never falls back. */
#define AUTO_FALLBACK_MS 2500
#define AUTO_DEADLINE_MS 9000

static uint64_t auto_fallback_us(const struct peer_opts *o)
{
	uint64_t ms = AUTO_FALLBACK_MS + o->signal_delay_ms;

	if (o->timeout_ms > AUTO_DEADLINE_MS)
		ms += o->timeout_ms - AUTO_DEADLINE_MS;
	return ms * 1000u;
}
#define RDV2_GIVE_UP_US 1500000       /* no answer from the second address: NAT kind unknown */
#define RC_SYN_RETRY_US 1000000       /* TCP: the kernel's initial RTO (RFC 6298): a SYN older is lost */
#define LINGER_MAX_US 1000000         /* after verifying, answer the peer at most this long */
#define RELAY_RESERVE_US 1000000      /* auto: what the relay step keeps of --timeout */
#define UDP_BATCH 64

/* Re-probe schedule in microseconds: probe at once, then quickly, then every 250 ms. */
static const uint32_t probe_gaps_us[] = { 2000, 4000, 8000, 16000, 32000, 64000, 128000 };
#define PROBE_GAP_MAX_US 250000

static const char *const phase_names[] = {
	[PH_REGISTRATION] = "registration", [PH_EXCHANGE] = "endpoint-exchange",
	[PH_PROBING] = "probing", [PH_VERIFICATION] = "verification", [PH_DONE] = "done",
};

static const struct tech_ops *tech_ops_of(enum technique t)
{
	switch (t) {
	case TECH_UDP:
		return &tech_udp_ops;
	case TECH_TCP:
		return &tech_tcp_ops;
	case TECH_TCP_TTL:
		return &tech_ttl_ops;
	case TECH_PREDICT:
		return &tech_predict_ops;
	case TECH_BIRTHDAY:
		return &tech_birthday_ops;
	case TECH_RELAY:
		return &tech_relay_ops;
	case TECH_PORTMAP:
		return &tech_portmap_ops;
	default:
		return NULL;
	}
}

static void finish(struct peer *p, int code);
static void step_next(struct peer *p, const char *reason);
static void reg_progress(struct peer *p);
static void on_sock(struct loop_io *io, uint32_t events);
static void on_rc(struct loop_io *io, uint32_t events);

static const char *role_name(uint8_t r)
{
	return r == WIRE_ROLE_A ? "a" : r == WIRE_ROLE_B ? "b" : "any";
}

uint64_t peer_rto_us(struct peer *p)
{
	uint64_t r = p->rtt_us ? 3 * p->rtt_us : 20000;

	if (r < 5000)
		r = 5000;
	if (r > 500000)
		r = 500000;
	return r;
}

uint64_t peer_step_left_us(struct peer *p)
{
	uint64_t now = loop_now_us(), end = p->step_timer.when_us;

	if (!end || end <= now)
		return 0;
	return end - now;
}

/* ---- sending ---- */

void peer_msg_init(struct peer *p, struct wire_msg *m, uint8_t type)
{
	wire_msg_init(m, type);
	m->token = p->token;
	m->nonce = p->nonce;
	m->role = p->role;
}

int peer_encode(struct peer *p, struct wire_msg *m, uint8_t *buf, size_t cap)
{
	return auth_encode(&p->key, m, buf, cap);
}

int peer_decode(struct peer *p, const uint8_t *buf, size_t len, struct wire_msg *m)
{
	int err = auth_decode(&p->key, buf, len, m);

	if (err == -WIRE_EVERSION && len >= WIRE_HDR_LEN && buf[3] == WIRE_ERROR) {
		/* unauthenticated (another version has other keys, or none): say it once, and
		 * let the deadline end the run, so a forged one cannot stop a registration */
		if (!p->version_seen) {
			p->version_seen = true;
			snprintf(p->fail_reason, sizeof(p->fail_reason), "the rendezvous speaks "
				 "wire version %u, this peer %u", buf[2], WIRE_VERSION);
			evout_begin(&p->ev, "server_error");
			evout_int(&p->ev, "code", WIRE_ERR_VERSION);
			evout_str(&p->ev, "text", p->fail_reason);
			evout_end(&p->ev);
		}
		p->bad_msgs++;
		return -1;
	}
	if (err) {
		p->bad_msgs++;
		return -1;
	}
	return 0;
}

bool peer_replay_ok(struct peer *p, const struct wire_msg *m)
{
	if (auth_window_accept(&p->win_peer, m->ctr))
		return true;
	p->bad_msgs++;
	return false;
}

int peer_udp_send(struct peer *p, struct psock *s, const struct sockaddr_storage *to,
		  struct wire_msg *m)
{
	uint8_t buf[WIRE_MAX_LEN];
	int n = peer_encode(p, m, buf, sizeof(buf));

	if (n < 0)
		return n;
	if (s->fd < 0)
		return -EBADF;
	if (sendto(s->fd, buf, (size_t)n, MSG_DONTWAIT, (const struct sockaddr *)to, ep_len(to)) < 0)
		return -errno;
	return 0;
}

static int rc_send(struct peer *p, struct rconn *rc, struct wire_msg *m)
{
	uint8_t buf[WIRE_MAX_LEN];
	int n = peer_encode(p, m, buf, sizeof(buf));

	if (n < 0)
		return n;
	if (!rc->up)
		return -ENOTCONN;
	return stream_send(rc->fd, buf, (size_t)n);
}

static int server_send(struct peer *p, struct wire_msg *m)
{
	if (p->o->proto == PROTO_TCP)
		return rc_send(p, &p->rc, m);
	if (!p->n_socks)
		return -ENOTCONN;
	return peer_udp_send(p, p->socks[0], &p->rdv, m);
}

int peer_relay_send(struct peer *p, struct wire_msg *inner)
{
	uint8_t ibuf[WIRE_MAX_PAYLOAD];
	struct wire_msg m;
	int n = peer_encode(p, inner, ibuf, sizeof(ibuf));

	if (n < 0)
		return n;
	peer_msg_init(p, &m, WIRE_RELAY);
	strcpy(m.session, p->o->session);
	m.payload = ibuf;
	m.payload_len = (uint16_t)n;
	m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_PAYLOAD);
	return server_send(p, &m);
}

int peer_chan_send(struct peer *p, const struct chan *c, struct wire_msg *m)
{
	uint8_t buf[WIRE_MAX_LEN];
	int n;

	switch (c->kind) {
	case CHAN_UDP:
		return peer_udp_send(p, c->s, &c->to, m);
	case CHAN_TCP:
		if (!c->tc || c->tc->fd < 0)
			return -ENOTCONN;
		n = peer_encode(p, m, buf, sizeof(buf));
		return n < 0 ? n : stream_send(c->tc->fd, buf, (size_t)n);
	case CHAN_RELAY:
		return peer_relay_send(p, m);
	}
	return -EINVAL;
}

/* ---- sockets ---- */

static struct psock *sock_wrap(struct peer *p, int fd)
{
	struct psock *s;

	if (p->n_socks >= PEER_MAX_SOCKS) {
		errno = EMFILE;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->p = p;
	s->fd = fd;
	if (loop_io_add(&p->loop, &s->io, fd, EPOLLIN, on_sock, s) < 0) {
		free(s);
		return NULL;
	}
	p->socks[p->n_socks++] = s;
	return s;
}

struct psock *peer_sock_add(struct peer *p)
{
	struct psock *s;
	int fd = sock_open_bound(p->family, SOCK_DGRAM, &p->o->bind, 0, false);

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	s = sock_wrap(p, fd);
	if (!s)
		close(fd);
	return s;
}

/* Closed sockets stay allocated until the end of the run: a callback further up the stack may
 * still hold a pointer to one, and the count is bounded by PEER_MAX_SOCKS anyway. */
void peer_sock_close(struct peer *p, struct psock *s)
{
	(void)p;
	if (s->fd < 0)
		return;
	loop_io_del(&s->io);
	close(s->fd);
	s->fd = -1;
}

/* ---- candidates and probes ---- */

static struct cand *cand_find(struct peer *p, struct psock *s, const struct sockaddr_storage *to)
{
	int i;

	for (i = 0; i < p->n_cands; i++)
		if (p->cands[i].s == s && ep_equal(&p->cands[i].to, to, true))
			return &p->cands[i];
	return NULL;
}

void peer_cand_probe(struct peer *p, struct cand *c)
{
	struct wire_msg m;
	char b[EP_STRLEN];

	peer_msg_init(p, &m, WIRE_PROBE);
	m.seq = ++p->seq;
	m.time_us = loop_now_us();
	m.present = WA_BIT(WA_SEQ) | WA_BIT(WA_TIME);
	if (peer_udp_send(p, c->s, &c->to, &m) < 0)
		return;
	p->probes_sent++;
	p->attempts++;
	if (c->sent++ == 0 && !c->quiet) {
		evout_begin(&p->ev, "probe");
		evout_str(&p->ev, "to", ep_format(&c->to, b));
		evout_bool(&p->ev, "reflexive", c->reflexive);
		evout_end(&p->ev);
	}
}

struct cand *peer_cand_add(struct peer *p, struct psock *s, const struct sockaddr_storage *to,
			   bool reflexive, bool quiet)
{
	struct cand *c = cand_find(p, s, to);

	if (c)
		return c;
	if (p->n_cands >= PEER_MAX_CANDS)
		return NULL;
	c = &p->cands[p->n_cands++];
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->to = *to;
	c->reflexive = reflexive;
	c->quiet = quiet;
	peer_cand_probe(p, c);
	return c;
}

void peer_cands_clear(struct peer *p)
{
	p->n_cands = 0;
	loop_timer_stop(&p->probe_timer);
}

static void on_probe_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;
	uint32_t gap;
	int i;

	if (p->connected)
		return;
	for (i = 0; i < p->n_cands; i++) {
		struct cand *c = &p->cands[i];

		if (c->acked || c->s->fd < 0)
			continue;
		/* Slow candidates only keep their mapping alive: every fourth 250 ms tick. */
		if (c->slow && (p->probe_tick < 8 || p->probe_tick % 4))
			continue;
		peer_cand_probe(p, c);
	}
	gap = p->probe_tick < sizeof(probe_gaps_us) / sizeof(probe_gaps_us[0]) ?
		      probe_gaps_us[p->probe_tick] : PROBE_GAP_MAX_US;
	p->probe_tick++;
	loop_timer_in(&p->probe_timer, gap);
}

void peer_probe_schedule_start(struct peer *p)
{
	p->probe_tick = 0;
	loop_timer_in(&p->probe_timer, probe_gaps_us[0]);
}

int peer_targets(struct peer *p, struct sockaddr_storage *out)
{
	int n = 0, i;

	if (p->peer_pub.ss_family == p->family)
		out[n++] = p->peer_pub;
	for (i = 0; i < p->n_peer_priv; i++) {
		const struct sockaddr_storage *t = &p->peer_priv[i];
		bool dup = false;
		int j;

		if (t->ss_family != p->family || ep_equal(t, &p->local, true))
			continue;
		for (j = 0; j < n; j++)
			dup |= ep_equal(&out[j], t, true);
		if (!dup)
			out[n++] = *t;
	}
	return n;
}

/* ---- verification ---- */

static const char *chan_kind_name(enum chan_kind k)
{
	return k == CHAN_TCP ? "tcp" : k == CHAN_RELAY ? "relay" : "udp";
}

static void send_data(struct peer *p)
{
	struct wire_msg m;

	peer_msg_init(p, &m, WIRE_DATA);
	m.payload = p->my_payload;
	m.payload_len = p->o->payload;
	m.present = WA_BIT(WA_PAYLOAD);
	peer_chan_send(p, &p->chan, &m);
}

static void on_verify_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (p->my_data_acked || p->finished)
		return;
	if (p->chan.kind == CHAN_TCP)
		return;                 /* the stream retransmits by itself */
	send_data(p);
	loop_timer_in(&p->verify_timer, peer_rto_us(p));
}

void peer_connected(struct peer *p, const struct chan *c, const char *how)
{
	char b[EP_STRLEN];

	if (p->connected || p->finished)
		return;
	p->connected = true;
	p->t_connected = loop_now_us();
	p->chan = *c;
	p->phase = PH_VERIFICATION;
	loop_timer_stop(&p->probe_timer);
	evout_begin(&p->ev, "connected");
	evout_str(&p->ev, "via", chan_kind_name(c->kind));
	evout_str(&p->ev, "peer", c->kind == CHAN_RELAY ? ep_format(&p->rdv, b) : ep_format(&c->to, b));
	evout_str(&p->ev, "how", how);
	evout_ms(&p->ev, "ms", p->t_connected - p->t_endpoints);
	evout_end(&p->ev);
	payload_fill(p->my_payload, p->o->payload, p->token, p->role);
	send_data(p);
	loop_timer_in(&p->verify_timer, peer_rto_us(p));
}

static void send_done(struct peer *p, const struct chan *c)
{
	struct wire_msg m;

	peer_msg_init(p, &m, WIRE_DONE);
	peer_chan_send(p, c, &m);
}

static void on_linger(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (reval_lost_now(p)) { /* the hold ended while the path was lost */
		finish(p, PEER_EXIT_FAILED);
		return;
	}
	finish(p, p->chan.kind == CHAN_RELAY ? PEER_EXIT_RELAYED : PEER_EXIT_DIRECT);
}

static void on_keepalive(struct loop_timer *t)
{
	struct peer *p = t->arg;
	struct wire_msg m;

	peer_msg_init(p, &m, WIRE_KEEPALIVE);
	peer_chan_send(p, &p->chan, &m);
	loop_timer_in(&p->keepalive_timer, idle_keepalive_us(p));
}

static void check_verified(struct peer *p)
{
	uint64_t left;

	if (p->phase != PH_VERIFICATION || !p->my_data_acked || !p->peer_data_ok)
		return;
	p->phase = PH_DONE;
	p->t_verified = loop_now_us();
	loop_timer_stop(&p->verify_timer);
	loop_timer_stop(&p->step_timer);
	evout_begin(&p->ev, "verified");
	evout_int(&p->ev, "bytes", p->o->payload);
	evout_ms(&p->ev, "ms", p->t_verified - p->t_endpoints);
	evout_end(&p->ev);
	send_done(p, &p->chan);
	/* a path verified again after it was lost: the hold keeps its end (revalidate.c) */
	if (p->o->hold_ms && reval_on_verified(p))
		return;
	if (idle_after_verified(p)) /* --hold, --idle-gap: idle.c */
		return;
	if (p->peer_done) {
		on_linger(&p->linger_timer);
		return;
	}
	left = p->deadline.when_us > p->t_verified ? p->deadline.when_us - p->t_verified : 0;
	loop_timer_in(&p->linger_timer, left < LINGER_MAX_US ? left : LINGER_MAX_US);
}

void peer_on_peer_msg(struct peer *p, const struct chan *c, const struct wire_msg *m)
{
	struct wire_msg r;
	struct cand *cd;
	uint8_t expect[WIRE_MAX_PAYLOAD];

	if (p->finished)
		return;
	/* auto's relay alongside has its own state; it is not the path an idle gap watches */
	if (c->kind == CHAN_RELAY && race_relay_on_msg(p, m))
		return;
	idle_on_msg(p, m->type);
	reval_on_msg(p, c, m);
	switch (m->type) {
	case WIRE_PROBE:
		peer_msg_init(p, &r, WIRE_PROBE_ACK);
		r.seq = m->seq;
		r.time_us = m->time_us;
		r.present = WA_BIT(WA_SEQ) | WA_BIT(WA_TIME);
		if (c->kind == CHAN_UDP) {
			ep_to_wire(&c->to, &r.observed);
			r.present |= WA_BIT(WA_OBSERVED);
		}
		peer_chan_send(p, c, &r);
		if (c->kind == CHAN_UDP && !p->connected && p->phase >= PH_PROBING) {
			/* Any source with the session token is a path: adopt it and probe it back. */
			cd = cand_find(p, c->s, &c->to);
			if (!cd)
				peer_cand_add(p, c->s, &c->to, true, false);
			else if (!cd->acked)
				peer_cand_probe(p, cd);
		}
		if (c->kind == CHAN_TCP)
			peer_connected(p, c, "tcp-hello");
		if (p->phase == PH_DONE)
			idle_on_probe(p);
		break;
	case WIRE_PROBE_ACK:
		if (m->present & WA_BIT(WA_TIME) && m->time_us && m->time_us <= loop_now_us())
			p->rtt_us = loop_now_us() - m->time_us;
		if (c->kind == CHAN_UDP) {
			cd = cand_find(p, c->s, &c->to);
			if (cd)
				cd->acked = true;
			peer_connected(p, c, cd && cd->reflexive ? "peer-reflexive" : "probe-ack");
		}
		if (p->phase == PH_DONE)
			idle_on_probe_ack(p, m);
		break;
	case WIRE_DATA:
		if (!p->connected)
			peer_connected(p, c, "data");
		payload_fill(expect, m->payload_len, p->token, p->peer_role);
		if (m->payload_len != p->o->payload || memcmp(expect, m->payload, m->payload_len)) {
			p->bad_msgs++;
			break;
		}
		p->peer_data_ok = true;
		peer_msg_init(p, &r, WIRE_DATA_ACK);
		r.payload = m->payload;
		r.payload_len = m->payload_len;
		r.present = WA_BIT(WA_PAYLOAD);
		peer_chan_send(p, c, &r);
		if (p->phase == PH_DONE)
			send_done(p, c);
		check_verified(p);
		break;
	case WIRE_DATA_ACK:
		if (!p->connected)
			break;
		if (m->payload_len == p->o->payload &&
		    !memcmp(m->payload, p->my_payload, m->payload_len))
			p->my_data_acked = true;
		else
			p->bad_msgs++;
		check_verified(p);
		break;
	case WIRE_DONE:
		p->peer_done = true;
		if (p->phase == PH_DONE && !idle_stays(p))
			on_linger(&p->linger_timer);
		break;
	case WIRE_KEEPALIVE:
		break;
	default:
		if (p->tech && p->tech->on_relay_msg)
			p->tech->on_relay_msg(p, m);
		break;
	}
}

/* ---- incoming ---- */

/* A message that claims to come from the other peer: token, role and nonce must match, and a
 * copy of our own message (the peer's private address may be ours) is counted and dropped. */
enum msg_check peer_msg_check(bool have_peer, uint64_t token, uint64_t own_nonce,
			      uint64_t peer_nonce, uint8_t peer_role, const struct wire_msg *m)
{
	if (!have_peer || m->token != token)
		return MSG_BAD;
	if (m->nonce == own_nonce)
		return MSG_SELF;
	if (m->nonce != peer_nonce || m->role != peer_role)
		return MSG_BAD;
	return MSG_OK;
}

static bool peer_msg_valid(struct peer *p, const struct wire_msg *m)
{
	switch (peer_msg_check(p->have_peer, p->token, p->nonce, p->peer_nonce, p->peer_role, m)) {
	case MSG_OK:
		return peer_replay_ok(p, m);
	case MSG_SELF:
		p->self_msgs++;
		return false;
	default:
		p->bad_msgs++;
		return false;
	}
}

static void on_relayed(struct peer *p, const struct wire_msg *outer)
{
	struct wire_msg in;
	struct chan c = { .kind = CHAN_RELAY };

	if (outer->token != p->token) {
		p->bad_msgs++;
		return;
	}
	/* the outer message's MAC was checked; the inner one carries its own, and its counter
	 * goes through the other peer's window */
	if (peer_decode(p, outer->payload, outer->payload_len, &in))
		return;
	if (!peer_msg_valid(p, &in))
		return;
	peer_on_peer_msg(p, &c, &in);
}

static void classify(struct peer *p)
{
	struct sockaddr_storage none = { 0 };

	nat_classify(&p->local, &p->public1, p->bind2_ok ? &p->public2 : &none, &p->nat);
}

/* auto's first round (race.h): now that both NATs' reports are known, run the first step
 * whose round covers the steps before it (predict or birthday also punch like udp/tcp from
 * the same socket), instead of waiting for the plain step's deadline first. Both peers choose
 * alike from the same two reports; later rounds follow the step table from there. The round
 * stays 0: its registration is what every step's own would have been (auto always measures
 * the NAT from the socket it registers, a fresh one at the start). */
static void race_begin(struct peer *p)
{
	const struct auto_step *steps = auto_steps(p->o->proto, &(int){ 0 });
	int first = race_first_step(p->o->proto, &p->nat, &p->peer_nat), i, n = 0;
	const char *names[TECH_MAX];

	if (first > 0) {
		p->step = first;
		p->tech = tech_ops_of(steps[first].tech);
	}
	for (i = 0; i < TECH_MAX; i++)
		if (race_covers(p->o->proto, p->tech->id, (enum technique)i))
			names[n++] = technique_name((enum technique)i);
	if (race_relay_alongside(p->tech->id, p->relay_ok))
		names[n++] = technique_name(TECH_RELAY);
	evout_begin(&p->ev, "race");
	evout_strv(&p->ev, "techniques", names, n);
	evout_end(&p->ev);
}

/* An IPv6-only peer (no IPv4 route) given --nat64-prefix aims at the other peer's IPv4
 * endpoints through the NAT64 (RFC 6052 synthesis, nat64.h): the rendezvous saw the other peer
 * on IPv4 and hands out what it saw. The endpoints are rewritten where they are kept, so every
 * technique, the candidates and the replies (which come from the synthesized address) agree.
 * The endpoints event keeps what the rendezvous said (written to @said_out, EP_STRLEN bytes)
 * beside the synthesized one. Returns whether the public endpoint was synthesized. */
static bool nat64_endpoints(struct peer *p, char *said_out)
{
	bool done = false;

	if (p->family != AF_INET6 || !p->o->nat64.len)
		return false;
	if (p->peer_pub.ss_family == AF_INET && !nat64_ipv4_routed(&p->peer_pub)) {
		ep_format(&p->peer_pub, said_out);
		nat64_synthesize(&p->o->nat64, &p->peer_pub, &p->peer_pub);
		done = true;
	}
	for (int i = 0; i < p->n_peer_priv; i++)
		if (p->peer_priv[i].ss_family == AF_INET && !nat64_ipv4_routed(&p->peer_priv[i]))
			nat64_synthesize(&p->o->nat64, &p->peer_priv[i], &p->peer_priv[i]);
	return done;
}

static void on_endpoints(struct peer *p, const struct wire_msg *m)
{
	const char *priv[WIRE_MAX_EPS];
	char pb[WIRE_MAX_EPS][EP_STRLEN], b[EP_STRLEN], said_pub[EP_STRLEN];
	uint64_t left;
	bool nat64;
	int i, err;

	if (m->round != p->round || p->have_peer || p->phase != PH_EXCHANGE)
		return;
	if (m->peer_nonce != p->peer_nonce)
		memset(&p->win_peer, 0, sizeof(p->win_peer));  /* another peer instance */
	p->token = m->token;
	p->peer_nonce = m->peer_nonce;
	p->peer_role = m->peer_role;
	p->role = m->role;
	ep_from_wire(&m->peer_public, &p->peer_pub);
	p->n_peer_priv = 0;
	for (i = 0; i < m->n_peer_priv; i++) {
		ep_from_wire(&m->peer_priv[i], &p->peer_priv[p->n_peer_priv]);
		priv[p->n_peer_priv] = ep_format(&p->peer_priv[p->n_peer_priv], pb[p->n_peer_priv]);
		p->n_peer_priv++;
	}
	p->peer_nat = m->peer_nat;
	p->relay_ok = m->flags & WIRE_F_RELAY;
	nat64 = nat64_endpoints(p, said_pub);
	p->have_peer = true;
	p->ever_paired = true;  /* no fallback once the server paired us (later steps re-pair) */
	p->phase = PH_PROBING;
	p->t_step = loop_now_us();
	/* The shared moment: the server sent PEER to both of us START before it; PEER took
	 * about half our RTT to get here. */
	p->t_start_us = p->t_step;
	if ((m->present & WA_BIT(WA_START)) && m->start_us > p->rtt_rdv_us / 2)
		p->t_start_us += m->start_us - p->rtt_rdv_us / 2;
	if (!p->t_endpoints)
		p->t_endpoints = p->t_step;
	evout_begin(&p->ev, "endpoints");
	evout_int(&p->ev, "round", p->round);
	evout_str(&p->ev, "role", role_name(p->role));
	evout_str(&p->ev, "peer_public", nat64 ? said_pub : ep_format(&p->peer_pub, b));
	evout_strv(&p->ev, "peer_private", priv, p->n_peer_priv);
	evout_str(&p->ev, "peer_nat", nat_kind_name(p->peer_nat.kind));
	evout_int(&p->ev, "peer_stride", p->peer_nat.stride);
	if (nat64)
		evout_str(&p->ev, "peer_public_nat64", ep_format(&p->peer_pub, b));
	evout_end(&p->ev);

	if (p->o->tech == TECH_AUTO && p->round == 0)
		race_begin(p);
	left = p->deadline.when_us > p->t_step ? p->deadline.when_us - p->t_step : 0;
	if (p->o->tech == TECH_AUTO) {
		int n;
		uint64_t d = (uint64_t)auto_steps(p->o->proto, &n)[p->step].deadline_ms * 1000u;

		if (d < left)
			left = d;
		/* Leave the relay its time: a direct step that runs to the end of --timeout
		 * would turn a relayed outcome into failed (birthday, 6 s, now also follows two
		 * cone reports that udp proved wrong). */
		if (p->tech->id != TECH_RELAY && p->relay_ok && p->deadline.when_us > p->t_step &&
		    p->deadline.when_us - p->t_step < left + RELAY_RESERVE_US &&
		    p->deadline.when_us - p->t_step > 2 * RELAY_RESERVE_US)
			left = p->deadline.when_us - p->t_step - RELAY_RESERVE_US;
	}
	loop_timer_in(&p->step_timer, left);
	evout_begin(&p->ev, "step");
	evout_str(&p->ev, "technique", technique_name(p->tech->id));
	evout_ms(&p->ev, "deadline_ms", left);
	evout_ms(&p->ev, "start_in_ms", p->t_start_us - p->t_step);
	evout_end(&p->ev);
	/* The relay's first DATA leaves before the technique's probes (birthday's 256 sockets
	 * take a few milliseconds to open). */
	if (p->o->tech == TECH_AUTO)
		race_relay_start(p);
	err = p->tech->start(p);
	if (err && !p->finished && p->phase == PH_PROBING)
		peer_step_fail(p, p->fail_reason[0] ? p->fail_reason : strerror(-err));
}

/* --signal-delay (a test knob, docs/punch.md): the rendezvous' answer of this round is held that
 * long, as if it had come late over a slow signalling path; the copies the rendezvous repeats
 * meanwhile are the same answer and wait with it. true: held, not to be acted on now. */
static bool signal_hold(struct peer *p, const struct wire_msg *m)
{
	if (!p->o->signal_delay_ms || m->round != p->round || p->signal_released == p->round + 1u)
		return false;
	if (!loop_timer_armed(&p->signal_timer) || p->signal_msg.round != m->round) {
		p->signal_msg = *m;
		p->signal_msg.payload = NULL; /* points into a receive buffer; PEER has none */
		p->signal_msg.payload_len = 0;
		loop_timer_in(&p->signal_timer, (uint64_t)p->o->signal_delay_ms * 1000u);
		evout_begin(&p->ev, "signal_held");
		evout_int(&p->ev, "round", p->round);
		evout_int(&p->ev, "delay_ms", (long long)p->o->signal_delay_ms);
		evout_end(&p->ev);
	}
	return true;
}

static void server_msg_act(struct peer *p, const struct wire_msg *m, bool second);

static void on_server_msg(struct peer *p, const struct wire_msg *m, bool second)
{
	if (m->type == WIRE_RELAY) {
		on_relayed(p, m);
		return;
	}
	if (m->nonce != p->nonce || !auth_window_accept(&p->win_srv, m->ctr)) {
		p->bad_msgs++;
		return;
	}
	server_msg_act(p, m, second);
}

/* A server message that passed the checks (also a held answer released: its counter is in the
 * replay window already, so it must not be checked again). */
static void server_msg_act(struct peer *p, const struct wire_msg *m, bool second)
{
	char b[EP_STRLEN];

	switch (m->type) {
	case WIRE_BIND_REPLY:
		if (second) {
			ep_from_wire(&m->observed, &p->public2);
			p->bind2_ok = true;
		} else {
			ep_from_wire(&m->observed, &p->public1);
			p->bind1_ok = true;
			if (!p->has_rdv2 && m->n_alt) {
				/* The server's other address, for stride learning: a wildcard
				 * listen address means "my address, that port". */
				ep_from_wire(&m->alt[0], &p->rdv2);
				if (ep_is_any(&p->rdv2)) {
					uint16_t port = ep_port(&p->rdv2);

					p->rdv2 = p->rdv;
					ep_set_port(&p->rdv2, port);
				}
				p->has_rdv2 = p->rdv2.ss_family == p->family;
			}
			if (!p->rtt_rdv_us)
				p->rtt_rdv_us = loop_now_us() - p->reg_sent_us;
		}
		reg_progress(p);
		break;
	case WIRE_REGISTERED:
		if (m->round != p->round || p->registered)
			return;
		p->registered = true;
		if (p->phase == PH_REGISTRATION)
			p->phase = PH_EXCHANGE;
		ep_from_wire(&m->observed, &p->public1);
		p->role = m->role;
		if (!p->t_registered)
			p->t_registered = loop_now_us();
		if (!p->rtt_rdv_us)
			p->rtt_rdv_us = loop_now_us() - p->reg_sent_us;
		if (!p->tech->needs_nat && p->o->tech != TECH_AUTO)
			classify(p);
		evout_begin(&p->ev, "registered");
		evout_int(&p->ev, "round", p->round);
		evout_str(&p->ev, "role", role_name(p->role));
		evout_str(&p->ev, "local", ep_format(&p->local, b));
		evout_str(&p->ev, "public", ep_format(&p->public1, b));
		if (p->bind2_ok)
			evout_str(&p->ev, "public2", ep_format(&p->public2, b));
		evout_str(&p->ev, "nat", nat_kind_name(p->nat.kind));
		evout_int(&p->ev, "stride", p->nat.stride);
		evout_ms(&p->ev, "rtt_ms", p->rtt_rdv_us);
		evout_end(&p->ev);
		/* Keep re-registering slowly: it brings back a lost PEER and keeps the mapping. */
		p->reg_interval_ms = REG_MAX_MS;
		loop_timer_in(&p->reg_timer, (uint64_t)REG_MAX_MS * 1000u);
		break;
	case WIRE_PEER:
		if (signal_hold(p, m))
			break;
		if (m->round == p->round && !p->registered) {
			/* Its REGISTERED was lost: PEER says the same. */
			if (m->present & WA_BIT(WA_OBSERVED))
				ep_from_wire(&m->observed, &p->public1);
			p->registered = true;
			if (!p->t_registered)
				p->t_registered = loop_now_us();
			p->phase = PH_EXCHANGE;
		}
		on_endpoints(p, m);
		break;
	case WIRE_ERROR:
		snprintf(p->fail_reason, sizeof(p->fail_reason), "server: %s", m->error_text);
		evout_begin(&p->ev, "server_error");
		evout_int(&p->ev, "code", m->error_code);
		evout_str(&p->ev, "text", m->error_text);
		evout_end(&p->ev);
		if (p->rr.active && p->tech->id != TECH_RELAY &&
		    (m->error_code == WIRE_ERR_NOT_PAIRED || m->error_code == WIRE_ERR_RELAY_LIMIT ||
		     m->error_code == WIRE_ERR_NO_RELAY)) {
			/* The relay alongside was refused: the direct step goes on without it. */
			race_relay_stop(p);
			break;
		}
		/* After a fallback to TCP the other peer may still be registered over UDP until
		 * its own fallback timer fires: register again then (reg_timer), do not give up. */
		if (p->fell_back && m->error_code == WIRE_ERR_PROTO_MISMATCH &&
		    p->phase == PH_REGISTRATION) {
			p->reg_sent = false;
			break;
		}
		if (p->phase <= PH_EXCHANGE)
			finish(p, PEER_EXIT_FAILED);
		else if (!p->connected)
			peer_step_fail(p, p->fail_reason);
		break;
	default:
		p->bad_msgs++;
		break;
	}
}

/* The held answer's time has come: act on it as if it had just arrived (unless a new round
 * began meanwhile: its own answer is held in turn). */
static void on_signal_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (p->finished || p->signal_msg.round != p->round)
		return;
	p->signal_released = p->round + 1u;
	server_msg_act(p, &p->signal_msg, false);
}

static void on_datagram(struct peer *p, struct psock *s, const struct sockaddr_storage *from,
			const uint8_t *buf, size_t len)
{
	struct wire_msg m;
	struct chan c = { .kind = CHAN_UDP, .s = s, .to = *from };

	if (peer_decode(p, buf, len, &m))
		return;
	/* The rendezvous is known by its address; everything else claims to be the peer. */
	if (s == p->socks[0] && (ep_equal(from, &p->rdv, true) ||
				 (p->has_rdv2 && ep_equal(from, &p->rdv2, true)))) {
		on_server_msg(p, &m, !ep_equal(from, &p->rdv, true));
		return;
	}
	if (m.role == WIRE_ROLE_SERVER || m.type == WIRE_RELAY) {
		p->bad_msgs++;
		return;
	}
	if (!peer_msg_valid(p, &m))
		return;
	peer_on_peer_msg(p, &c, &m);
}

static void on_sock(struct loop_io *io, uint32_t events)
{
	struct psock *s = io->arg;
	struct peer *p = s->p;
	uint8_t buf[WIRE_MAX_LEN + 1];
	int i;

	(void)events;
	for (i = 0; i < UDP_BATCH && s->fd >= 0 && !p->finished; i++) {
		struct sockaddr_storage from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				     .msg_iovlen = 1 };
		ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			/* ICMP errors queued on the socket (unconnected sockets rarely get them). */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				continue;
			break;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			p->bad_msgs++;
			continue;
		}
		ep_unmap(&from);
		on_datagram(p, s, &from, buf, (size_t)n);
	}
}

/* ---- registration ---- */

static void send_bind(struct peer *p, bool second)
{
	struct wire_msg m;

	wire_msg_init(&m, WIRE_BIND);
	m.nonce = p->nonce;
	m.role = p->role;
	strcpy(m.session, p->o->session);     /* it names the key the server checks */
	m.present = WA_BIT(WA_SESSION);
	if (p->o->proto == PROTO_TCP) {
		rc_send(p, second ? &p->rc2 : &p->rc, &m);
		return;
	}
	peer_udp_send(p, p->socks[0], second ? &p->rdv2 : &p->rdv, &m);
}

static void send_register(struct peer *p)
{
	struct wire_msg m;

	wire_msg_init(&m, WIRE_REGISTER);
	m.nonce = p->nonce;
	m.role = p->role;
	strcpy(m.session, p->o->session);
	m.round = p->round;
	m.proto = (uint8_t)p->o->proto;
	m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_ROUND) | WA_BIT(WA_PROTO) | WA_BIT(WA_NAT);
	m.n_priv = (uint8_t)portmap_announce(&p->local, &p->mapped, m.priv, WIRE_MAX_EPS);
	if (m.n_priv)
		m.present |= WA_BIT(WA_PRIVATE);
	m.nat = p->nat;
	if (p->rtt_rdv_us) {
		/* The server times the pairing's shared moment from both peers' RTTs. */
		m.rtt_us = p->rtt_rdv_us > UINT32_MAX ? UINT32_MAX : (uint32_t)p->rtt_rdv_us;
		m.present |= WA_BIT(WA_RTT);
	}
	if (!p->reg_sent_us)
		p->reg_sent_us = loop_now_us();
	server_send(p, &m);
	p->reg_sent = true;
}

static void rc_close(struct peer *p, struct rconn *rc)
{
	(void)p;
	if (rc->fd >= 0) {
		loop_io_del(&rc->io);
		close(rc->fd);
	}
	rc->fd = -1;
	rc->up = false;
	rc->st.len = 0;
}

static int rc_connect(struct peer *p, struct rconn *rc, const struct sockaddr_storage *to)
{
	int fd, err;

	rc_close(p, rc);
	fd = sock_open_bound(p->family, SOCK_STREAM, &p->o->bind, p->local_port, true);
	if (fd < 0)
		return fd;
	if (!p->local_port) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		getsockname(fd, (struct sockaddr *)&ss, &sl);
		p->local_port = ep_port(&ss);
		ep_set_port(&p->local, p->local_port);
	}
	if (connect(fd, (const struct sockaddr *)to, ep_len(to)) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	rc->fd = fd;
	rc->to = *to;
	rc->bind_only = rc == &p->rc2;
	if (rc == &p->rc)
		p->rc_connect_us = loop_now_us();
	err = loop_io_add(&p->loop, &rc->io, fd, EPOLLIN | EPOLLOUT, on_rc, p);
	if (err) {
		close(fd);
		rc->fd = -1;
	}
	return err;
}

/* What the next registration message is, given what has been answered; called at the start,
 * on every answer and on the retransmission timer (UDP resends, TCP sends once). */
static void reg_progress(struct peer *p)
{
	if (p->pm_job)
		return;               /* the router's answer on portmap comes first */
	bool tcp = p->o->proto == PROTO_TCP;
	bool need = p->tech->needs_nat || p->o->tech == TECH_AUTO;
	bool give_up2 = p->bind1_ok && p->reg_sent_us &&
			loop_now_us() - p->reg_sent_us > RDV2_GIVE_UP_US;

	if (p->finished || p->have_peer)
		return;
	if (tcp && !p->rc.up) {
		if (p->rc.fd < 0 && rc_connect(p, &p->rc, &p->rdv) < 0)
			return;
		return;           /* on_rc calls back when connected */
	}
	if (need && !p->bind1_ok) {
		if (!p->reg_sent_us)
			p->reg_sent_us = loop_now_us();
		send_bind(p, false);
		if (!tcp && p->has_rdv2)
			send_bind(p, true);   /* right after: the NAT allocates in this order */
		return;
	}
	if (need && p->has_rdv2 && !p->bind2_ok && !give_up2) {
		if (!tcp) {
			send_bind(p, true);
			return;
		}
		if (p->rc2.fd < 0)
			rc_connect(p, &p->rc2, &p->rdv2);
		else if (p->rc2.up)
			send_bind(p, true);
		return;
	}
	if (need && !p->registered)
		classify(p);
	if (tcp && p->reg_sent)
		return;
	send_register(p);
}

static void on_reg_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (p->finished || p->have_peer)
		return;
	/* SYN unanswered for longer than the kernel's first retransmission: a new connection
	 * now rather than the kernel's next, backed-off one. Never sooner: a younger handshake
	 * may still be answered (the path's round trip is not known yet), and a new one from the
	 * same port makes its late SYN-ACK meet another sequence number; the host resets it,
	 * the NAT's conntrack entry goes to CLOSE and the new handshake's ACK then leaves
	 * un-NATed (seen under the lte impairment: registration failed 10 of 10 with 30 ms on
	 * each NAT's link, when this closed after 25 ms). */
	if (p->o->proto == PROTO_TCP && p->rc.fd >= 0 && !p->rc.up &&
	    loop_now_us() - p->rc_connect_us >= RC_SYN_RETRY_US)
		rc_close(p, &p->rc);
	if (p->o->proto == PROTO_TCP && p->rc.fd < 0)
		p->reg_sent = false;  /* reconnecting: register again on the new connection */
	reg_progress(p);
	if (p->reg_interval_ms < REG_MAX_MS)
		p->reg_interval_ms *= 2;
	if (p->reg_interval_ms > REG_MAX_MS)
		p->reg_interval_ms = REG_MAX_MS;
	/* a re-punch (revalidate.c) waits for a NAT that comes back: no longer than it probes */
	if (p->reval_lost && p->reg_interval_ms > p->o->revalidate_ms)
		p->reg_interval_ms = p->o->revalidate_ms;
	loop_timer_in(&p->reg_timer, (uint64_t)p->reg_interval_ms * 1000u);
}

static int rc_msg(void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;
	struct wire_msg m;

	if (peer_decode(p, buf, len, &m))
		return 0;
	on_server_msg(p, &m, false);
	return p->finished;
}

static int rc2_msg(void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;
	struct wire_msg m;

	if (peer_decode(p, buf, len, &m))
		return 0;
	if (m.type != WIRE_BIND_REPLY) {
		p->bad_msgs++;
		return 0;
	}
	on_server_msg(p, &m, true);
	return 1;
}

static void on_rc(struct loop_io *io, uint32_t events)
{
	struct peer *p = io->arg;
	struct rconn *rc = io == &p->rc.io ? &p->rc : &p->rc2;
	int err = 0;

	if (!rc->up) {
		socklen_t sl = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(rc->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			rc_close(p, rc);  /* the registration timer reconnects */
			return;
		}
		rc->up = true;
		/* The handshake is one round trip, answered by the server's kernel: the RTT
		 * that REGISTER reports, before any message was answered. */
		if (rc == &p->rc && !p->rtt_rdv_us && p->rc_connect_us)
			p->rtt_rdv_us = loop_now_us() - p->rc_connect_us;
		loop_io_mod(&rc->io, EPOLLIN);
		reg_progress(p);
		return;
	}
	err = stream_read(&rc->st, rc->fd, rc == &p->rc ? rc_msg : rc2_msg, p);
	if (rc == &p->rc2 && (err || p->bind2_ok)) {
		rc_close(p, rc);
		return;
	}
	if (err < 0)
		rc_close(p, rc);
}

static int main_sock_open(struct peer *p, bool fresh)
{
	struct psock *s;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	if (p->n_socks && p->socks[0]->fd >= 0 && !fresh)
		return 0;
	if (p->n_socks)
		peer_sock_close(p, p->socks[0]);
	fd = sock_open_bound(p->family, SOCK_DGRAM, &p->o->bind, fresh ? 0 : p->o->port, false);
	if (fd < 0)
		return fd;
	s = sock_wrap(p, fd);
	if (!s) {
		close(fd);
		return -errno;
	}
	/* socks[0] is always the main socket: swap the new one in front. */
	p->socks[p->n_socks - 1] = p->socks[0];
	p->socks[0] = s;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	p->local_port = ep_port(&ss);
	return 0;
}

/* portmap: ask the router for a mapping of the main socket's port, once per port, before
 * registering it (portmap.h says when and how long it waits). The ask blocks (libnatpmp and
 * libminiupnpc wait for their answers), so it runs in a thread of its own and registration
 * begins when it answers: a router that stays silent for auto's 250 ms must not stall the
 * other address family's run on the same process (dual.h). A job is released by whichever of
 * the thread and the peer lets go of it last; the thread owns the pipe's write end, the peer
 * its read end, so neither closes an fd the other still uses. Jobs come from a static pool,
 * not the heap: a thread still asking when the process exits (the other family won) holds one,
 * and a leak checker that cannot stop that thread at exit (LeakSanitizer in a PID namespace)
 * would report a heap job as lost. Asks are one at a time per family: 8 is plenty. */
struct pm_job {
	int proto, timeout_ms, wfd;
	uint16_t port;
	bool upnp;
	enum portmap_proto got;
	struct sockaddr_storage mapped;
	char why[256];
	int refs;                                 /* atomic: thread + peer; 0 = free */
};

#define PM_JOBS 8
static struct pm_job pm_jobs[PM_JOBS];

static struct pm_job *pm_job_get(void)
{
	for (int i = 0; i < PM_JOBS; i++) {
		int zero = 0;

		if (__atomic_compare_exchange_n(&pm_jobs[i].refs, &zero, 2, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return &pm_jobs[i];
	}
	return NULL;
}

static void pm_job_put(struct pm_job *j)
{
	__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL);
}

static void *pm_thread(void *arg)
{
	struct pm_job *j = arg;
	char c = 1;

	j->got = portmap_request(j->proto, j->port, j->upnp, j->timeout_ms, &j->mapped, j->why,
				 sizeof(j->why));
	/* EPIPE when the peer went away meanwhile (SIGPIPE is ignored) */
	if (write(j->wfd, &c, 1) < 0) {
		/* nothing to tell: the peer no longer listens */
	}
	close(j->wfd);
	pm_job_put(j);
	return NULL;
}

static void reg_start(struct peer *p);

/* Let go of a pending ask (teardown, or its answer came). */
static void pm_release(struct peer *p)
{
	if (!p->pm_job)
		return;
	loop_io_del(&p->pm_io);
	close(p->pm_fd);
	p->pm_fd = -1;
	pm_job_put(p->pm_job);
	p->pm_job = NULL;
}

static void on_portmap(struct loop_io *io, uint32_t events)
{
	struct peer *p = io->arg;
	struct pm_job *j = p->pm_job;
	char b[EP_STRLEN], c;

	(void)events;
	if (read(p->pm_fd, &c, 1) != 1)
		return;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (j->got != PORTMAP_NONE)
		p->mapped = j->mapped;
	evout_begin(&p->ev, "portmap");
	evout_str(&p->ev, "protocol", portmap_proto_name(j->got));
	evout_str(&p->ev, "local", ep_format(&p->local, b));
	if (j->got != PORTMAP_NONE)
		evout_str(&p->ev, "mapped", ep_format(&p->mapped, b));
	else
		evout_str(&p->ev, "error", j->why);
	evout_end(&p->ev);
	pm_release(p);
	if (!p->finished)
		reg_start(p);
}

/* Returns true when an ask is under way (registration starts when it answers). */
static bool portmap_begin(struct peer *p)
{
	struct pm_job *j;
	pthread_t t;
	bool upnp;
	int fds[2];

	if (!portmap_wanted(p->o->tech, p->o->proto, p->family, &upnp) || !p->local_port ||
	    p->mapped_port == p->local_port)
		return false;
	pm_release(p);
	p->mapped_port = p->local_port;
	memset(&p->mapped, 0, sizeof(p->mapped));
	j = pm_job_get();
	if (!j)
		return false;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		pm_job_put(j);
		pm_job_put(j);
		return false;
	}
	j->got = PORTMAP_NONE;
	memset(&j->mapped, 0, sizeof(j->mapped));
	j->why[0] = 0;
	j->proto = p->o->proto;
	j->port = p->local_port;
	j->upnp = upnp;
	j->timeout_ms = p->o->tech == TECH_PORTMAP ? PORTMAP_EXPLICIT_MS : PORTMAP_AUTO_MS;
	j->wfd = fds[1];
	p->pm_fd = fds[0];
	p->pm_job = j;
	if (loop_io_add(&p->loop, &p->pm_io, p->pm_fd, EPOLLIN, on_portmap, p) < 0 ||
	    pthread_create(&t, NULL, pm_thread, j)) {
		close(fds[1]);
		pm_job_put(j);          /* the thread's reference: it never started */
		pm_release(p);
		return false;
	}
	pthread_detach(t);
	loop_timer_stop(&p->reg_timer); /* reg_start() arms it once the router answered */
	return true;
}

/* Start (or restart for the next step) registration. */
static int reg_begin(struct peer *p, bool fresh)
{
	struct sockaddr_storage src;
	int err;

	/* A step on the same socket keeps what the servers saw; a fresh one measures again. */
	if (fresh || !p->bind1_ok) {
		p->bind1_ok = p->bind2_ok = false;
		p->reg_sent_us = 0;
		if (!p->o->has_rdv2)
			p->has_rdv2 = false;
	}
	p->registered = p->reg_sent = false;
	p->have_peer = false;
	p->phase = PH_REGISTRATION;
	if (p->o->proto == PROTO_UDP) {
		err = main_sock_open(p, fresh);
		if (err)
			return err;
	} else if (fresh || p->rc.fd < 0) {
		rc_close(p, &p->rc);
		rc_close(p, &p->rc2);
		if (fresh)
			p->local_port = 0;
		else if (!p->local_port)
			p->local_port = p->o->port;
	}
	if (p->o->bind.ss_family) {
		p->local = p->o->bind;
	} else {
		err = sock_route_src(&p->rdv, &src);
		if (err)
			return err;
		p->local = src;
	}
	ep_set_port(&p->local, p->local_port);
	if (!portmap_begin(p))
		reg_start(p);
	return 0;
}

/* Registration proper: the first REGISTER (or BIND) now, retransmissions on the timer. */
static void reg_start(struct peer *p)
{
	p->reg_interval_ms = REG_FIRST_MS;
	reg_progress(p);
	loop_timer_in(&p->reg_timer, (uint64_t)REG_FIRST_MS * 1000u);
}

/* ---- steps ---- */

static int step_begin(struct peer *p, int step)
{
	const struct tech_ops *t;
	int n;

	if (p->o->tech == TECH_AUTO)
		t = tech_ops_of(auto_steps(p->o->proto, &n)[step].tech);
	else
		t = tech_ops_of(p->o->tech);
	p->step = step;
	p->round = (uint16_t)step;
	p->tech = t;
	p->connected = false;
	p->my_data_acked = p->peer_data_ok = p->peer_done = false;
	return reg_begin(p, step > 0 && t->fresh_socket);
}

static void tech_stop(struct peer *p)
{
	if (p->tech && p->tech->stop)
		p->tech->stop(p);
	peer_cands_clear(p);
	loop_timer_stop(&p->verify_timer);
}

int peer_repunch(struct peer *p, enum technique t, uint16_t round)
{
	tech_stop(p);
	p->tech = tech_ops_of(t);
	p->round = round;
	p->connected = false;
	p->my_data_acked = p->peer_data_ok = p->peer_done = false;
	p->bind1_ok = false; /* measure the NAT again: a rebooted one allocates anew */
	/* predict and birthday aim at the ports the NATs allocate next: from a fresh socket
	 * both sides' new flows start where their counters are now, not where the old
	 * socket's mappings (kept by a NAT that did not change) say they were */
	return reg_begin(p, p->tech->fresh_socket);
}

void peer_step_fail(struct peer *p, const char *reason)
{
	if (p->finished)
		return;
	if (reason && reason != p->fail_reason)
		snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason);
	step_next(p, p->fail_reason);
}

static void step_next(struct peer *p, const char *reason)
{
	const struct auto_step *steps;
	int n, i, err;

	evout_begin(&p->ev, "failed");
	evout_str(&p->ev, "technique", technique_name(p->tech->id));
	evout_str(&p->ev, "phase", phase_names[p->phase]);
	evout_str(&p->ev, "reason", reason);
	evout_end(&p->ev);
	if (p->o->tech != TECH_AUTO || !p->have_peer) {
		finish(p, PEER_EXIT_FAILED);
		return;
	}
	tech_stop(p);
	steps = auto_steps(p->o->proto, &n);
	for (i = p->step + 1; i < n; i++) {
		if (!auto_step_applies(steps[i].tech, &p->nat, &p->peer_nat, p->relay_ok))
			continue;
		err = step_begin(p, i);
		if (err) {
			snprintf(p->fail_reason, sizeof(p->fail_reason), "step %s: %s",
				 technique_name(steps[i].tech), strerror(-err));
			finish(p, PEER_EXIT_FAILED);
		}
		return;
	}
	finish(p, PEER_EXIT_FAILED);
}

/* auto over UDP without a peer after AUTO_FALLBACK_MS: start auto's TCP steps from the first,
 * over the same server (the member keeps its nonce, so the server moves its registration to
 * TCP). Once: the TCP steps end in the relay or in failure by the overall deadline. */
static void on_fallback_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;
	int err;

	if (p->finished || p->ever_paired || p->fell_back)
		return;
	evout_begin(&p->ev, "fallback");
	evout_str(&p->ev, "from", "udp");
	evout_str(&p->ev, "to", "tcp");
	evout_str(&p->ev, "phase", phase_names[p->phase]);
	evout_end(&p->ev);
	tech_stop(p);
	p->o_tcp = *p->o;
	p->o_tcp.proto = PROTO_TCP;
	p->o = &p->o_tcp;
	p->fell_back = true;
	p->bind1_ok = false;   /* measure the NAT again, over TCP */
	err = step_begin(p, 0);
	if (err) {
		snprintf(p->fail_reason, sizeof(p->fail_reason), "fallback to tcp: %s",
			 strerror(-err));
		finish(p, PEER_EXIT_FAILED);
	}
}

static void on_step_timer(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (p->finished || p->phase == PH_DONE || reval_step_timeout(p))
		return;
	snprintf(p->fail_reason, sizeof(p->fail_reason), "%s: no verified path before the step "
		 "deadline", technique_name(p->tech->id));
	step_next(p, p->fail_reason);
}

static void on_deadline(struct loop_timer *t)
{
	struct peer *p = t->arg;

	if (p->finished)
		return;
	if (p->phase == PH_DONE) {
		finish(p, p->chan.kind == CHAN_RELAY ? PEER_EXIT_RELAYED : PEER_EXIT_DIRECT);
		return;
	}
	snprintf(p->fail_reason, sizeof(p->fail_reason), "timeout in %s", phase_names[p->phase]);
	evout_begin(&p->ev, "failed");
	evout_str(&p->ev, "technique", technique_name(p->tech->id));
	evout_str(&p->ev, "phase", phase_names[p->phase]);
	evout_str(&p->ev, "reason", p->fail_reason);
	evout_end(&p->ev);
	finish(p, PEER_EXIT_FAILED);
}

void peer_interrupt(struct peer *p, unsigned signo)
{
	if (p->finished)
		return;
	/* A harness that stops a hung peer still gets a last line saying where it was. */
	snprintf(p->fail_reason, sizeof(p->fail_reason), "interrupted by signal %u in %s",
		 signo, phase_names[p->phase]);
	finish(p, p->phase == PH_DONE ? (p->chan.kind == CHAN_RELAY ? PEER_EXIT_RELAYED :
				       PEER_EXIT_DIRECT) : PEER_EXIT_FAILED);
}

static void on_signal(struct loop_io *io, uint32_t events)
{
	struct peer *p = io->arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(p->sigfd, &si, sizeof(si)) <= 0)
		return;
	peer_interrupt(p, si.ssi_signo);
}

/* ---- result ---- */

/* Times from the moment this peer learned the other's endpoints (the server pairs the two
 * registrations and sends both PEER at once, so this is the second peer's registration, plus
 * half our round trip to the server) to a payload verified both ways:
 *  - ttfb_ms: the first verified path, the relay alongside auto's direct steps or the direct
 *    path, whichever verified first (what a user could send on);
 *  - time_to_direct_ms: the direct path (null unless the outcome is direct);
 *  - time_to_connect_ms: the outcome's path: time_to_direct_ms when direct; when relayed, the
 *    relay's first verification (the relay alongside, or auto's relay step / --technique
 *    relay without it). */
static void report_times(struct peer *p, int code)
{
	struct evout *e = &p->ev;
	bool have = p->t_verified && p->t_endpoints && code != PEER_EXIT_FAILED;
	uint64_t path = have ? p->t_verified - p->t_endpoints : 0;
	uint64_t relay = p->rr.verified ? p->rr.t_verified - p->t_endpoints : 0;
	bool relay_first = p->rr.verified && (code == PEER_EXIT_RELAYED || relay < path);

	if (!have) {
		evout_str(e, "time_to_connect_ms", NULL);
		evout_str(e, "ttfb_ms", NULL);
		evout_str(e, "time_to_direct_ms", NULL);
		evout_str(e, "first_via", NULL);
		return;
	}
	evout_ms(e, "time_to_connect_ms", code == PEER_EXIT_RELAYED && p->rr.verified ? relay :
					  path);
	evout_ms(e, "step_ms", p->t_verified - p->t_step);
	evout_ms(e, "ttfb_ms", relay_first ? relay : path);
	if (code == PEER_EXIT_DIRECT)
		evout_ms(e, "time_to_direct_ms", path);
	else
		evout_str(e, "time_to_direct_ms", NULL);
	evout_str(e, "first_via", relay_first || code == PEER_EXIT_RELAYED ? "relay" :
		  p->chan.kind == CHAN_TCP ? "tcp" : "udp");
}

static void report(struct peer *p, int code)
{
	struct evout *e = &p->ev;
	const char *outcome = p->cancelled ? "cancelled" : code == PEER_EXIT_DIRECT ? "direct" :
			      code == PEER_EXIT_RELAYED ? "relayed" : "failed";
	const char *priv[WIRE_MAX_EPS];
	char pb[WIRE_MAX_EPS][EP_STRLEN], b[EP_STRLEN];
	int i;

	for (i = 0; i < p->n_peer_priv; i++)
		priv[i] = ep_format(&p->peer_priv[i], pb[i]);
	evout_begin(e, p->result_event ? p->result_event : "result");
	if (!e->family) /* a dual run's events all say it (dual.c) */
		evout_int(e, "family", p->family == AF_INET6 ? 6 : 4);
	if (p->n_fams) {
		evout_map(e, "families", p->fam_keys, p->fam_vals, p->n_fams);
		evout_map(e, "families_phase", p->fam_keys, p->fam_phases, p->n_fams);
	}
	evout_str(e, "outcome", outcome);
	evout_str(e, "phase", code != PEER_EXIT_FAILED ? NULL :
		  idle_phase(p) ? idle_phase(p) : phase_names[p->phase]);
	evout_str(e, "reason", code == PEER_EXIT_FAILED ? p->fail_reason : NULL);
	evout_str(e, "technique", p->tech ? technique_name(p->tech->id) : NULL);
	evout_str(e, "requested", technique_name(p->o->tech));
	evout_str(e, "proto", p->o->proto == PROTO_TCP ? "tcp" : "udp");
	evout_str(e, "session", p->o->session);
	evout_str(e, "role", role_name(p->role));
	report_times(p, code);
	evout_ms(e, "total_ms", loop_now_us() - p->t0);
	evout_int(e, "attempts", p->attempts);
	evout_int(e, "probes_sent", p->probes_sent);
	evout_int(e, "sockets_opened", p->sockets_opened);
	evout_int(e, "round", p->round);
	evout_str(e, "local", ep_format(&p->local, b));
	evout_str(e, "public", p->public1.ss_family ? ep_format(&p->public1, b) : NULL);
	evout_str(e, "nat", nat_kind_name(p->nat.kind));
	evout_int(e, "stride", p->nat.stride);
	if (code != PEER_EXIT_FAILED)
		evout_str(e, "peer", p->chan.kind == CHAN_RELAY ? ep_format(&p->rdv, b) :
						ep_format(&p->chan.to, b));
	else
		evout_str(e, "peer", NULL);
	evout_str(e, "via", code == PEER_EXIT_FAILED ? NULL :
		  p->chan.kind == CHAN_RELAY ? "relay" : p->chan.kind == CHAN_TCP ? "tcp" : "udp");
	evout_str(e, "peer_public", p->peer_pub.ss_family ? ep_format(&p->peer_pub, b) : NULL);
	evout_strv(e, "peer_private", priv, p->n_peer_priv);
	evout_str(e, "peer_nat", nat_kind_name(p->peer_nat.kind));
	if (p->ttl_used) {
		evout_int(e, "ttl", p->ttl_used);
		evout_int(e, "hops", p->hops);
	}
	idle_report(p);
	evout_int(e, "self_ignored", p->self_msgs);
	evout_int(e, "bad_ignored", p->bad_msgs);
	evout_end(e);
}

static void finish(struct peer *p, int code)
{
	struct wire_msg m;

	if (p->finished)
		return;
	p->finished = true;
	p->exit_code = code;
	if (code == PEER_EXIT_FAILED && !p->fail_reason[0])
		snprintf(p->fail_reason, sizeof(p->fail_reason), "failed in %s",
			 phase_names[p->phase]);
	report(p, code);
	if (p->token) {
		/* Tell the rendezvous it may free the session (best effort). */
		peer_msg_init(p, &m, WIRE_BYE);
		strcpy(m.session, p->o->session);
		m.present = WA_BIT(WA_SESSION);
		server_send(p, &m);
	}
	loop_stop(&p->loop);
}

void peer_finish(struct peer *p, int code)
{
	finish(p, code);
}

struct peer *peer_new(const struct peer_opts *o, FILE *out, FILE *err_f, uint64_t t0_us,
		      bool signals, int family_tag)
{
	struct peer *p;
	struct auth_key master;
	char why[256];
	sigset_t mask;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p) {
		fprintf(err_f, "punch peer: out of memory\n");
		return NULL;
	}
	p->o = o;
	p->listen_fd = -1;
	p->rc.fd = p->rc2.fd = -1;
	p->sigfd = -1;
	p->pm_fd = -1;
	p->loop.epfd = p->loop.tfd = -1;
	if (auth_secret_load(o->secret_file, &master, why, sizeof(why))) {
		fprintf(err_f, "punch peer: %s\n", why);
		free(p);
		errno = EINVAL;
		return NULL;
	}
	auth_session_key(&master, o->session, &p->key);
	p->t0 = t0_us;
	p->family = o->rdv.ss_family;
	p->nonce = rand_u64();
	p->role = o->role;
	p->rdv = o->rdv;
	p->rdv2 = o->rdv2;
	p->has_rdv2 = o->has_rdv2;
	p->hops = -1;
	evout_init(&p->ev, out, err_f, o->json, p->t0);
	p->ev.family = family_tag;
	err = loop_init(&p->loop);
	if (err)
		goto fail;
	if (signals) {
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		p->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
		if (p->sigfd < 0 ||
		    loop_io_add(&p->loop, &p->sigio, p->sigfd, EPOLLIN, on_signal, p) < 0) {
			err = -errno;
			goto fail;
		}
	}
	loop_timer_init(&p->loop, &p->reg_timer, on_reg_timer, p);
	loop_timer_init(&p->loop, &p->step_timer, on_step_timer, p);
	loop_timer_init(&p->loop, &p->deadline, on_deadline, p);
	loop_timer_init(&p->loop, &p->probe_timer, on_probe_timer, p);
	loop_timer_init(&p->loop, &p->verify_timer, on_verify_timer, p);
	loop_timer_init(&p->loop, &p->linger_timer, on_linger, p);
	loop_timer_init(&p->loop, &p->keepalive_timer, on_keepalive, p);
	loop_timer_init(&p->loop, &p->signal_timer, on_signal_timer, p);
	loop_timer_init(&p->loop, &p->fallback_timer, on_fallback_timer, p);
	race_relay_init(p);
	idle_init(p);
	reval_init(p);
	return p;
fail:
	fprintf(err_f, "punch peer: set up the event loop: %s\n", strerror(-err));
	peer_free(p);
	errno = -err;
	return NULL;
}

int peer_begin(struct peer *p)
{
	const struct peer_opts *o = p->o;
	char b[EP_STRLEN];
	int err;

	if (o->tech == TECH_AUTO && o->proto == PROTO_UDP)
		loop_timer_in(&p->fallback_timer, auto_fallback_us(o));
	/* from the run's start, also for a run that starts later (dual.c's second family) */
	loop_timer_at(&p->deadline, p->t0 + (uint64_t)o->timeout_ms * 1000u);

	evout_begin(&p->ev, "start");
	evout_str(&p->ev, "session", o->session);
	evout_str(&p->ev, "technique", technique_name(o->tech));
	evout_str(&p->ev, "proto", o->proto == PROTO_TCP ? "tcp" : "udp");
	evout_int(&p->ev, "pid", getpid());
	evout_end(&p->ev);

	err = step_begin(p, 0);
	if (err)
		evout_warn(&p->ev, "set up sockets towards \"%s\": %s", ep_format(&p->rdv, b),
			   strerror(-err));
	return err;
}

struct loop *peer_loop(struct peer *p)
{
	return &p->loop;
}

bool peer_finished(const struct peer *p)
{
	return p->finished;
}

int peer_exit_code(const struct peer *p)
{
	return p->exit_code;
}

bool peer_direct_verified(const struct peer *p)
{
	return !p->cancelled && p->phase == PH_DONE && p->chan.kind != CHAN_RELAY &&
	       (!p->finished || p->exit_code == PEER_EXIT_DIRECT);
}

bool peer_direct_verifying(const struct peer *p)
{
	return !p->finished && p->phase == PH_VERIFICATION && p->chan.kind != CHAN_RELAY;
}

int peer_phase_of(const struct peer *p)
{
	return p->phase;
}

const char *peer_phase_name(int phase)
{
	return phase >= PH_REGISTRATION && phase <= PH_DONE ? phase_names[phase] : "?";
}

void peer_set_result_event(struct peer *p, const char *name)
{
	p->result_event = name;
}

/* Close every socket and stop every timer of the run (idempotent): after it nothing of this
 * run leaves the host. */
static void peer_teardown(struct peer *p)
{
	int i;

	if (p->torn_down)
		return;
	p->torn_down = true;
	if (p->tech && p->tech->stop)
		p->tech->stop(p);
	pm_release(p);
	tcp_punch_close_all(p);
	rc_close(p, &p->rc);
	rc_close(p, &p->rc2);
	for (i = 0; i < p->n_socks; i++) {
		peer_sock_close(p, p->socks[i]);
		free(p->socks[i]);
	}
	p->n_socks = 0;
	/* the timers' loop goes with them: closing its fds leaves nothing to fire */
	loop_fini(&p->loop);
}

void peer_fail(struct peer *p, const char *reason)
{
	if (p->finished)
		return;
	snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason);
	finish(p, PEER_EXIT_FAILED);
}

void peer_cancel(struct peer *p, const char *why)
{
	if (p->finished)
		return;
	p->cancelled = true;
	snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", why);
	finish(p, PEER_EXIT_FAILED);
	peer_teardown(p);
}

void peer_report_final(struct peer *p, const char *const *keys, const char *const *vals,
		       const char *const *phases, int n)
{
	p->result_event = NULL;
	p->fam_keys = keys;
	p->fam_vals = vals;
	p->fam_phases = phases;
	p->n_fams = n;
	report(p, p->exit_code);
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	peer_teardown(p);
	if (p->sigfd >= 0)
		close(p->sigfd);
	free(p);
}

int peer_run(const struct peer_opts *o, FILE *out, FILE *err_f)
{
	struct peer *p;
	int err, code = PEER_EXIT_SETUP;

	signal(SIGPIPE, SIG_IGN);
	/* Timers fire up to 50 us late by default (timer slack); the shared moment of a TCP
	 * simultaneous open wants them as close to on time as the kernel can. Best effort. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (o->has_rdv6)
		return dual_run(o, out, err_f);
	p = peer_new(o, out, err_f, loop_now_us(), true, 0);
	if (!p)
		return PEER_EXIT_SETUP;
	err = peer_begin(p);
	if (err)
		goto out;
	err = loop_run(&p->loop);
	if (err) {
		evout_warn(&p->ev, "event loop: %s", strerror(-err));
		goto out;
	}
	code = p->exit_code;
out:
	peer_free(p);
	return code;
}
