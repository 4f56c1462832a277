/* The reasoning, in the terms of RFC 4787 (UDP) and RFC 5382 (TCP):
 *
 * A peer learns the other's public endpoint from the rendezvous server. That endpoint is the
 * one the other side will use toward it only when the other NAT maps endpoint-independently
 * (EIM), or, for the `predict` technique, when it allocates ports sequentially so the next one
 * can be predicted. Call such a side "known". Each peer sends toward the other, which opens
 * its own NAT's filter for the endpoint it sent to.
 *   - both known: each probe arrives at an endpoint whose filter the other side opened: direct;
 *   - one known (K), one not (U): U's probes come from a public port nobody announced; K's NAT
 *     lets them in only if its filtering ignores the port (endpoint-independent or
 *     address-dependent), and then K answers that peer-reflexive source: direct; with
 *     address-and-port-dependent filtering at K: failed;
 *   - neither known: failed.
 * `birthday` beats one random symmetric side facing an EIM side by probability (many sockets on
 * one side, many probes on the other). TCP adds RFC 5382's unsolicited SYN: a NAT that answers
 * it with RST (instead of dropping it) can abort the other side's simultaneous open, a race;
 * `tcp-ttl` sends the first SYN with a TTL that dies before the other NAT, so no RST. `relay`
 * always relays. `auto` tries the engine's techniques udp, predict, birthday over UDP and tcp,
 * tcp-ttl, predict over TCP, with the relay verified alongside and taken when none connects
 * (docs/punch.md: since the race its first round is the step that covers the ones before it,
 * chosen from both NAT reports; for the outcome only which steps can connect matters).
 *
 * Layouts where the peers meet by hairpinning: in same-nat the lab lets nothing pass between
 * the peers that their NAT did not translate, so a NAT without hairpin joins them by nothing
 * but the relay, and one with hairpin lets in what its declared `hairpin-filtering` admits; in
 * double-nat each home NAT composes with the CGN (side_compose). A hairpin reaches only a
 * mapping that already exists, so two sides that are both only predicted cannot meet there. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_file.h"
#include "matrix/theory.h"
#include "matrix/theory_outbound.h"

struct side {
	bool nat;
	bool eim;                            /* endpoint-independent mapping */
	enum profile_dependency filtering;
	enum profile_ports ports;
	bool rst;                            /* answers unsolicited TCP SYN with RST */
	bool hairpinned;                     /* the other peer reaches it by a NAT's hairpin */
	const char *name;
	/* the engine's (theory_input): no rendezvous, no answer to peer-reflexive sources, and
	 * giving up at an ICMP error */
	bool fixed_port, no_reflexive, quits_on_icmp;
	bool single_probe, is_b;  /* one probe per side, A's first; this side is peer B */
	bool fresh_port;          /* dials from a fresh port, never the announced one */
};

static struct side side_of(const struct profile_header *h)
{
	if (!h)
		return (struct side){ .nat = false, .eim = true,
				      .filtering = PROFILE_ENDPOINT_INDEPENDENT,
				      .ports = PROFILE_PORTS_PRESERVE, .name = "no NAT" };
	return (struct side){ .nat = true, .eim = h->mapping == PROFILE_ENDPOINT_INDEPENDENT,
			      .filtering = h->filtering, .ports = h->ports,
			      .rst = h->tcp_unsolicited == PROFILE_UNSOLICITED_RST, .name = h->name };
}

/* The stricter of two filtering behaviours (the enum is ordered from open to strict). */
static enum profile_dependency stricter(enum profile_dependency x, enum profile_dependency y)
{
	return x > y ? x : y;
}

/* What a NAT's hairpin lets through (header `hairpin-filtering`); a header that does not
 * declare it is taken to filter hairpinned packets like those from outside. */
static enum profile_dependency hairpin_filtering_of(const struct profile_header *h)
{
	return h->line[PROFILE_KEY_HAIRPIN_FILTERING] ? h->hairpin_filtering : h->filtering;
}

/* Two peers behind home NATs behind one outer NAT reach each other's public endpoints by
 * hairpinning in the outer NAT. Its mapping and port allocation compose with the home NAT's
 * (a per-destination or random choice at either level makes the port unknown). A hairpinned
 * packet enters the outer NAT from its inside, so its inbound filtering does not apply, but
 * its hairpin filtering does (the header's `hairpin-filtering`: which inside endpoints the
 * hairpin lets reach a mapping), on top of the home NAT's own filtering. */
