/* The results model: what a matrix run produced, cell by cell, with the three references each
 * cell is judged against (the documents' claim, the theory, a baseline) and the verdicts.
 * Every report (src/report/) reads this and nothing else; matrix.json round-trips it
 * (results_json_read) so that --baseline and `punchlab merge` work on saved runs.
 *
 * Plain data with fixed-size strings; arrays are malloc'd and owned by the struct that points
 * at them (results_free releases everything). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RESULTS_SCHEMA_VERSION 1

/* Ordered best first: direct > relayed > failed (BRIEF.md). error and skipped are not NAT
 * results and never rank against the others. */
enum cell_outcome { CELL_DIRECT, CELL_RELAYED, CELL_FAILED, CELL_ERROR, CELL_SKIPPED, CELL_OUTCOME_COUNT };

/* "direct", "relayed", "failed", "error", "skipped"; "?" out of range. */
const char *cell_outcome_name(enum cell_outcome o);
/* Parse a name; returns 0 or -EINVAL. */
int cell_outcome_parse(const char *s, enum cell_outcome *o);
/* Whether a is worse than b among direct/relayed/failed (false when either is error/skipped). */
bool cell_outcome_worse(enum cell_outcome a, enum cell_outcome b);

/* Bit set of outcomes: 1u << CELL_DIRECT | ... */
typedef unsigned outcome_set;

/* What a cell is: its stable id and its coordinates. The id names every dimension that is not
 * the default (grammar in docs/matrix-json.md, "Cell ids"; src/matrix/cell.c formats and parses
 * it). Topology, profiles and engine are references: a shipped name (a file of topologies/,
 * nat-profiles/, engines/ without its extension) or a path (it contains a '/'), stored decoded
 * here and percent-encoded in the id. */
#define CELL_REF_MAX 256
#define CELL_DEFAULT_ENGINE "punch"
#define CELL_DEFAULT_STAGGER_MS 20 /* --stagger */
struct cell_spec {
	char id[1024];
	char topology[CELL_REF_MAX];
	char profile_a[CELL_REF_MAX];
	char profile_b[CELL_REF_MAX]; /* "" when B has no NAT of its own (same-nat, public-peer) */
	char proto[8];         /* "udp" | "tcp" */
	char technique[16];    /* udp, tcp, tcp-ttl, predict, birthday, relay, auto */
	char engine[CELL_REF_MAX];   /* peer A's (and the rendezvous'): CELL_DEFAULT_ENGINE or another */
	char engine_b[CELL_REF_MAX]; /* peer B's when it differs (an engine pair), else "" */
	/* The profiles' header names, for grid labels; "" when unknown (the reports then use the
	 * reference). Not part of the identity: the id and the fields above are. */
	char profile_a_name[64];
	char profile_b_name[64];
};

/* One engine run of a cell. */
struct cell_run {
	enum cell_outcome outcome;
	char reason[256];      /* why (failed: the phase and what happened; error: what broke) */
	char phase[32];        /* failed: registration, endpoint-exchange, probing, crashed, hung */
	char technique_used[16]; /* what the engine says connected (auto picks one) */
	double time_to_connect_ms; /* < 0 when not connected */
	int attempts;
	double wall_ms;        /* the whole cell: lab up, engine, lab down */
	char mappings[1024];   /* observed NAT mappings from conntrack, one per line */
	char log_dir[256];     /* relative to the report directory: the programs' output */
};

/* The three references and the verdicts. */
struct cell_refs {
	bool has_claim;
	enum cell_outcome claim;      /* the documents' claim */
	char claim_source[128];       /* which document */
	char claim_quote[320];        /* the quoted sentence it rests on */
	enum cell_outcome theory;     /* computed from the two profiles' headers */
	char theory_why[320];
	bool has_baseline;
	enum cell_outcome baseline;
	/* the checked-in expected outcomes for the engine: the theory unless the expectations file
	 * lists the cell as timing-dependent or probabilistic */
	outcome_set expected_allowed;
	double expected_min_success;  /* 0..1, for listed cells */
	char expected_reason[256];    /* why the cell is listed, "" when it is the theory */
};

struct cell_verdict {
	bool regression;        /* worse than the baseline (or, without one, outside expected) */
	bool improvement;       /* better than the baseline / expected */
	bool flaky;             /* outcomes differ between repeats */
	bool disagrees_claim;   /* measured != documents' claim */
	bool disagrees_theory;  /* measured != theory */
	bool error;             /* any run was an error */
};

struct cell_result {
	struct cell_spec spec;
	struct cell_refs refs;
	struct cell_run *runs; /* nruns entries, malloc'd */
	int nruns;
	enum cell_outcome outcome;  /* the representative outcome: the most frequent, ties to the worse */
	double success_rate;        /* runs that were direct / runs */
	double ttc_p50_ms, ttc_p95_ms; /* over direct runs; < 0 when none */
	struct cell_verdict verdict;
};

struct profile_hash {
	char name[CELL_REF_MAX]; /* the profile's reference, as in cell ids */
	char sha256[65];
};

struct results_meta {
	int schema_version;
	char started[32];       /* ISO 8601 UTC */
	double wall_ms;
	bool incomplete;        /* interrupted: not every cell ran */
	char kernel[128];
	char nft_version[32];
	char engine[32];        /* engine name */
	char engine_version[64];
	char harness_version[32];
	char host[64];
	int jobs, repeat, stagger_ms;
	char shard[16];         /* "K/N" or "" */
	char baseline[256];     /* the baseline file compared against, "" for none */
	/* options that shaped the cells, for their rerun commands */
	char engine_binary[256]; /* --engine-binary as given, "" when punchlab found the program */
	char expectations[256];  /* --expectations as given, "" for the default */
	char topology_path[256]; /* the topology file when not a shipped one, else "" */
	struct profile_hash *profiles;
	int nprofiles;
};

struct results {
	struct results_meta meta;
	struct cell_result *cells;
	int ncells;
};

/* Free everything the results own; NULL is a no-op. */
void results_free(struct results *r);

/* Fill a cell's representative outcome, success rate, p50/p95 and verdicts from its runs and
 * references (call after the runs are in and refs are set). */
void results_judge_cell(struct cell_result *c);

/* Counts for exit codes and summaries. */
struct results_summary {
	int cells, direct, relayed, failed, error, skipped;
	int regressions, improvements, flaky, disagree_claim, disagree_theory;
};
void results_summarize(const struct results *r, struct results_summary *s);

/* The exit code for CI: 2 when any cell is error or the results are incomplete (interrupted, a
 * merge lacking shards), else 1 when any regression, else 0. */
int results_exit_code(const struct results *r);
