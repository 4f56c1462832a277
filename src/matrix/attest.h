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
 *     when the peer's engine reported its path (its socket's address and the peer endpoint it
 *     verified), the flow must join exactly those: the reported peer endpoint, address and
 *     port, at one end, the peer's host at the other;
 *   - relayed: each such NAT holds a two-way flow between its host and the relay, and not
 *     direct;
 *   - none: neither.
 * Any address family: IPv4, IPv6, a cell whose peers have both (addresses are struct net_addr,
 * flows ct_mapping of either family). A "NAT" is the peer's gateway node, whatever its profile
 * does: a firewall that does not translate (ipv6-firewall, an IPv4 firewall-only profile) holds
 * flows without NAT, which count the same (for those the flow may have been opened from either
 * side: an endpoint-independent filter lets the other peer's first probe in).
 * attest_path() is pure code over conntrack dumps (unit-tested); attest_lab() collects what it
 * needs from a lab (attest_lab.c). */
#pragma once
#include <netinet/in.h>
#include <stddef.h>

#include "base/netaddr.h"
#include "ct/conntrack.h"
#include "matrix/results.h"

#define ATTEST_MAX_ADDRS 16

struct attest_side {
	const char *nat_name;                 /* the peer's own NAT node; NULL: the peer has none */
	const struct ct_mappings *flows;      /* that NAT's conntrack (NULL when it has none) */
	struct net_addr host[ATTEST_MAX_ADDRS];  /* the peer's host addresses (both families) */
	int nhost;
	struct net_addr other[ATTEST_MAX_ADDRS]; /* addresses of the other side as this NAT may
						  * see them */
	int nother;
	/* The path this peer's engine reported, when it did (claimed): the peer endpoint it
	 * verified (claimed_peer, port claimed_peer_port) and its socket's own address
	 * (claimed_local: family 0 when the engine gave none usable; only the address, since a
	 * technique with many sockets reports its first socket's port). Unclaimed: any two-way
	 * flow between the two sides counts. */
	bool claimed;
	struct net_addr claimed_local, claimed_peer;
	uint16_t claimed_peer_port;
	/* this peer's own transport when the peers' paths differ (ice: one side reaches its TURN
	 * relay over TLS, the other sends UDP to that relay's address); 0: the input's proto */
	uint8_t proto;
};

struct attest_input {
	struct attest_side side[2];           /* peer A, peer B */
	struct net_addr relay[ATTEST_MAX_ADDRS]; /* the rendezvous / relay node's addresses */
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

/* An engine's endpoint, "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6), into *a and *port.
 * Returns 0, or -EINVAL for anything else (empty, a name, no port, port 0). */
int attest_endpoint_parse(const char *s, struct net_addr *a, uint16_t *port);

struct lab;

/* What one peer's engine reported about its path (its result line); all zero: nothing. */
struct attest_report {
	const char *local;   /* its socket's local endpoint, "ADDR:PORT" or "[ADDR6]:PORT";
			      * NULL or "" when not said */
	const char *peer;    /* the peer endpoint it verified; NULL or "" when not said */
	uint8_t proto;       /* its own transport when the two peers' paths differ (see
			      * attest_side.proto); 0: the proto given to attest_lab() */
};

/* The one call for a cell of any family (IPv4, IPv6, dual), through NATs or firewalls alike:
 * attest the run's path in lab from flows[node] (one struct ct_mappings per node of the lab's
 * topology, as attest_lab_read() fills them: every flow of both families, translated or not;
 * only each peer's gateway node is read). proto: the transport to attest (IPPROTO_UDP or
 * IPPROTO_TCP). said[i] (said may be NULL): what peer i's engine reported; a side whose engine
 * named no readable endpoints is held to any flow between the two sides. Fills *out; never
 * fails (what it cannot read proves nothing: verdict none). */
void attest_lab(const struct lab *lab, uint8_t proto, const struct ct_mappings *flows,
		const struct attest_report said[2], struct run_attestation *out);

/* Dump the conntrack of every NAT node of lab into flows[node] (both families, translated or
 * not: ct_dump_flows(AF_UNSPEC), one walk of the kernel's table per node); other nodes' stay
 * empty. flows has one zeroed element per node; the caller frees each (ct_mappings_free()).
 * A node that cannot be read stays empty (its side then proves nothing). */
void attest_lab_read(const struct lab *lab, struct ct_mappings *flows);

/* Append to set (at most ATTEST_MAX_ADDRS in all, *n counts) the addresses node host of
 * topology t may show outside through NPTv6 in nat node nat (nat-profiles/nptv6.nft): each of
 * host's IPv6 addresses with the prefix of each other IPv6 network of nat's LAN link, of the
 * same length (the external prefix the topology puts there), interface identifier kept.
 * attest_lab() counts them as the other side's, so that a flow to the other host's external
 * address attests. */
struct topo;
void attest_nptv6_addrs(const struct topo *t, int host, int nat, struct net_addr *set, int *n);

/* Append to set (*n entries, at most ATTEST_MAX_ADDRS) node's IPv4 addresses as the IPv6-only
 * host of topology t reaches them through the NAT64 on its way out (embedded in its prefix,
 * RFC 6052): what that host's NAT holds as the far end of its flows before tayga translates
 * them (docs/matrix.md "NAT64"). Nothing when host has IPv4 or no NAT64 on its way. */
void attest_nat64_addrs(const struct topo *t, int host, int node, struct net_addr *set, int *n);

/* What attest_lab() gives attest_path(), from the topology alone (pure, so the unit tests build
 * a lab's input without a lab): each peer's host addresses, its gateway's flows (flows[node]),
 * the other side's addresses as that gateway may see them (NPTv6 and NAT64 included), the
 * engine's claims, and the relay's addresses (also as an IPv6-only peer reaches it through
 * NAT64). */
void attest_topo_input(const struct topo *t, uint8_t proto, const struct ct_mappings *flows,
		       const struct attest_report said[2], struct attest_input *out);
