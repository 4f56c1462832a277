/* punchlab bench engines: the harness's own overhead per cell for every shipped engine that is
 * installed, and Nebula's 25-cell UDP matrix with cells in parallel against one at a time
 * (issue 11's benchmark: a foreign engine's matrix is bound by its own timers, not the
 * harness). Prints medians measured in this run; asserts nothing. */
#include <dirent.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "cli/bench_stats.h"
#include "cli/cli.h"
#include "engine/adapter.h"
#include "lab/topo.h"
#include "matrix/cell_runner.h"
#include "matrix/matrix.h"

static double median(double *v, int n)
{
	return bench_percentile(v, n, 0.5);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One engine's overhead: n cells of lab up, its servers started and ready, lab down. */
static int engine_overhead(const struct topo *t, const char *name, int n)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	double *total = calloc((size_t)n, sizeof(double)), *start = calloc((size_t)n, sizeof(double));
	char bin[PATH_MAX], dir[] = "/tmp/punchlab-bench-engines-XXXXXX", why[1024];
	int ret = -1, done = 0;

	if (!e || !dl || !total || !start || !mkdtemp(dir))
		goto out;
	if (engine_file_load(e, name, dl) < 0) {
		printf("  %-10s  (engine file does not load)\n", name);
		goto out;
	}
	if (engine_program_find(e, NULL, bin, sizeof(bin)) < 0) {
		printf("  %-10s  not installed (%s)\n", name, bin);
		ret = 0;
		goto out;
	}
	/* as the matrix refuses it (load_one_engine): not a failed cell but an engine not yet
	 * installed */
	if (engine_npm_installed(e) < 0) {
		printf("  %-10s  not installed (its npm packages: sudo ./run-matrix --engine %s runs "
		       "npm ci)\n", name, name);
		ret = 0;
		goto out;
	}
	struct runner_config cfg = { .engine = e, .engine_binary = bin, .topo = t,
				     .rendezvous_port = 3478, .stop_fd = -1, .out_dir = dir };
	for (int i = 0; i < n; i++) {
		struct cell_overhead oh;
		if (cell_overhead_once(&cfg, &oh) < 0)
			break;
		total[done] = oh.total_ms;
		start[done++] = oh.engine_start_ms;
	}
	if (done < n) {
		printf("  %-10s  a cell's lab or servers failed after %d cells\n", name, done);
		goto out;
	}
	printf("  %-10s  median %6.2f ms per cell (its servers until ready %6.2f ms), %d cells%s\n",
	       name, median(total, n), median(start, n), n,
	       e->needs && engine_needs_check(e, why, sizeof(why)) < 0
	       ? " (only its servers: its peers need a device this user cannot open)" : "");
	ret = 0;
out:
	fflush(stdout);
	free(e);
	free(dl);
	free(total);
	free(start);
	return ret;
}

/* Whether engine `name`'s programs need a device this user cannot open (needs:): true with why
 * filled. An engine file that does not load is left to the caller's own error. */
static bool bench_engine_needs_skip(const char *name, char *why, size_t len)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	bool skip = false;

	if (e && dl && engine_file_load(e, name, dl) == 0)
		skip = engine_needs_check(e, why, len) < 0;
	free(e);
	free(dl);
	return skip;
}

/* Nebula over the five classic profiles, udp: wall time with the default (adaptive) jobs or
 * exactly `jobs`. */
static int nebula_matrix(bool adaptive, int jobs, double *wall_ms, int *cells, int *errors)
{
	static const char *const five[] = { "full-cone", "restricted-cone", "port-restricted-cone",
					    "symmetric", "symmetric-sequential" };
	char dir[] = "/tmp/punchlab-bench-nebula-XXXXXX";
	struct matrix_opts mo = { .udp = true, .jobs = jobs, .jobs_adaptive = adaptive, .repeat = 1,
				  .stagger_ms = CELL_DEFAULT_STAGGER_MS, .engine = "nebula",
				  .classify = false, .out_dir = dir };
	struct results res;
	struct results_summary s;

	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < 5; i++)
		mo.profiles[mo.nprofiles++] = five[i];
	mo.techniques[mo.ntechniques++] = "udp";
	if (matrix_run(&mo, &res, &out_std) != 0)
		return -1;
	results_summarize(&res, &s);
	*wall_ms = res.meta.wall_ms;
	*cells = res.ncells;
	*errors = s.error;
	results_free(&res);
	return 0;
}

int bench_engines(const struct topo *t, int n, bool nebula)
{
	char dir[PATH_MAX];
	DIR *d;
	char *names[64];
	int nn = 0, ret = 0;

	snprintf(dir, sizeof(dir), "%s/engines", paths_data_dir());
	d = opendir(dir);
	if (!d) {
		out_warnx(&out_std, "no engines directory %s", dir);
		return EXIT_SETUP;
	}
	for (struct dirent *de; (de = readdir(d)) && nn < 64;) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)
			names[nn++] = strndup(de->d_name, l - 5);
	}
	closedir(d);
	qsort(names, (size_t)nn, sizeof(names[0]), by_name);
	printf("harness overhead per cell (lab up, the engine's servers started and ready, lab "
	       "down; topology %s), each shipped engine that is installed:\n", t->name);
	for (int i = 0; i < nn; i++) {
		if (names[i] && engine_overhead(t, names[i], n) < 0)
			ret = EXIT_SETUP;
		free(names[i]);
	}
	if (nebula) {
		double wall[2];
		int cells[2], errors[2];
		char why[1024];

		printf("nebula's UDP matrix over the five classic profiles:\n");
		fflush(stdout);
		/* rootless with a mode 0600 /dev/net/tun its peers cannot run: skipped, saying why,
		 * not a failed benchmark (the servers measured above open no device) */
		if (bench_engine_needs_skip("nebula", why, sizeof(why))) {
			printf("  skipped: %s\n", why);
			return ret;
		}
		if (nebula_matrix(true, 40, &wall[0], &cells[0], &errors[0]) < 0 ||
		    nebula_matrix(false, 1, &wall[1], &cells[1], &errors[1]) < 0) {
			printf("  (nebula could not run: punchlab engines says why)\n");
			return EXIT_SETUP;
		}
		printf("  default jobs (adaptive, at most 40): %d cells in %.1f s wall, %d error\n",
		       cells[0], wall[0] / 1000, errors[0]);
		printf("  --jobs 1:                           %d cells in %.1f s wall, %d error\n",
		       cells[1], wall[1] / 1000, errors[1]);
		printf("  parallel / one at a time: %.2f of the time\n", wall[0] / wall[1]);
	}
	return ret;
}
