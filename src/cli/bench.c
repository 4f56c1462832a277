/* punchlab bench lab: build and tear down a topology many times back to back, over netlink and
 * the shell way (one ip/nft process per step), in the same run, and print medians, p95,
 * throughput and the ratio. A benchmark, not a test: it asserts nothing about time. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "base/userns.h"
#include "engine/adapter.h"
#include "cli/cli.h"
#include "cli/bench_stats.h"
#include "lab/lab.h"
#include "lab/shellway.h"
#include "matrix/cell_runner.h"
#include "matrix/matrix.h"
#include "report/report.h"

static const char bench_usage[] =
	"usage: punchlab bench lab [-t TOPOLOGY] [-n CELLS] [--shell-n CELLS]\n"
	"       punchlab bench shell-lab up|down NAME [-t TOPOLOGY]\n"
	"       punchlab bench matrix [-n CELLS] [--jobs N] [--repeat N] [--engine NAME|PATH]\n"
	"       punchlab bench engines [-n CELLS] [--no-nebula]\n"
	"       punchlab bench impair [-t TOPOLOGY] [-n CELLS] [--seconds S]\n"
	"       punchlab bench connect [--repeat N] [--jobs N] [--techniques T,...] [--from FILE]\n"
	"       punchlab bench rootless [-t TOPOLOGY] [-n CELLS] [--uid UID]\n"
	"\n"
	"  lab        build + tear down TOPOLOGY (default two-nats) CELLS times over netlink\n"
	"             (default 300) and --shell-n times with one ip/nft process per step\n"
	"             (default 300, 0 skips it); prints median, p95, throughput and the ratio,\n"
	"             and where the netlink lab's time goes (median and mean of each phase of\n"
	"             lab up, and of lab down)\n"
	"  shell-lab  build (up) or remove (down) one lab the shell way as /run/netns/NAME-NODE,\n"
	"             for comparing its dumps with a kept netlink lab (as root only)\n"
	"  matrix     the harness's per-cell overhead (lab up + engine start + lab down, CELLS\n"
	"             times, default 200), then the full default matrix once with --jobs (the\n"
	"             engine file's jobs:, else 40)\n"
	"             and --repeat (1): wall time, cells per second, per-cell wall time,\n"
	"             outcomes, regressions and flaky cells; --engine: that engine's (punch)\n"
	"  engines    for every shipped engine that is installed, the median per-cell overhead\n"
	"             (CELLS each, default 50); then nebula's 25-cell UDP matrix over the five\n"
	"             classic profiles at the default jobs and at --jobs 1 (--no-nebula skips it)\n"
	"  impair     impaired links: configured vs measured delay, jitter and loss of a UDP\n"
	"             stream at 1k and 20k packets/s over inet:server, and lab up + down per\n"
	"             cell without impairment and under presets (CELLS, default 100);\n"
	"             --seconds per rate (default 2, 0 skips the accuracy part)\n"
	"  connect    time to connect and to first byte per transport and technique over the\n"
	"             default matrix (auto, --repeat 5), or of saved matrix.json files (--from)\n"
	"  rootless   lab up + down per cell as root and rootless (as UID, default 65534, in a\n"
	"             user namespace: docs/rootless.md), CELLS each (default 300), alternating\n"
	"             blocks in one run; medians, p95, throughput and the ratio. Run as root\n";

static double now_ms(void)
{
	return bench_now_ms();
}

static double percentile(double *v, int n, double p)
{
	return bench_percentile(v, n, p);
}

struct series {
	const char *name;
	int n;
	double *total, *up;
	double wall_ms;
	double *phase_ms; /* netlink only: n x LAB_PHASES, each lab's phases */
};

static void series_print(struct series *s)
{
	double med = percentile(s->total, s->n, 0.5), p95 = percentile(s->total, s->n, 0.95);
	double up_med = percentile(s->up, s->n, 0.5);

	printf("%-9s cells=%-4d up+down median %7.2f ms  p95 %7.2f ms  (up median %7.2f ms)  "
	       "throughput %7.1f cells/s\n", s->name, s->n, med, p95, up_med,
	       s->n / (s->wall_ms / 1000));
}

