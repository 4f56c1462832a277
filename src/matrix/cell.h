/* Cells: enumerating the matrix, stable cell ids, and shards. Pure code.
 *
 * A cell id names every dimension of a cell that is not the default (docs/matrix-json.md,
 * "Cell ids"):
 *
 *     TOPOLOGY/PROTO/TECHNIQUE/PROFILE-A~PROFILE-B[/KEY=VALUE]...
 *
 * TOPOLOGY, the profiles and the engine are references (a shipped name, or a path: anything
 * with a '/'), percent-encoded: every byte but A-Z a-z 0-9 '-' '.' '_' is written %XX (upper
 * case hex), so '/', '~', '=' and '%' inside a reference never split the id. PROFILE-B is "-"
 * when B has no NAT of its own. The KEY=VALUE parts are the later dimensions, in the order of
 * the table in cell.c, each absent at its default: so an id written before a dimension existed
 * is the id of that cell at the dimension's default, and baselines keep comparing. Today:
 * engine=E (default punch) or engine=A~B (an engine pair: A's engine ~ B's; A~A is a pair too,
 * two binaries of one engine file); udp-timeout=5s (profile parameters set on both NATs'
 * profiles: 5s, or UNREPLIED~REPLIED like 3s~8s with '-' for the profile's own; absent: the
 * profiles' own); impair=PRESET (default none: docs/impairments.md); stagger=40ms (B starts
 * this long after A; absent: the run's --stagger; a point of --sweep); events=TIMELINE (NAT
 * events, docs/events.md); outer=PROFILE (the shared outer NAT's profile, absent at the
 * topology's own); signal-delay=40ms (the rendezvous' answer reaches peer B this long after A;
 * absent: none; a point of --sweep signal-delay=); port=443 (the rendezvous and relay port,
 * engines' {{port}}; absent: 3478, or the run's --rendezvous-port for a --cell id without it);
 * family=6 or family=dual (the address family, absent for IPv4: docs/matrix.md "Address
 * families"); ipv6-profile=P (a dual cell's IPv6 companion profile on both home NATs,
 * absent at ipv6-firewall). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "matrix/results.h"
#include "nft/profile_params.h"

#define MATRIX_MAX_PROFILES 32
#define MATRIX_MAX_TECHNIQUES 8
#define MATRIX_MAX_IMPAIRMENTS 8
/* The rendezvous and relay port when none is given (STUN/TURN's, RFC 8489 / RFC 8656) */
#define CELL_DEFAULT_PORT 3478

/* What to enumerate. techniques[] may hold "plain" (udp for UDP, tcp for TCP); techniques that
 * do not exist for a transport (udp/birthday over TCP, tcp/tcp-ttl over UDP) are skipped. A
 * profile listed twice is enumerated once (one id, one cell). Impairments are the outermost
 * loop, "none" first when listed first. */
struct matrix_dims {
	char topology[CELL_REF_MAX]; /* a reference: shipped name or path */
	bool b_has_nat;             /* false: vary profile A only (same-nat, public-peer) */
	const char *profiles[MATRIX_MAX_PROFILES];
	int nprofiles;
	bool udp, tcp;
	const char *techniques[MATRIX_MAX_TECHNIQUES];
	int ntechniques;
	const char *engine;         /* NULL: CELL_DEFAULT_ENGINE */
	struct profile_params params; /* set on every cell's profiles; empty: their own */
	const char *engine_b;       /* peer B's engine in an engine pair, NULL: none */
	const char *impairments[MATRIX_MAX_IMPAIRMENTS]; /* presets; "none" for none */
	int nimpairments;           /* 0: none only */
	/* the shared outer NAT's profiles (--outer), references; 0: the topology's own only.
	 * Outermost loop of all, the topology's own first when listed first. */
	const char *outers[MATRIX_MAX_PROFILES];
	int nouters;
	const char *outer_default;  /* the topology's own outer profile: its cells keep bare ids */
	/* every cell's address family (one family per enumeration: the profiles differ by
	 * family) and, for dual, the IPv6 companion profile (NULL: the default) */
	enum cell_family family;
	const char *ipv6_profile;
	int port;                   /* --rendezvous-port: every cell's port= (0: the default) */
};

/* "4", "6", "dual"; and back (0, or -EINVAL for anything else). */
const char *cell_family_name(enum cell_family f);
int cell_family_parse(const char *s, enum cell_family *f);

/* Fill *cells (malloc'd, caller frees) with every cell of dims in a fixed order: transport,
 * technique, profile A, profile B. Returns the count, -ENOMEM, or -ENAMETOOLONG when an id
 * would not fit struct cell_spec's id. */
int cells_enumerate(const struct matrix_dims *dims, struct cell_spec **cells);

/* The spec's profile parameters, and setting them. */
struct profile_params cell_spec_params(const struct cell_spec *c);
void cell_spec_set_params(struct cell_spec *c, const struct profile_params *p);

/* Build a spec's id from its fields (the canonical form). Returns 0, or -ENAMETOOLONG (a
 * reference or the id too long; c->id is then "") or -EINVAL (an empty topology or profile A). */
int cell_spec_set_id(struct cell_spec *c);

/* Parse an id into a spec (fields decoded, absent dimensions at their default, c->id the
 * canonical form). Lenient in spelling only: lower-case hex, needlessly encoded bytes, other
 * bytes left unencoded, key=value parts in any order and a dimension written at its default
 * are accepted, and c->id then differs from id; the structure must be right. Returns 0 or
 * -EINVAL; cell_id_parse_msg also says why in why[len] ("" on success). */
int cell_id_parse(const char *id, struct cell_spec *c);
int cell_id_parse_msg(const char *id, struct cell_spec *c, char *why, size_t len);

/* A reference percent-encoded for an id ("-" alone is written %2D: "-" means "no profile").
 * Returns 0, -EINVAL for "" or -ENAMETOOLONG. */
int cell_ref_encode(const char *ref, char *buf, size_t len);

/* A reference names a file by path (it has a '/') rather than a shipped name. */
bool cell_ref_is_path(const char *ref);

/* Whether technique t runs over transport proto ("udp"/"tcp"). */
bool technique_fits(const char *technique, const char *proto);

/* The default technique names: the plain one per transport, then auto. */
extern const char *const matrix_default_techniques[];

/* A timing sweep (--sweep stagger=FROM..TO/STEP or signal-delay=FROM..TO/STEP): a cell run at
 * every point of a range of one dimension. Durations are "40ms", "1s" or a bare number in the
 * range's unit ("0..200ms/10" is 0, 10, ... 200 ms). */
#define SWEEP_MAX_MS 10000
#define SWEEP_MAX_POINTS 101
struct sweep {
	char key[16];                  /* the dimension: "stagger" or "signal-delay" */
	int points[SWEEP_MAX_POINTS];  /* the values, ms, FROM upward by STEP up to TO */
	int npoints;                   /* 0: no sweep */
};
/* Parse a sweep spec. 0, or -EINVAL with why saying what is wrong and what is expected. */
int sweep_parse(const char *spec, struct sweep *sw, char *why, size_t len);

/* Shards: cell number i (0-based, enumeration order) belongs to shard k of n (1-based) when
 * i % n == k - 1, so every cell is in exactly one shard. Parse "K/N": 0 or -EINVAL. */
int shard_parse(const char *s, int *k, int *n);
bool shard_has(int index, int k, int n);
