/* A cell's NAT events (docs/events.md): the timeline applied to the cell's lab in a thread of its
 * own while the engine runs, and the engine's recovery read from what its peers said. */
#pragma once
#include "lab/lab.h"
#include "matrix/results.h"

struct cell_events;

/* How long the engine must hold its path in a cell with events: the timeline's last step plus
 * CELL_EVENTS_RECOVER_MS, in whole seconds; 0 for a cell without events. */
#define CELL_EVENTS_RECOVER_MS 10000
int cell_events_hold_s(const struct cell_spec *spec);

/* Whether the cell's events fit its address family: reboot and link down work in every family
 * (a reboot reloads an IPv6 profile, or a dual node's IPv4 profile and its IPv6 companion);
 * rebind and wan-address act on IPv4-only NATs (family 4). Returns 0, or -EINVAL with why[len]
 * naming the cell, the event and what is expected. */
int cell_events_family_check(const struct cell_spec *spec, char *why, size_t len);

/* The probe interval the engine revalidates its path with ({{revalidate}}). */
#define CELL_EVENTS_REVALIDATE "250ms"

/* Start the cell's timeline on lab, its times counted from origin_ms (CLOCK_MONOTONIC, peer A's
 * start). *out is NULL for a cell without events. Returns 0 or -errno. */
int cell_events_start(struct lab *lab, const struct cell_spec *spec, double origin_ms,
		      struct cell_events **out);

/* Stop the timeline (steps not reached are recorded so), then fill rec with its steps and the
 * recovery the peers reported (punch's path-lost and path-recovered JSON lines; text[i] is peer
 * i's stdout and start_ms[i] when it was started, on the origin's clock), and write
 * DIR/events.log. Frees ce; NULL is a no-op. */
void cell_events_finish(struct cell_events *ce, const char *const text[2],
			const double start_ms[2], const char *dir, struct run_recovery *rec);
