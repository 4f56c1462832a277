#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lab/registry.h"
#include "lab/nat64.h"
#include "lab/portmapd.h"

static void record_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.lab", REGISTRY_DIR, name);
}

int registry_write(const struct registry_record *r)
{
	char path[300], tmp[310];
	FILE *f;
	int ret = 0;

	if (!REGISTRY_DIR)
		return -errno;
	if (paths_mkdir_p(REGISTRY_DIR) < 0)
		return -errno;
	record_path(r->name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "# punchlab kept lab record: punchlab lab down %s removes it\n", r->name);
	fprintf(f, "lab %s\ncreated %lld\ntopology %s\n", r->name, (long long)r->created,
		r->topology);
	for (int i = 0; i < r->nnodes; i++)
		fprintf(f, "node %s %s\n", r->node[i], r->pinned[i]);
	for (int i = 0; i < r->nnodes; i++)
		if (r->profile[i][0])
			fprintf(f, "profile %s %s\n", r->node[i], r->profile[i]);
	for (int i = 0; i < r->nnodes; i++)
		if (r->companion[i][0])
			fprintf(f, "companion %s %s\n", r->node[i], r->companion[i]);
	for (int i = 0; i < r->npids; i++)
		fprintf(f, "pid %d %llu\n", (int)r->pid[i], r->pid_start[i]);
	if (r->keeper > 0)
		fprintf(f, "keeper %d %llu\n", (int)r->keeper, r->keeper_start);
	if (fclose(f) != 0)
		ret = -errno;
	/* rename: a reader never sees a half-written record */
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/* "NODE PATH" of a profile or companion line (after its keyword) into field[k] of the node
 * the record named before. Returns 0 or -EINVAL. */
static int read_node_path(struct registry_record *r, const char *rest,
			  char field[REGISTRY_MAX_NODES][512])
{
	char node[16];
	int k, off = 0;

	if (sscanf(rest, "%15s %n", node, &off) != 1 || !off)
		return -EINVAL;
	for (k = 0; k < r->nnodes && strcmp(r->node[k], node); k++)
		;
	if (k == r->nnodes)
		return -EINVAL;
	snprintf(field[k], sizeof(field[k]), "%.511s", rest + off);
	return 0;
}

int registry_read(const char *name, struct registry_record *r)
{
	char path[300], line[1024];
	FILE *f;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	record_path(name, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		long long ll;
		int pid;
		unsigned long long st;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (sscanf(line, "lab %15s", r->name) == 1)
			continue;
		if (sscanf(line, "created %lld", &ll) == 1) {
			r->created = (time_t)ll;
			continue;
		}
		if (strncmp(line, "topology ", 9) == 0) {
			snprintf(r->topology, sizeof(r->topology), "%.511s", line + 9);
			continue;
		}
		if (strncmp(line, "node ", 5) == 0 && r->nnodes < REGISTRY_MAX_NODES) {
			if (sscanf(line, "node %15s %299s", r->node[r->nnodes], r->pinned[r->nnodes]) != 2)
				ret = -EINVAL;
			else
				r->nnodes++;
			continue;
		}
		if (strncmp(line, "profile ", 8) == 0) {
			if (read_node_path(r, line + 8, r->profile) < 0)
				ret = -EINVAL;
			continue;
		}
		if (strncmp(line, "companion ", 10) == 0) {
			if (read_node_path(r, line + 10, r->companion) < 0)
				ret = -EINVAL;
			continue;
		}
		if (sscanf(line, "keeper %d %llu", &pid, &st) == 2 && pid > 0) {
			r->keeper = pid;
			r->keeper_start = st;
			continue;
		}
		if (sscanf(line, "pid %d %llu", &pid, &st) == 2 && r->npids < REGISTRY_MAX_PIDS) {
			r->pid[r->npids] = pid;
			r->pid_start[r->npids++] = st;
			continue;
		}
		ret = -EINVAL;
	}
	fclose(f);
	if (ret == 0 && strcmp(r->name, name) != 0)
		ret = -EINVAL;
	return ret;
}

static int by_created(const void *a, const void *b)
{
	const struct registry_record *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

int registry_list(char (**names)[16])
{
	DIR *d = REGISTRY_DIR ? opendir(REGISTRY_DIR) : NULL;
	struct registry_record *recs = NULL;
	struct dirent *de;
	int n = 0, cap = 0;

	*names = NULL;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char name[16];

		if (len < 5 || len > 4 + 12 || strcmp(de->d_name + len - 4, ".lab") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 4), de->d_name);
		if (n == cap) {
			void *p = realloc(recs, (size_t)(cap = cap ? cap * 2 : 8) * sizeof(*recs));
			if (!p)
				break;
			recs = p;
		}
		if (registry_read(name, &recs[n]) < 0) {
			/* still list it, so `lab down` can remove a damaged record */
			memset(&recs[n], 0, sizeof(recs[n]));
			snprintf(recs[n].name, sizeof(recs[n].name), "%s", name);
		}
		n++;
	}
	closedir(d);
	/* qsort's array must not be NULL even for 0 elements (C11 7.22.5): with no record kept,
	 * recs was never allocated (UBSan's nonnull-attribute, from `lab list` and `clean`) */
	if (n > 1)
		qsort(recs, (size_t)n, sizeof(*recs), by_created);
	*names = calloc((size_t)n + 1, 16);
	if (!*names) {
		free(recs);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		memcpy((*names)[i], recs[i].name, 16);
	free(recs);
	return n;
}

unsigned long long registry_proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
		/* fields after the command name: state is field 3, starttime field 22 */
		int field = 2;
		for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
			if (++field == 22) {
				start = strtoull(tok, NULL, 10);
				break;
			}
	}
	fclose(f);
	return start;
}

