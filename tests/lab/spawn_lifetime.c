/* Helper of tests/lab/lifetime.sh (issue 3, "Lifetimes": kill -9 must leave no namespace, link
 * or process behind; test it with a program that forks a grandchild).
 *
 * Builds two-nats with lab_up(), lab_spawn()s in host-a `sh -c 'sleep 300 & sleep 300'` (the
 * background sleep is a grandchild of the init), waits until that process tree exists, checks it
 * runs in host-a's network namespace and in a PID namespace of its own, then prints on stdout
 *   init PID START        the init lab_spawn() made (START: field 22 of /proc/PID/stat)
 *   proc PID START DEPTH  each process below it (DEPTH 1 = child, 2 = grandchild)
 *   netns INODE           each node's network namespace
 *   ready
 * and sleeps until killed. The script kills it with SIGKILL and checks that all of the above
 * disappear. Without the kill it gives up after 120 s, tears the lab down and exits 1.
 * Exit 77 when not root, 1 on any failure before "ready". */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/topo.h"

#define MAX_PROCS 16

struct proc {
	pid_t pid;
	unsigned long long start;
	int depth;
};

/* ppid and start time of a process from /proc/PID/stat; -1 when it is gone. */
static int proc_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	int field = 2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p)
		return -1;
	/* after the command name: field 3 is the state, 4 the ppid, 22 the start time */
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		field++;
		if (field == 4)
			*ppid = (pid_t)atoi(tok);
		if (field == 22) {
			*start = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -1;
}

/* Every descendant of root (depth-first by repeated scans: the tree is tiny). */
static int descendants(pid_t root, struct proc *out, int max)
{
	int n = 0, added;

	do {
		DIR *d = opendir("/proc");
		struct dirent *de;

		added = 0;
		if (!d)
			return -1;
		while ((de = readdir(d)) && n < max) {
			pid_t pid = (pid_t)atoi(de->d_name), ppid = 0;
			unsigned long long start;
			int depth = 0, known = 0;

			if (pid <= 0 || proc_stat(pid, &ppid, &start) < 0)
				continue;
			for (int i = 0; i < n; i++)
				known |= out[i].pid == pid;
			if (known)
				continue;
			if (ppid == root)
				depth = 1;
			for (int i = 0; i < n && !depth; i++)
				if (out[i].pid == ppid)
					depth = out[i].depth + 1;
			if (depth) {
				out[n++] = (struct proc){ pid, start, depth };
				added++;
			}
		}
		closedir(d);
	} while (added);
	return n;
}

static unsigned long ns_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(void)
{
	char *prog[] = { "sh", "-c", "sleep 300 & sleep 300", NULL };
	const struct lab_spawn_opts sopts = {
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
		.timeout_ms = 150 * 1000, /* every program has a deadline; the kill comes first */
	};
	struct diag_list dl = { .count = 0 };
	struct proc procs[MAX_PROCS];
	struct lab *lab = NULL;
	struct topo t;
	char path[64];
	unsigned long long init_start = 0;
	pid_t init, ppid;
	int ha, h, n = 0, deepest = 0, ret = 1;

	if (geteuid() != 0) {
		fprintf(stderr, "spawn_lifetime: needs root\n");
		return 77;
	}
	if (topo_parse_file(&t, PUNCHLAB_SOURCE_DIR "/topologies/two-nats.yaml", &dl) < 0 ||
	    lab_up(&t, NULL, &lab, &dl) < 0) {
		diag_print(&dl, &out_std);
		return 1;
	}
	ha = topo_node_find(&t, "host-a");
	h = lab_spawn(lab, ha, prog, &sopts);
	if (h < 0) {
		fprintf(stderr, "spawn_lifetime: lab_spawn: %s\n", strerror(-h));
		goto out;
	}
	init = lab_spawn_pid(lab, h);
	/* wait (bounded, 5 s) for sh and its background sleep to exist */
	for (int i = 0; i < 250; i++) {
		n = descendants(init, procs, MAX_PROCS);
		deepest = 0;
		for (int k = 0; k < n; k++)
			if (procs[k].depth > deepest)
				deepest = procs[k].depth;
		if (n >= 2 && deepest >= 2)
			break;
		sleep_ms(20);
	}
	if (n < 2 || deepest < 2) {
		fprintf(stderr, "spawn_lifetime: expected a child and a grandchild under init %d, "
			"found %d processes, depth %d\n", (int)init, n, deepest);
		goto out;
	}
	if (proc_stat(init, &ppid, &init_start) < 0 || ppid != getpid()) {
		fprintf(stderr, "spawn_lifetime: init %d is not our child\n", (int)init);
		goto out;
	}
	/* sanity: the program runs in host-a's network namespace, in a PID namespace of its own */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", lab_node_netns(lab, ha));
	for (int k = 0; k < n; k++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)procs[k].pid);
		if (ns_inode(p) != ns_inode(path)) {
			fprintf(stderr, "spawn_lifetime: process %d is not in host-a\n",
				(int)procs[k].pid);
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
	if (ns_inode(path) == ns_inode("/proc/self/ns/pid")) {
		fprintf(stderr, "spawn_lifetime: init %d shares our PID namespace\n", (int)init);
		goto out;
	}

	printf("init %d %llu\n", (int)init, init_start);
	for (int k = 0; k < n; k++)
		printf("proc %d %llu %d\n", (int)procs[k].pid, procs[k].start, procs[k].depth);
	for (int node = 0; node < t.nnodes; node++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", lab_node_netns(lab, node));
		printf("netns %lu\n", ns_inode(path));
	}
	printf("ready\n");
	fflush(stdout);

	sleep_ms(120 * 1000); /* the test kills us long before */
	fprintf(stderr, "spawn_lifetime: not killed within 120 s\n");
out:
	lab_down(lab);
	return ret;
}