/* Where lab up's time goes: each phase's median over the cells (robust on a loaded machine) and
 * mean (the means add up to lab up's mean), and lab down's: the costs the README quotes. */
static void phases_print(const struct series *s)
{
	static const char *const what[LAB_PHASES] = {
		[LAB_PHASE_NODES] = "namespaces with their sysctls",
		[LAB_PHASE_LINKS] = "veth pairs and bridges",
		[LAB_PHASE_ADDRS] = "addresses and routes",
		[LAB_PHASE_RULESETS] = "NAT rulesets",
		[LAB_PHASE_LINK_WAIT] = "waiting until every link is up",
		[LAB_PHASE_IMPAIR] = "impaired links' forwarders",
	};
	double *v = calloc((size_t)s->n, sizeof(double)), up = 0, total = 0;

	if (!v)
		return;
	for (int i = 0; i < s->n; i++) {
		up += s->up[i];
		total += s->total[i];
	}
	printf("phases    median / mean per cell, ms:");
	for (int p = 0; p < LAB_PHASES; p++) {
		double sum = 0;
		for (int i = 0; i < s->n; i++)
			sum += v[i] = s->phase_ms[i * LAB_PHASES + p];
		printf("%s %s %.2f / %.2f", p ? "," : "", what[p], percentile(v, s->n, 0.5),
		       sum / s->n);
	}
	for (int i = 0; i < s->n; i++)
		v[i] = s->total[i] - s->up[i];
	printf("; lab up mean %.2f; lab down %.2f / %.2f\n", up / s->n, percentile(v, s->n, 0.5),
	       (total - up) / s->n);
	free(v);
}

static int resolve_profiles(const struct topo *t, char profiles[][4096])
{
	for (int n = 0; n < t->nnodes; n++) {
		profiles[n][0] = '\0';
		if (t->nodes[n].kind == NODE_NAT && t->nodes[n].profile[0] &&
		    paths_resolve("nat-profiles", ".nft", t->nodes[n].profile, profiles[n], 4096) < 0) {
			out_warnx(&out_std, "profile %s not found", t->nodes[n].profile);
			return -ENOENT;
		}
	}
	return 0;
}

static int bench_netlink(const struct topo *t, struct series *s)
{
	double start = now_ms();

	for (int i = 0; i < s->n; i++) {
		struct lab_options lo = { .phase_ms = &s->phase_ms[i * LAB_PHASES] };
		struct diag_list dl = { .count = 0 };
		struct lab *lab;
		double t0 = now_ms(), t1;

		if (lab_up(t, &lo, &lab, &dl) < 0) {
			diag_print(&dl, &out_std);
			return -EIO;
		}
		t1 = now_ms();
		lab_down(lab);
		s->up[i] = t1 - t0;
		s->total[i] = now_ms() - t0;
	}
	s->wall_ms = now_ms() - start;
	return 0;
}

static int bench_shell(const struct topo *t, char profiles[][4096], struct series *s)
{
	double start = now_ms();
	char name[32];

	snprintf(name, sizeof(name), "plb%d", (int)getpid() % 100000);
	for (int i = 0; i < s->n; i++) {
		double t0 = now_ms(), t1;
		int ret = shellway_up(t, name, profiles);

		if (ret) {
			out_warnx(&out_std, "shell way: a step failed (status %d)", ret);
			return -EIO;
		}
		t1 = now_ms();
		shellway_down(t, name);
		s->up[i] = t1 - t0;
		s->total[i] = now_ms() - t0;
	}
	s->wall_ms = now_ms() - start;
	return 0;
}

/* Rootless, the shell way's `ip netns add` pins under /run/netns, which is not the user's (and
 * /run/netns may not exist): give it a tmpfs over /run of its own, in this process's mount
 * namespace, private since userns_unshare(), so seen by this process and its children only and
 * gone when it exits. The machine's /run is untouched. `ip netns add` returns to the network
 * namespace it started in, which works because that is the rootless home, ours (userns.c). */
