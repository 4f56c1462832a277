/* Profiles from behaviour: write a profile (header and nftables ruleset) from the behaviour a
 * header states (docs/profile-format.md "Generating profiles").
 *
 * `punchlab profile new` is a thin wrapper around profile_generate(); `punchlab profile import`
 * and `punch probe` print the command line that rebuilds a measured NAT with the same flag
 * names (profile_gen_command()). Pure code: no namespace, no libnftables; the ruleset it writes
 * is checked by loading it (tests/unit/test_profile_gen.c, tests/lab/profile-gen.sh). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nft/profile.h"

/* Fill *h with a header for the behaviour given, with the generator's defaults for the rest:
 * rfc3489 and predictable derived, stride 1, hairpin-filtering endpoint-independent with
 * hairpin (the only one the generator writes) and none without, both transports, the
 * given UDP timeout for replied and unreplied mappings, a name made of the behaviour
 * ("gen-ei-apd-preserve-hairpin-rst") and a one-line description. */
void profile_gen_header(struct profile_header *h, enum profile_dependency mapping,
			enum profile_dependency filtering, enum profile_ports ports, bool hairpin,
			enum profile_unsolicited tcp_unsolicited, int udp_timeout);

/* The default name and description of *h from its behaviour, port-parity and port-block
 * included ("gen-ei-apd-random-block64"); profile_gen_header() calls it, call it again after
 * setting those. */
void profile_gen_name(struct profile_header *h);

/* Whether the generator refuses the behaviour of *h, and why. Returns 0 when it can write
 * it; else -EINVAL with one sentence in why (at most len bytes, NUL-terminated): a value the
 * generator does not implement (naming what it does), or a combination that can not exist or
 * can not be told apart from another (naming the twin, "use --... instead"). */
int profile_gen_check(const struct profile_header *h, char *why, size_t len);

/* Write the profile for *h to out: the header (every key, in the documented order), a diagram
 * and an explanation of the ruleset, and the ruleset, which the lab loads with the usual
 * variables ($WAN_IF, $LAN_IF, $WAN_ADDR, $LAN_NET). The header's rfc3489 and predictable are
 * derived from mapping, filtering and ports, whatever *h says. Returns 0; -EINVAL with the
 * reason in why when profile_gen_check() refuses; -EIO when out fails. */
int profile_generate(const struct profile_header *h, FILE *out, char *why, size_t len);

/* The `punchlab profile new ...` command line that rebuilds *h into buf (without -o); returns
 * buf. */
char *profile_gen_command(const struct profile_header *h, char *buf, size_t len);
