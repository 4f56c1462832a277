/* One recovery cell (`punchlab events recovery`, docs/events.md): a fresh two-nats lab with one
 * profile on both NATs, punch's rendezvous and two peers holding a UDP path with --revalidate,
 * a timeline of NAT events started once both peers verified their path, and what the peers
 * said about losing and recovering it. */
#pragma once
#include <stdbool.h>

#include "lab/events.h"
#include "lab/topo.h"

struct recovery_row {
	char profile[64], timeline[256];
	char error[300];              /* the cell could not run (no path before the events, a step
				       * failed...); "" otherwise */
	bool lost, recovered;
	char before[16];              /* the path before the events (the worse side's) */
	double detect_ms;             /* first step -> first path-lost */
	double recovery_ms;           /* last step -> both recovered */
	char via[16], technique[24];
	struct lab_event_record steps[LAB_EVENT_RECORDS_MAX];
	int nsteps;
};

/* Run one cell of topology t (two-nats) with profile on both NATs and timeline tl, punch at
 * binary, revalidating every revalidate_ms. Fills row (row->error when it could not run).
 * Bounded: connecting, the timeline and the recovery each have a budget. Returns 0 or -errno
 * (row->error says what). */
int recovery_cell_run(const struct topo *t, const char *binary, int revalidate_ms,
		      const char *profile, const struct lab_timeline *tl, struct recovery_row *row);
