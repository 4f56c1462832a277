/* birthday: a random symmetric NAT facing a cone NAT (Tailscale's "birthday paradox"). The
 * symmetric ("hard") side opens many sockets and probes the cone side's public endpoint from
 * each, so its NAT holds many random public ports that each accept that one endpoint. The cone
 * ("easy") side, whose public port is stable, sprays probes at random distinct ports of the
 * hard side's public address. One spray probe landing on one of the hard side's mapped ports
 * passes its NAT; the answer then comes from that port, and the cone side adopts it
 * (peer-reflexive). With N sockets and M probes over R ports the chance of no hit is about
 * (1 - N/R)^M: 256 sockets and 4096 probes over 64512 ports leave about 1e-7.
 * Everything is bounded: --birthday-sockets, --birthday-probes, --birthday-rate and the step
 * deadline; sockets_opened and probes_sent are reported. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "endpoint.h"
#include "peer.h"

#define SPRAY_TICK_US 1000
/* The sockets side opens its sockets in batches, one batch per tick, after a head start for
 * plain punching; the spray side starts once the last batch is open (8 batches of 32 for the
 * default 256 sockets: head start + 8 ms, against spray delay - 2 RTT, with a 12 ms margin for
 * the two peers' PEER arriving at different moments). */
#define OPEN_BATCH 32
#define OPEN_TICK_US 1000
#define OPEN_HEAD_START_US 10000
#define SPRAY_DELAY_US 30000
#define SPRAY_READY_WAIT_US 200000    /* with a relay: how much longer "ready" may take */
#define PORT_LO 1024
#define PORT_HI 65535
/* Ports this close to one the hard side's NAT was seen to use are sprayed first. */
#define NEAR_WINDOW 512

enum bday_side { BDAY_SOCKETS, BDAY_SPRAY };

struct bday {
	enum bday_side side;
	uint16_t *perm;                   /* spray order: ports PORT_LO..PORT_HI shuffled */
	uint32_t n_perm, next;
	uint32_t per_tick;
	struct loop_timer spray;
	uint32_t to_open;                 /* sockets side: sockets still to open */
	struct loop_timer open;
	bool spraying;                    /* spray side: started (on ready, or by the timer) */
};

/* Which side opens sockets: the one whose NAT maps per destination (random, or sequential:
 * each of its sockets gets a new public port all the same); the other side, whose one public
 * port is known, sprays. If both or neither map per destination, role a does, so that the two
 * peers still choose differently. Sequential counts too: two random ports that happen to lie
 * within STRIDE_MAX of each other classify a random NAT as sequential (about 1 in 500). */
static bool per_destination(uint8_t kind)
{
	return kind == NAT_RANDOM || kind == NAT_SEQUENTIAL;
}

static enum bday_side bday_side_of(const struct peer *p)
{
	bool me = per_destination(p->nat.kind), other = per_destination(p->peer_nat.kind);

	if (me != other)
		return me ? BDAY_SOCKETS : BDAY_SPRAY;
	return p->role == WIRE_ROLE_A ? BDAY_SOCKETS : BDAY_SPRAY;
}

static void on_spray(struct loop_timer *t)
{
	struct peer *p = t->arg;
	struct bday *b = p->ts;
	struct wire_msg m;
	uint32_t i;

	if (p->connected || p->phase != PH_PROBING)
		return;
	b->spraying = true;
	for (i = 0; i < b->per_tick && b->next < b->n_perm &&
		    p->probes_sent < p->o->bday_probes; i++) {
		struct sockaddr_storage to = p->peer_pub;

		ep_set_port(&to, b->perm[b->next++]);
		peer_msg_init(p, &m, WIRE_PROBE);
		m.seq = ++p->seq;
		m.time_us = loop_now_us();
		m.present = WA_BIT(WA_SEQ) | WA_BIT(WA_TIME);
		if (peer_udp_send(p, p->socks[0], &to, &m) == 0) {
			p->probes_sent++;
			p->attempts++;
		}
	}
	if (b->next < b->n_perm && p->probes_sent < p->o->bday_probes)
		loop_timer_in(&b->spray, SPRAY_TICK_US);
}

/* Open the next batch of sockets, each probing the cone side's public endpoint once. Batches
 * keep the loop answering between them: a pair that plain punching from the main socket
 * connects (a random NAT against a full or restricted cone) is not held up by 256 socket()
 * calls, and an answer to the main socket's probe is read at once (auto races birthday with
 * udp in one round: race.h). */
