/* punchlab lab up|down|list|check */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lab/check.h"
#include "lab/lab.h"
#include "lab/registry.h"

#define DEFAULT_TOPOLOGY "two-nats"

static const char lab_usage[] =
	"usage: punchlab lab up [-t TOPOLOGY] [--set NODE=PROFILE]... [--impair LINK=SPEC]...\n"
	"                       [--impairment PRESET] [--keep] [--name NAME]\n"
	"       punchlab lab check [-t TOPOLOGY] [--set NODE=PROFILE]... [--impair LINK=SPEC]...\n"
	"       punchlab lab down LAB\n"
	"       punchlab lab list\n"
	"\n"
	"  up     build a topology (default " DEFAULT_TOPOLOGY "). Without --keep it holds the lab\n"
	"         until Ctrl-C or SIGTERM, then removes it. With --keep it pins every node as\n"
	"         /run/netns/LAB-NODE, prints only the lab's name and returns (rootless: a\n"
	"         keeper process holds it, docs/rootless.md).\n"
	"  check  build a topology, send real UDP probes from every host to every server address\n"
	"         and to the other hosts, compare with what the topology allows, remove it.\n"
	"         Exit 1 when a probe's result differs from the expectation.\n"
	"  down   remove a kept lab (its pinned namespaces and the programs started for it).\n"
	"  list   kept labs, one a line, oldest first: NAME TOPOLOGY CREATED NODES\n"
	"\n"
	"  -t, --topology T   a name from topologies/ or a path to a .yaml file\n"
	"  --set NODE=PROFILE load PROFILE (a name from nat-profiles/ or a .nft path) into NAT\n"
	"                     node NODE instead of the topology's choice; repeatable\n"
	"  --impair LINK=SPEC impair the link between two nodes (LINK is A:B, SPEC's first\n"
	"                     direction A -> B): 'inet:nat-a=delay 40ms jitter 5ms loss 2%'\n"
	"                     (docs/impairments.md); repeatable, after the topology's own\n"
	"  --impairment P     a preset (dsl, lte, satellite, lossy-wifi) or a .impair path,\n"
	"                     applied before the --impair options\n"
	"  --name NAME        the lab's name, [a-z0-9]{1,12} (default: generated)\n";

struct up_args {
	const char *topology;
	struct lab_options opts;
	char set_buf[TOPO_MAX_NODES][300];
	bool keep;
	const char *impair[TOPO_MAX_LINKS]; /* --impair LINK=SPEC, as typed */
	int nimpair;
	const char *preset;                 /* --impairment */
};

static int parse_up_args(int argc, char **argv, struct up_args *a, bool allow_keep)
{
	static const struct option longopts[] = {
		{ "topology", required_argument, NULL, 't' }, { "set", required_argument, NULL, 's' },
		{ "keep", no_argument, NULL, 'k' },           { "name", required_argument, NULL, 'n' },
		{ "impair", required_argument, NULL, 'i' },   { "impairment", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },           { 0 },
	};
	int c;

	a->topology = DEFAULT_TOPOLOGY;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			a->topology = optarg;
			break;
		case 's': {
			int i = a->opts.noverrides;
			char *eq;
			if (i >= TOPO_MAX_NODES) {
				fprintf(stderr, "punchlab: too many --set options\n");
				return EXIT_SETUP;
			}
			snprintf(a->set_buf[i], sizeof(a->set_buf[i]), "%s", optarg);
			eq = strchr(a->set_buf[i], '=');
			if (!eq || eq == a->set_buf[i] || !eq[1]) {
				fprintf(stderr, "punchlab: --set %s: expected NODE=PROFILE, e.g. "
					"--set nat-a=full-cone\n", optarg);
				return EXIT_SETUP;
			}
			*eq = '\0';
			a->opts.override_node[i] = a->set_buf[i];
			a->opts.override_profile[i] = eq + 1;
			a->opts.noverrides++;
			break;
		}
		case 'k':
			if (!allow_keep)
				goto bad;
			a->keep = true;
			break;
		case 'n':
			a->opts.name = optarg;
			break;
		case 'i':
			if (a->nimpair >= TOPO_MAX_LINKS) {
				fprintf(stderr, "punchlab: too many --impair options\n");
				return EXIT_SETUP;
			}
			a->impair[a->nimpair++] = optarg;
			break;
		case 'I':
			a->preset = optarg;
			break;
		case 'h':
			fputs(lab_usage, stdout);
			return -1;
		default:
			goto bad;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "punchlab: unexpected argument \"%s\"\n", argv[optind]);
		goto bad;
	}
	return 0;
bad:
	fputs(lab_usage, stderr);
	return EXIT_SETUP;
}

static int build(struct up_args *a, struct topo *t, struct lab **lab)
{
	struct diag_list dl = { .count = 0 };
	int ret = cli_load_topology(a->topology, t);

	if (ret)
		return ret;
	/* a preset, then the single links: a user's --impair refines a preset */
	if (a->preset && topo_impair_preset(t, a->preset, &dl) < 0) {
		diag_print(&dl, &out_std);
		return EXIT_SETUP;
	}
	for (int i = 0; i < a->nimpair; i++)
		topo_impair_set(t, a->impair[i], &dl);
	if (dl.count) {
		diag_print(&dl, &out_std);
		return EXIT_SETUP;
	}
	a->opts.keep = a->keep;
	if (lab_up(t, &a->opts, lab, &dl) < 0) {
		diag_print(&dl, &out_std);
		return EXIT_SETUP;
	}
	return 0;
}

