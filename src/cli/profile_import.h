/* punchlab profile import: the saved output of a third-party NAT discovery tool read into the
 * profile header fields it measured (src/cli/profile_import_parse.c), the rest `unknown`, and
 * printed with the `punchlab profile new` line that rebuilds that NAT (profile_import.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/out.h"

enum import_tool {
	IMPORT_AUTO,                  /* detect from the first lines */
	IMPORT_STUN_CLIENT,           /* Debian's stun-client: `stun SERVER` (RFC 3489) */
	IMPORT_NATDISCOVERY,          /* coturn's turnutils_natdiscovery (RFC 5780) */
};

/* The header fields an import can fill, in `profile new`'s flag order. */
enum import_key { IK_MAPPING, IK_FILTERING, IK_PORTS, IK_HAIRPIN, IK_TCP_UNSOLICITED,
		  IK_UDP_TIMEOUT, IK_MAX };

enum import_how { IMPORT_UNKNOWN, IMPORT_MEASURED, IMPORT_ASSUMED };

struct import_field {
	enum import_how how;
	char value[32];
	char why[160];                /* for assumed and unknown: why */
};

#define IMPORT_MAX_LIFE 16

struct import_result {
	enum import_tool tool;
	bool no_nat;                  /* the tool saw no NAT: nothing to rebuild */
	bool reached;                 /* the tool got an answer from its server */
	char verdict[160];            /* the tool's own summary line(s), for the report */
	struct import_field f[IK_MAX];
	/* natdiscovery -t sections in file order: 1 alive after its timer, 0 gone, -1 unknown */
	int n_life;
	int life[IMPORT_MAX_LIFE];
};

const char *import_key_name(enum import_key k);
const char *import_tool_name(enum import_tool t);
/* "stun-client" / "natdiscovery" -> tool; returns 0 or -EINVAL. */
int import_tool_parse(const char *s, enum import_tool *t);

/* Parse the tool output in @f (named @path in diagnostics). @timers: the -T seconds of each
 * natdiscovery lifetime section, in file order (@n_timers may be 0: lifetime stays unknown).
 * Returns 0, or -EINVAL with @d set to FILE:LINE and what was expected. */
int import_parse(FILE *f, const char *path, enum import_tool tool, const uint32_t *timers,
		 int n_timers, struct import_result *r, struct diag *d);

/* The `punchlab profile new` arguments for @r: measured and assumed fields as the tool gave
 * them; profile new needs all six flags, so an unknown field takes its import_default() and
 * its bit (1 << key) is set in @defaulted. @argv gets 2 * IK_MAX strings pointing into @r or
 * static storage. Returns their count. */
int import_profile_args(const struct import_result *r, const char **argv, unsigned *defaulted);

/* port-restricted-cone's value of @k (a typical home router: plain masquerade, drop, 30 s). */
const char *import_default(enum import_key k);

int profile_import_main(int argc, char **argv);
