/* Records of kept labs under /run/punchlab/<lab>.lab ($XDG_RUNTIME_DIR/punchlab/ rootless).
 *
 * A record lists what a kept lab owns: its pinned namespace files and the programs punchlab
 * started for it (pid with its start time, so a reused pid is never killed). `lab down`, `lab
 * list` and `clean` act on records only, never on names they did not write. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "base/out.h"
#include "base/paths.h"

/* The directories are paths_state_dir() and paths_netns_dir() (src/base/paths.h): /run as root,
 * the user's runtime directory rootless. */
#define REGISTRY_DIR paths_state_dir()
#define NETNS_RUN_DIR paths_netns_dir()
#define REGISTRY_MAX_NODES 16
#define REGISTRY_MAX_PIDS 64

struct registry_record {
	char name[16];
	time_t created;
	char topology[512];
	int nnodes;
	char node[REGISTRY_MAX_NODES][16];
	char pinned[REGISTRY_MAX_NODES][300];
	/* the resolved profile file of each node ("" for none): `lab event` reloads it */
	char profile[REGISTRY_MAX_NODES][512];
	/* a dual lab's IPv6 companion profile of each NAT node ("" for none): a reboot in
	 * `lab event` reloads both rulesets, lab_attach() gives both to whoever attaches */
	char companion[REGISTRY_MAX_NODES][512];
	int npids;
	pid_t pid[REGISTRY_MAX_PIDS];
	unsigned long long pid_start[REGISTRY_MAX_PIDS];
	/* rootless: the process holding the lab's user and mount namespaces (0: none, as root) */
	pid_t keeper;
	unsigned long long keeper_start;
};

/* Write (replace) the record of r->name. Returns 0 or -errno. */
int registry_write(const struct registry_record *r);

/* Read the record of a lab. Returns 0, -ENOENT when there is none, -EINVAL when malformed. */
int registry_read(const char *name, struct registry_record *r);

/* Names of every recorded lab, oldest first. *names is malloc'd (free it), each entry 16 bytes.
 * Returns the count or -errno. */
int registry_list(char (**names)[16]);

/* Serialise changes to records between processes (`exec` adds a program while `lab down` may
 * be removing the lab): an exclusive flock on REGISTRY_DIR. Returns the fd to pass to
 * registry_unlock(), or -errno. */
int registry_lock(void);
void registry_unlock(int fd);

/* Add a running program to a record, first dropping the entries of programs that have ended
 * (so a lab used for hours by many short `exec`s does not fill up). Returns 0, or -ENOSPC when
 * REGISTRY_MAX_PIDS programs still run, or -ESRCH when pid is gone. */
int registry_add_pid(struct registry_record *r, pid_t pid);

/* Tear down a kept lab: kill its recorded programs (by pid and start time) and then its keeper,
 * waiting, bounded, until each is gone, unmount and remove its pinned namespace files, remove the record; under
 * registry_lock(). Missing pieces are not errors (a half-removed lab can be removed again).
 * Returns 0 or -errno of the first thing that could not be undone. */
int registry_remove(const char *name, const struct out *o);

/* Start time of a process (field 22 of /proc/PID/stat), 0 when it does not exist. */
unsigned long long registry_proc_start(pid_t pid);
