/* The behaviour classifier: build a small lab around one profile and measure, with real packets,
 * what its header declares (RFC 4787 / RFC 5780 mapping and filtering, port allocation,
 * hairpinning and its filtering, the answer to unsolicited inbound traffic, the UDP mapping
 * lifetime, the transports the NAT handles).
 *
 * The lab is any topology with the roles peer-a (the host behind the NAT), nat-a (the NAT under
 * test, which gets the profile) and rendezvous (the probe server, which needs two addresses of
 * the profile's family); two-nats is the default, and an IPv6 profile (header "family: ipv6")
 * is measured over IPv6, in two-nats-dual when the topology given has no IPv6. A node that
 * does not translate (an IPv6 firewall: the server sees the host's own endpoint) is measured
 * the same way, its host's address being the public one; its mapping reads "no translation"
 * and hairpinning, which needs a translated public endpoint, is not measured. All probing is done from sockets this process opens
 * inside the nodes (lab_socket()), from the calling thread, so several profiles can be
 * classified in parallel threads, each with its own lab.
 *
 * Every test runs CLASSIFY_ROUNDS times, each round with its own internal endpoints (the rounds
 * are set up one after the other and their inbound probes waited for together, so that the
 * waits for what never comes overlap). A key gets a value only when every round measured it
 * and all agree; rounds that disagree are reported as such (classify_measured() says
 * "disagree", the note lists the answers), never silently as a match or a mismatch.
 *
 * How each key is measured, for UDP and for TCP alike:
 *   transports  the NAT handles a transport when the server saw the mapping test's traffic
 *              from the NAT's public address and answered it (TCP: the handshake completed).
 *   mapping    one internal endpoint talks to S1:P1, S1:P2, S2:P1 and S2:P2; the public
 *              endpoints the server sees are all equal (endpoint-independent), equal per server
 *              address (address-dependent), or else address-and-port-dependent.
 *   filtering  three fresh internal endpoints each talk to S1:P1; then S2:P2 writes to the
 *              first's public endpoint, S1:P2 to the second's, and a control that must get
 *              through to the third's (UDP: a reply from S1:P1; TCP: a SYN from the remote
 *              endpoint the third endpoint's own SYN went to, which conntrack takes for a
 *              simultaneous open). The first one reached gives the filtering behaviour; without
 *              the control, nothing is concluded.
 *   ports      four internal endpoints with consecutive ports talk to S1:P1: the public ports
 *              are the internal ones (preserve), or step by a constant stride (sequential), or
 *              neither (random).
 *   hairpin    two internal endpoints A and P, each with a public endpoint, write to each
 *              other's public endpoint (TCP: a simultaneous open). Hairpinning works when it
 *              arrives AND the receiver sees the sender's public endpoint as its source (RFC
 *              4787 REQ-9); arriving from a private source counts as no hairpinning.
 *   hairpin-filtering  with hairpinning working (the test above is the control): a sender
 *              writes to the public endpoint of a target that never sent to the NAT's public
 *              address (gets through: endpoint-independent); another target first writes to a
 *              third endpoint's public endpoint and then receives from a fourth's (gets
 *              through: address-dependent); else address-and-port-dependent. Without
 *              hairpinning: none.
 *   tcp-unsolicited  the server sends a SYN (and, in the UDP column, a datagram) to an unused
 *              public port, and from its other address to a MAPPED public port (one an
 *              outbound flow to S1 opened: the case a peer's first SYN meets). RST (ICMP port
 *              unreachable) is "rst", silence is "drop"; a probe the NAT lets in (endpoint-
 *              independent filtering) says nothing. Unmapped and mapped answers must agree.
 *              The control: a SYN and a datagram to a closed port of the NAT's upstream router
 *              must come back refused, or silence proves nothing.
 *   udp-timeout  by default from conntrack: the remaining timeout (CTA_TIMEOUT) of a UDP
 *              mapping read right after it was made and right after it was replied must be the
 *              declared value (1 s slack per second elapsed). With classify_opts.timeouts also
 *              end to end: mappings made at once are probed by their remote after increasing
 *              delays; the lifetime lies between the last one alive and the first one gone.
 * rfc3489 and predictable are derived from the measured mapping, filtering and ports. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "base/out.h"
#include "ct/conntrack.h"
#include "lab/topo.h"
#include "nft/profile.h"

#define CLASSIFY_ROUNDS 3
/* The lab of an IPv6 profile (header "family: ipv6") when the topology given has no IPv6 on
 * the host, the server (two addresses) or the NAT's WAN: the dual-stack two-nats. */
