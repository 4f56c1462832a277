/* Engines: the programs a cell runs. The cell runner owns the processes (it starts them in the
 * lab's nodes, captures their output, enforces deadlines); an engine adapter only says how to
 * start its rendezvous and its two peers and how to read an outcome from a peer's output. A new
 * engine (netcat as in the seeds, a user's own P2P binary) is one file implementing this. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "matrix/results.h"

#define ENGINE_MAX_ARGS 32

/* What an adapter gets to build its command lines. */
struct engine_cell {
	const struct cell_spec *spec;
	const char *binary;        /* the engine program (resolved by the runner) */
	char rendezvous[2][64];    /* the rendezvous node's first two IPv4 addresses */
	int nrendezvous;
	int port;                  /* the rendezvous port */
	int timeout_ms;            /* the engine's own deadline for the technique */
	char session[32];          /* unique per run */
};

/* A command line: argv points into buf. */
struct engine_argv {
	char *argv[ENGINE_MAX_ARGS];
	char buf[2048];
};

/* What one peer reported. */
struct engine_peer_result {
	bool reported;             /* a final outcome was found in its output */
	enum cell_outcome outcome; /* direct / relayed / failed */
	char phase[32];            /* failed: the phase that failed */
	char reason[200];
	char technique[16];        /* the technique that connected (auto picks one) */
	double time_to_connect_ms; /* < 0 when none */
	int attempts;
	char local[64], public_ep[64], peer[64];
};

struct engine_ops {
	const char *name;
	/* The default program name, looked up next to punchlab, in the build tree, then on PATH. */
	const char *program;
	/* Fill a's argv for the rendezvous / peer role 0 (A) or 1 (B). Return 0 or -errno. */
	int (*rendezvous_argv)(const struct engine_cell *c, struct engine_argv *a);
	int (*peer_argv)(const struct engine_cell *c, int role, struct engine_argv *a);
	/* Whether the rendezvous's output so far says it is ready to serve. */
	bool (*rendezvous_ready)(const char *output);
	/* Read a peer's outcome from its whole output (stdout). */
	void (*peer_result)(const char *output, struct engine_peer_result *r);
	/* The engine's version ("punch 0.1.0"), from the program itself; 0 or -errno. */
	int (*version)(const char *binary, char *buf, size_t len);
};

/* The engine registry: by name ("punch"), NULL when unknown. */
const struct engine_ops *engine_find(const char *name);

/* Helper for adapters: append one argument (copied into a->buf). Returns 0 or -E2BIG. */
int engine_argv_add(struct engine_argv *a, int *argc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
