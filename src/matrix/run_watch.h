/* The live view of one cell's run (`punchlab run`, docs/run.md): a timeline that merges, on one
 * clock (ms from the start of lab up), the engine's lines, every NAT's conntrack events as they
 * happen (a ctnetlink subscription per NAT node, read by a thread of the watch), refreshes seen
 * in periodic conntrack dumps (ctnetlink raises no event for a timeout refresh), the NAT events,
 * the final dump, the attestation and the outcome. The cell runner calls these hooks when
 * runner_config.watch is set; a matrix run has none. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "ct/conntrack.h"
#include "matrix/results.h"
#include "matrix/timeline.h"

struct lab;
struct run_watch_ct;

#define RUN_WATCH_DUMP_MS 500      /* how often each NAT's table is dumped for refreshes */
#define RUN_WATCH_REFRESH_MAX 200  /* refresh entries per NAT at most (a birthday probe...) */

struct run_watch {
	/* set by the caller */
	FILE *live;              /* where the timeline is printed as it happens; NULL: nowhere */
	bool keep;               /* leave the lab up at the end (pinned; see kept_lab) */
	/* filled during the run */
	struct timeline tl;
	bool started;
	char kept_lab[16];       /* the kept lab's name ("" when not kept) */
	char still_running[512]; /* kept: "rendezvous (pid 1234) ..." */
	char keep_error[300];    /* kept: why pinning failed ("" when it did not) */
	char captures[1024];     /* the pcap files written, one a line */
	char pcap_dir[512];      /* where they are */
	char dir[512];           /* the run's log directory, where the timeline files are */
	char origin_utc[40];     /* the wall clock at t = 0, ISO 8601 UTC (pcaps stamp by it) */
	struct run_watch_ct *ct; /* the conntrack thread while it runs */
};

/* t = 0 (CLOCK_MONOTONIC ms): just before lab up. */
void run_watch_begin(struct run_watch *w, double origin_ms);

/* The lab is up: say so, and start following every NAT node's conntrack (events and dumps).
 * Returns 0 or -errno (the timeline says what could not be followed). */
int run_watch_lab_up(struct run_watch *w, struct lab *lab, double at_ms, double built_ms);

/* New output of a program (its whole text so far, len bytes): each complete line not yet seen
 * becomes an engine entry; *seen is how far it has been read. final: the program is done, a
 * last line without its newline counts too. */
void run_watch_output(struct run_watch *w, const char *role, const char *text, size_t len,
		      size_t *seen, double at_ms, bool final);

/* The final dump of every NAT (flows[n] for node n), into the timeline; then stop the conntrack
 * thread (reading the events still queued first). */
void run_watch_final(struct run_watch *w, const struct lab *lab, const struct ct_mappings *flows,
		     double at_ms);

/* Stop the conntrack thread if it still runs (early exits); idempotent. */
void run_watch_stop(struct run_watch *w);

/* NAT events as the lab applied them (times from peer A's start, a_started_ms). */
void run_watch_nat_events(struct run_watch *w, const struct run_recovery *rec,
			  double a_started_ms);

/* The attestation and the outcome of run. */
void run_watch_result(struct run_watch *w, const struct cell_run *run, double at_ms);

/* Write dir/timeline.txt and dir/timeline.jsonl (headed by the cell id and the wall clock at
 * t = 0); free the timeline. 0 or -errno. */
int run_watch_end(struct run_watch *w, const char *dir, const char *cell_id);
