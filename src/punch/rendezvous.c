#include "rendezvous.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "auth.h"
#include "endpoint.h"
#include "evout.h"
#include "loop.h"
#include "ratelimit.h"
#include "util.h"
#include "wire.h"

#define RDV_UDP_BATCH 64          /* datagrams read per wake-up before yielding */
#define RDV_RL_ORDER 13           /* 8192 rate limiter buckets */
/* A full session table evicts rather than refuses: the oldest session still waiting for its
 * second member among the first RDV_EVICT_SCAN least recently used, else the least recently
 * used one (a paired session has had its endpoints). */
#define RDV_EVICT_SCAN 64
#define RDV_SWEEP_US 1000000
/* The moment both peers of a pairing start punching (PEER's START attribute): the slower
 * peer's round trip twice over (PEER reaches each peer half a round trip after it leaves, and
 * processes on a busy host wake late) plus a margin; capped, since the RTT is the peers' word. */
#define RDV_START_MARGIN_US 5000
#define RDV_START_MAX_US 500000

struct rdv;

struct rdv_listener {
	struct rdv *r;
	struct sockaddr_storage addr;
	int ufd, tfd;
	struct loop_io uio, tio;
};

struct rdv_member;

struct rdv_conn {
	struct rdv *r;
	int fd;
	struct loop_io io;
	struct stream st;
	struct sockaddr_storage from;
	int listener;
	uint64_t last_us;
	struct rdv_member *member;    /* the registration that answers over this connection */
	struct rdv_conn *next, *prev;
};

struct rdv_member {
	bool used, bye;
	uint64_t nonce;
	uint8_t role;
	uint8_t proto;
	uint16_t round;
	bool peer_sent;               /* PEER for this round went out */
	struct sockaddr_storage pub;
	int listener;                 /* UDP: the socket it registered on */
	struct rdv_conn *conn;        /* TCP: its connection, or NULL */
	struct wire_ep priv[WIRE_MAX_EPS];
	uint8_t n_priv;
	struct wire_natinfo nat;
	uint32_t rtt_us;              /* its round trip to us, as it measured it (0: unknown) */
	struct auth_window win;       /* its counters seen: a repeat is a replay */
};

struct rdv_session {
	char id[WIRE_MAX_SESSION + 1];
	int family;                   /* of its members' addresses (session_find) */
	struct auth_key key;          /* auth_session_key() of id */
	bool paired;                  /* PEER went out once */
	uint64_t token;
	uint64_t last_us;
	uint64_t relayed;
	uint64_t start_at_us;         /* this round's shared moment, our clock (0: none yet) */
	struct rdv_member m[2];       /* index role - 1 */
	struct rdv_session *hnext;
	struct rdv_session *lnext, *lprev;   /* least recently used first */
};

struct rdv_stats {
	uint64_t rx, rx_bytes, tx, tx_fail;
	uint64_t decode[WIRE_EDECODE_MAX];
	uint64_t unexpected, bad_token, rate_limited, oversized;
	uint64_t bad_mac, replayed, stale, short_req, version_replies, evicted;
	/* bytes from sources whose message did not verify, and bytes sent back to them: the
	 * amplification a spoofed flood gets (at most 1: only the version error, never longer) */
	uint64_t unverified_rx_bytes, unverified_tx_bytes;
	uint64_t binds, registrations, pairings, session_full, role_taken, busy, proto_mismatch;
	uint64_t sessions_created, sessions_expired, sessions_closed;
	uint64_t relayed, relayed_bytes, relay_denied;
	uint64_t conns, conns_refused, conns_bad;
};

struct rdv {
	const struct rdv_opts *o;
	struct evout ev;
	struct loop loop;
	struct rdv_listener ls[OPTS_MAX_LISTEN];
	int n_ls;
	struct rdv_session **ht;
	size_t ht_mask;
	uint64_t hkey[2];
	size_t n_sessions;
	struct rdv_session *lru_head, *lru_tail;
	struct rdv_conn *conns;
	uint32_t n_conns;
	struct rl rl;
	struct auth_key master;
	struct loop_timer sweep, stop_timer;
	int sigfd;
	struct loop_io sigio;
	struct rdv_stats st;
};

/* Where a message came from and how to answer it. */
struct rdv_src {
	int listener;
	struct sockaddr_storage from;
	struct rdv_conn *conn;        /* NULL for UDP */
};

/* ---- sessions ---- */

static size_t session_bucket(struct rdv *r, const char *id)
{
	return (size_t)siphash24(r->hkey, id, strlen(id)) & r->ht_mask;
}

/* A session is one per id and address family: a peer that runs over both families at once
 * (dual.h) registers the same id over each, and each family's registration must meet the
 * other peer's of the same family (a PEER naming an endpoint of the other family could not be
 * punched). An IPv4-mapped source counts as IPv4. */
