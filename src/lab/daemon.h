/* What the lab's confined daemons (miniupnpd, its STUN responder, tayga) share: a per-node
 * directory for their files, a log a start writes to, and a bounded wait until the daemon is
 * ready while it still runs (lab/portmapd.c, lab/nat64.c). Internal to lab/. */
#ifndef PUNCHLAB_LAB_DAEMON_H
#define PUNCHLAB_LAB_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct lab;

/* A kind of daemon: the word in its directory's name and the files it leaves there. */
struct lab_daemon_kind {
	const char *name;
	const char *const *files;
	size_t nfiles;
};

/* "$TMPDIR/punchlab-<kind>-<lab>-<node>" into buf (/tmp without $TMPDIR). 0, or
 * -ENAMETOOLONG when it does not fit. */
int lab_daemon_dir(const struct lab_daemon_kind *k, const char *lab_name, const char *node_name,
		   char *buf, size_t len);

/* Remove the kind's files of dir, then dir itself; what is missing is no error. */
void lab_daemon_dir_remove(const struct lab_daemon_kind *k, const char *dir);

/* Remove the directory of lab_name's node_name, when there is one. */
void lab_daemon_remove(const struct lab_daemon_kind *k, const char *lab_name,
		       const char *node_name);

/* The last non-empty line of the file at path into buf, "(no output)" without one. */
void lab_daemon_last_line(const char *path, char *buf, size_t len);

/* Start argv in node n with stdout and stderr into the file log (truncated), stdin closed;
 * detach: as lab_spawn_opts.detach. A lab_spawn handle, or -errno. */
int lab_daemon_spawn(struct lab *lab, int n, char *const argv[], const char *log, bool detach);

/* Is the daemon ready? 1 yes, 0 not yet, -errno when asking failed. */
typedef int (*lab_daemon_ready_fn)(struct lab *lab, int n, int handle, void *ctx);

/* Poll ready every poll_ms for at most timeout_ms while handle runs. 0 when ready; else
 * -errno with why: "probe <what>: <error>" when asking failed, "it exited (status S): <the
 * log's last line>" when the daemon ended, "<what> <not_yet> after T ms (log: <log>)" at the
 * deadline (-ETIMEDOUT). */
int lab_daemon_wait_ready(struct lab *lab, int n, int handle, lab_daemon_ready_fn ready,
			  void *ctx, const char *what, const char *not_yet, const char *log,
			  int timeout_ms, int poll_ms, char *why, size_t wlen);

#endif
