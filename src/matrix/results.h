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

#include "base/outcome.h"

/* 2: the disputed outcome, per-run attestation, cell classes and rate tests (docs/matrix-json.md). */
#define RESULTS_SCHEMA_VERSION 2

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
/* dual cells' IPv6 companion profile when the id names none: RFC 6092's recommended default */
#define CELL_DEFAULT_IPV6_PROFILE "ipv6-firewall"

/* The address family of a cell (--family; docs/matrix.md "Address families"): IPv4 (the
 * default, absent from ids), IPv6 only, or dual (both peers have both families, the engine may
 * use either). Zero is IPv4, so a spec cleared with memset is an IPv4 cell. */
enum cell_family { CELL_FAMILY_4 = 0, CELL_FAMILY_6, CELL_FAMILY_DUAL };
struct cell_spec {
	char id[1024];
	char topology[CELL_REF_MAX];
	char profile_a[CELL_REF_MAX];
	char profile_b[CELL_REF_MAX]; /* "" when B has no NAT of its own (same-nat, public-peer) */
	char proto[8];         /* "udp" | "tcp" */
	char technique[16];    /* udp, tcp, tcp-ttl, predict, birthday, relay, auto */
	char engine[CELL_REF_MAX];   /* peer A's (and the rendezvous'): CELL_DEFAULT_ENGINE or another */
	char engine_b[CELL_REF_MAX]; /* peer B's when it differs (an engine pair), else "" */
	/* profile parameters set for both NATs' profiles (udp-timeout=..., docs/profile-format.md
	 * "Parameters"), seconds; 0: the profile's own */
	int udp_timeout_unreplied, udp_timeout_replied;
	/* the stagger dimension (a point of --sweep stagger=...): B starts stagger_ms after A in
	 * this cell; has_stagger false: absent, the run's --stagger */
	bool has_stagger;
	int stagger_ms;
	/* the signal-delay dimension (a point of --sweep signal-delay=...): the rendezvous' answer
	 * reaches peer B signal_delay_ms after it reaches A ({{signal_delay_ms}}); absent: none */
	bool has_signal_delay;
	int signal_delay_ms;
	/* NAT events during the run (docs/events.md), canonical timeline text; "" for none */
	char events[512];
	char impair[CELL_REF_MAX];   /* impairment preset (docs/impairments.md), "" for none */
	/* the outer NAT's profile in a topology whose two NATs share one (double-nat's CGN):
	 * "" for the topology's own (--outer; docs/profile-format.md "Layouts") */
	char outer[CELL_REF_MAX];
	/* the address family: 6 and dual cells run on the topology's dual-stack twin */
	enum cell_family family;
	/* dual cells: the IPv6 profile every home NAT runs beside its IPv4 one (a reference);
	 * "" for CELL_DEFAULT_IPV6_PROFILE. Always "" in 4 and 6 cells. */
	char ipv6_profile[CELL_REF_MAX];
	/* the rendezvous and relay port (--rendezvous-port; engines' {{port}}): 0 when the id
	 * names none (the run's, else CELL_DEFAULT_PORT); the id leaves out 0 and 3478 */
	int port;
	/* The profiles' header names, for grid labels; "" when unknown (the reports then use the
	 * reference). Not part of the identity: the id and the fields above are. */
	char profile_a_name[64];
	char profile_b_name[64];
};

/* What the lab's own evidence says about a run's path (src/matrix/attest.c, docs/attestation.md):
 * read from the NAT nodes' conntrack accounting after the engine finished. */
enum attest_verdict {
	ATTEST_UNCHECKED,  /* not looked at (the run never got that far) */
	ATTEST_NONE,       /* no path the lab can prove: no flow with packets both ways */
	ATTEST_RELAYED,    /* both peers' NATs hold a two-way flow with the relay, none direct */
	ATTEST_DIRECT,     /* every peer NAT holds a two-way flow between its host and the other side */
	ATTEST_VERDICT_COUNT
};
const char *attest_verdict_name(enum attest_verdict v); /* "unchecked", "none", ... */
int attest_verdict_parse(const char *s, enum attest_verdict *v);

struct run_attestation {
	enum attest_verdict verdict;
	char summary[256];     /* one sentence: what was found, or what was missing where */
	char evidence[1024];   /* the conntrack entries the verdict rests on, with counters, one per
				* line ("nat-a: udp 10.0.1.10:4242 -> ... packets 4/4 bytes ...") */
	/* direct: the address family (4 or 6) of the two-way flows the verdict rests on, the
	 * lab's word on which family a dual cell's path took; 0: no direct evidence, or the two
	 * NATs' flows are of different families (NAT64) */
	int family;
};

