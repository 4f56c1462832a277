/* auto: the step table. Each step is a registration round of its own (round = index in the
 * table), so both peers start every step together, however long the previous one took on
 * either side; a step that does not apply to this pair of NATs is skipped by both (they
 * decide from the same two NAT reports). Deadlines are per step, capped by --timeout. */
#include "peer.h"

static const struct auto_step udp_steps[] = {
	{ TECH_UDP, 2000 },       /* cone NATs connect in a few round trips */
	{ TECH_PREDICT, 3000 },   /* a sequential NAT on either side */
	{ TECH_BIRTHDAY, 6000 },  /* random symmetric against cone: many sockets x many probes */
	{ TECH_RELAY, 3000 },
};

static const struct auto_step tcp_steps[] = {
	{ TECH_TCP, 2000 },
	{ TECH_TCP_TTL, 3000 },   /* NATs that answer unsolicited SYNs with RST */
	{ TECH_PREDICT, 3000 },
	{ TECH_RELAY, 3000 },
};

const struct auto_step *auto_steps(int proto, int *n)
{
	if (proto == PROTO_TCP) {
		*n = (int)(sizeof(tcp_steps) / sizeof(tcp_steps[0]));
		return tcp_steps;
	}
	*n = (int)(sizeof(udp_steps) / sizeof(udp_steps[0]));
	return udp_steps;
}

static bool coneish(uint8_t k)
{
	return k == NAT_CONE || k == NAT_NONE;
}

/* A new public port per destination. Sequential counts: two random ports that happen to lie
 * within STRIDE_MAX of each other make a random NAT look sequential, rarely over the whole
 * port space (about 1 in 500) but about every other time when it draws from a narrow range
 * (measured: symmetric-port-range, 256 ports, was classified sequential in the runs where
 * auto relayed); predict runs first and connects a really sequential NAT before birthday. */
static bool per_destination(uint8_t k)
{
	return k == NAT_RANDOM || k == NAT_SEQUENTIAL;
}

bool auto_step_applies(enum technique tech, const struct wire_natinfo *own,
		       const struct wire_natinfo *peer, bool relay_ok)
{
	switch (tech) {
	case TECH_PREDICT:
		return own->kind == NAT_SEQUENTIAL || peer->kind == NAT_SEQUENTIAL;
	case TECH_BIRTHDAY:
		/* Two cone reports after the udp step failed (birthday comes after it): two
		 * endpoint-independent mappings always meet by udp punching, so one report is
		 * wrong: a random NAT that drew the same port for both servers (measured:
		 * symmetric-port-range, 256 ports, 2 runs in 30). birthday's own round measures
		 * both NATs again and picks its sides from that. */
		return (per_destination(own->kind) && coneish(peer->kind)) ||
		       (per_destination(peer->kind) && coneish(own->kind)) ||
		       (own->kind == NAT_CONE && peer->kind == NAT_CONE);
	case TECH_RELAY:
		return relay_ok;
	default:
		return true;
	}
}