/* What any two NAT levels on one path share: mapping endpoint-independent only when both are,
 * the less predictable port allocation of the two, and a reset from either. */
static struct side side_stack(struct side in, const struct side *o)
{
	in.eim = in.eim && o->eim;
	if (o->ports == PROFILE_PORTS_RANDOM || in.ports == PROFILE_PORTS_RANDOM)
		in.ports = PROFILE_PORTS_RANDOM;
	else if (o->ports == PROFILE_PORTS_SEQUENTIAL || in.ports == PROFILE_PORTS_SEQUENTIAL)
		in.ports = PROFILE_PORTS_SEQUENTIAL;
	in.rst = in.rst || o->rst;
	return in;
}

static struct side side_compose(struct side in, const struct profile_header *outer)
{
	struct side o = side_of(outer);

	in = side_stack(in, &o);
	if (outer)
		in.filtering = stricter(in.filtering, hairpin_filtering_of(outer));
	in.hairpinned = true;
	return in;
}

/* A home NAT behind an outer NAT of its own (two-level): the other peer's packets cross the
 * outer NAT from outside, so both filter (the stricter wins), and a port is known only when
 * both levels make it so (a per-destination or random choice at either makes it unknown). An
 * unsolicited SYN meets the outer NAT first; a reset from either level ends the same race.
 * Not modelled: a sequential inner NAT behind a preserving outer one is taken as sequential,
 * which holds while the outer port is free. */
static struct side side_chain(struct side in, const struct profile_header *outer)
{
	struct side o = side_of(outer);

	if (!outer)
		return in;
	in = side_stack(in, &o);
	in.filtering = stricter(in.filtering, o.filtering);
	return in;
}

/* Both peers behind one NAT (same-nat): each reaches the other only through the other's
 * public endpoint, turned around by that NAT; what lets a hairpinned packet in is the NAT's
 * hairpin filtering, not its filtering of the outside. */
static struct side side_hairpin(const struct profile_header *h)
{
	struct side s = side_of(h);

	s.filtering = hairpin_filtering_of(h);
	s.hairpinned = true;
	return s;
}

static bool known(const struct side *s, bool predict)
{
	/* without a rendezvous the other side aims at this NAT's public address and the port
	 * this peer bound: right only when the NAT keeps that port (for its first mapping, so
	 * endpoint-dependent mapping does not matter: one destination) */
	if (s->fixed_port)
		return s->ports == PROFILE_PORTS_PRESERVE;
	return s->eim || (predict && s->ports == PROFILE_PORTS_SEQUENTIAL);
}

static const char *filtering_word(enum profile_dependency f)
{
	return profile_dependency_name(f);
}

/* A direct outcome that comes only by chance: what the chance is about (its rate is measured
 * under that mechanism's name) and, when it is lost, failed (auto_reason sets its own). */
static void set_chance(struct theory *t, bool probabilistic, const char *mechanism)
{
	t->outcome = CELL_DIRECT;
	t->timing_dependent = !probabilistic;
	t->probabilistic = probabilistic;
	t->mechanism = mechanism;
	t->fallback = CELL_FAILED;
}