/* Bit set of address families (cell_refs.expected_families): FAMILY_BIT(4) | FAMILY_BIT(6) */
#define FAMILY_BIT(f) ((f) == 4 ? 1u : (f) == 6 ? 2u : 0u)

/* NAT events of a run (docs/events.md): each step of the timeline as the lab applied it, and
 * what the engine said about its path afterwards. */
#define RUN_EVENTS_MAX 8
struct run_event {
	char event[96];        /* canonical ("nat-a reboot@2s for 2s") */
	bool second_half;      /* the link up again / the NAT booted */
	int planned_ms;        /* from peer A's start */
	double actual_ms;      /* when the lab began applying it (when it took effect); < 0: not
				* reached */
	bool failed;
	char detail[256];      /* what the lab did and saw */
};
struct run_recovery {
	int nevents;
	struct run_event events[RUN_EVENTS_MAX];
	bool path_lost;        /* the engine reported losing its path (punch: path-lost) */
	bool recovered;        /* every peer that lost it reported it back after the last step */
	char via[16];          /* "direct" | "relay" | "" */
	double detect_ms;      /* first step -> first path-lost; < 0 when none */
	double recovery_ms;    /* last step -> the later peer's path-recovered; < 0 when not */
};

/* One engine run of a cell. */
struct cell_run {
	enum cell_outcome outcome;
	char reason[256];      /* why (failed: the phase and what happened; error: what broke) */
	char phase[32];        /* failed: registration, endpoint-exchange, probing, crashed, hung */
	char technique_used[16]; /* what the engine says connected (auto picks one) */
	/* the address family of the path (4 or 6) when both peers' engines say it (punch's
	 * result "family", a dual cell's race); 0: not said */
	int family_used;
	double time_to_connect_ms; /* < 0 when not connected */
	/* the engine's first verified path of any kind (punch's auto: the relay alongside its
	 * direct techniques), and its direct path; both sides' later time; < 0 when the engine
	 * does not say (ttfb) or there is none. time_to_direct_ms of a direct run is its
	 * time_to_connect_ms. docs/punch.md "Time to connect". */
	double ttfb_ms, time_to_direct_ms;
	int attempts;
	double wall_ms;        /* the whole cell: lab up, engine, lab down */
	char mappings[1024];   /* observed NAT mappings from conntrack, one per line */
	char log_dir[256];     /* relative to the report directory: the programs' output */
	enum cell_outcome engine_said; /* what the engine reported (CELL_ERROR: nothing) */
	struct run_attestation attestation;
	struct run_recovery recovery;  /* nevents 0: the cell has no NAT events */
	/* packet captures in log_dir (matrix --pcap): file names, one a line (" (cut)" after one
	 * that reached its size bound), "" none */
	char captures[512];
};

/* How the theory classes a cell (src/matrix/theory.c): a determined outcome runs once (unless
 * --repeat) and must be the same every run; a timing-dependent or probabilistic one runs as often
 * as its rate test needs and is judged by its success rate. */
enum cell_class { CLASS_DETERMINED, CLASS_TIMING, CLASS_PROBABILISTIC, CLASS_COUNT };
const char *cell_class_name(enum cell_class c); /* "determined", "timing-dependent", "probabilistic" */
int cell_class_parse(const char *s, enum cell_class *c);

/* One documents' claim that speaks of a cell (ci/expectations.yaml, docs/expectations-format.md):
 * what the document says happens, how firmly it says it, and the sentence it says it in. */
#define CELL_MAX_CLAIMS 4
struct cell_claim {
	char id[32];                  /* the claim's id in the expectations file */
	enum cell_outcome outcome;    /* what the document says happens */
	char strength[24];            /* as written: always, almost-always, in-most-cases, ... */
	double bound;                 /* the claimed outcome's share of runs the strength asks for:
				       * 1 for always (one run against it disagrees), less for a
				       * hedge (only a share significantly below it disagrees) */
	char source[128];             /* the document's title */
	char quote[768];              /* the quoted sentence(s), " ... " between fragments */
	char explanation[768];        /* why a measurement disagrees ("" when none is written) */
	bool disagrees;               /* verdict (results_judge_cell) */
	double p_value;               /* hedged claims: P(X <= claimed-outcome runs | runs, bound) */
};