static int src_family(const struct sockaddr_storage *from)
{
	struct sockaddr_storage a = *from;

	ep_unmap(&a);
	return a.ss_family;
}

static struct rdv_session *session_find(struct rdv *r, const char *id, int family)
{
	struct rdv_session *s;

	for (s = r->ht[session_bucket(r, id)]; s; s = s->hnext)
		if (s->family == family && !strcmp(s->id, id))
			return s;
	return NULL;
}

static void lru_unlink(struct rdv *r, struct rdv_session *s)
{
	if (s->lprev)
		s->lprev->lnext = s->lnext;
	else
		r->lru_head = s->lnext;
	if (s->lnext)
		s->lnext->lprev = s->lprev;
	else
		r->lru_tail = s->lprev;
	s->lnext = s->lprev = NULL;
}

static void lru_append(struct rdv *r, struct rdv_session *s)
{
	s->lprev = r->lru_tail;
	s->lnext = NULL;
	if (r->lru_tail)
		r->lru_tail->lnext = s;
	else
		r->lru_head = s;
	r->lru_tail = s;
}

static void session_touch(struct rdv *r, struct rdv_session *s)
{
	s->last_us = loop_now_us();
	lru_unlink(r, s);
	lru_append(r, s);
}

static void session_free(struct rdv *r, struct rdv_session *s);

/* Make room for one more session: only an authenticated REGISTER gets here, so whoever fills
 * the table holds the secret; still, the newcomer wins over the stalest waiting session. */
static void session_evict(struct rdv *r)
{
	struct rdv_session *s = r->lru_head, *victim = r->lru_head;
	int i;

	for (i = 0; s && i < RDV_EVICT_SCAN; i++, s = s->lnext) {
		if (!s->paired) {
			victim = s;
			break;
		}
	}
	if (victim) {
		r->st.evicted++;
		session_free(r, victim);
	}
}

static struct rdv_session *session_new(struct rdv *r, const char *id, int family,
				       const struct auth_key *k)
{
	struct rdv_session *s;
	size_t b;

	if (r->n_sessions >= r->o->max_sessions)
		session_evict(r);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	strcpy(s->id, id);
	s->family = family;
	s->key = *k;
	s->token = rand_u64();
	s->last_us = loop_now_us();
	b = session_bucket(r, id);
	s->hnext = r->ht[b];
	r->ht[b] = s;
	lru_append(r, s);
	r->n_sessions++;
	r->st.sessions_created++;
	return s;
}

static void session_free(struct rdv *r, struct rdv_session *s)
{
	struct rdv_session **pp = &r->ht[session_bucket(r, s->id)];
	int i;

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	lru_unlink(r, s);
	for (i = 0; i < 2; i++)
		if (s->m[i].conn)
			s->m[i].conn->member = NULL;
	r->n_sessions--;
	free(s);
}

/* ---- sending ---- */

/* Encode @m with a fresh counter and seal it with the session key @k. */
static void rdv_send(struct rdv *r, int listener, const struct sockaddr_storage *to,
		     struct rdv_conn *conn, struct wire_msg *m, const struct auth_key *k)
{
	uint8_t buf[WIRE_MAX_LEN];
	int n;

	m->ctr = auth_ctr_next();
	m->present |= WA_BIT(WA_CTR);
	n = wire_encode(m, buf, sizeof(buf));
	if (n >= 0)
		n = auth_seal(k, buf, (size_t)n, sizeof(buf));
	if (n < 0) {
		r->st.tx_fail++;
		return;
	}
	if (conn) {
		if (stream_send(conn->fd, buf, (size_t)n) < 0)
			r->st.tx_fail++;
		else
			r->st.tx++;
		return;
	}
	if (sendto(r->ls[listener].ufd, buf, (size_t)n, MSG_DONTWAIT, (const struct sockaddr *)to,
		   ep_len(to)) < 0)
		r->st.tx_fail++;
	else
		r->st.tx++;
}

static void reply(struct rdv *r, const struct rdv_src *src, struct wire_msg *m,
		  const struct auth_key *k)
{
	rdv_send(r, src->listener, &src->from, src->conn, m, k);
}

static void send_error(struct rdv *r, const struct rdv_src *src, const struct wire_msg *in,
		       const struct auth_key *k, uint16_t code, const char *text)
{
	struct wire_msg m;

	wire_msg_init(&m, WIRE_ERROR);
	m.role = WIRE_ROLE_SERVER;
	m.nonce = in->nonce;
	m.error_code = code;
	snprintf(m.error_text, sizeof(m.error_text), "%s", text);
	m.present = WA_BIT(WA_ERROR);
	reply(r, src, &m, k);
}

