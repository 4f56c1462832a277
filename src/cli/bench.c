/* punchlab bench lab: build and tear down a topology many times back to back, over netlink and
 * the shell way (one ip/nft process per step), in the same run, and print medians, p95,
 * throughput and the ratio. A benchmark, not a test: it asserts nothing about time. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "cli/cli.h"
#include "lab/lab.h"
#include "lab/shellway.h"

static const char bench_usage[] =
	"usage: punchlab bench lab [-t TOPOLOGY] [-n CELLS] [--shell-n CELLS]\n"
	"       punchlab bench shell-lab up|down NAME [-t TOPOLOGY]\n"
	"\n"
	"  lab        build + tear down TOPOLOGY (default two-nats) CELLS times over netlink\n"
	"             (default 300) and --shell-n times with one ip/nft process per step\n"
	"             (default 300, 0 skips it); prints median, p95, throughput and the ratio\n"
	"  shell-lab  build (up) or remove (down) one lab the shell way as /run/netns/NAME-NODE,\n"
	"             for comparing its dumps with a kept netlink lab\n";

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)((n - 1) * p + 0.5)];
}

struct series {
	const char *name;
	int n;
	double *total, *up;
	double wall_ms;
};

static void series_print(struct series *s)
{
	double med = percentile(s->total, s->n, 0.5), p95 = percentile(s->total, s->n, 0.95);
	double up_med = percentile(s->up, s->n, 0.5);

	printf("%-9s cells=%-4d up+down median %7.2f ms  p95 %7.2f ms  (up median %7.2f ms)  "
	       "throughput %7.1f cells/s\n", s->name, s->n, med, p95, up_med,
	       s->n / (s->wall_ms / 1000));
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
		struct diag_list dl = { .count = 0 };
		struct lab *lab;
		double t0 = now_ms(), t1;

		if (lab_up(t, NULL, &lab, &dl) < 0) {
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

static int shell_lab_main(int argc, char **argv, const char *topology)
{
	char (*profiles)[4096] = calloc(TOPO_MAX_NODES, 4096);
	struct topo t;
	int ret;

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

int bench_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "topology", required_argument, NULL, 't' }, { "shell-n", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },           { 0 },
	};
	const char *topology = "two-nats", *what;
	int n = 300, shell_n = 300, c, ret = EXIT_SETUP;
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
	optind = 2;
	while ((c = getopt_long(argc, argv, "t:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': topology = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 's': shell_n = atoi(optarg); break;
		case 'h': fputs(bench_usage, stdout); return 0;
		default: fputs(bench_usage, stderr); return EXIT_SETUP;
		}
	}
	if (strcmp(what, "shell-lab") == 0)
		return shell_lab_main(argc - optind, argv + optind, topology);
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
	sh.n = shell_n;
	sh.total = calloc((size_t)shell_n + 1, sizeof(double));
	sh.up = calloc((size_t)shell_n + 1, sizeof(double));
	if (!profiles || !nl.total || !nl.up || !sh.total || !sh.up || resolve_profiles(&t, profiles))
		goto out;

	printf("bench lab: topology %s, %d nodes, %d links; %d cells over netlink, %d the shell "
	       "way, back to back\n", t.name, t.nnodes, t.nlinks, n, shell_n);
	fflush(stdout);
	if (bench_netlink(&t, &nl) < 0)
		goto out;
	series_print(&nl);
	fflush(stdout);
	if (shell_n > 0) {
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
	free(sh.total);
	free(sh.up);
	return ret;
}