/* Plain punching (UDP) or simultaneous open (TCP), with or without port prediction. */
static void punch_reason(const struct side *a, const struct side *b, bool predict, bool tcp,
			 bool ttl, struct theory *t)
{
	bool ka = known(a, predict), kb = known(b, predict);
	const char *how = predict ? "maps endpoint-independently or allocates sequentially"
				  : "maps endpoint-independently";

	if (a->quits_on_icmp && !tcp && b->rst && ka && kb) {
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "peer A speaks first, %s answers its first datagram "
			 "with ICMP port unreachable (no mapping of B's yet), and the engine gives up "
			 "at an ICMP error: failed", b->name);
		return;
	}
	if (ttl && a->hairpinned && b->hairpinned) {
		/* tcp-ttl lets its SYN die at the first router beyond its own NATs, found by hop
		 * count (docs/punch.md). Between peers joined by a hairpin there is none: the hop
		 * after the home NAT is the NAT that hairpins, and it answers from the peers' own
		 * public address (seen in double-nat: the CGN's time-exceeded comes from
		 * 203.0.113.2), so every hop up to the other NAT counts as ours. */
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "the peers meet by a hairpin, so no router lies "
			 "between their NATs that is not one of them (the NAT that hairpins answers "
			 "from their own public address): tcp-ttl finds no hop for its SYN to die at: "
			 "failed");
	} else if (ka && kb && a->hairpinned && b->hairpinned && !a->eim && !b->eim) {
		/* A hairpin reaches only a mapping that exists. A predicted mapping is made by its
		 * side's first packet to the other side, which the NAT turns around only once the
		 * other side's predicted mapping exists: neither comes first. */
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "both sides' endpoints are only predicted, and the "
			 "NAT that turns their packets around hairpins a packet only to a mapping that "
			 "exists: each side's mapping toward the other waits for the other's: failed");
	} else if (ka && kb && !a->eim && !b->eim) {
		/* each side's probes are new flows that take its NAT's next ports, the ones the
		 * other side aims at: the two sides must walk the predicted ports in step (seen: 1
		 * run in 640 under load where they did not) */
		set_chance(t, false, "sequential-race");
		snprintf(t->why, sizeof(t->why), "both sides allocate sequentially, so each side's "
			 "port is predicted, but each probe takes the next port the other aims at: "
			 "direct when both walk the predicted ports in step, a race");
	} else if (ka && kb) {
		t->outcome = CELL_DIRECT;
		snprintf(t->why, sizeof(t->why), "both sides' public endpoints are known in advance "
			 "(each %s), so each side's probe opens its own filter for the other's: direct",
			 how);
	} else if (ka || kb) {
		const struct side *k = ka ? a : b, *u = ka ? b : a;
		if (k->no_reflexive) {
			t->outcome = CELL_FAILED;
			snprintf(t->why, sizeof(t->why), "%s's port is not the one announced, and the "
				 "engine answers only the endpoint it aims at, never a peer-reflexive "
				 "source: failed", u->name);
		} else if (k->single_probe && k->is_b && k->filtering == PROFILE_ADDRESS_DEPENDENT) {
			/* B's filter opens for A's address only when B sends toward it, which
			 * comes after A's one probe; an endpoint-independent filter needs no
			 * opening, and when A is the known side its probe opens A's filter before
			 * B's arrives */
			t->outcome = CELL_FAILED;
			snprintf(t->why, sizeof(t->why), "%s's one probe, from an unannounced port, "
				 "reaches %s's address-dependent filter before B has sent toward A's "
				 "address (A speaks first), and the engine never repeats it: failed",
				 u->name, k->name);
		} else if (k->filtering != PROFILE_ADDRESS_AND_PORT_DEPENDENT) {
			t->outcome = CELL_DIRECT;
			snprintf(t->why, sizeof(t->why), "%s's probes come from an unannounced port, "
				 "and %s's %s filtering lets them in; it answers that peer-reflexive "
				 "source: direct", u->name, k->name, filtering_word(k->filtering));
		} else {
			t->outcome = CELL_FAILED;
			snprintf(t->why, sizeof(t->why), "%s maps per destination%s, so its probes come "
				 "from a port %s never sent to, and %s filters on address and port: "
				 "failed", u->name, predict ? " with unpredictable ports" : "", k->name,
				 k->name);
		}
	} else {
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "both sides map per destination%s: neither can know "
			 "the port the other will use: failed",
			 predict ? " and at least one unpredictably" : "");
	}
	if (t->outcome == CELL_DIRECT && tcp && !ttl && (a->rst || b->rst)) {
		size_t n = strlen(t->why);
		/* both NATs answering with RST is a different race from one doing so (each side's
		 * first SYN can be reset), so its rate is recorded apart */
		set_chance(t, false, a->rst && b->rst ? "rst-race-both" : "rst-race");
		snprintf(t->why + n, sizeof(t->why) - n, "; but an early SYN meets a NAT that answers "
			 "unsolicited SYNs with RST, which aborts the simultaneous open: a race");
	}
}