/* A message of our magic but another version: say which version we speak, in a reply never
 * longer than the request (it cannot be authenticated: the source is unverified) and built by
 * hand, since a peer of another version may read no more than a header and an ERROR attribute.
 * Rate-limited like everything else before it gets here. */
static void send_version_error(struct rdv *r, const struct rdv_src *src, const uint8_t *in,
			       size_t len)
{
	static const char text[] = "version 2 needed";
	uint8_t b[WIRE_HDR_LEN + 2 + 2 + sizeof(text) - 1];
	size_t n = sizeof(b) < len ? sizeof(b) : len;
	int ret;

	if (len < WIRE_HDR_LEN)
		return;               /* not even a header: nothing to echo, nothing sent */
	memset(b, 0, sizeof(b));
	b[0] = WIRE_MAGIC >> 8;
	b[1] = WIRE_MAGIC & 0xff;
	b[2] = WIRE_VERSION;
	b[3] = WIRE_ERROR;
	b[4] = WIRE_ROLE_SERVER;
	memcpy(b + 16, in + 16, 8);           /* the requester's nonce, echoed */
	if (n < WIRE_HDR_LEN + 4) {
		n = WIRE_HDR_LEN;             /* a short request: the header alone says it */
	} else {
		b[WIRE_HDR_LEN] = WA_ERROR;
		b[WIRE_HDR_LEN + 1] = (uint8_t)(n - WIRE_HDR_LEN - 2);
		b[WIRE_HDR_LEN + 3] = WIRE_ERR_VERSION;
		memcpy(b + WIRE_HDR_LEN + 4, text, n - WIRE_HDR_LEN - 4);
	}
	b[6] = (uint8_t)(n >> 8);
	b[7] = (uint8_t)n;
	if (src->conn)
		ret = stream_send(src->conn->fd, b, n);
	else
		ret = sendto(r->ls[src->listener].ufd, b, n, MSG_DONTWAIT,
			     (const struct sockaddr *)&src->from, ep_len(&src->from)) < 0 ? -1 : 0;
	if (ret < 0) {
		r->st.tx_fail++;
		return;
	}
	r->st.tx++;
	r->st.version_replies++;
	r->st.unverified_tx_bytes += n;
}

/* Other listen addresses of the same family: a peer BINDs to one of them to learn whether its
 * NAT keeps the same public port for a second destination (and the stride if it does not). */
static void add_alts(struct rdv *r, const struct rdv_src *src, struct wire_msg *m)
{
	int i;

	for (i = 0; i < r->n_ls && m->n_alt < WIRE_MAX_EPS; i++) {
		if (i == src->listener || r->ls[i].addr.ss_family != r->ls[src->listener].addr.ss_family)
			continue;
		if (ep_to_wire(&r->ls[i].addr, &m->alt[m->n_alt]) == 0)
			m->n_alt++;
	}
	if (m->n_alt)
		m->present |= WA_BIT(WA_ALT);
}

/* Set the round's shared moment (DCUtR-style: the server tells both peers at once when to
 * start, each peer subtracts half its own round trip to the server). */
static void start_set(struct rdv_session *s)
{
	uint64_t rtt = s->m[0].rtt_us > s->m[1].rtt_us ? s->m[0].rtt_us : s->m[1].rtt_us;
	uint64_t d = 2 * rtt + RDV_START_MARGIN_US;

	if (d > RDV_START_MAX_US)
		d = RDV_START_MAX_US;
	s->start_at_us = loop_now_us() + d;
}

static void send_peer(struct rdv *r, struct rdv_session *s, int i)
{
	struct rdv_member *me = &s->m[i], *other = &s->m[!i];
	struct wire_msg m;
	uint64_t now;

	wire_msg_init(&m, WIRE_PEER);
	m.role = me->role;
	m.flags = r->o->relay ? WIRE_F_RELAY : 0;
	m.token = s->token;
	m.nonce = me->nonce;
	m.round = me->round;
	ep_to_wire(&me->pub, &m.observed);
	ep_to_wire(&other->pub, &m.peer_public);
	memcpy(m.peer_priv, other->priv, sizeof(m.peer_priv));
	m.n_peer_priv = other->n_priv;
	m.peer_nat = other->nat;
	m.peer_nonce = other->nonce;
	m.peer_role = other->role;
	/* The time left until the shared moment: the whole delay when both PEERs go out
	 * together, less for a PEER sent again because the first was lost. */
	now = loop_now_us();
	m.start_us = s->start_at_us > now ? (uint32_t)(s->start_at_us - now) : 0;
	m.present = WA_BIT(WA_ROUND) | WA_BIT(WA_OBSERVED) | WA_BIT(WA_PEER_PUBLIC) |
		    WA_BIT(WA_PEER_NAT) | WA_BIT(WA_PEER_NONCE) | WA_BIT(WA_PEER_ROLE) |
		    WA_BIT(WA_START);
	if (m.n_peer_priv)
		m.present |= WA_BIT(WA_PEER_PRIVATE);
	rdv_send(r, me->listener, &me->pub, me->conn, &m, &s->key);
	me->peer_sent = true;
	s->paired = true;
}

