/* punchlab profile: profiles from behaviour.
 *
 *   punchlab profile new --mapping M --filtering F --ports P --hairpin yes|no
 *                        --tcp-unsolicited drop|rst --udp-timeout S [--stride N]
 *                        [--port-parity yes|no] [--port-block N]
 *                        [--pooling paired|arbitrary --pool ADDR,...] [--name N] [-o FILE]
 *
 * Writes the profile (header and ruleset, src/nft/profile_gen.c) to FILE or stdout. A refused
 * behaviour gets its reason and exit 2. Needs no root: nothing is loaded. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/out.h"
#include "cli/cli.h"
#include "cli/profile_import.h"
#include "nft/profile.h"
#include "nft/profile_gen.h"

static const char profile_usage[] =
	"usage: punchlab profile new --mapping M --filtering F --ports P --hairpin yes|no\n"
	"                            --tcp-unsolicited drop|rst --udp-timeout S [--stride N]\n"
	"                            [--port-parity yes|no] [--port-block N]\n"
	"                            [--pooling paired|arbitrary --pool ADDR,ADDR...] [--name NAME]\n"
	"                            [-o FILE]\n"
	"       punchlab profile import FILE [--from stun-client|natdiscovery] [-o OUT]\n"
	"  M, F: endpoint-independent, address-dependent, address-and-port-dependent\n"
	"  P: preserve, sequential, random;  S: seconds (1-86400) or 'unreplied N, replied M'\n"
	"  Writes a profile (header and nftables ruleset) to FILE (default stdout).\n"
	"  docs/profile-format.md \"Generating profiles\" lists the behaviours it refuses.\n";

static int parse_dep(const char *v, enum profile_dependency *d)
{
	static const enum profile_dependency all[] = { PROFILE_ENDPOINT_INDEPENDENT,
		PROFILE_ADDRESS_DEPENDENT, PROFILE_ADDRESS_AND_PORT_DEPENDENT };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(v, profile_dependency_name(all[i])) == 0) {
			*d = all[i];
			return 0;
		}
	return -EINVAL;
}

static int parse_ports(const char *v, enum profile_ports *p)
{
	for (int i = PROFILE_PORTS_PRESERVE; i <= PROFILE_PORTS_RANDOM; i++)
		if (strcmp(v, profile_ports_name(i)) == 0) {
			*p = i;
			return 0;
		}
	return -EINVAL;
}

static int parse_seconds(const char *v, int *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > PROFILE_UDP_TIMEOUT_MAX)
		return -EINVAL;
	*s = (int)n;
	return 0;
}

/* "S" or the header's split form "unreplied N, replied M". */
static int parse_timeout(const char *v, int *unreplied, int *replied)
{
	int a, b, n = 0;

	if (parse_seconds(v, replied) == 0) {
		*unreplied = *replied;
		return 0;
	}
	if (sscanf(v, "unreplied %d , replied %d%n", &a, &b, &n) == 2 && v[n] == '\0' &&
	    a >= 1 && a <= PROFILE_UDP_TIMEOUT_MAX && b >= 1 && b <= PROFILE_UDP_TIMEOUT_MAX) {
		*unreplied = a;
		*replied = b;
		return 0;
	}
	return -EINVAL;
}

static int bad_arg(const char *opt, const char *v, const char *expected)
{
	fprintf(stderr, "punchlab: %s %s: expected %s\n", opt, v, expected);
	return EXIT_SETUP;
}

/* The name rule of the header (docs/profile-format.md): [a-z0-9-], starting with a letter or
 * digit, at most PROFILE_NAME_MAX. */
