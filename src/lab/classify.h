/* The behaviour classifier: build a small lab around one profile and measure, with real packets,
 * what its header declares (RFC 4787 / RFC 5780 mapping and filtering, port allocation,
 * hairpinning, the answer to unsolicited inbound traffic, the UDP mapping lifetime).
 *
 * The lab is any topology with the roles peer-a (the host behind the NAT), nat-a (the NAT under
 * test, which gets the profile) and rendezvous (the probe server, which needs two IPv4
 * addresses); two-nats is the default. All probing is done from sockets this process opens
 * inside the nodes (lab_socket()), from the calling thread, so several profiles can be
 * classified in parallel threads, each with its own lab.
 *
 * How each key is measured, for UDP and for TCP alike:
 *   mapping    one internal endpoint talks to S1:P1, S1:P2, S2:P1 and S2:P2; the public
 *              endpoints the server sees are all equal (endpoint-independent), equal per server
 *              address (address-dependent), or else address-and-port-dependent.
 *   filtering  three fresh internal endpoints each talk to S1:P1; then S2:P2 writes to the
 *              first's public endpoint, S1:P2 to the second's, S1:P1 (the control: a reply) to
 *              the third's. The first one reached gives the filtering behaviour.
 *   ports      four internal endpoints with consecutive ports talk to S1:P1: the public ports
 *              are the internal ones (preserve), or step by a constant stride (sequential), or
 *              neither (random).
 *   hairpin    a second internal endpoint writes to the first's public endpoint.
 *   tcp-unsolicited  the server sends a SYN (and, in the UDP column, a datagram) to an unused
 *              public port: RST (ICMP port unreachable) is "rst", silence is "drop".
 *   udp-timeout (with classify_opts.timeouts) mappings made at once are probed by their remote
 *              after increasing delays; the lifetime lies between the last one alive and the
 *              first one gone.
 * rfc3489 and predictable are derived from the measured mapping, filtering and ports. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "base/out.h"
#include "ct/conntrack.h"
#include "lab/topo.h"
#include "nft/profile.h"

struct classify_opts {
	int wait_ms;      /* how long to wait for something that may never come; default 500 */
	bool timeouts;    /* also measure the UDP mapping lifetime (slow: about the timeout) */
};

enum classify_transport { CLASSIFY_UDP, CLASSIFY_TCP, CLASSIFY_NTRANSPORTS };

/* What one transport measured. A *_known flag is false when the test could not decide (the
 * reason is in note); an unknown value is a mismatch. */
struct classify_measure {
	bool mapping_known, filtering_known, ports_known, hairpin_known, unsolicited_known;
	enum profile_dependency mapping, filtering;
	enum profile_ports ports;
	int stride;                          /* sequential ports: the step */
	bool hairpin;
	enum profile_unsolicited unsolicited;
	char note[256];                      /* what went wrong, when something did */
};

#define CLASSIFY_EVIDENCE_MAX 48

struct classify_result {
	struct profile_header declared;
	struct classify_measure m[CLASSIFY_NTRANSPORTS];
	/* UDP mapping lifetime: alive after lifetime_lo s, gone after lifetime_hi s; -1 when not
	 * measured (lifetime_hi -1 alone: never seen gone within the bound). */
	int lifetime_lo, lifetime_hi;
	/* Evidence: the observations behind the values, one line each ("udp mapping: ..."). */
	char evidence[CLASSIFY_EVIDENCE_MAX][160];
	int nevidence;
	struct ct_mappings conntrack;        /* the NAT node's mappings after the tests */
	unsigned mismatches;                 /* bit (1u << enum profile_key) per differing key */
	double elapsed_ms;
};

/* Classify the profile file `profile` in a fresh lab built from topology t (its nat-a node gets
 * the profile). Parses the header first: a bad header, a ruleset that does not load, or a
 * topology without the needed roles adds FILE:LINE diagnostics to dl and returns -EINVAL before
 * or without leaving any lab behind. Returns 0 when the measurement ran (r filled, mismatches
 * set by classify_compare()), else -errno. The caller releases r with classify_result_free(). */
int classify_profile(const struct topo *t, const char *profile, const struct classify_opts *opts,
		     struct classify_result *r, struct diag_list *dl);

/* Release what r owns (the conntrack dump); NULL is a no-op. */
void classify_result_free(struct classify_result *r);

/* Compare measured with declared for every key and every transport the header covers; sets and
 * returns r->mismatches. */
unsigned classify_compare(struct classify_result *r);

/* The declared value of key k as a header spells it (ports with a stride other than 1 as
 * "sequential, stride 3"). Returns buf. */
char *classify_declared(const struct classify_result *r, enum profile_key k, char *buf,
			size_t len);

/* The measured value of key k over transport tr in the same spelling: "?" when unknown, "-"
 * when the key is not measured over that transport (udp-timeout over TCP, or any key
 * without --timeouts). Returns buf. */
char *classify_measured(const struct classify_result *r, enum profile_key k,
			enum classify_transport tr, char *buf, size_t len);

/* Whether the measured value of k over tr is compared with the declared one (the header covers
 * the transport and the key was measured). */
bool classify_compared(const struct classify_result *r, enum profile_key k,
		       enum classify_transport tr);

/* Pure helpers (unit-tested). The mapping behaviour from the public endpoints (address, port)
 * seen by S1:P1, S1:P2, S2:P1 and S2:P2, in that order, for one internal endpoint. */
enum profile_dependency classify_mapping_of(const uint32_t addr[4], const uint16_t port[4]);

/* Port allocation from n >= 3 internal ports and the public ports they got, in the order they
 * were made: preserve, sequential (with *stride, 1..PROFILE_STRIDE_MAX) or random. */
enum profile_ports classify_ports_of(const uint16_t *internal, const uint16_t *pub, int n,
				     int *stride);
