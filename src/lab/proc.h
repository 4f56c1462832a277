/* Starting one program under its own init, for a lab (lab_spawn) and for `punchlab exec` in a
 * kept lab. See proc.c for how the init works and why. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "lab/lab.h"

/* Start argv in the network namespace netns under an init that is PID 1 of a new PID namespace
 * and dies with the calling thread (parent death signal SIGKILL); killing that init kills the
 * program and everything it forked. opts may be NULL.
 *
 * foreground: the program stays in the caller's process group, so a terminal's Ctrl-C reaches
 * it directly and an interactive shell can read the terminal; the init then passes on only
 * the signals a process sent (SI_USER), not the terminal's, which the program already got.
 * Otherwise the program gets a process group of its own and the init passes on every SIGINT,
 * SIGTERM and SIGHUP it receives.
 *
 * Returns the init's pid or -errno. The caller waits for it (its status is the program's). */
pid_t proc_spawn(int netns, char *const argv[], const struct lab_spawn_opts *opts,
		 bool foreground);
