/* The load gate: how many cells run at once when --jobs is not given (issue 11, "Load never
 * becomes error"; docs/engine-format.md "Load").
 *
 * A cell's programs must start, become ready and finish within deadlines its engine file sets.
 * On a machine with P cores, J cells that each need C ms of CPU (their programs and the
 * harness's own netlink work) and start together get their CPU only after about J * C / P ms:
 * with a slow engine at a fixed 40 jobs on 2 cores that is far beyond a 2 s deadline, and the
 * cells end `error` (the rendezvous did not become ready) or `failed` for no NAT reason. So
 * the gate keeps J * C / P within half of the shortest deadline of the run (readiness or
 * technique), with C measured from the runs that finished (the CPU time of the process's reaped
 * children, the cells' programs, over the runs done): the engine's real cost,
 * whatever the file says, including what the wrapper of a slow program burns. Other users of
 * the machine count too: with a 1-minute load average L above P, a runnable task gets P / L of
 * a core, so the cores the formula uses are P * P / L. It starts at 2P
 * cells (nothing is measured yet), may double after each finished run, never exceeds --jobs'
 * ceiling and never goes below 1. An explicit --jobs N is exact: no gate. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct load_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool adaptive;
	int ceiling;          /* --jobs (default 40) */
	int nproc;            /* online cores */
	double cores;         /* the cores a cell can count on now (load_gate_cores) */
	int budget_ms;        /* the run's shortest deadline */
	int limit;            /* cells allowed at once now */
	int running, peak;    /* running now, most at once */
	int finished;         /* runs that left the gate */
	double cpu0_ms;       /* the reaped children's CPU when the gate opened */
	double cpu_per_run_ms; /* the last estimate, 0 before the first run finished */
};

/* The most cells at once that keep J * C / cores within half of budget_ms: the pure formula,
 * clamped to 1..ceiling. cpu_per_run_ms <= 0 (nothing measured): ceiling. */
int load_gate_bound(double cpu_per_run_ms, double cores, int budget_ms, int ceiling);
/* The cores a cell can count on: nproc, or with a load average L above it (the machine's other
 * users, and this run's own cells) nproc * nproc / L, each runnable task's share of them. */
double load_gate_cores(int nproc, double loadavg);

/* Open the gate. adaptive false: exactly `ceiling` at once (workers never wait). 0 or -errno. */
int load_gate_init(struct load_gate *g, bool adaptive, int ceiling, int budget_ms);
void load_gate_destroy(struct load_gate *g);

/* Wait for a place (bounded: every 200 ms *stop is looked at). 0, or -ECANCELED when *stop. */
int load_gate_enter(struct load_gate *g, atomic_bool *stop);
/* A run finished: free its place, measure, set the new limit. */
void load_gate_leave(struct load_gate *g);