#define CLASSIFY_TOPOLOGY_IPV6 "two-nats-dual"
/* How classify_measured() spells a node that does not translate (mapping), and a key that
 * does not apply to it (hairpin, hairpin-filtering). */
#define CLASSIFY_NO_TRANSLATION "no translation"
#define CLASSIFY_NOT_APPLICABLE "n/a"

struct classify_opts {
	int wait_ms;      /* how long to wait for something that may never come; default 500 */
	bool timeouts;    /* also measure the UDP mapping lifetime end to end (slow) */
};

enum classify_transport { CLASSIFY_UDP, CLASSIFY_TCP, CLASSIFY_NTRANSPORTS };

/* What one round of one transport measured, and (in struct classify_result) what the rounds
 * agreed on. A *_known flag is false when the test could not decide (the reason is in note);
 * an unknown value is a mismatch. */
struct classify_measure {
	bool handled_known, mapping_known, filtering_known, ports_known, hairpin_known;
	bool hairpin_filtering_known, unsolicited_known, mapped_unsolicited_known;
	bool handled;                        /* the NAT passes this transport */
	/* the server saw every mapping test's internal endpoint unchanged: the node filters
	 * but does not translate (an IPv6 firewall); mapping reads "no translation" (and
	 * counts as the endpoint-independent a header declares), hairpin does not apply */
	bool no_translation;
	enum profile_dependency mapping, filtering;
	enum profile_ports ports;
	int stride;                          /* sequential ports: the step */
	bool hairpin;
	enum profile_dependency hairpin_filtering; /* PROFILE_DEPENDENCY_NONE without hairpin */
	enum profile_unsolicited unsolicited;      /* to an unmapped public port */
	/* to a mapped public port; mapped_unsolicited_let_in: the NAT let the probe in (endpoint-
	 * independent filtering), so it tells nothing about unsolicited SYNs */
	enum profile_unsolicited mapped_unsolicited;
	bool mapped_unsolicited_let_in;
	/* conntrack's remaining UDP timeout right after a mapping was made / was replied, in s;
	 * -1 unknown; conntrack_slack: seconds that passed between the packet and the reading */
	int ct_unreplied, ct_replied, ct_slack;
	unsigned disagree;                   /* bit (1u << enum profile_key): rounds differ */
	char note[320];                      /* what went wrong, when something did */
};

#define CLASSIFY_EVIDENCE_MAX 96

struct classify_result {
	struct profile_header declared;
	int family;                          /* AF_INET or AF_INET6: what was probed */
	char topology[64];                   /* the lab's topology name */
	struct classify_measure m[CLASSIFY_NTRANSPORTS];               /* the rounds combined */
	struct classify_measure round[CLASSIFY_ROUNDS][CLASSIFY_NTRANSPORTS];
	int nrounds;
	/* UDP mapping lifetime end to end (--timeouts, then timeouts is set): alive after
	 * lifetime_lo s, gone after lifetime_hi s; -1 when not measured (lifetime_hi -1 alone:
	 * never seen gone). Asked for and not measured is a mismatch. */
	bool timeouts;
	int lifetime_lo, lifetime_hi;
	/* Evidence: the observations behind the values, one line each ("udp mapping: ..."). */
	char evidence[CLASSIFY_EVIDENCE_MAX][256];
	int nevidence;
	struct ct_mappings conntrack;        /* the NAT node's mappings after the tests */
	unsigned mismatches;                 /* bit (1u << enum profile_key) per differing key */
	double elapsed_ms;
	/* Not measured: the header's outbound line keeps UDP (or every port but a few) from
	 * leaving, and every test needs UDP and TCP to the probe server's own ports; the matrix's
	 * cells of such a profile (tests/lab/fallback.sh) are its measurement. */
	bool unmeasured;
};

