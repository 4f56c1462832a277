/* punchlab: the verb table. The only file that may exit(). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"

struct verb {
	const char *name;
	int (*main)(int argc, char **argv);
	bool needs_root;
	const char *summary;
	/* rootless: the kept lab whose keeper's namespaces the verb acts in (NULL: a new user
	 * namespace), and whether it reads or writes kept labs' records */
	const char *(*kept_lab)(int argc, char **argv);
	bool records;
};

static const struct verb verbs[] = {
	{ "lab", lab_main, true, "build, keep, list, check and remove labs (lab --help)", NULL, true },
	{ "exec", exec_main, true, "run a command inside a node of a kept lab",
	  preflight_lab_of_exec, true },
	{ "clean", clean_main, true, "remove every kept lab (and nothing else)", NULL, true },
	{ "matrix", matrix_main, true, "run every pairing and report the success matrix" },
	{ "run", run_main, true, "one cell under the microscope: live timeline, captures, --keep" },
	{ "merge", merge_main, false, "join shard outputs (matrix.json) into one report" },
	{ "bundle", bundle_main, false, "pack one cell of a report into a repro bundle (.tar.gz)" },
	/* root only with --trust (replay checks it then): the preview runs nothing */
	{ "replay", replay_main, false, "check a repro bundle; --trust reruns it, same outcome?" },
	{ "engines", engines_main, false, "list the engines, their versions, whether installed" },
	{ "classify", classify_main, true, "measure NAT profiles' behaviour against their headers" },
	{ "lifetime", lifetime_main, true, "how long a silent path survives each profile; "
	  "keep-alive adequacy" },
	{ "events", events_main, true, "NAT events: apply a timeline to a kept lab, recovery times",
	  preflight_lab_of_events, true },
	{ "profile", profile_main, false, "profiles from behaviour: profile new --mapping ...; profile import (a NAT discovery "
	  "tool's output)" },
	{ "bench", bench_main, true, "benchmarks: bench lab (netlink vs one ip/nft process a step)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: punchlab VERB [ARGS...]   (punchlab VERB --help for each)\n\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "  %-9s %s\n", "version", "print the version");
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_SETUP : 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("punchlab %s\n", PUNCHLAB_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb *v = &verbs[i];
		bool help = false, keep = false;

		if (strcmp(argv[1], v->name) != 0)
			continue;
		for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++) {
			help |= strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0;
			keep |= strcmp(argv[a], "--keep") == 0;
		}
		/* Here, before any thread: an ordinary user enters a user namespace (or a kept lab's)
		 * and is root inside it from now on (docs/rootless.md) */
		if (v->needs_root && !help) {
			int ret = preflight_enter(v->kept_lab ? v->kept_lab(argc - 1, argv + 1) : NULL,
						  v->records || keep);
			if (ret)
				return ret;
		}
		return v->main(argc - 1, argv + 1);
	}
	fprintf(stderr, "punchlab: unknown verb \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_SETUP;
}
