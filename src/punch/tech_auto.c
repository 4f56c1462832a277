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

bool auto_step_applies(enum technique tech, const struct wire_natinfo *own,
		       const struct wire_natinfo *peer, bool relay_ok)
{
	switch (tech) {
	case TECH_PREDICT:
		return own->kind == NAT_SEQUENTIAL || peer->kind == NAT_SEQUENTIAL;
	case TECH_BIRTHDAY:
		return (own->kind == NAT_RANDOM && coneish(peer->kind)) ||
		       (peer->kind == NAT_RANDOM && coneish(own->kind));
	case TECH_RELAY:
		return relay_ok;
	default:
		return true;
	}
}
