/* Expectations (ci/expectations.yaml): what the documents claim, each claim with its document,
 * quoted sentence, scope and strength, the explanations of the default run's disagreements, and
 * the measured success rates of the cells the theory calls timing-dependent or probabilistic.
 * Format: docs/expectations-format.md. */
#pragma once
#include <stdbool.h>

#include "base/out.h"
#include "matrix/results.h"
#include "matrix/theory.h"
#include "nft/profile.h"

#define EXPECT_MAX_DOCS 16
#define EXPECT_MAX_CLAIMS 64
#define EXPECT_MAX_RATES 64
#define EXPECT_MAX_EXPLANATIONS 64
#define EXPECT_MAX_TECHNIQUES 8

struct expect_doc {
	char id[32];
	char title[128];
	char file[128];           /* its passages, relative to the source tree (docs/sources/...) */
	char where[256];          /* where the document comes from, as far as it is known */
};

/* Which peer a claim speaks of: conditions on that peer's NAT header; an unset one matches any. */
struct claim_side {
	int nat;                  /* 1 behind a NAT of its own (default), 0 none (a public peer),
				   * -1 either */
	unsigned rfc3489;         /* bit set of enum profile_rfc3489; 0: any */
	unsigned ports;           /* bit set of enum profile_ports; 0: any */
	int predictable;          /* header predictable: -1 any, 0, 1 */
	int rst;                  /* tcp-unsolicited: -1 any, 0 drop, 1 rst */
};

/* Where a claim is judged: on cells of this lab, by a test that comes later, or nowhere here. */
enum claim_applies { CLAIM_CELLS, CLAIM_LATER, CLAIM_NOT_HERE };

/* A claim as its document makes it (docs/expectations-format.md). A cell's claims are all the
 * claims whose scope holds for it: transport, technique, layout, its two peers (in either
 * order) and the preconditions; no rule combines per-type claims into a pair's claim. */
struct expect_claim {
	char id[32];
	int doc;                  /* index into docs */
	char quote[768];          /* fragments of the document joined by " ... ", each verbatim */
	char says[256];           /* the claim in our words (required when no cell judges it) */
	enum claim_applies applies;
	char test[256];           /* later / not-here: what would test it, and when */
	bool has_outcome;
	enum cell_outcome outcome;
	char strength[24];        /* as written (src/matrix/claim.h) */
	double bound;
	unsigned transports;      /* PROFILE_UDP | PROFILE_TCP */
	char techniques[EXPECT_MAX_TECHNIQUES][16];
	int ntechniques;
	unsigned layouts;         /* bit set of enum theory_layout */
	struct claim_side a, b;   /* the pair, in either order */
	bool prediction_done;     /* requires: prediction-done (each predictable side's port is
				   * known for the technique, as Wikipedia's matrix assumes) */
	char reasoning[512];      /* how it follows for pairs the document does not name */
	char conflicts[128];      /* ids of other documents' claims it contradicts, comma-separated */
	int line;
};

/* Why a cell's measurement disagrees with a claim, keyed by claim id and a cell pattern. */
struct expect_explanation {
	char claim[32];
	char cells[192];          /* fnmatch(3) over cell ids; "" any */
	char why[768];
	int line;
};

/* A measured success rate for timing-dependent or probabilistic cells: keyed by the theory's
 * mechanism ("rst-race", "birthday"), optionally narrowed to a technique and a cell id pattern;
 * the most specific matching entry applies. */
struct expect_rate {
	char mechanism[32];
	char technique[16];       /* "" : any */
	char cells[192];          /* fnmatch(3) pattern over cell ids; "" : any */
	char impair[CELL_REF_MAX]; /* the impairment it was measured under: "" (none) applies to
				   * unimpaired cells only, "lte" to impair=lte cells only */
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
	struct expect_explanation explanations[EXPECT_MAX_EXPLANATIONS];
	int nexplanations;
	struct expect_rate rates[EXPECT_MAX_RATES];
	int nrates;
};

/* Load and check the file; errors go to dl as FILE:LINE. Returns 0 or -EINVAL / -errno. */
int expectations_load(struct expectations *e, const char *path, struct diag_list *dl);
int expectations_load_buffer(struct expectations *e, const char *name, const char *buf,
			     size_t len, struct diag_list *dl);

/* The documents' claims for a cell (a and b are the peers' NAT headers; b NULL when B has no
 * NAT of its own; layout how the peers sit). Fills refs->claims[] with every claim whose scope
 * holds, each with its explanation when the file has one for the cell, and has_claim, claim,
 * claim_source, claim_quote from the first (has_claim false: no document speaks of the cell,
 * claim `none`). */
void expectations_claim(const struct expectations *e, const struct cell_spec *c,
			const struct profile_header *a, const struct profile_header *b,
			enum theory_layout layout, struct cell_refs *refs);

/* The rate entry for a cell the theory calls timing-dependent or probabilistic: the most
 * specific entry of the mechanism whose technique and pattern match, measured under the cell's
 * impairment (none for an entry without impair:); NULL when none does. */
const struct expect_rate *expectations_rate(const struct expectations *e, const char *mechanism,
					    const struct cell_spec *c);

/* Fill refs->cell_class and refs->expected_*: a determined cell expects the theory's outcome; a
 * rate cell allows the theory's direct outcome and its fallback at the rate of its entry, with
 * the runs its test needs (src/matrix/rate.h). An impaired rate cell without an entry of its
 * impairment is judged by its allowed outcomes only (expected_rate 0; expected_reason says so).
 * Returns 0, or -ENOENT when an unimpaired rate cell has no entry, -ERANGE when its rate needs
 * more than RATE_MAX_RUNS runs (a message in why). */
int expectations_expected(const struct expectations *e, const struct cell_spec *c,
			  const struct theory *t, struct cell_refs *refs, char *why, size_t len);