/* The three references and the verdicts. */
struct cell_refs {
	bool has_claim;               /* some document speaks of this cell; false: claim `none` */
	enum cell_outcome claim;      /* the documents' claim (the first of claims[]) */
	char claim_source[128];       /* which document */
	char claim_quote[320];        /* the quoted sentence it rests on */
	int nclaims;                  /* every claim that speaks of the cell (0 in old files:
				       * then claim/claim_source/claim_quote are the only one) */
	struct cell_claim claims[CELL_MAX_CLAIMS];
	bool claims_conflict;         /* two of them claim different outcomes */
	enum cell_outcome theory;     /* computed from the two profiles' headers */
	char theory_why[320];
	bool has_baseline;
	enum cell_outcome baseline;
	/* the expected outcomes for the engine: the theory's outcome for a determined cell; for a
	 * timing-dependent or probabilistic one, the theory's direct outcome or its fallback, at a
	 * success rate measured and recorded in the expectations file */
	enum cell_class cell_class;
	char mechanism[32];           /* rate cells: what the chance is about ("rst-race", ...) */
	outcome_set expected_allowed;
	double expected_rate;         /* 0..1 for rate cells (0: determined) */
	int expected_runs;            /* runs the rate test needs (rate cells), 0 otherwise */
	char expected_reason[256];    /* the rate's source: measurement, date, command; "" when
				       * the cell is determined */
	/* dual cells: the families a direct path may take (FAMILY_BIT bits, from the theory:
	 * only the families the theory calls direct; both when neither is); 0: not judged (a
	 * one-family cell, or a file from before family judging) */
	unsigned expected_families;
};

struct cell_verdict {
	bool regression;        /* worse than the baseline (or, without one, outside expected) */
	bool improvement;       /* better than the baseline / expected */
	bool flaky;             /* a determined cell whose runs differ (a regression too) */
	bool disputed;          /* a run's engine word and the lab's evidence disagree */
	bool rate_tested;       /* a rate cell judged by the binomial test */
	bool rate_low;          /* its rate is significantly below the expected one */
	double rate_p_value;    /* P(X <= successes | runs, expected rate), rate cells */
	bool disagrees_claim;   /* measured contradicts a documents' claim (src/matrix/claim.h) */
	bool disagrees_theory;  /* measured != theory */
	bool error;             /* any run was an error */
	/* dual cells (src/matrix/family_judge.c): direct runs whose attested family is known,
	 * and those of them outside refs.expected_families (any: a regression, family_wrong) */
	int family_judged, family_outside;
	bool family_wrong;
};

struct cell_result {
	struct cell_spec spec;
	struct cell_refs refs;
	struct cell_run *runs; /* nruns entries, malloc'd */
	int nruns;
	enum cell_outcome outcome;  /* the representative outcome: the most frequent, ties to the worse */
	double success_rate;        /* runs that were direct / runs */
	double ttc_p50_ms, ttc_p95_ms; /* over direct runs; < 0 when none */
	double ttfb_p50_ms, ttfb_p95_ms; /* over direct and relayed runs that say; < 0: none */
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
	char engine[CELL_REF_MAX]; /* the engine's reference (a name, or a path), as in cell ids */
	char engine_version[64];
	/* an engine pair (--engine-b): peer B's engine and its version; "" for one engine */
	char engine_b[CELL_REF_MAX];
	char engine_b_version[64];
	char harness_version[32];
	char host[64];
	int jobs, repeat, stagger_ms;
	char shard[16];         /* "K/N" or "" */
	char baseline[256];     /* the baseline file compared against, "" for none */
	/* options that shaped the cells, for their rerun commands */
	char engine_binary[256]; /* --engine-binary as given, "" when punchlab found the program */
	char engine_binary_b[256]; /* --engine-binary-b as given (an engine pair), else "" */
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

/* A dual cell's family, in words (src/matrix/family_judge.c, which also judges it). */
/* "4", "6", "4 or 6"; "" for the empty set. */
const char *family_set_name(unsigned set);

/* Parse family_set_name()'s text back ("" gives 0). Returns 0, or -1 for anything else. */
int family_set_parse(const char *s, unsigned *set);

/* One sentence for the reports about a cell whose family is wrong ("direct over IPv4 in 1 of 1
 * direct runs; the theory expects IPv6 only: ..."); "" when it is not. */
void family_finding(const struct cell_result *c, char *buf, size_t len);

/* The grid's mark of a direct cell's family: "D6", "D4", "D4/6" (runs took both), or "D" when
 * no run's family was attested or the cell is no dual cell. */
const char *family_mark(const struct cell_result *c);

/* Free everything the results own; NULL is a no-op. */
void results_free(struct results *r);

/* Fill a cell's representative outcome, success rate, p50/p95 and verdicts from its runs and
 * references (call after the runs are in and refs are set). */
void results_judge_cell(struct cell_result *c);

/* Counts for exit codes and summaries. */
struct results_summary {
	int cells, direct, relayed, failed, disputed, error, skipped;
	int regressions, improvements, flaky, disagree_claim, disagree_theory;
};
void results_summarize(const struct results *r, struct results_summary *s);

/* The exit code for CI: 2 when any cell is error or the results are incomplete (interrupted, a
 * merge lacking shards), else 1 when any regression, else 0. */
int results_exit_code(const struct results *r);
