/* Cells: enumerating the matrix, stable cell ids, and shards. Pure code. */
#pragma once
#include <stdbool.h>

#include "matrix/results.h"

#define MATRIX_MAX_PROFILES 32
#define MATRIX_MAX_TECHNIQUES 8

/* What to enumerate. techniques[] may hold "plain" (udp for UDP, tcp for TCP); techniques that
 * do not exist for a transport (udp/birthday over TCP, tcp/tcp-ttl over UDP) are skipped. */
struct matrix_dims {
	char topology[64];
	bool b_has_nat;             /* false: vary profile A only (same-nat, public-peer) */
	const char *profiles[MATRIX_MAX_PROFILES];
	int nprofiles;
	bool udp, tcp;
	const char *techniques[MATRIX_MAX_TECHNIQUES];
	int ntechniques;
};

/* Fill *cells (malloc'd, caller frees) with every cell of dims in a fixed order: transport,
 * technique, profile A, profile B. Returns the count or -errno. */
int cells_enumerate(const struct matrix_dims *dims, struct cell_spec **cells);

/* Build a spec's id from its fields: "<topology>/<proto>/<technique>/<a>~<b>" ("-" for no B). */
void cell_spec_set_id(struct cell_spec *c);

/* Parse an id back into a spec. Returns 0 or -EINVAL. */
int cell_id_parse(const char *id, struct cell_spec *c);

/* Whether technique t runs over transport proto ("udp"/"tcp"). */
bool technique_fits(const char *technique, const char *proto);

/* The default technique names: the plain one per transport, then auto. */
extern const char *const matrix_default_techniques[];

/* Shards: cell number i (0-based, enumeration order) belongs to shard k of n (1-based) when
 * i % n == k - 1, so every cell is in exactly one shard. Parse "K/N": 0 or -EINVAL. */
int shard_parse(const char *s, int *k, int *n);
bool shard_has(int index, int k, int n);
