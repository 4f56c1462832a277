/* Attestation: the lab's own evidence for a run's path, so that a cell's verdict never rests on
 * the engine's word alone (issue 9; what it checks and what it cannot see: docs/attestation.md).
 *
 * Every NAT node counts packets and bytes per direction of each conntrack flow
 * (nf_conntrack_acct, turned on by the lab). After the engine is done, each peer's own NAT is
 * read: a "two-way flow" has packets counted in both directions (for TCP also a handshake that
 * completed: ESTABLISHED or a closing state after it, or ASSURED).
 *   - direct: for every peer behind a NAT, its NAT holds a two-way flow of the cell's transport
 *     between that peer's host and an address of the other side (the other NAT's public
 *     address, a shared outer NAT's public address, the other host), not touching the relay;
 *   - relayed: each such NAT holds a two-way flow between its host and the relay, and not
 *     direct;
 *   - none: neither.
 * Pure code over conntrack dumps (unit-tested); the cell runner collects the dumps. */
#pragma once
#include <netinet/in.h>
#include <stddef.h>

#include "ct/conntrack.h"
#include "matrix/results.h"

#define ATTEST_MAX_ADDRS 16

struct attest_side {
	const char *nat_name;                 /* the peer's own NAT node; NULL: the peer has none */
	const struct ct_mappings *flows;      /* that NAT's conntrack (NULL when it has none) */
	struct in_addr host[ATTEST_MAX_ADDRS];  /* the peer's host addresses */
	int nhost;
	struct in_addr other[ATTEST_MAX_ADDRS]; /* addresses of the other side as this NAT may see
						 * them */
	int nother;
	/* this peer's own transport when the peers' paths differ (ice: one side reaches its TURN
	 * relay over TLS, the other sends UDP to that relay's address); 0: the input's proto */
	uint8_t proto;
};

struct attest_input {
	struct attest_side side[2];           /* peer A, peer B */
	struct in_addr relay[ATTEST_MAX_ADDRS]; /* the rendezvous / relay node's addresses */
	int nrelay;
	uint8_t proto;                        /* IPPROTO_UDP or IPPROTO_TCP: the cell's transport */
};

/* Fill *out (verdict, summary, evidence) from the NATs' flows. */
void attest_path(const struct attest_input *in, struct run_attestation *out);

/* The run's outcome from the engine's word and the lab's evidence: direct needs direct evidence,
 * relayed needs relay (or direct) evidence, else disputed; failed stays failed (a direct path the
 * engine missed is noted in *note). error and skipped pass through. */
enum cell_outcome attest_judge(enum cell_outcome engine_said, const struct run_attestation *a,
			       char *note, size_t len);