static int name_valid(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > PROFILE_NAME_MAX || n[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return 0;
	return 1;
}

static int profile_new(int argc, char **argv)
{
	enum { O_MAPPING = 256, O_FILTERING, O_PORTS, O_HAIRPIN, O_UNSOL, O_TIMEOUT, O_STRIDE,
	       O_NAME, O_PARITY, O_BLOCK, O_POOLING, O_POOL };
	static const struct option longopts[] = {
		{ "mapping", required_argument, NULL, O_MAPPING },
		{ "filtering", required_argument, NULL, O_FILTERING },
		{ "ports", required_argument, NULL, O_PORTS },
		{ "hairpin", required_argument, NULL, O_HAIRPIN },
		{ "tcp-unsolicited", required_argument, NULL, O_UNSOL },
		{ "udp-timeout", required_argument, NULL, O_TIMEOUT },
		{ "stride", required_argument, NULL, O_STRIDE },
		{ "name", required_argument, NULL, O_NAME },
		{ "port-parity", required_argument, NULL, O_PARITY },
		{ "port-block", required_argument, NULL, O_BLOCK },
		{ "pooling", required_argument, NULL, O_POOLING },
		{ "pool", required_argument, NULL, O_POOL },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum profile_dependency mapping = 0, filtering = 0;
	enum profile_ports ports = 0;
	enum profile_unsolicited unsol = 0;
	bool hairpin = false;
	int unreplied = 0, replied = 0, stride = 1, block = 0;
	bool parity = false;
	enum profile_pooling pooling = PROFILE_POOLING_NONE;
	const char *pool = NULL;
	const char *name = NULL, *output = NULL;
	unsigned seen = 0;
	struct profile_header h;
	char why[512];
	FILE *f;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case O_MAPPING:
			if (parse_dep(optarg, &mapping) < 0)
				return bad_arg("--mapping", optarg, "endpoint-independent, "
					       "address-dependent or address-and-port-dependent");
			break;
		case O_FILTERING:
			if (parse_dep(optarg, &filtering) < 0)
				return bad_arg("--filtering", optarg, "endpoint-independent, "
					       "address-dependent or address-and-port-dependent");
			break;
		case O_PORTS:
			if (parse_ports(optarg, &ports) < 0)
				return bad_arg("--ports", optarg, "preserve, sequential or random");
			break;
		case O_HAIRPIN:
			if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
				return bad_arg("--hairpin", optarg, "yes or no");
			hairpin = strcmp(optarg, "yes") == 0;
			break;
		case O_UNSOL:
			if (strcmp(optarg, "drop") && strcmp(optarg, "rst"))
				return bad_arg("--tcp-unsolicited", optarg, "drop or rst");
			unsol = strcmp(optarg, "rst") == 0 ? PROFILE_UNSOLICITED_RST :
							     PROFILE_UNSOLICITED_DROP;
			break;
		case O_TIMEOUT:
			if (parse_timeout(optarg, &unreplied, &replied) < 0)
				return bad_arg("--udp-timeout", optarg, "whole seconds from 1 to "
					       "86400, or 'unreplied N, replied M'");
			break;
		case O_STRIDE: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (end == optarg || *end || n < 1 || n > PROFILE_STRIDE_MAX)
				return bad_arg("--stride", optarg, "1 to 1024");
			stride = (int)n;
			break;
		}
		case O_PARITY:
			if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
				return bad_arg("--port-parity", optarg, "yes or no");
			parity = strcmp(optarg, "yes") == 0;
			break;
		case O_BLOCK: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (end == optarg || *end || n < 0 || n > PROFILE_PORT_BLOCK_MAX)
				return bad_arg("--port-block", optarg, "ports per subscriber, 0 to 256");
			block = (int)n;
			break;
		}
		case O_POOLING:
			if (strcmp(optarg, "paired") && strcmp(optarg, "arbitrary"))
				return bad_arg("--pooling", optarg, "paired or arbitrary");
			pooling = strcmp(optarg, "paired") == 0 ? PROFILE_POOLING_PAIRED :
								  PROFILE_POOLING_ARBITRARY;
			break;
		case O_POOL:
			pool = optarg;
			break;
		case O_NAME:
			if (!name_valid(optarg))
				return bad_arg("--name", optarg, "[a-z0-9-], at most 63, starting "
					       "with a letter or digit");
			name = optarg;
			break;
		case 'o': output = optarg; break;
		case 'h': fputs(profile_usage, stdout); return 0;
		default: fputs(profile_usage, stderr); return EXIT_SETUP;
		}
		if (c >= O_MAPPING && c <= O_TIMEOUT)
			seen |= 1u << (c - O_MAPPING);
	}
	if (optind < argc) {
		fprintf(stderr, "punchlab: profile new: unexpected argument %s\n", argv[optind]);
		return EXIT_SETUP;
	}
	{
		static const char *const required[] = { "--mapping", "--filtering", "--ports",
			"--hairpin", "--tcp-unsolicited", "--udp-timeout" };

		for (unsigned i = 0; i < 6; i++)
			if (!(seen & (1u << i))) {
				fprintf(stderr, "punchlab: profile new: %s is required\n%s",
					required[i], profile_usage);
				return EXIT_SETUP;
			}
	}
	profile_gen_header(&h, mapping, filtering, ports, hairpin, unsol, replied);
	h.udp_timeout_unreplied = unreplied;
	h.stride = stride;
	h.port_parity = parity;
	h.port_block = block;
	if ((pooling != PROFILE_POOLING_NONE) != (pool != NULL)) {
		fprintf(stderr, "punchlab: profile new: --pooling and --pool go together\n");
		return EXIT_SETUP;
	}
	if (pool) {
		/* the header's own spelling, so the parser's check applies */
		char line[512];
		struct profile_header tmp;

		snprintf(line, sizeof(line), "%s %s",
			 pooling == PROFILE_POOLING_PAIRED ? "paired" : "arbitrary", pool);
		if (profile_pooling_parse(line, &tmp) < 0)
			return bad_arg("--pool", pool, "2 to 8 distinct IPv4 addresses separated by "
				       "commas, the NAT's public addresses");
		h.pooling = tmp.pooling;
		h.npool = tmp.npool;
		memcpy(h.pool, tmp.pool, sizeof(h.pool));
	}
	profile_gen_name(&h);
	if (name)
		snprintf(h.name, sizeof(h.name), "%s", name);
	if (profile_gen_check(&h, why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab: profile new: refused: %s\n", why);
		return EXIT_SETUP;
	}
	f = output ? fopen(output, "w") : stdout;
	if (!f) {
		fprintf(stderr, "punchlab: open \"%s\": %s\n", output, strerror(errno));
		return EXIT_SETUP;
	}
	r = profile_generate(&h, f, why, sizeof(why));
	if (output && fclose(f) != 0 && r == 0)
		r = -EIO, snprintf(why, sizeof(why), "closing: %s", strerror(errno));
	if (r < 0) {
		fprintf(stderr, "punchlab: profile new: %s\n", why);
		if (output)
			unlink(output);
		return EXIT_SETUP;
	}
	return 0;
}

int profile_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(profile_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_SETUP : 0;
	}
	if (strcmp(argv[1], "new") == 0)
		return profile_new(argc - 1, argv + 1);
	if (strcmp(argv[1], "import") == 0)
		return profile_import_main(argc - 1, argv + 1);
	fprintf(stderr, "punchlab: profile %s: unknown, expected new or import\n", argv[1]);
	return EXIT_SETUP;
}
