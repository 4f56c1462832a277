/* punchlab bench rootless: the per-cell cost (lab up + lab down of one topology) as root and
 * rootless, in one run: blocks of cells alternate between this process (root, the machine's
 * user namespace) and a child that dropped to an ordinary uid and entered a user namespace as
 * punchlab does without root (src/base/userns.c), so both series see the same machine load.
 * Prints medians, p95, means, throughput and the ratio. A benchmark: it asserts nothing. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/userns.h"
#include "cli/bench_stats.h"
#include "cli/cli.h"
#include "lab/lab.h"

#define BLOCK 10

/* k cells back to back into v; 0 or -EIO (the reason printed) */
static int cells_run(const struct topo *t, double *v, int k)
{
	for (int i = 0; i < k; i++) {
		struct lab_options lo = { 0 };
		struct diag_list dl = { .count = 0 };
		struct lab *lab;
		double t0 = bench_now_ms();

		if (lab_up(t, &lo, &lab, &dl) < 0) {
			diag_print(&dl, &out_std);
			return -EIO;
		}
		lab_down(lab);
		v[i] = bench_now_ms() - t0;
	}
	return 0;
}

/* The rootless side: drop to uid/gid, enter a user namespace, then run a block of cells per
 * request read from `in`, answering with their times on `out`, until EOF. */
static int child_main(const struct topo *t, uid_t uid, int in, int out)
{
	double v[BLOCK];
	char go;
	int ret;

	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) {
		out_warn(&out_std, -errno, "drop to uid %u", (unsigned)uid);
		return 1;
	}
	/* a changed uid makes the process non-dumpable and its /proc/self files root's: it could
	 * not write its own uid_map (proc(5), PR_SET_DUMPABLE) */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	ret = userns_unshare();
	if (ret < 0) {
		out_warn(&out_std, ret, "enter a user namespace as uid %u", (unsigned)uid);
		return 1;
	}
	while (read(in, &go, 1) == 1) {
		if (cells_run(t, v, BLOCK) < 0)
			return 1;
		if (write(out, v, sizeof(v)) != (ssize_t)sizeof(v))
			return 1;
	}
	return 0;
}

static void series_print(const char *name, double *v, int n, double wall_ms)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += v[i];
	printf("%-9s %d cells: median %.2f ms, p95 %.2f ms, mean %.2f ms, %.0f cells/s\n", name, n,
	       bench_percentile(v, n, 0.5), bench_percentile(v, n, 0.95), sum / n,
	       n / (wall_ms / 1e3));
}

int bench_rootless_main(const struct topo *t, int n, uid_t uid)
{
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 }, ret = EXIT_SETUP, status;
	double *root = NULL, *user = NULL, root_wall = 0, user_wall = 0, med_root, med_user;
	pid_t pid = -1;
	int blocks = (n + BLOCK - 1) / BLOCK;

	if (userns_rootless() || geteuid() != 0) {
		out_warnx(&out_std, "bench rootless compares root with rootless: run it as root "
			  "(it drops to uid %u for the rootless side)", (unsigned)uid);
		return EXIT_SETUP;
	}
	n = blocks * BLOCK;
	root = calloc((size_t)n, sizeof(*root));
	user = calloc((size_t)n, sizeof(*user));
	if (!root || !user || pipe(to_child) < 0 || pipe(from_child) < 0) {
		out_warn(&out_std, -errno, "bench rootless");
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		_exit(child_main(t, uid, to_child[0], from_child[1]));
	}
	if (pid < 0) {
		out_warn(&out_std, -errno, "fork");
		goto out;
	}
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = from_child[1] = -1;
	printf("bench rootless: topology %s, %d nodes, %d links; %d cells (lab up + down) as root "
	       "and %d in a user namespace as uid %u, alternating blocks of %d\n", t->name,
	       t->nnodes, t->nlinks, n, n, (unsigned)uid, BLOCK);
	fflush(stdout);
	for (int b = 0; b < blocks; b++) {
		double t0 = bench_now_ms();

		if (cells_run(t, &root[b * BLOCK], BLOCK) < 0)
			goto out;
		root_wall += bench_now_ms() - t0;
		t0 = bench_now_ms();
		if (write(to_child[1], "g", 1) != 1 ||
		    read(from_child[0], &user[b * BLOCK], BLOCK * sizeof(double)) !=
			    (ssize_t)(BLOCK * sizeof(double))) {
			out_warnx(&out_std, "the rootless side stopped (its reason is above)");
			goto out;
		}
		user_wall += bench_now_ms() - t0;
	}
	series_print("root", root, n, root_wall);
	series_print("rootless", user, n, user_wall);
	med_root = root[n / 2];
	med_user = user[n / 2];
	printf("ratio     rootless/root: median %.2fx, throughput %.2fx\n", med_user / med_root,
	       (n / root_wall) / (n / user_wall));
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	if (pid > 0)
		waitpid(pid, &status, 0); /* it ends at EOF on its pipe, closed above */
	free(root);
	free(user);
	return ret;
}
