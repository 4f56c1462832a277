/* auto's race: which techniques run at the same time, and where auto starts.
 *
 * auto does not wait for one technique's deadline before it tries the next (as Tailscale's
 * magicsock and ICE do not): from the first round on, the relay carries the verification
 * payload alongside the direct techniques, and the first round already runs every direct
 * technique that may share it with the others, chosen from both peers' NAT reports. What
 * may not share a round is the rule below (race_compatible); those techniques keep their
 * own later rounds, in the step table's order (tech_auto.c). Pure functions, unit tested
 * (tests/unit/punch/test_race.c); docs/punch.md "auto" states the same rule. */
#ifndef PUNCH_RACE_H
#define PUNCH_RACE_H

#include <stdbool.h>

#include "opts.h"
#include "wire.h"

/* Whether techniques @a and @b may run at the same time (in one round, from the same peers).
 * Symmetric in (a, b). When they may not, *why (if not NULL) says which NAT state one of them
 * disturbs for the other; a technique is always compatible with itself. The rule:
 *  - relay with anything: it speaks only to the rendezvous, over the mapping registration
 *    already opened, so no NAT sees a new flow.
 *  - predict with birthday, tcp-ttl or udp/tcp punching from another socket: never. Each new
 *    flow from behind a sequential NAT takes the next port, the very ports predict aims at
 *    (birthday's 256 sockets advance the counter by 256; tcp-ttl's hop probes are new flows;
 *    measured: sequential x sequential over TCP fell from 10 of 10 to 0 of 10 with hop probes).
 *    udp/tcp punching from predict's own socket to the other peer's endpoints is predict's
 *    last targets already (sent after the predicted ones, so they shift nothing): covered.
 *  - tcp with tcp-ttl: never: both open the same 4-tuple (the punch port to the other peer's
 *    public endpoint), and a full-TTL SYN before tcp-ttl's primed one draws the RST from a NAT
 *    that rejects unsolicited SYNs, which tcp-ttl exists to avoid.
 *  - udp with birthday: yes (birthday punches from its main socket like udp; its extra
 *    sockets and spray land on a random NAT, whose ports nobody predicts). */
bool race_compatible(enum technique a, enum technique b, const char **why);

/* Whether the round of @lead over @proto also runs @tech's probes (@tech's targets are among
 * @lead's, from the same socket): udp in predict and birthday, tcp in predict over TCP. */
bool race_covers(int proto, enum technique lead, enum technique tech);

/* The index in auto's step table for @proto (auto_steps) of the step auto's first round runs,
 * from both NATs' reports: predict when either NAT is sequential (it must come first, while
 * nothing has taken the NAT's next ports), else birthday when one NAT maps per destination
 * and the other is a cone (or none), else the plain step (udp or tcp). The steps before it in
 * the table are covered by it (race_covers) or cannot connect that pair (tcp-ttl aims at the
 * registration port, which a per-destination NAT filters), so they are not run later.
 * Symmetric: the same for (own, peer) and (peer, own), so both peers choose alike. */
int race_first_step(int proto, const struct wire_natinfo *own, const struct wire_natinfo *peer);

/* Whether auto runs the relay alongside the direct step @tech (the relay step itself does
 * not need it): every direct step, when the server relays. */
bool race_relay_alongside(enum technique tech, bool relay_ok);

#endif