static void birthday_reason(const struct side *a, const struct side *b, bool tcp,
			    struct theory *t)
{
	if (tcp) {
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "birthday probing is UDP-only here: failed");
		return;
	}
	if (a->eim && b->eim) {
		punch_reason(a, b, false, false, false, t);
		return;
	}
	if (a->eim != b->eim) {
		set_chance(t, true, "birthday");
		snprintf(t->why, sizeof(t->why), "one side maps per destination, the other "
			 "endpoint-independently: many sockets against many probes meet with high "
			 "probability (birthday paradox): direct, probabilistically");
		return;
	}
	t->outcome = CELL_FAILED;
	snprintf(t->why, sizeof(t->why), "both sides map per destination: no port to aim at on "
		 "either side: failed");
}

/* auto's steps (docs/punch.md): UDP udp, predict, birthday; TCP tcp, tcp-ttl, predict; the relay
 * verified alongside, the outcome when no direct path is. The engine races them (its first round
 * runs the step that covers the ones before it, chosen from both NAT reports; steps that disturb
 * each other's NAT state never run together), so the order of the steps decides no outcome:
 * a step that surely connects decides; a step that connects only by chance (a race, a birthday
 * draw) costs nothing when a sure one exists. When only chancy steps can connect, the cell is as
 * chancy as the first of them here, and losing it ends at the relay. */
static void auto_reason(const struct side *a, const struct side *b, bool tcp, struct theory *t)
{
	static const char *const udp_steps[] = { "udp", "predict", "birthday" };
	static const char *const tcp_steps[] = { "tcp", "tcp-ttl", "predict" };
	const char *const *steps = tcp ? tcp_steps : udp_steps;
	struct theory chance = { .outcome = CELL_FAILED }, first_plain = { 0 };
	const char *chance_step = NULL;

	for (int i = 0; i < 3; i++) {
		struct theory s = { 0 };

		if (strcmp(steps[i], "birthday") == 0)
			birthday_reason(a, b, tcp, &s);
		else
			punch_reason(a, b, strcmp(steps[i], "predict") == 0, tcp,
				     strcmp(steps[i], "tcp-ttl") == 0, &s);
		if (i == 0)
			first_plain = s;
		if (s.outcome != CELL_DIRECT)
			continue;
		if (!s.timing_dependent && !s.probabilistic) {
			*t = s;
			t->timing_dependent = t->probabilistic = false;
			t->mechanism = NULL;
			if (chance_step) {
				char tmp[sizeof(t->why)];
				snprintf(tmp, sizeof(tmp), "%s (if %s's chance is lost): %s", steps[i],
					 chance_step, s.why);
				memcpy(t->why, tmp, sizeof(t->why));
			} else if (i > 0) {
				char tmp[sizeof(t->why)];
				snprintf(tmp, sizeof(tmp), "%s: %s", steps[i], s.why);
				memcpy(t->why, tmp, sizeof(t->why));
			}
			return;
		}
		if (!chance_step) {
			chance = s;
			chance_step = steps[i];
		}
	}
	if (chance_step) {
		char tmp[sizeof(t->why)];
		*t = chance;
		t->fallback = CELL_RELAYED;
		snprintf(tmp, sizeof(tmp), "%s: %s; when lost, auto ends at the relay: relayed",
			 chance_step, chance.why);
		memcpy(t->why, tmp, sizeof(t->why));
		return;
	}
	t->outcome = CELL_RELAYED;
	snprintf(t->why, sizeof(t->why), "no direct technique applies (%s): relayed",
		 first_plain.why);
}

/* An engine whose direct dials leave from a fresh port (capability fresh-port-dials): the
 * address a side announces is its listening port, which its NAT never mapped (nothing left from
 * it), so a dial toward a NATed side meets no mapping; a side without a NAT accepts it, and the
 * dialing side's NAT passes an outbound connection whatever its profile. */
static void fresh_port_reason(const struct side *a, const struct side *b, struct theory *t)
{
	if (a->nat && b->nat) {
		t->outcome = CELL_FAILED;
		snprintf(t->why, sizeof(t->why), "the engine dials from fresh ports, never from the "
			 "port it announces, so neither %s nor %s has a mapping for the announced "
			 "port: failed", a->name, b->name);
		return;
	}
	t->outcome = CELL_DIRECT;
	snprintf(t->why, sizeof(t->why), "the side behind %s dials the side behind %s, which "
		 "has no NAT to pass: direct", a->nat ? a->name : b->name,
		 a->nat ? b->name : a->name);
}