/* ---- message handlers ---- */

/* The listener a CHANGE-flagged BIND is answered from (punch probe's filtering test): same
 * family, the other address and/or the other port as the flags ask; -1 when there is none. */
static int change_listener(struct rdv *r, int from, uint8_t flags)
{
	const struct sockaddr_storage *a = &r->ls[from].addr;
	int i;

	for (i = 0; i < r->n_ls; i++) {
		const struct sockaddr_storage *b = &r->ls[i].addr;

		if (b->ss_family == a->ss_family &&
		    ep_equal(a, b, false) == !(flags & WIRE_F_CHANGE_ADDR) &&
		    (ep_port(a) == ep_port(b)) == !(flags & WIRE_F_CHANGE_PORT))
			return i;
	}
	return -1;
}

static void on_bind(struct rdv *r, const struct rdv_src *src, const struct wire_msg *in,
		    const struct auth_key *k)
{
	struct sockaddr_storage to = src->from;
	struct wire_msg m;
	int l = src->listener;

	r->st.binds++;
	wire_msg_init(&m, WIRE_BIND_REPLY);
	m.role = WIRE_ROLE_SERVER;
	m.nonce = in->nonce;
	ep_to_wire(&src->from, &m.observed);
	m.present = WA_BIT(WA_OBSERVED);
	add_alts(r, src, &m);
	if (src->conn || !(in->flags & (WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT) ||
			   in->present & WA_BIT(WA_RESPONSE_PORT))) {
		reply(r, src, &m, k);
		return;
	}
	/* RFC 5780 over UDP: another listener answers, or another port of the sender's own
	 * address does (never another address: no reflection towards third parties). */
	if (in->flags & (WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT))
		l = change_listener(r, src->listener, in->flags);
	if (l < 0) {
		r->st.unexpected++;
		return;
	}
	if (in->present & WA_BIT(WA_RESPONSE_PORT))
		ep_set_port(&to, in->response_port);
	rdv_send(r, l, &to, NULL, &m, k);
}

static void on_register(struct rdv *r, const struct rdv_src *src, const struct wire_msg *in,
			struct rdv_session *s, struct rdv_member *me)
{
	struct wire_msg m;
	bool created = false;
	int i;

	r->st.registrations++;
	if (!me) {
		if (in->role == WIRE_ROLE_A || in->role == WIRE_ROLE_B) {
			i = in->role - 1;
			if (s->m[i].used) {
				r->st.role_taken++;
				send_error(r, src, in, &s->key, WIRE_ERR_ROLE_TAKEN, "role already taken");
				return;
			}
		} else {
			i = s->m[0].used ? 1 : 0;
			if (s->m[i].used) {
				r->st.session_full++;
				send_error(r, src, in, &s->key, WIRE_ERR_SESSION_FULL, "session full");
				return;
			}
		}
		me = &s->m[i];
		memset(me, 0, sizeof(*me));
		me->used = true;
		me->nonce = in->nonce;
		me->role = (uint8_t)(i + 1);
		me->round = in->round;
		auth_window_reset(&me->win, in->ctr);
		created = true;
	}
	if (s->m[!(me - s->m)].used && s->m[!(me - s->m)].proto != in->proto) {
		/* A member refused at its first registration is not kept: half made (no address,
		 * no connection) it would pair with the other peer when that one moves over to
		 * its proto (punch auto's fallback to TCP), and the other's PEER would be empty. */
		if (created)
			memset(me, 0, sizeof(*me));
		r->st.proto_mismatch++;
		send_error(r, src, in, &s->key, WIRE_ERR_PROTO_MISMATCH,
			   "the other peer uses another proto");
		return;
	}
	/* round 65535 is followed by 0: serial arithmetic, not < */
	if (wire_round_cmp(in->round, me->round) < 0)
		return;                       /* a late retransmission of an earlier round */
	if (in->round != me->round)
		me->peer_sent = false;
	me->round = in->round;
	me->proto = in->proto;
	/* A member moves (its NAT rebound, or it roamed) only by a message that carries its MAC
	 * and a counter never seen before: knowing its nonce is not enough any more. */
	me->pub = src->from;
	me->listener = src->listener;
	if (me->conn && me->conn != src->conn)
		me->conn->member = NULL;
	me->conn = src->conn;
	if (src->conn)
		src->conn->member = me;
	memcpy(me->priv, in->priv, sizeof(me->priv));
	me->n_priv = in->n_priv;
	me->nat = in->nat;
	if (in->present & WA_BIT(WA_RTT))
		me->rtt_us = in->rtt_us;
	session_touch(r, s);