static int shell_way_rootless_prepare(void)
{
	if (!userns_rootless())
		return 0;
	if (mount("punchlab-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return -errno;
	return 0;
}

static int shell_lab_main(int argc, char **argv, const char *topology)
{
	char (*profiles)[4096];
	struct topo t;
	int ret;

	/* a shell-way lab kept for a later `down` lives in /run/netns; rootless, the tmpfs that
	 * could hold it dies with this command (and the machine's /run is root's) */
	if (userns_rootless()) {
		out_warnx(&out_std, "bench shell-lab keeps its lab under /run/netns for a later "
			  "`shell-lab down`, which a user cannot write and a user namespace cannot "
			  "keep past the command: run it as root (sudo), or use `punchlab bench lab`, "
			  "whose shell-way part works rootless");
		return EXIT_SETUP;
	}
	profiles = calloc(TOPO_MAX_NODES, 4096);
	if (!profiles)
		return EXIT_SETUP;
	ret = cli_load_topology(topology, &t);
	if (!ret && resolve_profiles(&t, profiles) < 0)
		ret = EXIT_SETUP;
	if (!ret && argc == 2 && strcmp(argv[0], "up") == 0)
		ret = shellway_up(&t, argv[1], profiles) ? EXIT_SETUP : 0;
	else if (!ret && argc == 2 && strcmp(argv[0], "down") == 0)
		ret = shellway_down(&t, argv[1]) ? EXIT_SETUP : 0;
	else if (!ret) {
		fputs(bench_usage, stderr);
		ret = EXIT_SETUP;
	}
	free(profiles);
	return ret;
}

static int bench_matrix(const struct topo *t, int n, int jobs, int repeat, const char *engine)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char bin[PATH_MAX], dir[] = "/tmp/punchlab-bench-XXXXXX";
	double *up = calloc((size_t)n, sizeof(double)), *start = calloc((size_t)n, sizeof(double));
	double *down = calloc((size_t)n, sizeof(double)), *total = calloc((size_t)n, sizeof(double));
	double *cell = NULL;
	struct runner_config cfg = { .engine = e, .engine_binary = bin, .topo = t,
				     .rendezvous_port = 3478, .stop_fd = -1 };
	struct matrix_opts mo = { .udp = true, .tcp = true, .jobs = jobs, .repeat = repeat,
				  .stagger_ms = 20, .engine = engine, .classify = true };
	struct results res;
	struct results_summary sum;
	int ret = EXIT_SETUP, nc = 0, nruns = 0;

	if (!up || !start || !down || !total || !e || !dl || !mkdtemp(dir) ||
	    engine_file_load(e, engine, dl) < 0 || engine_program_find(e, NULL, bin, sizeof(bin)) < 0) {
		if (dl)
			diag_print(dl, &out_std);
		out_warnx(&out_std, "bench matrix: no engine file or program (build it) or no memory");
		goto out;
	}
	cfg.out_dir = dir;
	for (int i = 0; i < n; i++) {
		struct cell_overhead oh;
		if (cell_overhead_once(&cfg, &oh) < 0) {
			out_warnx(&out_std, "bench matrix: a cell's lab or rendezvous failed");
			goto out;
		}
		up[i] = oh.lab_up_ms;
		start[i] = oh.engine_start_ms;
		down[i] = oh.lab_down_ms;
		total[i] = oh.total_ms;
	}
	printf("per-cell overhead over %d cells: median %.2f ms (lab up %.2f, engine start until "
	       "ready %.2f, lab down %.2f), p95 %.2f ms\n", n, percentile(total, n, 0.5),
	       percentile(up, n, 0.5), percentile(start, n, 0.5), percentile(down, n, 0.5),
	       percentile(total, n, 0.95));
	fflush(stdout);
	mo.out_dir = dir;
	if (matrix_run(&mo, &res, &out_std) != 0)
		goto out;
	results_summarize(&res, &sum);
	cell = calloc((size_t)res.ncells + 1, sizeof(double));
	for (int i = 0; cell && i < res.ncells; i++)
		cell[nc++] = res.cells[i].runs[0].wall_ms;
	for (int i = 0; i < res.ncells; i++)
		nruns += res.cells[i].nruns;
	printf("full default matrix: %d cells, %d runs (--repeat %d) in %.2f s wall with %d jobs "
	       "(%.1f runs/s); "
	       "first run's wall time median %.0f ms, p95 %.0f ms; %d direct, %d relayed, %d failed, "
	       "%d error; %d regressions, %d flaky\n",
	       res.ncells, nruns, repeat, res.meta.wall_ms / 1000, res.meta.jobs,
	       nruns / (res.meta.wall_ms / 1000),
	       nc ? percentile(cell, nc, 0.5) : 0, nc ? percentile(cell, nc, 0.95) : 0, sum.direct,
	       sum.relayed, sum.failed, sum.error, sum.regressions, sum.flaky);
	/* where the wall time goes: the slowest cells bound it from below */
	for (int k = 0; k < 5 && k < res.ncells; k++) {
		int slowest = -1;
		for (int i = 0; i < res.ncells; i++)
			if (res.cells[i].runs[0].wall_ms >= 0 &&
			    (slowest < 0 || res.cells[i].runs[0].wall_ms > res.cells[slowest].runs[0].wall_ms))
				slowest = i;
		printf("  slow cell %d: %6.0f ms  %s (%s)\n", k + 1, res.cells[slowest].runs[0].wall_ms,
		       res.cells[slowest].spec.id, cell_outcome_name(res.cells[slowest].outcome));
		res.cells[slowest].runs[0].wall_ms = -1;
	}
	{
		struct diag_list dl = { .count = 0 };
		report_dir_write(&res, dir, &dl);
	}
	printf("reports of that run: %s\n", dir);
	results_free(&res);
	ret = 0;
out:
	free(up);
	free(start);
	free(down);
	free(total);
	free(cell);
	free(e);
	free(dl);
	return ret;
}

int bench_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "topology", required_argument, NULL, 't' }, { "shell-n", required_argument, NULL, 's' },
		{ "jobs", required_argument, NULL, 'j' },     { "repeat", required_argument, NULL, 'r' },
		{ "engine", required_argument, NULL, 'e' },   { "help", no_argument, NULL, 'h' },
		{ "no-nebula", no_argument, NULL, 'N' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "uid", required_argument, NULL, 'U' },
		{ 0 },
	};
	const char *topology = "two-nats", *what, *engine = "punch";
	int n = 300, shell_n = 300, jobs = 0, repeat = 1, c, ret = EXIT_SETUP; /* jobs 0: the engine's */
	bool n_given = false, nebula = true;
	double seconds = 2.0;
	long uid = 65534;
	struct series nl = { "netlink" }, sh = { "shell" };
	char (*profiles)[4096] = NULL;
	struct rusage ru;
	struct topo t;

	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
		fputs(bench_usage, help ? stdout : stderr);
		return help ? 0 : EXIT_SETUP;
	}
	what = argv[1];
	if (strcmp(what, "connect") == 0)
		return bench_connect_main(argc - 1, argv + 1);
	optind = 2;
	while ((c = getopt_long(argc, argv, "t:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': topology = optarg; break;
		case 'n': n = atoi(optarg); n_given = true; break;
		case 'j': jobs = atoi(optarg); jobs = jobs ? jobs : -1; break;
		case 'r': repeat = atoi(optarg); break;
		case 's': shell_n = atoi(optarg); break;
		case 'e': engine = optarg; break;
		case 'N': nebula = false; break;
		case 'S': seconds = atof(optarg); break;
		case 'U': uid = strtol(optarg, NULL, 10); break;
		case 'h': fputs(bench_usage, stdout); return 0;
		default: fputs(bench_usage, stderr); return EXIT_SETUP;
		}
	}
	if (strcmp(what, "shell-lab") == 0)
		return shell_lab_main(argc - optind, argv + optind, topology);
	if (strcmp(what, "matrix") == 0) {
		if (n < 1 || n > 100000 || jobs < 0 || jobs > 256 || repeat < 1 || repeat > 1000 ||
		    optind != argc) {
			fputs(bench_usage, stderr);
			return EXIT_SETUP;
		}
		if (cli_load_topology(topology, &t))
			return EXIT_SETUP;
		return bench_matrix(&t, n_given ? n : 200, jobs, repeat, engine);
	}
	if (strcmp(what, "engines") == 0) {
		if (n < 1 || n > 100000 || optind != argc) {
			fputs(bench_usage, stderr);
			return EXIT_SETUP;
		}
		if (cli_load_topology(topology, &t))
			return EXIT_SETUP;
		return bench_engines(&t, n_given ? n : 50, nebula);
	}
	if (strcmp(what, "impair") == 0) {
		if (n < 1 || n > 100000 || optind != argc || !(seconds >= 0 && seconds <= 60)) {
			fputs(bench_usage, stderr);
			return EXIT_SETUP;
		}
		if (cli_load_topology(topology, &t))
			return EXIT_SETUP;
		return bench_impair_main(&t, n_given ? n : 100, seconds);
	}
	if (strcmp(what, "rootless") == 0) {
		if (n < 1 || n > 100000 || optind != argc || uid < 1 || uid > 0x7fffffff) {
			fputs(bench_usage, stderr);
			return EXIT_SETUP;
		}
		if (cli_load_topology(topology, &t))
			return EXIT_SETUP;
		return bench_rootless_main(&t, n, (uid_t)uid);
	}
	if (strcmp(what, "lab") != 0 || optind != argc || n < 1 || n > 100000 || shell_n < 0 ||
	    shell_n > 100000) {
		fputs(bench_usage, stderr);
		return EXIT_SETUP;
	}
	if (cli_load_topology(topology, &t))
		return EXIT_SETUP;
	profiles = calloc(TOPO_MAX_NODES, 4096);
	nl.n = n;
	nl.total = calloc((size_t)n, sizeof(double));
	nl.up = calloc((size_t)n, sizeof(double));
	nl.phase_ms = calloc((size_t)n * LAB_PHASES, sizeof(double));
	sh.n = shell_n;
	sh.total = calloc((size_t)shell_n + 1, sizeof(double));
	sh.up = calloc((size_t)shell_n + 1, sizeof(double));
	if (!profiles || !nl.total || !nl.up || !nl.phase_ms || !sh.total || !sh.up || resolve_profiles(&t, profiles))
		goto out;

	printf("bench lab: topology %s, %d nodes, %d links; %d cells over netlink, %d the shell "
	       "way, back to back\n", t.name, t.nnodes, t.nlinks, n, shell_n);
	fflush(stdout);
	if (bench_netlink(&t, &nl) < 0)
		goto out;
	series_print(&nl);
	phases_print(&nl);
	fflush(stdout);
	if (shell_n > 0) {
		int err = shell_way_rootless_prepare();

		if (err < 0) {
			out_warn(&out_std, err, "rootless: mount a tmpfs of this user namespace's own "
				 "over /run for the shell way's /run/netns");
			goto out;
		}
		if (bench_shell(&t, profiles, &sh) < 0)
			goto out;
		series_print(&sh);
		printf("ratio     shell/netlink: median %.1fx, throughput %.1fx\n",
		       percentile(sh.total, sh.n, 0.5) / percentile(nl.total, nl.n, 0.5),
		       (nl.n / nl.wall_ms) / (sh.n / sh.wall_ms));
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("max RSS   %ld KiB\n", ru.ru_maxrss);
	ret = 0;
out:
	free(profiles);
	free(nl.total);
	free(nl.up);
	free(nl.phase_ms);
	free(sh.total);
	free(sh.up);
	return ret;
}
