/* auto's race rule (race.h): which techniques may run at the same time, and which step the
 * first round runs. Why each pair may or may not share a round is in race.h; the step table
 * itself is tech_auto.c. */
#include "race.h"

#include "peer.h"

static bool per_destination(uint8_t k)
{
	return k == NAT_RANDOM || k == NAT_SEQUENTIAL;
}

static bool coneish(uint8_t k)
{
	return k == NAT_CONE || k == NAT_NONE;
}

bool race_compatible(enum technique a, enum technique b, const char **why)
{
	enum technique lo = a < b ? a : b, hi = a < b ? b : a;
	const char *w = NULL;

	if (a == b || lo == TECH_RELAY || hi == TECH_RELAY)
		return true;
	if (lo == TECH_AUTO || hi == TECH_AUTO) {
		w = "auto is no technique of its own";
	} else if (lo == TECH_PREDICT || hi == TECH_PREDICT) {
		enum technique other = lo == TECH_PREDICT ? hi : lo;

		if (other == TECH_BIRTHDAY)
			w = "birthday's sockets take a sequential NAT's next ports, the ones predict "
			    "aims at";
		else if (other == TECH_TCP_TTL)
			w = "tcp-ttl's hop probes are new flows that take a sequential NAT's next "
			    "ports, the ones predict aims at";
		else
			w = "punching from another socket opens new flows that take a sequential "
			    "NAT's next ports (predict's own socket punches them as its last "
			    "targets)";
	} else if (lo == TECH_TCP && hi == TECH_TCP_TTL) {
		w = "both open the same 4-tuple: a full-TTL SYN before tcp-ttl's primed one draws "
		    "the RST tcp-ttl avoids";
	} else {
		/* udp with birthday: birthday punches from its main socket like udp, and its
		 * extra sockets and spray land on a random NAT, whose ports no one predicts.
		 * (Pairs of different transports never meet in one run.) */
		return true;
	}
	if (why)
		*why = w;
	return false;
}

bool race_covers(int proto, enum technique lead, enum technique tech)
{
	if (lead == tech)
		return true;
	if (tech == TECH_UDP)
		return proto == PROTO_UDP && (lead == TECH_PREDICT || lead == TECH_BIRTHDAY ||
					      lead == TECH_PORTMAP);
	if (tech == TECH_TCP)
		return proto == PROTO_TCP && lead == TECH_PREDICT;
	return false;
}

int race_first_step(int proto, const struct wire_natinfo *own, const struct wire_natinfo *peer)
{
	enum technique want;
	const struct auto_step *steps;
	int n, i;

	if (own->kind == NAT_SEQUENTIAL || peer->kind == NAT_SEQUENTIAL)
		want = TECH_PREDICT;
	else if (proto == PROTO_UDP && ((per_destination(own->kind) && coneish(peer->kind)) ||
					(per_destination(peer->kind) && coneish(own->kind))))
		want = TECH_BIRTHDAY;
	else
		return 0;
	steps = auto_steps(proto, &n);
	for (i = 0; i < n; i++)
		if (steps[i].tech == want)
			return i;
	return 0;
}

bool race_relay_alongside(enum technique tech, bool relay_ok)
{
	return relay_ok && tech != TECH_RELAY && tech != TECH_AUTO;
}