	wire_msg_init(&m, WIRE_REGISTERED);
	m.role = me->role;
	m.flags = r->o->relay ? WIRE_F_RELAY : 0;
	m.nonce = me->nonce;
	m.round = me->round;
	ep_to_wire(&src->from, &m.observed);
	m.present = WA_BIT(WA_OBSERVED) | WA_BIT(WA_ROUND);
	add_alts(r, src, &m);
	reply(r, src, &m, &s->key);

	{
		struct rdv_member *other = &s->m[!(me - s->m)];

		if (!other->used || other->round != me->round)
			return;
		if (!other->peer_sent) {
			/* The second registration of a round: tell both at once. */
			r->st.pairings++;
			start_set(s);
			send_peer(r, s, (int)(other - s->m));
			send_peer(r, s, (int)(me - s->m));
		} else {
			send_peer(r, s, (int)(me - s->m));   /* its PEER was lost: again */
		}
	}
}

static void on_relay(struct rdv *r, const struct rdv_src *src, const struct wire_msg *in,
		     struct rdv_session *s, struct rdv_member *me, const uint8_t *raw, size_t len)
{
	struct rdv_member *other;

	/* Only between the two authenticated members of a session: the sender proved its MAC
	 * and is a member by its nonce; the token proves it was told the pairing. */
	if (!me || s->token != in->token) {
		r->st.bad_token++;
		return;
	}
	other = &s->m[!(me - s->m)];
	if (!r->o->relay) {
		r->st.relay_denied++;
		send_error(r, src, in, &s->key, WIRE_ERR_NO_RELAY, "relay disabled");
		return;
	}
	if (!other->used || !s->paired) {
		r->st.relay_denied++;
		send_error(r, src, in, &s->key, WIRE_ERR_NOT_PAIRED, "no peer yet");
		return;
	}
	if (s->relayed + len > r->o->relay_limit) {
		r->st.relay_denied++;
		send_error(r, src, in, &s->key, WIRE_ERR_RELAY_LIMIT, "relay limit reached");
		return;
	}
	s->relayed += len;
	r->st.relayed++;
	r->st.relayed_bytes += len;
	session_touch(r, s);
	/* Forwarded as is, never larger than it came: the receiving peer checks the inner
	 * message's own MAC with the session key. */
	if (other->conn) {
		if (stream_send(other->conn->fd, raw, len) < 0)
			r->st.tx_fail++;
		else
			r->st.tx++;
	} else if (sendto(r->ls[other->listener].ufd, raw, len, MSG_DONTWAIT,
			  (const struct sockaddr *)&other->pub, ep_len(&other->pub)) < 0) {
		r->st.tx_fail++;
	} else {
		r->st.tx++;
	}
}

static void on_bye(struct rdv *r, const struct wire_msg *in, struct rdv_session *s,
		   struct rdv_member *me)
{
	int i, byes = 0;

	if (!me || s->token != in->token) {
		r->st.bad_token++;
		return;
	}
	me->bye = true;
	for (i = 0; i < 2; i++)
		byes += s->m[i].bye || !s->m[i].used;
	if (byes == 2) {
		r->st.sessions_closed++;
		session_free(r, s);
	}
}

/* Count a message that did not verify (nothing is sent back to its source). */
static void unverified(struct rdv *r, uint64_t *counter, size_t len)
{
	(*counter)++;
	r->st.unverified_rx_bytes += len;
}