static void on_open(struct loop_timer *t)
{
	struct peer *p = t->arg;
	struct bday *b = p->ts;
	uint32_t i;

	if (p->connected || p->phase != PH_PROBING)
		return;
	for (i = 0; i < OPEN_BATCH && b->to_open; i++, b->to_open--) {
		struct psock *s = peer_sock_add(p);
		struct cand *c;

		if (!s) {
			b->to_open = 0;
			break;
		}
		p->sockets_opened++;
		c = peer_cand_add(p, s, &p->peer_pub, false, true);
		/* One probe opens the mapping; a spray hit is answered from the socket itself,
		 * so later probes only keep the mapping alive. */
		if (c)
			c->slow = true;
	}
	if (b->to_open) {
		loop_timer_in(&b->open, OPEN_TICK_US);
	} else if (!p->sockets_opened) {
		peer_step_fail(p, "birthday: cannot open any socket");
	} else if (p->relay_ok) {
		/* Tell the spray side that our NAT now holds the mappings: spraying earlier
		 * finds nothing, and only competes with plain punching for the CPU. */
		struct wire_msg m;

		peer_msg_init(p, &m, WIRE_READY);
		m.round = p->round;
		m.present = WA_BIT(WA_ROUND);
		peer_relay_send(p, &m);
	}
}

/* The sockets side hears (through the relay alongside) that the other peer has begun: the
 * head start for plain punching counts from now. */
static void bday_on_peer_started(struct peer *p)
{
	struct bday *b = p->ts;

	if (!b || b->side != BDAY_SOCKETS || p->connected || p->phase != PH_PROBING ||
	    p->sockets_opened)
		return;
	loop_timer_in(&b->open, OPEN_HEAD_START_US + 4 * p->rtt_rdv_us);
}

/* The spray side hears that the sockets are open: spray now. */
static void bday_on_relay_msg(struct peer *p, const struct wire_msg *m)
{
	struct bday *b = p->ts;

	if (!b || b->side != BDAY_SPRAY || b->spraying || m->type != WIRE_READY ||
	    m->round != p->round)
		return;
	loop_timer_stop(&b->spray);
	on_spray(&b->spray);
}

static uint32_t socket_budget(const struct peer *p)
{
	struct rlimit rl;
	uint32_t want = p->o->bday_sockets;

	/* Leave room for the loop, the main socket and stdio. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want + 64)
		want = rl.rlim_cur > 64 ? (uint32_t)(rl.rlim_cur - 64) : 0;
	if (want > PEER_MAX_SOCKS - 8)
		want = PEER_MAX_SOCKS - 8;
	return want;
}

/* SplitMix64 (Steele, Lea, Flood 2014): a fast generator for the spray order, seeded from
 * getrandom(). The order need not be secret, only spread over the port space. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static bool port_near(uint16_t port, const uint16_t *seen, int n_seen, uint32_t window)
{
	int j;

	for (j = 0; j < n_seen; j++)
		if (seen[j] && (uint32_t)abs((int)port - (int)seen[j]) <= window)
			return true;
	return false;
}

uint32_t birthday_near_first(uint16_t *ports, uint32_t n, const uint16_t *seen, int n_seen,
			     uint32_t window)
{
	uint16_t *far = malloc((n ? n : 1) * sizeof(*far));
	uint32_t i, near = 0, nfar = 0;

	if (!far)
		return 0;         /* keep the uniform order: slower to hit, still correct */
	/* Stable: the near ports keep their (shuffled) order at the front, the rest behind. */
	for (i = 0; i < n; i++) {
		if (port_near(ports[i], seen, n_seen, window))
			ports[near++] = ports[i];
		else
			far[nfar++] = ports[i];
	}
	memcpy(ports + near, far, nfar * sizeof(*far));
	free(far);
	return near;
}

