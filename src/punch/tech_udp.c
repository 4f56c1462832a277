/* udp: simultaneous probes from the socket that spoke to the rendezvous (its NAT mapping is
 * the public endpoint the other peer was told) to the other peer's public and private
 * endpoints, re-probed on a fast bounded schedule until a probe is acknowledged. Incoming
 * probes from unadvertised sources are adopted (peer.c). */
#include "peer.h"

int tech_udp_start(struct peer *p)
{
	struct sockaddr_storage t[1 + WIRE_MAX_EPS];
	int n = peer_targets(p, t), i;

	for (i = 0; i < n; i++)
		peer_cand_add(p, p->socks[0], &t[i], false, false);
	peer_probe_schedule_start(p);
	return 0;
}

void tech_udp_stop(struct peer *p)
{
	peer_cands_clear(p);
}

const struct tech_ops tech_udp_ops = {
	.id = TECH_UDP,
	.start = tech_udp_start,
	.stop = tech_udp_stop,
};