static void rdv_handle(struct rdv *r, const struct rdv_src *src, const uint8_t *buf, size_t len)
{
	struct rdv_session *s;
	struct rdv_member *me = NULL;
	struct auth_key kbuf;
	const struct auth_key *k;
	struct wire_msg m;
	int err, i;

	r->st.rx++;
	r->st.rx_bytes += len;
	err = wire_decode(buf, len, &m);
	if (err) {
		r->st.decode[-err]++;
		r->st.unverified_rx_bytes += len;
		if (err == -WIRE_EVERSION)
			send_version_error(r, src, buf, len);
		return;
	}
	if (m.type != WIRE_BIND && m.type != WIRE_REGISTER && m.type != WIRE_RELAY &&
	    m.type != WIRE_BYE) {
		unverified(r, &r->st.unexpected, len); /* peer-to-peer or a server's: never answered */
		return;
	}
	/* Every message to the server names its session (BIND too): the key is the session's. */
	s = session_find(r, m.session, src_family(&src->from));
	if (s) {
		k = &s->key;
	} else {
		auth_session_key(&r->master, m.session, &kbuf);
		k = &kbuf;
	}
	if (!(m.present & WA_BIT(WA_CTR)) || !auth_check(k, buf, len, m.mac_off)) {
		unverified(r, &r->st.bad_mac, len);
		return;
	}
	/* Replays: a member's counters must be new to its window; a sender we keep nothing about
	 * must be fresh (a counter is its wall clock), so an old capture replayed later starts
	 * nothing. */
	for (i = 0; s && i < 2; i++)
		if (s->m[i].used && s->m[i].nonce == m.nonce)
			me = &s->m[i];
	if (me ? !auth_window_accept(&me->win, m.ctr) : !auth_fresh(m.ctr, auth_now_us())) {
		unverified(r, me ? &r->st.replayed : &r->st.stale, len);
		return;
	}
	/* Whatever a BIND or REGISTER brings back stays smaller than it (wire.h): a request
	 * recorded and replayed from a spoofed address within the freshness window gains the
	 * attacker nothing. */
	if (!src->conn && ((m.type == WIRE_BIND && len < WIRE_MIN_BIND) ||
			   (m.type == WIRE_REGISTER && len < WIRE_MIN_REGISTER))) {
		unverified(r, &r->st.short_req, len);
		return;
	}
	switch (m.type) {
	case WIRE_BIND:
		on_bind(r, src, &m, k);
		break;
	case WIRE_REGISTER:
		if (!s) {
			s = session_new(r, m.session, src_family(&src->from), k);
			if (!s) {
				r->st.busy++;
				return;
			}
		}
		on_register(r, src, &m, s, me);
		break;
	case WIRE_RELAY:
		if (s)
			on_relay(r, src, &m, s, me, buf, len);
		else
			r->st.bad_token++;
		break;
	case WIRE_BYE:
		if (s)
			on_bye(r, &m, s, me);
		else
			r->st.bad_token++;
		break;
	}
}

/* ---- rate limiting ---- */

/* Per source address (ports vary too cheaply to key on; an IPv6 host owns a /64). */
static bool rate_ok(struct rdv *r, const struct sockaddr_storage *from)
{
	struct sockaddr_storage a = *from;
	size_t n;

	if (!r->o->rate_limit)
		return true;
	ep_set_port(&a, 0);
	if (a.ss_family == AF_INET6) {
		memset(((struct sockaddr_in6 *)&a)->sin6_addr.s6_addr + 8, 0, 8);
		((struct sockaddr_in6 *)&a)->sin6_flowinfo = 0;
		((struct sockaddr_in6 *)&a)->sin6_scope_id = 0;
	}
	n = a.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	return rl_allow(&r->rl, siphash24(r->hkey, &a, n), loop_now_us());
}

/* ---- I/O ---- */

static void on_udp(struct loop_io *io, uint32_t events)
{
	struct rdv_listener *l = io->arg;
	struct rdv *r = l->r;
	uint8_t buf[WIRE_MAX_LEN + 1];
	int i;

	(void)events;
	for (i = 0; i < RDV_UDP_BATCH; i++) {
		struct rdv_src src = { .listener = (int)(l - r->ls) };
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &src.from, .msg_namelen = sizeof(src.from),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(l->ufd, &mh, MSG_DONTWAIT);

		if (n < 0)
			break;
		if (!rate_ok(r, &src.from)) {
			r->st.rate_limited++;
			r->st.unverified_rx_bytes += (size_t)n;
			continue;
		}
		if (mh.msg_flags & MSG_TRUNC || n > WIRE_MAX_LEN) {
			r->st.rx++;
			r->st.oversized++;
			continue;
		}
		rdv_handle(r, &src, buf, (size_t)n);
	}
}

static void conn_free(struct rdv *r, struct rdv_conn *c)
{
	if (c->member)
		c->member->conn = NULL;
	loop_io_del(&c->io);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->n_conns--;
	free(c);
}

struct conn_ctx {
	struct rdv *r;
	struct rdv_conn *c;
};

static int conn_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct conn_ctx *x = arg;
	struct rdv_src src = { .listener = x->c->listener, .from = x->c->from, .conn = x->c };

	if (!rate_ok(x->r, &x->c->from)) {
		x->r->st.rate_limited++;
		return 0;
	}
	x->c->last_us = loop_now_us();
	rdv_handle(x->r, &src, msg, len);
	return 0;
}

static void on_conn(struct loop_io *io, uint32_t events)
{
	struct rdv_conn *c = io->arg;
	struct rdv *r = c->r;
	struct conn_ctx x = { r, c };
	int err;

	err = stream_read(&c->st, c->fd, conn_msg, &x);
	if (err == -EMSGSIZE)
		r->st.conns_bad++;
	if (err < 0 || (events & (EPOLLHUP | EPOLLERR)))
		conn_free(r, c);
}