int registry_lock(void)
{
	int fd;

	if (!REGISTRY_DIR)
		return -errno;
	if (paths_mkdir_p(REGISTRY_DIR) < 0)
		return -errno;
	fd = open(REGISTRY_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int err = -errno;
			close(fd);
			return err;
		}
	return fd;
}

void registry_unlock(int fd)
{
	if (fd < 0)
		return;
	/* LOCK_UN releases it even while a child still holds a copy of the fd */
	flock(fd, LOCK_UN);
	close(fd);
}

int registry_add_pid(struct registry_record *r, pid_t pid)
{
	unsigned long long start = registry_proc_start(pid);
	int live = 0;

	if (!start)
		return -ESRCH;
	for (int i = 0; i < r->npids; i++)
		if (r->pid_start[i] && registry_proc_start(r->pid[i]) == r->pid_start[i]) {
			r->pid[live] = r->pid[i];
			r->pid_start[live++] = r->pid_start[i];
		}
	r->npids = live;
	if (r->npids >= REGISTRY_MAX_PIDS)
		return -ENOSPC;
	r->pid[r->npids] = pid;
	r->pid_start[r->npids++] = start;
	return 0;
}

#define KILL_WAIT_MS 3000

/* SIGKILL the recorded programs that still run, then wait until they have exited. A pidfd
 * names one process for good, so a pid reused after the start-time check is never signalled.
 * Waiting matters: an init exits only after the kernel has killed its whole PID namespace, and
 * only then do the lab's namespaces lose their last users. */
static void kill_recorded(const struct registry_record *r, const struct out *o)
{
	struct pollfd pfd[REGISTRY_MAX_PIDS + 1];
	int n = 0;

	/* the keeper last: it holds the namespaces the programs run in */
	for (int i = 0; i <= r->npids; i++) {
		pid_t pid = i < r->npids ? r->pid[i] : r->keeper;
		unsigned long long start = i < r->npids ? r->pid_start[i] : r->keeper_start;
		int fd;

		if (!start || pid <= 0)
			continue;
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0)
			continue; /* gone already */
		if (registry_proc_start(pid) != start ||
		    syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0) {
			close(fd);
			continue;
		}
		pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	for (int i = 0; i < n; i++) {
		int r2;

		do
			r2 = poll(&pfd[i], 1, KILL_WAIT_MS);
		while (r2 < 0 && errno == EINTR);
		if (r2 == 0 && o)
			out_warnx(o, "a program of the lab was still running %d ms after SIGKILL",
				  KILL_WAIT_MS);
		close(pfd[i].fd);
	}
}

int registry_remove(const char *name, const struct out *o)
{
	struct registry_record r;
	char path[300];
	int lock = registry_lock(), ret, first = 0;

	if (lock < 0)
		return lock;
	ret = registry_read(name, &r);
	if (ret == -ENOENT) {
		registry_unlock(lock);
		return ret;
	}
	if (ret < 0 && o)
		out_warnx(o, "record of lab %s is damaged; removing what it names", name);
	kill_recorded(&r, o);
	for (int i = 0; i < r.nnodes; i++)
		if (r.profile[i][0])
			lab_portmapd_remove(name, r.node[i]); /* its miniupnpd's files, if any */
	for (int i = 0; i < r.nnodes; i++)
		lab_nat64_remove(name, r.node[i]); /* its tayga's files, if any */
	for (int i = 0; i < r.nnodes; i++) {
		/* Only files under /run/netns named after this lab: a damaged record must not make
		 * us unmount anything else. */
		char want[PATH_MAX];
		if (!NETNS_RUN_DIR)
			break;
		snprintf(want, sizeof(want), "%s/%s-", NETNS_RUN_DIR, name);
		if (strncmp(r.pinned[i], want, strlen(want)) != 0 || strstr(r.pinned[i], ".."))
			continue;
		/* A rootless pin is a mount in the keeper's mount namespace only, gone with the
		 * keeper killed above; here it is a plain file (umount2: EINVAL, or EPERM outside
		 * any user namespace). */
		if (umount2(r.pinned[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT &&
		    !(r.keeper > 0 && errno == EPERM) && !first)
			first = -errno;
		if (unlink(r.pinned[i]) < 0 && errno != ENOENT && !first)
			first = -errno;
	}
	record_path(name, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT && !first)
		first = -errno;
	registry_unlock(lock);
	return first;
}