static void outcome_reason(const struct side *a, const struct side *b, const char *technique,
			   bool tcp, struct theory *t)
{
	if (a->fresh_port && strcmp(technique, "relay") != 0) {
		fresh_port_reason(a, b, t);
	} else if (strcmp(technique, "relay") == 0) {
		t->outcome = CELL_RELAYED;
		snprintf(t->why, sizeof(t->why), "the relay technique always goes through the "
			 "rendezvous server: relayed");
	} else if (strcmp(technique, "udp") == 0 || strcmp(technique, "tcp") == 0 ||
		   strcmp(technique, "portmap") == 0) {
		punch_reason(a, b, false, tcp, false, t);
	} else if (strcmp(technique, "tcp-ttl") == 0) {
		punch_reason(a, b, false, tcp, true, t);
	} else if (strcmp(technique, "predict") == 0) {
		punch_reason(a, b, true, tcp, false, t);
	} else if (strcmp(technique, "birthday") == 0) {
		birthday_reason(a, b, tcp, t);
	} else {
		auto_reason(a, b, tcp, t);
	}
}

static void prefix_why(struct theory *t, const char *prefix)
{
	char tmp[sizeof(t->why)];

	snprintf(tmp, sizeof(tmp), "%s%s", prefix, t->why);
	memcpy(t->why, tmp, sizeof(t->why));
}

/* An engine that relays wherever it makes no direct path (capability relay-fallback, n2n's
 * supernode forwarding until the edges meet): what the punching reasoning calls failed is
 * relayed, and a lost race ends at the relay too. */
static void relay_fallback(const struct theory_input *in, struct theory *t)
{
	if (!in->relay_fallback)
		return;
	if (t->outcome == CELL_FAILED) {
		size_t n = strlen(t->why);
		t->outcome = CELL_RELAYED;
		snprintf(t->why + n, sizeof(t->why) - n, "; the engine relays through its server "
			 "meanwhile: relayed");
	}
	if (t->fallback == CELL_FAILED && (t->timing_dependent || t->probabilistic))
		t->fallback = CELL_RELAYED;
}

/* Port mapping (RFC 6886 NAT-PMP, UPnP-IGD): a router whose profile offers a protocol the
 * engine asks with maps the engine's socket on request, and a mapping made so is
 * endpoint-independent (one public endpoint for every destination, the one announced) and
 * unfiltered (miniupnpd's rule lets in whoever sends to it), whatever the profile's mapping
 * and filtering say of the flows nobody asked it to map. Only where the router is the peer's
 * one NAT: behind an outer NAT the mapped endpoint is not public. Returns whether it applies. */
static bool portmap_side(struct side *s, const struct profile_header *h,
			 const struct theory_input *in)
{
	unsigned usable;

	if (!h || !h->portmap || !in->port_mapping || in->tcp)
		return false;
	if (strcmp(in->technique, "portmap") == 0)
		usable = PROFILE_PORTMAP_NATPMP | PROFILE_PORTMAP_UPNP;
	else if (strcmp(in->technique, "auto") == 0)
		usable = PROFILE_PORTMAP_NATPMP; /* auto asks briefly: no UPnP discovery */
	else
		return false;
	if (!(h->portmap & usable))
		return false;
	s->eim = true;
	s->filtering = PROFILE_ENDPOINT_INDEPENDENT;
	return true;
}

