/* punchlab profile import FILE [--from stun-client|natdiscovery] [--timer S]... [-o OUT]:
 * a NAT discovery tool's saved output read into profile header fields, printed with the
 * `punchlab profile new` line that rebuilds that NAT; with -o, that line is run (an exec of
 * this very binary) and writes OUT. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/profile_import.h"

static void usage(FILE *f)
{
	fputs("usage: punchlab profile import FILE [--from stun-client|natdiscovery] [--timer S]...\n"
	      "                               [-o OUT]\n"
	      "  reads the saved output of Debian's stun-client (`stun SERVER`: RFC 3489) or of\n"
	      "  coturn's `turnutils_natdiscovery -m -f [-H] [-t -T S] SERVER` (RFC 5780) and prints\n"
	      "  the profile header fields it measured, assumed or could not see, and the\n"
	      "  `punchlab profile new` line that rebuilds that NAT (docs/probe.md).\n"
	      "  --from      the tool (default: recognised from the output)\n"
	      "  --timer S   the -T of each natdiscovery lifetime test, in the file's order\n"
	      "  -o OUT      also write the profile: runs that `punchlab profile new ... -o OUT`\n"
	      "  exit: 0 read (and written), 1 the tool measured nothing, 2 bad input\n", f);
}

static const char *how_name(enum import_how h)
{
	return h == IMPORT_MEASURED ? "measured" : h == IMPORT_ASSUMED ? "assumed" : "unknown";
}

static void print(const char *path, const struct import_result *r, const char **args, int n,
		  unsigned defaulted)
{
	int k, i;
	bool any;

	printf("tool: %s (%s)\n", import_tool_name(r->tool), path);
	if (r->verdict[0])
		printf("its verdict: %s\n", r->verdict);
	if (!r->reached) {
		printf("the tool got no answer from its server: nothing measured\n");
		return;
	}
	if (r->no_nat) {
		printf("no NAT between the tool and its server: no profile to rebuild\n");
		return;
	}
	printf("\n");
	for (k = 0; k < IK_MAX; k++) {
		const struct import_field *f = &r->f[k];

		if (f->how == IMPORT_UNKNOWN)
			printf("%s: unknown (%s)\n", import_key_name((enum import_key)k), f->why);
		else
			printf("%s: %s (%s%s%s)\n", import_key_name((enum import_key)k), f->value,
			       how_name(f->how), f->why[0] ? ": " : "", f->why);
	}
	printf("\npunchlab profile new");
	for (i = 0; i < n; i++)
		printf(" %s", args[i]);
	printf("\n");
	for (any = false, k = 0; k < IK_MAX; k++)
		if (r->f[k].how == IMPORT_ASSUMED) {
			printf("%s%s", any ? ", " : "assumed by the tool's limits: ",
			       import_key_name((enum import_key)k));
			any = true;
		}
	if (any)
		printf("\n");
	for (any = false, k = 0; k < IK_MAX; k++)
		if (defaulted & (1u << k)) {
			printf("%s%s %s", any ? ", " : "not measured, port-restricted-cone's value "
			       "assumed: ", import_key_name((enum import_key)k),
			       import_default((enum import_key)k));
			any = true;
		}
	if (any)
		printf("\n");
}

/* Run `punchlab profile new ARGS -o OUT` (this binary) and return its exit code. */
static int write_profile(const char **args, int n, const char *out)
{
	const char *argv[4 + 2 * IK_MAX + 3];
	int i, a = 0, status;
	pid_t pid;

	argv[a++] = "punchlab";
	argv[a++] = "profile";
	argv[a++] = "new";
	for (i = 0; i < n; i++)
		argv[a++] = args[i];
	argv[a++] = "-o";
	argv[a++] = out;
	argv[a] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "punchlab profile import: fork: %s\n", strerror(errno));
		return EXIT_SETUP;
	}
	if (pid == 0) {
		execv("/proc/self/exe", (char *const *)argv);
		fprintf(stderr, "punchlab profile import: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(EXIT_SETUP);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_SETUP;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_SETUP;
}

int profile_import_main(int argc, char **argv)
{
	enum { O_FROM = 256, O_TIMER, O_HELP };
	static const struct option lo[] = {
		{ "from", required_argument, NULL, O_FROM },
		{ "timer", required_argument, NULL, O_TIMER },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 }
	};
	enum import_tool tool = IMPORT_AUTO;
	uint32_t timers[IMPORT_MAX_LIFE];
	int n_timers = 0, c, n, ret;
	unsigned defaulted;
	const char *out = NULL, *path, *args[2 * IK_MAX];
	struct import_result *r = NULL;
	struct diag d = { 0 };
	FILE *f;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		switch (c) {
		case O_FROM:
			if (import_tool_parse(optarg, &tool)) {
				fprintf(stderr, "punchlab profile import: --from \"%s\": expected "
					"stun-client or natdiscovery\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case O_TIMER: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 86400 || n_timers == IMPORT_MAX_LIFE) {
				fprintf(stderr, "punchlab profile import: --timer \"%s\": expected whole "
					"seconds 1..86400 (at most %d)\n", optarg, IMPORT_MAX_LIFE);
				return EXIT_SETUP;
			}
			timers[n_timers++] = (uint32_t)v;
			break;
		}
		case 'o':
			out = optarg;
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "punchlab profile import: unknown option or missing value \"%s\"\n",
				optind > 0 && optind <= argc ? argv[optind - 1] : "?");
			usage(stderr);
			return EXIT_SETUP;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_SETUP;
	}
	path = argv[optind];
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "punchlab profile import: open \"%s\": %s\n", path, strerror(errno));
		return EXIT_SETUP;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		fclose(f);
		return EXIT_SETUP;
	}
	ret = import_parse(f, path, tool, timers, n_timers, r, &d);
	fclose(f);
	if (ret) {
		fprintf(stderr, "%s:%d: %s\n", d.file, d.line, d.msg);
		ret = EXIT_SETUP;
		goto out;
	}
	n = import_profile_args(r, args, &defaulted);
	print(path, r, args, n, defaulted);
	if (!r->reached || r->no_nat) {
		ret = r->reached ? 0 : EXIT_FINDING;
		if (out)
			fprintf(stderr, "punchlab profile import: no profile written to \"%s\": %s\n", out,
				r->reached ? "no NAT" : "nothing measured");
		goto out;
	}
	ret = out ? write_profile(args, n, out) : 0;
out:
	free(r);
	return ret;
}
