/* relay: the rendezvous forwards the session's messages (seed "Peer to Peer - Hole
 * Punching", option 1: a public connection server). The payload is verified end to end
 * exactly as on a direct path; the outcome is "relayed". */
#include <errno.h>
#include <stdio.h>

#include "peer.h"

static int relay_start(struct peer *p)
{
	struct chan c = { .kind = CHAN_RELAY };

	if (!p->relay_ok) {
		snprintf(p->fail_reason, sizeof(p->fail_reason), "the rendezvous does not relay");
		return -EOPNOTSUPP;
	}
	peer_connected(p, &c, "relay");
	return 0;
}

static void relay_stop(struct peer *p)
{
	(void)p;
}

const struct tech_ops tech_relay_ops = {
	.id = TECH_RELAY,
	.start = relay_start,
	.stop = relay_stop,
};
