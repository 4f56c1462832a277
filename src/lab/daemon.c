/* The lab's confined daemons: directory, log, readiness (lab/daemon.h). */
#include "lab/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab.h"

int lab_daemon_dir(const struct lab_daemon_kind *k, const char *lab_name, const char *node_name,
		   char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, len, "%s/punchlab-%s-%s-%s", tmp && *tmp ? tmp : "/tmp", k->name,
			 lab_name, node_name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void lab_daemon_dir_remove(const struct lab_daemon_kind *k, const char *dir)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < k->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, k->files[i]);
		unlink(path);
	}
	rmdir(dir);
}

void lab_daemon_remove(const struct lab_daemon_kind *k, const char *lab_name,
		       const char *node_name)
{
	char dir[PATH_MAX];

	if (lab_daemon_dir(k, lab_name, node_name, dir, sizeof(dir)) == 0 &&
	    access(dir, F_OK) == 0)
		lab_daemon_dir_remove(k, dir);
}

void lab_daemon_last_line(const char *path, char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(path, "re");

	snprintf(buf, len, "(no output)");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (line[0] && line[0] != '\n') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line);
		}
	fclose(f);
}

int lab_daemon_spawn(struct lab *lab, int n, char *const argv[], const char *log, bool detach)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), h;
	struct lab_spawn_opts o = { .stdin_fd = -1, .stdout_fd = fd, .stderr_fd = fd,
				    .detach = detach };

	if (fd < 0)
		return -errno;
	h = lab_spawn(lab, n, argv, &o);
	close(fd);
	return h;
}

int lab_daemon_wait_ready(struct lab *lab, int n, int handle, lab_daemon_ready_fn ready,
			  void *ctx, const char *what, const char *not_yet, const char *log,
			  int timeout_ms, int poll_ms, char *why, size_t wlen)
{
	/* sleep-polling, against STYLE: readiness is a socket or a carrier flag in another
	 * namespace, with no event to wait for; poll_ms and the deadline bound it */
	for (int waited = 0; waited < timeout_ms; waited += poll_ms) {
		int status, r = ready(lab, n, handle, ctx);

		if (r == 1)
			return 0;
		if (r < 0) {
			snprintf(why, wlen, "probe %s: %s", what, strerror(-r));
			return r;
		}
		if (lab_wait(lab, handle, 0, &status) == 0) {
			char tail[256];

			lab_daemon_last_line(log, tail, sizeof(tail));
			snprintf(why, wlen, "it exited (status %d): %s", status >> 8, tail);
			return -ECHILD;
		}
		nanosleep(&(struct timespec){ .tv_nsec = poll_ms * 1000000L }, NULL);
	}
	snprintf(why, wlen, "%s %s after %d ms (log: %s)", what, not_yet, timeout_ms, log);
	return -ETIMEDOUT;
}
