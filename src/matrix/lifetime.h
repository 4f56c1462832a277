/* Mapping lifetimes: how long a silent path survives a NAT profile (`punchlab lifetime`,
 * docs/lifetime.md).
 *
 * One probe is one fresh lab of a two-NAT topology: the profile under test in nat-a (as a
 * per-cell copy with its udp-timeout parameters set short), full-cone in nat-b so that every
 * profile connects. Three kinds of probe:
 *   replied    the punched path: `punch peer --technique udp --idle-gap G` on both hosts. After
 *              verifying, both stay silent G seconds (keep-alives aside), then b probes a:
 *              the probe crosses nat-a inbound, so it tests nat-a's mapping, which saw replies.
 *   stream     the same after LIFETIME_STREAM_AFTER_S of keep-alives (punch --idle-after): the
 *              kernel gives a UDP flow its replied timeout only for packets more than 2 s after
 *              it began, so a path silent at once lives by the unreplied timeout.
 *   unreplied  a mapping that saw no reply: host-a sends one datagram to the server, which
 *              answers it G seconds later; it arrives only if the mapping is still there.
 * An IPv6 profile (family AF_INET6) is probed the same way over IPv6, on a dual-stack topology.
 * A search bisects whole seconds of gap between a low and a high bound. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "lab/topo.h"
#include "nft/profile_params.h"

enum lifetime_kind { LIFETIME_REPLIED, LIFETIME_STREAM, LIFETIME_UNREPLIED, LIFETIME_KINDS };
#define LIFETIME_STREAM_AFTER_S 3
enum lifetime_verdict { LIFETIME_SURVIVED, LIFETIME_DIED, LIFETIME_ERROR };

struct lifetime_probe_opts {
	const struct topo *topo;     /* roles peer-a, peer-b, nat-a, nat-b, rendezvous */
	const char *profile;         /* the profile under test (a path), loaded into nat-a */
	const char *peer_profile;    /* nat-b's (a path) */
	struct profile_params params;/* applied to the profile under test */
	const char *punch;           /* the punch program */
	enum lifetime_kind kind;
	uint32_t gap_ms;
	uint32_t keepalive_ms;       /* replied: punch --keepalive (0 = none) */
	int family;                  /* AF_INET (0 too) or AF_INET6: the profile's family, the
				      * probes' addresses (an IPv6 profile runs on a dual-stack
				      * topology, topo, with an IPv6 profile in nat-b) */
};

/* One probe in a fresh lab; nothing of it is left afterwards. why[len] says what was seen
 * (the error, or how the probe ended). */
enum lifetime_verdict lifetime_probe(const struct lifetime_probe_opts *o, char *why, size_t len);

struct lifetime_result {
	int alive_s;      /* longest gap seen surviving, -1: not even lo */
	int dead_s;       /* shortest gap seen dying, -1: not even hi */
	int probes;
	bool error;       /* a probe could not run: why says which and how */
	char why[320];
};

/* Bisect the longest surviving gap in [lo_s, hi_s] whole seconds (lo probed first, then hi,
 * then the middle): at most about 2 + log2(hi - lo) probes. Assumes a gap that dies is followed
 * only by gaps that die (a mapping that expired stays expired). */
void lifetime_search(const struct lifetime_probe_opts *o, int lo_s, int hi_s,
		     struct lifetime_result *r);
