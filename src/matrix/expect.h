/* Expectations (ci/expectations.yaml): what the seed documents claim, each claim with its
 * document and quoted sentence, and the measured success rates of the cells the theory calls
 * timing-dependent or probabilistic. Format: docs/expectations-format.md. */
#pragma once
#include <stdbool.h>

#include "base/out.h"
#include "matrix/results.h"
#include "matrix/theory.h"
#include "nft/profile.h"

#define EXPECT_MAX_DOCS 16
#define EXPECT_MAX_CLAIMS 64
#define EXPECT_MAX_RATES 64

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

/* A measured success rate for timing-dependent or probabilistic cells: keyed by the theory's
 * mechanism ("rst-race", "birthday"), optionally narrowed to a technique and a cell id pattern;
 * the most specific matching entry applies. */
struct expect_rate {
	char mechanism[32];
	char technique[16];       /* "" : any */
	char cells[192];          /* fnmatch(3) pattern over cell ids; "" : any */
	int runs, direct;         /* the measurement: direct outcomes in runs (runs >= 30) */
	char date[32];            /* when */
	char command[256];        /* how (the command that measured it) */
	int line;
};

struct expectations {
	char file[512];
	struct expect_doc docs[EXPECT_MAX_DOCS];
	int ndocs;
	struct expect_claim claims[EXPECT_MAX_CLAIMS];
	int nclaims;
	struct expect_rate rates[EXPECT_MAX_RATES];
	int nrates;
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

/* The rate entry for a cell the theory calls timing-dependent or probabilistic: the most
 * specific entry of the mechanism whose technique and pattern match; NULL when none does. */
const struct expect_rate *expectations_rate(const struct expectations *e, const char *mechanism,
					    const struct cell_spec *c);

/* Fill refs->cell_class and refs->expected_*: a determined cell expects the theory's outcome; a
 * rate cell allows the theory's direct outcome and its fallback at the rate of its entry, with
 * the runs its test needs (src/matrix/rate.h). Returns 0, or -ENOENT when a rate cell has no
 * entry, -ERANGE when its rate needs more than RATE_MAX_RUNS runs (a message in why). */
int expectations_expected(const struct expectations *e, const struct cell_spec *c,
			  const struct theory *t, struct cell_refs *refs, char *why, size_t len);
