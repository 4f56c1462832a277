/* The theory: what RFC 4787 / RFC 5382 reasoning predicts for a cell, computed from the two
 * profiles' headers, the layout of the topology, the transport and the technique. Never typed
 * in by hand and never tuned to a measurement: if the matrix disagrees with it, that is a
 * finding about the NAT, the engine or this reasoning. Pure code. */
#pragma once
#include <stdbool.h>

#include "matrix/results.h"
#include "nft/profile.h"

/* How the two peers sit, derived from the topology's roles. */
enum theory_layout {
	LAYOUT_TWO_NATS,      /* each peer behind its own NAT, the NATs on the public side */
	LAYOUT_PUBLIC_B,      /* peer B on a public address, no NAT */
	LAYOUT_SAME_LAN,      /* both peers on one LAN behind one NAT */
	LAYOUT_SHARED_OUTER,  /* each behind its own NAT, both NATs behind one outer NAT (CGN) */
	LAYOUT_TWO_LEVEL,     /* each behind its own NAT behind an outer NAT of its own (two-level) */
};

struct theory_input {
	const struct profile_header *a, *b; /* b NULL unless the layout has a NAT B */
	const struct profile_header *outer; /* LAYOUT_SHARED_OUTER: the outer NAT */
	/* LAYOUT_TWO_LEVEL: each side's own outer NAT (NULL: unknown, taken as no NAT) */
	const struct profile_header *outer_a, *outer_b;
	enum theory_layout layout;
	bool tcp;
	const char *technique;              /* udp, tcp, tcp-ttl, predict, birthday, relay, auto */
	/* The engine's capabilities (its engine file), both false for one like punch:
	 * fixed_port: no rendezvous; each peer aims at the other NAT's public address at the port
	 * it binds itself, so a side is known only when its NAT preserves that port (seed 002);
	 * no_reflexive: it answers only the endpoint it aimed at, never a peer-reflexive source. */
	bool fixed_port, no_reflexive;
	/* quits_on_icmp: it gives up at an ICMP port unreachable; peer A speaks first (B starts
	 * --stagger later), so a NAT B that answers unsolicited traffic (tcp-unsolicited: rst;
	 * UDP then gets ICMP port unreachable) ends A before B's mapping exists */
	bool quits_on_icmp;
	/* relay_fallback: the engine's data goes through its server wherever no direct path is
	 * made, in every technique (n2n's supernode): such a cell is relayed, not failed */
	bool relay_fallback;
	/* single_probe: each side sends one probe toward the other, peer A's first (it speaks
	 * first), and never repeats it: a probe that meets a closed filter is lost for good */
	bool single_probe;
	/* fresh_port_dials: its direct dials leave from a fresh ephemeral port, never the port it
	 * listens on and announces (js-libp2p over TCP, no SO_REUSEPORT): no NAT ever maps the
	 * announced port, so only a side without a NAT accepts the other's dial */
	bool fresh_port_dials;
	/* the port of the rendezvous server and relay (0: 3478); a network with an outbound
	 * port list reaches them only on a listed port (theory_outbound.c) */
	int rendezvous_port;
	/* port_mapping: it asks the router for a mapping of its socket and announces it, over
	 * UDP in the techniques portmap (NAT-PMP, then UPnP-IGD) and auto (NAT-PMP only); a
	 * profile whose header offers that protocol (portmap:) then grants an
	 * endpoint-independent, unfiltered mapping for that socket (theory.c portmap_side) */
	bool port_mapping;
	/* relay_tcp: its relay is reached over TCP (or TLS) to the rendezvous port as well, in a
	 * cell of either transport (ice's TURN over TLS): a network that lets out no UDP, or only
	 * TCP to a few ports, still reaches the relay when the port is one of them
	 * (theory_outbound.c) */
	bool relay_tcp;
	/* nat64_a, nat64_b: that peer is IPv6-only behind a NAT64 (topology key nat64, family 4
	 * cells): tayga translates its packets statelessly, one for one, into an IPv4 address
	 * of its pool, and the node's IPv4 profile then maps and filters them as the LAN's, so
	 * that profile decides, as for a host with IPv4 (docs/matrix.md "NAT64") */
	bool nat64_a, nat64_b;
};

struct theory {
	enum cell_outcome outcome;          /* CELL_SKIPPED: outside the declared behaviour */
	bool timing_dependent;              /* a race (e.g. an RST NAT during simultaneous open) */
	bool probabilistic;                 /* e.g. birthday probing */
	/* for a timing-dependent or probabilistic cell: what the chance is about ("rst-race",
	 * "birthday"; expectations file rates are keyed by it, so a profile is judged by its
	 * behaviour, not its name) and the outcome when the chance is lost (failed, or for auto
	 * where its next steps end) */
	const char *mechanism;
	enum cell_outcome fallback;
	char why[320];                      /* the reasoning, one or two sentences */
	/* dual cells (theory_predict_dual): the family the path is expected on, "6", "4" or
	 * "4 or 6" (both can be direct, even if one only by timing or chance: either may win
	 * the race); NULL for a one-family cell */
	const char *family;
	/* the same as a set (FAMILY_BIT of results.h): what the cell's attested family is judged
	 * against (refs.expected_families); 0 for a one-family cell */
	unsigned families;
};

void theory_predict(const struct theory_input *in, struct theory *out);

/* A dual cell (docs/matrix.md "Address families"): both peers have both families and the
 * engine races them (RFC 8305), so the cell connects as well as its better family does. v4 is
 * the input over the two IPv4 profiles, v6 over the two IPv6 companions (same layout, transport,
 * technique and engine). The outcome is the better of the two predictions (direct before
 * relayed before failed); between two of the same outcome the determined one (a race or a
 * chance on one family is no race when the other family is certain), then IPv6. The chosen
 * family's class (timing_dependent, probabilistic, mechanism, fallback) carries over; when
 * neither family is direct the cell is determined. why names both families' reasoning. */
void theory_predict_dual(const struct theory_input *v4, const struct theory_input *v6,
			 struct theory *out);

/* Set in's engine flags (fixed_port ... single_probe) from the engines' capability bits (enum
 * ef_capability): caps_a is peer A's engine's, caps_b peer B's (the same for one engine). An
 * engine pair is judged by what both sides can do: a capability (rendezvous, peer-reflexive,
 * ignores-icmp-errors, relay-fallback) counts only when both engines have it, and a limitation
 * (single-probe) counts when either has it, since the weaker side sets what the pair can do. */
void theory_input_set_engines(struct theory_input *in, unsigned caps_a, unsigned caps_b);
/* The capability bits a pair of engines shares (the same rule), for reports. */
unsigned theory_caps_shared(unsigned caps_a, unsigned caps_b);

/* The cell class of a prediction: determined, timing-dependent or probabilistic. */
enum cell_class theory_class(const struct theory *t);
