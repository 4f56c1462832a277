/* The lab's self-check: real UDP exchanges between nodes, compared with what the topology says
 * should and should not reach. */
#pragma once
#include "lab/lab.h"
#include "lab/probe.h"

#define CHECK_PORT 3478
#define CHECK_MAX_ROWS 64

struct check_row {
	int from, to;
	struct net_addr addr; /* the address probed, on node `to` */
	bool expect;           /* the topology says it should be reached */
	struct probe_result got;
};

/* Probe every host -> every IPv4 address of the servers (must reach), and every host -> every
 * IPv4 address of the other hosts (reach only where the topology allows). Unreachable probes
 * wait timeout_ms. Returns the number of rows (up to max) or -errno. */
int check_run(const struct lab *lab, int timeout_ms, struct check_row *rows, int max);

/* Print the rows as a table to o->out; returns the number of rows whose outcome differs from
 * the expectation. */
int check_print(const struct lab *lab, const struct check_row *rows, int n, const struct out *o);