/* The punching reasoning for every layout. */
static void predict(const struct theory_input *in, struct theory *t)
{
	struct side a = side_of(in->a), b = side_of(in->b);

	memset(t, 0, sizeof(*t));
	if ((in->a && !(in->a->transports & (in->tcp ? PROFILE_TCP : PROFILE_UDP))) ||
	    (in->b && !(in->b->transports & (in->tcp ? PROFILE_TCP : PROFILE_UDP)))) {
		t->outcome = CELL_SKIPPED;
		snprintf(t->why, sizeof(t->why), "outside the declared behaviour: a profile's header "
			 "does not cover %s", in->tcp ? "tcp" : "udp");
		return;
	}
	switch (in->layout) {
	case LAYOUT_SAME_LAN:
		/* The lab lets nothing pass between the two peers that the NAT did not translate
		 * (topology "isolate: yes"): only a hairpin joins them. */
		if (strcmp(in->technique, "relay") == 0) {
			t->outcome = CELL_RELAYED;
			snprintf(t->why, sizeof(t->why), "the relay technique always relays: relayed");
			return;
		}
		if (!in->a || !in->a->hairpin) {
			t->outcome = strcmp(in->technique, "auto") == 0 ? CELL_RELAYED : CELL_FAILED;
			snprintf(t->why, sizeof(t->why), "both peers are behind %s, which does not "
				 "hairpin, and the lab drops what passes between them untranslated: %s",
				 in->a ? in->a->name : "no NAT", cell_outcome_name(t->outcome));
			return;
		}
		a = b = side_hairpin(in->a);
		break;
	case LAYOUT_SHARED_OUTER: {
		bool collide;

		if (strcmp(in->technique, "relay") != 0 && in->outer && !in->outer->hairpin) {
			t->outcome = strcmp(in->technique, "auto") == 0 ? CELL_RELAYED : CELL_FAILED;
			snprintf(t->why, sizeof(t->why), "both peers' public endpoints are on the outer "
				 "NAT %s, which does not hairpin: %s", in->outer->name,
				 cell_outcome_name(t->outcome));
			return;
		}
		/* The outer NAT preserves a port only when it is free toward that destination.
		 * Two home NATs of one sequential profile hand out the same ports in the same
		 * order (each lab is fresh) and both register with the same server addresses, so
		 * the second one's flows find their ports taken and get random ones: that side
		 * is random behind the outer NAT (seen in double-nat's captures). */
		collide = in->outer && in->a && in->b && in->outer->ports == PROFILE_PORTS_PRESERVE &&
			  a.ports == PROFILE_PORTS_SEQUENTIAL && b.ports == PROFILE_PORTS_SEQUENTIAL &&
			  strcmp(in->a->name, in->b->name) == 0;
		a = side_compose(a, in->outer);
		b = side_compose(b, in->outer);
		if (collide) {
			b.ports = PROFILE_PORTS_RANDOM;
			a.fixed_port = b.fixed_port = in->fixed_port;
			a.no_reflexive = b.no_reflexive = in->no_reflexive;
			a.fresh_port = b.fresh_port = in->fresh_port_dials;
			outcome_reason(&a, &b, in->technique, in->tcp, t);
			prefix_why(t, "both home NATs allocate the same sequential ports and the outer "
				   "NAT preserves a port only when free, so one side's ports are random "
				   "there: ");
			return;
		}
		break;
	}
	case LAYOUT_TWO_LEVEL:
		a = side_chain(a, in->outer_a);
		b = side_chain(b, in->outer_b);
		break;
	case LAYOUT_PUBLIC_B:
		b = side_of(NULL);
		break;
	case LAYOUT_TWO_NATS:
		break;
	}
	a.fixed_port = b.fixed_port = in->fixed_port;
	a.no_reflexive = b.no_reflexive = in->no_reflexive;
	a.quits_on_icmp = b.quits_on_icmp = in->quits_on_icmp;
	a.single_probe = b.single_probe = in->single_probe;
	a.fresh_port = b.fresh_port = in->fresh_port_dials;
	b.is_b = true;
	if (in->layout == LAYOUT_TWO_NATS || in->layout == LAYOUT_PUBLIC_B) {
		bool ma = portmap_side(&a, in->a, in);
		bool mb = in->layout == LAYOUT_TWO_NATS && portmap_side(&b, in->b, in);

		outcome_reason(&a, &b, in->technique, in->tcp, t);
		if (ma || mb) {
			char pre[160];

			snprintf(pre, sizeof(pre), "%s%s%s %s the peer's port on request "
				 "(endpoint-independent, unfiltered): ", ma ? in->a->name : "",
				 ma && mb ? " and " : "", mb ? in->b->name : "",
				 ma && mb ? "map" : "maps");
			prefix_why(t, pre);
		}
		return;
	}
	outcome_reason(&a, &b, in->technique, in->tcp, t);
}