static void on_accept(struct loop_io *io, uint32_t events)
{
	struct rdv_listener *l = io->arg;
	struct rdv *r = l->r;
	int i;

	(void)events;
	for (i = 0; i < RDV_UDP_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct rdv_conn *c;
		int fd = accept4(l->tfd, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (r->n_conns >= r->o->max_conns || !rate_ok(r, &from) ||
		    !(c = calloc(1, sizeof(*c)))) {
			r->st.conns_refused++;
			close(fd);
			continue;
		}
		c->r = r;
		c->fd = fd;
		sock_set_nodelay(fd);
		c->from = from;
		ep_unmap(&c->from);
		c->listener = (int)(l - r->ls);
		c->last_us = loop_now_us();
		if (loop_io_add(&r->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP, on_conn, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = r->conns;
		if (r->conns)
			r->conns->prev = c;
		r->conns = c;
		r->n_conns++;
		r->st.conns++;
	}
}

static void on_sweep(struct loop_timer *t)
{
	struct rdv *r = t->arg;
	uint64_t now = loop_now_us(), ttl = (uint64_t)r->o->session_ttl_ms * 1000u;
	struct rdv_conn *c, *cn;

	while (r->lru_head && now - r->lru_head->last_us > ttl) {
		r->st.sessions_expired++;
		session_free(r, r->lru_head);
	}
	for (c = r->conns; c; c = cn) {
		cn = c->next;
		if (now - c->last_us > ttl)
			conn_free(r, c);
	}
	loop_timer_in(&r->sweep, RDV_SWEEP_US);
}

static void on_stop(struct loop_timer *t)
{
	struct rdv *r = t->arg;

	loop_stop(&r->loop);
}

static void on_signal(struct loop_io *io, uint32_t events)
{
	struct rdv *r = io->arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(r->sigfd, &si, sizeof(si)) > 0)
		loop_stop(&r->loop);
}

static int listener_open(struct rdv *r, int i, const struct sockaddr_storage *addr)
{
	struct rdv_listener *l = &r->ls[i];
	char b[EP_STRLEN];
	int err;

	l->r = r;
	l->addr = *addr;
	l->ufd = sock_open_bound(addr->ss_family, SOCK_DGRAM, addr, ep_port(addr), false);
	if (l->ufd < 0) {
		evout_warn(&r->ev, "bind udp \"%s\": %s", ep_format(addr, b), strerror(-l->ufd));
		return l->ufd;
	}
	l->tfd = sock_open_bound(addr->ss_family, SOCK_STREAM, addr, ep_port(addr), true);
	if (l->tfd < 0) {
		evout_warn(&r->ev, "bind tcp \"%s\": %s", ep_format(addr, b), strerror(-l->tfd));
		return l->tfd;
	}
	if (listen(l->tfd, 1024) < 0) {
		err = -errno;
		evout_warn(&r->ev, "listen tcp \"%s\": %s", ep_format(addr, b), strerror(errno));
		return err;
	}
	err = loop_io_add(&r->loop, &l->uio, l->ufd, EPOLLIN, on_udp, l);
	if (!err)
		err = loop_io_add(&r->loop, &l->tio, l->tfd, EPOLLIN, on_accept, l);
	return err;
}

static void stats_print(struct rdv *r)
{
	struct rdv_stats *s = &r->st;
	struct evout *e = &r->ev;
	int i;

	evout_begin(e, "stats");
	evout_int(e, "rx", (long long)s->rx);
	evout_int(e, "tx", (long long)s->tx);
	evout_int(e, "tx_fail", (long long)s->tx_fail);
	for (i = 1; i < WIRE_EDECODE_MAX; i++) {
		char k[32];
		const char *n = wire_decode_strerror(-i);
		int j;

		snprintf(k, sizeof(k), "drop_%s", n);
		for (j = 0; k[j]; j++)
			if (k[j] == ' ')
				k[j] = '_';
		evout_int(e, k, (long long)s->decode[i]);
	}
	evout_int(e, "drop_oversized", (long long)s->oversized);
	evout_int(e, "drop_unexpected", (long long)s->unexpected);
	evout_int(e, "drop_bad_token", (long long)s->bad_token);
	evout_int(e, "drop_rate_limited", (long long)s->rate_limited);
	evout_int(e, "drop_bad_mac", (long long)s->bad_mac);
	evout_int(e, "drop_replayed", (long long)s->replayed);
	evout_int(e, "drop_stale", (long long)s->stale);
	evout_int(e, "drop_short_request", (long long)s->short_req);
	evout_int(e, "version_replies", (long long)s->version_replies);
	evout_int(e, "unverified_rx_bytes", (long long)s->unverified_rx_bytes);
	evout_int(e, "unverified_tx_bytes", (long long)s->unverified_tx_bytes);
	evout_int(e, "sessions_evicted", (long long)s->evicted);
	evout_int(e, "binds", (long long)s->binds);
	evout_int(e, "registrations", (long long)s->registrations);
	evout_int(e, "pairings", (long long)s->pairings);
	evout_int(e, "session_full", (long long)s->session_full);
	evout_int(e, "role_taken", (long long)s->role_taken);
	evout_int(e, "busy", (long long)s->busy);
	evout_int(e, "proto_mismatch", (long long)s->proto_mismatch);
	evout_int(e, "sessions", (long long)r->n_sessions);
	evout_int(e, "sessions_created", (long long)s->sessions_created);
	evout_int(e, "sessions_expired", (long long)s->sessions_expired);
	evout_int(e, "sessions_closed", (long long)s->sessions_closed);
	evout_int(e, "relayed", (long long)s->relayed);
	evout_int(e, "relayed_bytes", (long long)s->relayed_bytes);
	evout_int(e, "relay_denied", (long long)s->relay_denied);
	evout_int(e, "tcp_conns", (long long)s->conns);
	evout_int(e, "tcp_refused", (long long)s->conns_refused);
	evout_int(e, "tcp_bad_frames", (long long)s->conns_bad);
	evout_end(e);
}

int rdv_run(const struct rdv_opts *o, FILE *out, FILE *err_f)
{
	struct rdv *r;
	const char *addrs[OPTS_MAX_LISTEN];
	char abuf[OPTS_MAX_LISTEN][EP_STRLEN];
	sigset_t mask;
	size_t buckets = 1024;
	int err, i;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->o = o;
	r->sigfd = -1;
	for (i = 0; i < OPTS_MAX_LISTEN; i++)
		r->ls[i].ufd = r->ls[i].tfd = -1;
	evout_init(&r->ev, out, err_f, o->json, loop_now_us());
	err = loop_init(&r->loop);
	if (err)
		goto out;
	while (buckets < o->max_sessions && buckets < (1u << 22))
		buckets <<= 1;
	{
		char why[256];

		/* --new-secret: made here, before the listening line, so that a harness that
		 * starts the peers once we listen finds it (engines/punch.yaml) */
		err = o->new_secret ? auth_keygen(o->secret_file, why, sizeof(why)) : 0;
		if (!err)
			err = auth_secret_load(o->secret_file, &r->master, why, sizeof(why));
		if (err) {
			evout_warn(&r->ev, "rendezvous: the secret: %s", why);
			goto out;
		}
	}
	r->ht = calloc(buckets, sizeof(*r->ht));
	err = rl_init(&r->rl, RDV_RL_ORDER, o->rate_limit, o->rate_limit * 2u);
	if (!r->ht || err) {
		err = -ENOMEM;
		goto out;
	}
	r->ht_mask = buckets - 1;
	r->hkey[0] = rand_u64();
	r->hkey[1] = rand_u64();
	for (i = 0; i < o->n_listen; i++) {
		err = listener_open(r, i, &o->listen[i]);
		r->n_ls = i + 1;
		if (err)
			goto out;
		addrs[i] = ep_format(&o->listen[i], abuf[i]);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	r->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sigfd < 0) {
		err = -errno;
		goto out;
	}
	err = loop_io_add(&r->loop, &r->sigio, r->sigfd, EPOLLIN, on_signal, r);
	if (err)
		goto out;
	loop_timer_init(&r->loop, &r->sweep, on_sweep, r);
	loop_timer_in(&r->sweep, RDV_SWEEP_US);
	loop_timer_init(&r->loop, &r->stop_timer, on_stop, r);
	if (o->duration_ms)
		loop_timer_in(&r->stop_timer, (uint64_t)o->duration_ms * 1000u);

	evout_begin(&r->ev, "listening");
	evout_strv(&r->ev, "addresses", addrs, o->n_listen);
	evout_bool(&r->ev, "relay", o->relay);
	evout_int(&r->ev, "pid", getpid());
	evout_end(&r->ev);

	err = loop_run(&r->loop);
	stats_print(r);
out:
	while (r->conns)
		conn_free(r, r->conns);
	while (r->lru_head)
		session_free(r, r->lru_head);
	for (i = 0; i < OPTS_MAX_LISTEN; i++) {
		if (r->ls[i].ufd >= 0)
			close(r->ls[i].ufd);
		if (r->ls[i].tfd >= 0)
			close(r->ls[i].tfd);
	}
	if (r->sigfd >= 0)
		close(r->sigfd);
	loop_fini(&r->loop);
	free(r->ht);
	rl_fini(&r->rl);
	sodium_memzero(&r->master, sizeof(r->master));
	free(r);
	return err;
}
