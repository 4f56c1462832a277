/* Running one cell once: a fresh lab with the cell's two profiles, the engine's roles started
 * in their nodes as its engine file says (servers first, each ready before the next, then the
 * two peers, B `stagger_ms` after A), their outputs captured, every wait
 * bounded, the outcome read, the NATs' conntrack mappings dumped, the lab removed. One run is
 * one engine run: no retries. A failure of the harness is an `error` run, never `failed`. */
#pragma once
#include "lab/topo.h"
#include "engine/engine_file.h"
#include "matrix/results.h"
#include "matrix/run_watch.h"

struct runner_config {
	const struct engine_file *engine;
	const char *engine_binary;   /* resolved path of the engine program ({{program}}) */
	/* an engine pair: peer B's engine and its program (NULL: engine alone). The servers,
	 * setup commands and files are engine's (B's servers and files with names engine lacks
	 * are added); each peer's command, readiness and outcome are its own engine's */
	const struct engine_file *engine_b;
	const char *engine_binary_b;
	const struct topo *topo;
	/* the dual-stack twin of topo: cells of family 6 and dual run on it (NULL: none) */
	const struct topo *topo6;
	int stagger_ms;
	int rendezvous_port;
	const char *out_dir;         /* the report directory; logs go under cells/ */
	int stop_fd;                 /* readable (an eventfd) when the run must stop; -1: none */
	/* punchlab run (docs/run.md): the live timeline, and whether the lab is kept at the end
	 * (its servers then outlive the run); NULL: a plain matrix run */
	struct run_watch *watch;
	/* packet captures of every interface of interest (src/capture/): into this directory,
	 * "" for the run's own log directory (run->captures names the files); NULL: none */
	const char *pcap_dir;
};

/* The engine's own deadline for the cell's technique in a zero-delay lab (its engine file);
 * 5000 for a technique the engine does not offer (such cells are not planned). */
int runner_deadline_ms(const struct engine_file *e, const struct cell_spec *spec);

/* Run spec once (run_index numbers its log directory). Fills *run; returns 0, or -ECANCELED when
 * stop_fd fired (run->outcome is then CELL_ERROR with reason "interrupted"). */
int cell_run_once(const struct runner_config *cfg, const struct cell_spec *spec, int run_index,
		  struct cell_run *run);


/* The harness's own cost of a cell, without the engine's work: lab up, the engine's servers
 * started and ready, lab down (for `punchlab bench matrix`). Logs go to cfg->out_dir. 0 or -errno. */
struct cell_overhead {
	double lab_up_ms, engine_start_ms, lab_down_ms, total_ms;
};
int cell_overhead_once(const struct runner_config *cfg, struct cell_overhead *oh);