unsigned theory_caps_shared(unsigned caps_a, unsigned caps_b)
{
	/* limitations: one side that has it is enough to limit the pair */
	const unsigned limits = EF_CAP_SINGLE_PROBE | EF_CAP_FRESH_PORT_DIALS;

	return (caps_a & caps_b & ~limits) | ((caps_a | caps_b) & limits);
}

void theory_input_set_engines(struct theory_input *in, unsigned caps_a, unsigned caps_b)
{
	unsigned caps = theory_caps_shared(caps_a, caps_b);

	in->fixed_port = !(caps & EF_CAP_RENDEZVOUS);
	in->no_reflexive = !(caps & EF_CAP_PEER_REFLEXIVE);
	in->quits_on_icmp = !(caps & EF_CAP_IGNORES_ICMP);
	in->relay_fallback = caps & EF_CAP_RELAY_FALLBACK;
	in->single_probe = caps & EF_CAP_SINGLE_PROBE;
	in->fresh_port_dials = caps & EF_CAP_FRESH_PORT_DIALS;
	in->port_mapping = caps & EF_CAP_PORT_MAPPING;
	in->relay_tcp = caps & EF_CAP_RELAY_TCP;
}

/* An IPv6-only peer behind NAT64: its NAT's IPv4 profile decided (theory.h); say so. */
static void nat64_why(const struct theory_input *in, struct theory *t)
{
	if (in->nat64_a || in->nat64_b)
		prefix_why(t, in->nat64_a && in->nat64_b
				      ? "both peers IPv6-only behind NAT64 (stateless into the pool, "
					"then each node's IPv4 profile): "
				      : in->nat64_a ? "A IPv6-only behind NAT64 (stateless into the "
						      "pool, then its node's IPv4 profile): "
						    : "B IPv6-only behind NAT64 (stateless into the "
						      "pool, then its node's IPv4 profile): ");
}

void theory_predict(const struct theory_input *in, struct theory *t)
{
	predict(in, t);
	if (t->outcome == CELL_SKIPPED || !theory_outbound(in, t))
		relay_fallback(in, t);
	nat64_why(in, t);
}

/* Rank of a prediction for a dual cell: lower is better. Outside direct/relayed/failed (a
 * profile that does not cover the transport: skipped) ranks last. */
static int dual_rank(const struct theory *t)
{
	int o = t->outcome == CELL_DIRECT ? 0 : t->outcome == CELL_RELAYED ? 2
					  : t->outcome == CELL_FAILED ? 4 : 6;

	/* a certain direct path beats one that depends on timing or chance */
	return o + (theory_class(t) != CLASS_DETERMINED);
}

void theory_predict_dual(const struct theory_input *v4, const struct theory_input *v6,
			 struct theory *out)
{
	struct theory t4, t6;
	bool six;

	theory_predict(v4, &t4);
	theory_predict(v6, &t6);
	six = dual_rank(&t6) <= dual_rank(&t4);
	*out = six ? t6 : t4;
	/* both direct: either may win the race, the certain one or the one that got lucky (an
	 * IPv4 RST race is sometimes won before IPv6 answers) */
	if (out->outcome == CELL_DIRECT)
		out->family = t4.outcome == CELL_DIRECT && t6.outcome == CELL_DIRECT ? "4 or 6"
			      : six ? "6" : "4";
	else
		out->family = "4 or 6"; /* no direct path: the engine may end on either */
	out->families = strcmp(out->family, "4 or 6") == 0 ? FAMILY_BIT(4) | FAMILY_BIT(6)
			: FAMILY_BIT(out->family[0] - '0');
	snprintf(out->why, sizeof(out->why), "dual: %s over IPv%s. IPv6: %s: %.110s IPv4: %s: "
		 "%.110s", cell_outcome_name(out->outcome), out->family,
		 cell_outcome_name(t6.outcome), t6.why, cell_outcome_name(t4.outcome), t4.why);
}

enum cell_class theory_class(const struct theory *t)
{
	if (t->outcome != CELL_DIRECT)
		return CLASS_DETERMINED;
	if (t->probabilistic)
		return CLASS_PROBABILISTIC;
	return t->timing_dependent ? CLASS_TIMING : CLASS_DETERMINED;
}
