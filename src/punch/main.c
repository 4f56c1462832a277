/* punch: the NAT traversal engine of punchlab, a standalone tool. One verb per role; the verb
 * table is the only place that maps results to exit codes (0 direct, 3 relayed, 1 failed,
 * 2 usage or setup error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "load.h"
#include "opts.h"
#include "peer.h"
#include "probe.h"
#include "rendezvous.h"

#ifndef PUNCHLAB_VERSION
#define PUNCHLAB_VERSION "dev"
#endif

static int rendezvous_main(int argc, char **argv)
{
	struct rdv_opts o;
	int r = rdv_opts_parse(argc, argv, &o, stdout, stderr);

	if (r)
		return r > 0 ? 0 : PEER_EXIT_SETUP;
	return rdv_run(&o, stdout, stderr) ? PEER_EXIT_SETUP : 0;
}

static int peer_main(int argc, char **argv)
{
	struct peer_opts o;
	int r = peer_opts_parse(argc, argv, &o, stdout, stderr);

	if (r)
		return r > 0 ? 0 : PEER_EXIT_SETUP;
	return peer_run(&o, stdout, stderr);
}

static int load_main(int argc, char **argv)
{
	struct load_opts o;
	int r = load_opts_parse(argc, argv, &o, stdout, stderr);

	if (r)
		return r > 0 ? 0 : PEER_EXIT_SETUP;
	return load_run(&o, stdout, stderr);
}

/* punch keygen FILE: a new secret for --secret-file, given to both peers and the rendezvous. */
static int keygen_main(int argc, char **argv)
{
	char why[512];

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: punch keygen FILE\n  writes a new random secret for --secret-file "
		     "(mode 600; FILE must not exist)");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fputs("punch keygen: expected one FILE to create (punch keygen --help)\n", stderr);
		return PEER_EXIT_SETUP;
	}
	if (auth_keygen(argv[1], why, sizeof(why))) {
		fprintf(stderr, "punch keygen: %s\n", why);
		return PEER_EXIT_SETUP;
	}
	return 0;
}

/* Exit 0 when the server answered and the tests ran, 1 when it never answered. */
static int probe_main(int argc, char **argv)
{
	struct probe_opts o;
	struct probe_result *res;
	int r = probe_opts_parse(argc, argv, &o, stdout, stderr), ret;

	if (r)
		return r > 0 ? 0 : PEER_EXIT_SETUP;
	res = calloc(1, sizeof(*res));
	if (!res)
		return PEER_EXIT_SETUP;
	r = probe_run(&o, res, stderr);
	probe_print(&o, res, stdout);
	ret = r < 0 ? PEER_EXIT_SETUP : res->reached ? 0 : 1;
	free(res);
	return ret;
}

static const struct {
	const char *verb;
	int (*fn)(int argc, char **argv);
	const char *what;
} verbs[] = {
	{ "rendezvous", rendezvous_main, "serve peers: registration, endpoint exchange, relay" },
	{ "peer", peer_main, "connect to the other peer of a session" },
	{ "load", load_main, "load generator for benchmarking a rendezvous" },
	{ "keygen", keygen_main, "write a new secret for --secret-file" },
	{ "probe", probe_main, "measure this host's NAT against a rendezvous or STUN server" },
};

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: punch <verb> [options]   (punch <verb> --help)\n", f);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-11s %s\n", verbs[i].verb, verbs[i].what);
	fputs("exit: 0 direct, 3 relayed, 1 failed, 2 usage or setup error\n", f);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return PEER_EXIT_SETUP;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("punch %s\n", PUNCHLAB_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].verb))
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "punch: unknown verb \"%s\"\n", argv[1]);
	usage(stderr);
	return PEER_EXIT_SETUP;
}