static int bday_start(struct peer *p)
{
	struct sockaddr_storage t[1 + WIRE_MAX_EPS];
	struct bday *b;
	uint32_t i;
	uint64_t seed;
	int nt = peer_targets(p, t), j;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	p->ts = b;
	b->side = bday_side_of(p);
	loop_timer_init(&p->loop, &b->spray, on_spray, p);
	loop_timer_init(&p->loop, &b->open, on_open, p);
	/* Both sides also punch like udp from the main socket (a cone pair connects at once). */
	for (j = 0; j < nt; j++)
		peer_cand_add(p, p->socks[0], &t[j], false, false);

	evout_begin(&p->ev, "birthday");
	evout_str(&p->ev, "side", b->side == BDAY_SOCKETS ? "sockets" : "spray");
	evout_end(&p->ev);

	if (b->side == BDAY_SOCKETS) {
		b->to_open = socket_budget(p);
		if (!b->to_open)
			return -EMFILE;
		peer_probe_schedule_start(p);
		if (p->rr.active && !p->rr.peer_ok) {
			/* The head start counts from the other peer's start, which its payload
			 * through the relay alongside tells (bday_on_peer_started): under load the
			 * two peers learn their endpoints tens of milliseconds apart. Bounded: the
			 * sockets open anyway if that word takes longer than the spray's wait. */
			loop_timer_in(&b->open, OPEN_HEAD_START_US + 4 * p->rtt_rdv_us +
						SPRAY_READY_WAIT_US);
			return 0;
		}
		/* Head start for the main socket's plain punching (auto races birthday with udp:
		 * a random NAT against a full or restricted cone connects that way in about one
		 * round trip between the peers, without 256 sockets, their probes and the cone
		 * side's answers to each competing for the CPU). */
		loop_timer_in(&b->open, OPEN_HEAD_START_US + 4 * p->rtt_rdv_us);
		return 0;
	}

	b->n_perm = PORT_HI - PORT_LO + 1;
	b->perm = malloc(b->n_perm * sizeof(*b->perm));
	if (!b->perm)
		return -ENOMEM;
	for (i = 0; i < b->n_perm; i++)
		b->perm[i] = (uint16_t)(PORT_LO + i);
	/* One getrandom() seeds the shuffle: one call per port (64512 system calls) held the
	 * spray side's loop for 50-200 ms on a busy machine, right when the plain punching
	 * that races birthday in auto's round needed it to answer (measured: symmetric x
	 * full-cone, auto's median 112 ms against udp's 0.3 ms before, in one run). */
	seed = rand_u64();
	for (i = b->n_perm - 1; i > 0; i--) {
		uint32_t k = (uint32_t)(splitmix64(&seed) % (i + 1));
		uint16_t x = b->perm[i];

		b->perm[i] = b->perm[k];
		b->perm[k] = x;
	}
	{
		/* A NAT that draws random ports from a narrow range (symmetric-port-range: 256)
		 * holds all its mappings near the ports it was seen to use: spraying those first
		 * finds one in a few hundred probes where a uniform spray over 64512 ports needed
		 * thousands. Over the whole port space the near ports are as good as any. */
		uint16_t seen[3] = { p->peer_nat.first_port, p->peer_nat.last_port,
				     ep_port(&p->peer_pub) };

		birthday_near_first(b->perm, b->n_perm, seen, 3, NEAR_WINDOW);
	}
	b->per_tick = p->o->bday_rate / (1000000 / SPRAY_TICK_US);
	if (b->per_tick == 0)
		b->per_tick = 1;
	peer_probe_schedule_start(p);
	/* Let the other side open its sockets (and its NAT its mappings) before spraying: it
	 * says so through the relay (bday_on_relay_msg); without a relay, or when that word is
	 * lost, the timer starts the spray. */
	loop_timer_in(&b->spray, SPRAY_DELAY_US + 4 * p->rtt_rdv_us +
				 (p->relay_ok ? SPRAY_READY_WAIT_US + 4 * p->rtt_rdv_us : 0));
	return 0;
}

static void bday_stop(struct peer *p)
{
	struct bday *b = p->ts;
	int i;

	peer_cands_clear(p);
	if (!b)
		return;
	loop_timer_stop(&b->spray);
	loop_timer_stop(&b->open);
	/* Birthday sockets are no longer needed; the chosen one stays until the end of the run. */
	for (i = 1; i < p->n_socks; i++)
		if (!(p->connected && p->chan.kind == CHAN_UDP && p->chan.s == p->socks[i]))
			peer_sock_close(p, p->socks[i]);
	free(b->perm);
	free(b);
	p->ts = NULL;
}

const struct tech_ops tech_birthday_ops = {
	.id = TECH_BIRTHDAY,
	.needs_nat = true,
	.fresh_socket = true,
	.start = bday_start,
	.stop = bday_stop,
	.on_relay_msg = bday_on_relay_msg,
	.on_peer_started = bday_on_peer_started,
};