/* Classify the profile file `profile` in a fresh lab built from topology t (its nat-a node gets
 * the profile). Parses the header first: a bad header, a ruleset that does not load, or a
 * topology without the needed roles adds FILE:LINE diagnostics to dl and returns -EINVAL before
 * or without leaving any lab behind. Returns 0 when the measurement ran (r filled, mismatches
 * set by classify_compare()), else -errno. The caller releases r with classify_result_free(). */
int classify_profile(const struct topo *t, const char *profile, const struct classify_opts *opts,
		     struct classify_result *r, struct diag_list *dl);

/* The lab a profile is measured in when nobody names one: "two-nats", or "two-firewalls" for an
 * IPv4 profile that translates nothing (header "translation: none"): its home is on public
 * addresses that the internet router must route, which two-nats's private LANs are not (an IPv6
 * profile's lab is two-nats-dual, whose homes are routed, whatever the translation). */
const char *classify_default_topology(const struct profile_header *h);

/* Classify, in parallel, the profile of every NAT node of `used` other than the nodes with the
 * roles nat-a and nat-b (whose profiles a matrix cell sets): the CGN of double-nat, say. Each
 * is measured in a lab built from `lab_topo` (e.g. two-nats). Returns 0 when every such profile
 * behaves as declared (or there is none); 1 when one does not or could not be measured, with
 * a sentence naming the node, the profile and the keys in why; -errno on a setup failure. *n
 * (when not NULL) gets the number of profiles classified. */
int classify_topology_profiles(const struct topo *lab_topo, const struct topo *used,
			       const struct classify_opts *opts, char *why, size_t len, int *n);

/* Release what r owns (the conntrack dump); NULL is a no-op. */
void classify_result_free(struct classify_result *r);

/* Combine the rounds r->round[0..nrounds-1] into r->m: a value where every round knows it and
 * all agree, a disagree bit (and a note listing the answers) where known answers differ. */
void classify_combine(struct classify_result *r);

/* Compare measured with declared for every key and every transport the header covers; sets and
 * returns r->mismatches. */
unsigned classify_compare(struct classify_result *r);

/* Whether key k over transport tr differs from the header (only for compared keys). */
bool classify_mismatch(const struct classify_result *r, enum profile_key k,
		       enum classify_transport tr);

/* The declared value of key k as a header spells it (ports with a stride other than 1 as
 * "sequential, stride 3"). Returns buf. */
char *classify_declared(const struct classify_result *r, enum profile_key k, char *buf,
			size_t len);

/* The measured value of key k over transport tr in the same spelling: "?" when unknown,
 * "disagree" when the rounds differ, "-" when the key is not measured over that transport
 * (udp-timeout over TCP). transports reads "yes" or "no" per column. Returns buf. */
char *classify_measured(const struct classify_result *r, enum profile_key k,
			enum classify_transport tr, char *buf, size_t len);

/* Whether the measured value of k over tr is compared with the declared one: transports always;
 * other keys when the header covers the transport and the NAT was measured to handle it;
 * hairpin-filtering when hairpin is declared and measured yes. */
bool classify_compared(const struct classify_result *r, enum profile_key k,
		       enum classify_transport tr);

/* Pure helpers (unit-tested). The mapping behaviour from the public endpoints (address, port)
 * seen by S1:P1, S1:P2, S2:P1 and S2:P2, in that order, for one internal endpoint. */
enum profile_dependency classify_mapping_of(const uint32_t addr[4], const uint16_t port[4]);

/* Port allocation from n >= 3 internal ports and the public ports they got, in the order they
 * were made: preserve, sequential (with *stride, 1..PROFILE_STRIDE_MAX) or random. */
enum profile_ports classify_ports_of(const uint16_t *internal, const uint16_t *pub, int n,
				     int *stride);

/* Hairpin filtering from its three probes: control (the mutual exchange) arrived from the
 * sender's public endpoint; ei (to a target that never wrote to the public address) and ad (to
 * a target that wrote to the public address, another port) arrived. NONE without control. */
enum profile_dependency classify_hairpin_filtering_of(bool control, bool ei, bool ad);
