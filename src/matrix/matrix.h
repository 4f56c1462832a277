/* The matrix: plan the cells, set their references (documents' claim, theory, expected,
 * baseline), classify the profiles in use, run the cells in parallel, judge them. */
#pragma once
#include <stdbool.h>

#include "base/out.h"
#include "lab/topo.h"
#include "matrix/cell.h"
#include "matrix/results.h"

#define MATRIX_MAX_CELL_ARGS 64
#define MATRIX_DEFAULT_JOBS 40 /* cells at once unless --jobs or the engine file's jobs: */

struct run_watch;

struct matrix_opts {
	const char *topology;               /* name or path; NULL: two-nats, or the --cell ids' */
	const char *profiles[MATRIX_MAX_PROFILES];
	int nprofiles;                      /* 0: the default base profiles */
	bool udp, tcp;
	const char *techniques[MATRIX_MAX_TECHNIQUES];
	int ntechniques;                    /* 0: plain and auto */
	const char *cells[MATRIX_MAX_CELL_ARGS]; /* --cell ids: only these */
	int ncells;
	int jobs, repeat, stagger_ms;       /* jobs 0: the engine file's jobs:, else default */
	int shard_k, shard_n;               /* 0/0: all */
	const char *out_dir;
	const char *baseline;
	const char *expectations;           /* default: <data>/ci/expectations.yaml */
	const char *engine;                 /* a name from engines/ ("punch") or a path */
	const char *engine_binary;          /* NULL: found next to punchlab / in the build tree */
	bool classify;                      /* classify every profile in use first */
	bool only_rate_cells;               /* drop the cells the theory calls determined */
	bool progress_tty;                  /* a live progress line (else plain lines) */
	struct profile_params params;       /* --profile-param: set on every cell's profiles */
	/* an engine pair: peer B runs engine_b (a name or a path; NULL: engine alone) with its own
	 * program engine_binary_b (NULL: found like engine A's); servers come from engine A */
	const char *engine_b;
	const char *engine_binary_b;
	/* jobs is a ceiling, not a fixed count: cells run at the concurrency their measured CPU
	 * cost allows (docs/engine-format.md "Load"); false: exactly `jobs` (--jobs given) */
	bool jobs_adaptive;
	bool jobs_given;                    /* set by matrix_run: jobs came from the caller */
	/* --sweep stagger= or signal-delay=FROM..TO/STEP: every cell at every point (a cell each), run
	 * --repeat times per point, judged by no rate test (the curve is the result) */
	struct sweep sweep;
	const char *events;                 /* --events TIMELINE (docs/events.md), NULL: none */
	const char *impairments[MATRIX_MAX_IMPAIRMENTS]; /* --impairments: presets, "none" */
	int nimpairments;                   /* 0: none only */
	const char *impair[TOPO_MAX_LINKS]; /* --impair LINK=SPEC: every cell's topology */
	int nimpair;
	/* --pcap failed|all: capture every run into its log directory; FAILED keeps the files of
	 * failed, flaky, disputed and error cells only (deleted from the others once judged) */
	enum matrix_pcap { MATRIX_PCAP_NONE, MATRIX_PCAP_FAILED, MATRIX_PCAP_ALL } pcap;
	/* punchlab run: each cell runs exactly once (a rate cell too: judged by its allowed
	 * outcomes, not by a rate), with this live view (matrix/run_watch.h); NULL: none */
	bool one_run;
	struct run_watch *watch;
	const char *pcap_dir;               /* run --pcap DIR: every run captures into DIR */
	/* --outer P,...: the shared outer NAT's profiles (double-nat's CGN), a dimension */
	const char *outers[MATRIX_MAX_PROFILES];
	int nouters;
	int rendezvous_port;                /* --rendezvous-port: engines' {{port}}; 0: 3478 */
	/* --family 4,6,dual: the address families, a dimension (docs/matrix.md "Address
	 * families"); 0 entries: 4 only. 6 and dual cells run on the topology's dual-stack twin */
	enum cell_family families[3];
	int nfamilies;
	const char *ipv6_profile;           /* --ipv6-profile: dual cells' IPv6 companion; NULL:
					     * CELL_DEFAULT_IPV6_PROFILE */
};

/* The default profiles: the five classic types plus the RST variant. */
extern const char *const matrix_default_profiles[];

/* Run the matrix; fills *res (release with results_free). Prints progress and problems to o->err.
 * Returns 0 when the matrix ran (possibly interrupted: res->meta.incomplete), EXIT-style 2 on bad
 * input or setup failures (diagnostics printed). */
int matrix_run(const struct matrix_opts *opts, struct results *res, const struct out *o);