static void print_summary(const struct lab *lab, FILE *f)
{
	const struct topo *t = lab_topo(lab);

	fprintf(f, "lab %s: topology %s (%s), %d nodes, %d links\n", lab_name(lab), t->name, t->file,
		t->nnodes, t->nlinks);
	for (int n = 0; n < t->nnodes; n++) {
		const char *prof = lab_node_profile(lab, n);
		fprintf(f, "  %-9s %-6s", t->nodes[n].name, topo_kind_name(t->nodes[n].kind));
		for (int li = 0; li < t->nlinks; li++) {
			int e = topo_link_end_of(&t->links[li], n);
			if (e < 0)
				continue;
			for (int ai = 0; ai < t->links[li].ends[e].naddrs; ai++) {
				char buf[64];
				fprintf(f, " %s", net_addr_format(&t->links[li].ends[e].addrs[ai], true,
								   buf, sizeof(buf)));
			}
		}
		if (prof[0])
			fprintf(f, "  profile %s", prof);
		fputc('\n', f);
	}
	for (int li = 0; li < t->nlinks; li++) {
		char spec[IMPAIR_SPEC_TEXT_MAX];
		const struct topo_link *l = &t->links[li];

		if (!l->impair.active || impair_spec_format(&l->impair, spec, sizeof(spec)) < 0)
			continue;
		fprintf(f, "  impaired  %s:%s  %s\n", t->nodes[l->ends[0].node].name,
			t->nodes[l->ends[1].node].name, spec);
	}
}

static int lab_up_main(int argc, char **argv)
{
	struct up_args a = { 0 };
	struct topo t;
	struct lab *lab = NULL;
	struct diag_list dl = { .count = 0 };
	sigset_t mask;
	int ret = parse_up_args(argc, argv, &a, true);

	if (ret)
		return ret < 0 ? 0 : ret;
	/* Block the stop signals before building, so a Ctrl-C during the build is not lost and
	 * cannot kill us between two kernel objects: we take it in sigwait below. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ret = build(&a, &t, &lab);
	if (ret)
		return ret;
	if (a.keep) {
		if (lab_pin(lab, &dl) < 0) {
			diag_print(&dl, &out_std);
			lab_down(lab);
			return EXIT_SETUP;
		}
		printf("%s\n", lab_name(lab));
		lab_release(lab);
		return 0;
	}
	print_summary(lab, stderr);
	fprintf(stderr, "lab %s is up; Ctrl-C or SIGTERM removes it\n", lab_name(lab));
	{
		int sig = 0;
		sigwait(&mask, &sig);
		fprintf(stderr, "lab %s: %s, removing\n", lab_name(lab), strsignal(sig));
	}
	lab_down(lab);
	return 0;
}

static int lab_check_main(int argc, char **argv)
{
	struct up_args a = { 0 };
	struct check_row rows[CHECK_MAX_ROWS];
	struct topo t;
	struct lab *lab = NULL;
	int ret = parse_up_args(argc, argv, &a, false), n, bad;
	struct timespec t0, t1;

	if (ret)
		return ret < 0 ? 0 : ret;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = build(&a, &t, &lab);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_summary(lab, stdout);
	printf("built in %.1f ms\n\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	n = check_run(lab, 300, rows, CHECK_MAX_ROWS);
	if (n < 0) {
		out_warn(&out_std, n, "probe the lab");
		lab_down(lab);
		return EXIT_SETUP;
	}
	bad = check_print(lab, rows, n, &out_std);
	lab_down(lab);
	printf("\n%d probes, %d as the topology expects, %d unexpected; lab removed\n", n, n - bad,
	       bad);
	return bad ? EXIT_FINDING : 0;
}

static int lab_down_main(int argc, char **argv)
{
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		fputs(lab_usage, argc == 2 ? stdout : stderr);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : EXIT_SETUP;
	}
	ret = registry_remove(argv[1], &out_std);
	if (ret == -ENOENT) {
		out_warnx(&out_std, "no kept lab named \"%s\" (punchlab lab list shows them)", argv[1]);
		return EXIT_SETUP;
	}
	if (ret < 0) {
		out_warn(&out_std, ret, "remove lab %s", argv[1]);
		return EXIT_SETUP;
	}
	return 0;
}

static int lab_list_main(int argc, char **argv)
{
	char (*names)[16] = NULL;
	int n;

	if (argc > 1) {
		fputs(lab_usage, strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return strcmp(argv[1], "--help") == 0 ? 0 : EXIT_SETUP;
	}
	n = registry_list(&names);
	if (n < 0) {
		out_warn(&out_std, n, "read %s", REGISTRY_DIR ? REGISTRY_DIR : "$XDG_RUNTIME_DIR");
		return EXIT_SETUP;
	}
	for (int i = 0; i < n; i++) {
		struct registry_record r;
		char when[32] = "?";

		if (registry_read(names[i], &r) == 0) {
			struct tm tm;
			localtime_r(&r.created, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
			printf("%s %s %s", names[i], r.topology, when);
			for (int k = 0; k < r.nnodes; k++)
				printf("%s%s", k ? "," : " ", r.node[k]);
			putchar('\n');
		} else {
			printf("%s (damaged record)\n", names[i]);
		}
	}
	free(names);
	return 0;
}

int lab_main(int argc, char **argv)
{
	if (argc >= 2) {
		if (strcmp(argv[1], "up") == 0)
			return lab_up_main(argc - 1, argv + 1);
		if (strcmp(argv[1], "check") == 0)
			return lab_check_main(argc - 1, argv + 1);
		if (strcmp(argv[1], "down") == 0)
			return lab_down_main(argc - 1, argv + 1);
		if (strcmp(argv[1], "list") == 0)
			return lab_list_main(argc - 1, argv + 1);
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(lab_usage, stdout);
			return 0;
		}
	}
	fputs(lab_usage, stderr);
	return EXIT_SETUP;
}
