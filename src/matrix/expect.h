/* Expectations (ci/expectations.yaml): what the seed documents claim, each claim with its
 * document and quoted sentence, and the cells where our engine's expected outcome is not simply
 * the theory (timing-dependent or probabilistic cells: allowed outcomes, minimum success rate,
 * reason). Format: docs/expectations-format.md. */
#pragma once
#include <stdbool.h>

#include "base/out.h"
#include "matrix/results.h"
#include "nft/profile.h"

#define EXPECT_MAX_DOCS 16
#define EXPECT_MAX_CLAIMS 64
#define EXPECT_MAX_LISTED 64

enum claim_kind {
	CLAIM_PER_TYPE,   /* about one RFC 3489 type; a pair gets the weaker of its two sides */
	CLAIM_PAIR,       /* about a pair, by predictability (the Wikipedia TCP matrix) */
	CLAIM_TECHNIQUE,  /* about a technique (seed 003's TTL trick) */
	CLAIM_TOPOLOGY,   /* a caveat about a topology (seed 002's two levels of NAT) */
};

struct expect_doc {
	char id[32];
	char title[128];
	char file[128];
};

struct expect_claim {
	enum claim_kind kind;
	int doc;                  /* index into docs */
	unsigned transports;      /* PROFILE_UDP | PROFILE_TCP */
	int rfc3489;              /* per-type: enum profile_rfc3489 */
	int a_predictable, b_predictable; /* pair: 0/1 */
	char technique[16];       /* technique claims */
	char topology[64];        /* topology caveats */
	bool has_outcome;         /* topology caveats have none */
	enum cell_outcome outcome;
	char quote[320];
	int line;
};

struct expect_listed {
	char cells[192];          /* fnmatch(3) pattern over cell ids */
	outcome_set allowed;
	double min_success;       /* 0: no minimum (a race the engine usually loses) */
	char reason[256];
	int line;
};

struct expectations {
	char file[512];
	struct expect_doc docs[EXPECT_MAX_DOCS];
	int ndocs;
	struct expect_claim claims[EXPECT_MAX_CLAIMS];
	int nclaims;
	struct expect_listed listed[EXPECT_MAX_LISTED];
	int nlisted;
};

/* Load and check the file; errors go to dl as FILE:LINE. Returns 0 or -EINVAL / -errno. */
int expectations_load(struct expectations *e, const char *path, struct diag_list *dl);
int expectations_load_buffer(struct expectations *e, const char *name, const char *buf,
			     size_t len, struct diag_list *dl);

/* The documents' claim for a cell (a and b are the peers' NAT headers; b NULL when B has no NAT
 * of its own; same_lan when both peers share a LAN, which no document speaks of). Sets
 * refs->has_claim, claim, claim_source, claim_quote. */
void expectations_claim(const struct expectations *e, const struct cell_spec *c,
			const struct profile_header *a, const struct profile_header *b,
			bool same_lan, struct cell_refs *refs);

/* The listed entry whose pattern matches the cell id (the first), NULL when the cell's expected
 * outcome is the theory. */
const struct expect_listed *expectations_listed(const struct expectations *e, const char *id);

/* Fill refs->expected_*: the listed entry's allowed set, minimum success and reason, or just the
 * theory's outcome. */
void expectations_expected(const struct expectations *e, const char *id,
			   enum cell_outcome theory, struct cell_refs *refs);
