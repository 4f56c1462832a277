/* The theory of networks that force a fallback (profile header key outbound, issue 15): an
 * egress filter in front of a NAT that blocks all UDP, or lets out only TCP to a few ports.
 * Kept apart from theory.c's punching reasoning: it does not refine how a hole is punched, it
 * says which paths exist at all, and overrides the punching verdict when a path is missing. */
#include <stdio.h>
#include <string.h>

#include "matrix/theory.h"
#include "matrix/theory_outbound.h"

#define DEFAULT_RENDEZVOUS_PORT 3478

/* The first side (A, then B) whose network keeps this transport from port out, or NULL. */
static const struct profile_header *blocking(const struct theory_input *in, bool tcp, int port)
{
	if (in->a && !profile_outbound_allows(in->a, tcp, port))
		return in->a;
	if (in->b && !profile_outbound_allows(in->b, tcp, port))
		return in->b;
	return NULL;
}

/* Returns true when it decided the cell (t filled); false: the punching reasoning stands. */
bool theory_outbound(const struct theory_input *in, struct theory *t)
{
	int port = in->rendezvous_port ? in->rendezvous_port : DEFAULT_RENDEZVOUS_PORT;
	const struct profile_header *h;
	char ob[64];

	/* The server first: registration (and the relay) go over the cell's transport to the
	 * rendezvous port. A peer that cannot reach it learns nothing about the other. */
	h = blocking(in, in->tcp, port);
	if (h && !in->tcp && in->relay_tcp && in->relay_fallback && !blocking(in, true, port)) {
		/* an engine whose relay is reached over TCP too (ice: TURN over TLS on the same
		 * port) gets its data through the relay; nothing of UDP leaves h for a direct path */
		memset(t, 0, sizeof(*t));
		t->outcome = CELL_RELAYED;
		snprintf(t->why, sizeof(t->why), "%s lets out only %s: no UDP reaches the other "
			 "peer or the rendezvous port %d, but the engine's relay does over TCP (TURN "
			 "over TCP/TLS): relayed", h->name, profile_outbound_format(h, ob, sizeof(ob)),
			 port);
		return true;
	}
	if (h && !in->tcp && strcmp(in->technique, "auto") == 0) {
		/* punch's auto over UDP without a peer after 2.5 s goes on over TCP (docs/punch.md
		 * "Fallback to TCP"): the cell is then its TCP twin, with less time */
		struct theory_input tcp_in = *in;
		char tmp[sizeof(t->why)];

		tcp_in.tcp = true;
		tcp_in.nat64_a = tcp_in.nat64_b = false; /* the outer call says it, once */
		theory_predict(&tcp_in, t);
		snprintf(tmp, sizeof(tmp), "%s lets out no UDP; auto falls back to TCP: %s", h->name,
			 t->why);
		memcpy(t->why, tmp, sizeof(t->why));
		return true;
	}
	if (h) {
		memset(t, 0, sizeof(*t));
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "%s lets out only %s: its peer's %s registration "
			 "to the rendezvous port %d never leaves, so no technique, not even the "
			 "relay, starts: failed", h->name,
			 profile_outbound_format(h, ob, sizeof(ob)), in->tcp ? "tcp" : "udp", port);
		return true;
	}
	/* The server is reachable but a direct path needs packets to the other peer's own
	 * (ephemeral) port, which only a network with no port list lets out. */
	h = in->a && in->a->outbound_nports ? in->a : in->b && in->b->outbound_nports ? in->b
										    : NULL;
	if (!h || !in->tcp)
		return false;
	memset(t, 0, sizeof(*t));
	if (strcmp(in->technique, "relay") == 0 || strcmp(in->technique, "auto") == 0 ||
	    in->relay_fallback) {
		t->outcome = CELL_RELAYED;
		snprintf(t->why, sizeof(t->why), "%s lets out only %s: the relay on port %d is "
			 "reachable, a SYN to the other peer's port is not: relayed", h->name,
			 profile_outbound_format(h, ob, sizeof(ob)), port);
	} else {
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "%s lets out only %s: a SYN to the other peer's "
			 "port never leaves: failed", h->name,
			 profile_outbound_format(h, ob, sizeof(ob)));
	}
	return true;
}
