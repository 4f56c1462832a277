/* punchlab run: one cell under the microscope. A run is a one-cell matrix (the same planning,
 * classification, cell runner, attestation and judgement, the same exit codes) with a live
 * timeline (src/matrix/run_watch.c), optional packet captures and, with --keep, the lab left
 * up afterwards. docs/run.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/outcome.h"
#include "base/paths.h"
#include "base/userns.h"
#include "lab/topo.h"
#include "cli/cli.h"
#include "matrix/cell.h"
#include "matrix/matrix.h"
#include "matrix/run_watch.h"
#include "report/report.h"

static const char run_usage[] =
	"usage: punchlab run --a PROFILE [--b PROFILE] [OPTIONS]\n"
	"       punchlab run --cell ID [OPTIONS]\n"
	"\n"
	"Run one cell once, printing its timeline as it happens: the engine's events, every\n"
	"NAT's conntrack events (mappings created, changed, destroyed; refreshes from dumps),\n"
	"the NAT events, the lab's attestation and the outcome (docs/run.md).\n"
	"\n"
	"  --a PROFILE           peer A's NAT profile (a name from nat-profiles/ or a path)\n"
	"  --b PROFILE           peer B's (required when the topology has a NAT for B)\n"
	"  --proto udp|tcp       transport (default udp)\n"
	"  --technique T         plain (default: udp or tcp by transport), udp, tcp, tcp-ttl,\n"
	"                        predict, birthday, relay or auto\n"
	"  --engine NAME|PATH    the engine (default punch); --engine-binary PATH its program\n"
	"  -t, --topology T      topology, a name or a path (default two-nats)\n"
	"  --family 4|6|dual     address family (default 4): 6 and dual run on the topology's\n"
	"                        dual-stack twin (two-nats -> two-nats-dual); 6 takes IPv6\n"
	"                        profiles (ipv6-firewall, nat66...), dual IPv4 ones for --a/--b\n"
	"  --ipv6-profile P      dual: the IPv6 profile each home NAT runs beside its IPv4 one\n"
	"                        (default ipv6-firewall)\n"
	"  --cell ID             the cell by its id instead of the options above\n"
	"  --impair LINK=SPEC    impair a link ('inet:nat-a=delay 40ms loss 2%'; repeatable)\n"
	"  --impairment PRESET   an impairment preset (dsl, lte, satellite, lossy-wifi, a path)\n"
	"  --events TIMELINE     NAT events ('nat-a reboot@2s for 2s'; docs/events.md)\n"
	"  --profile-param N=S   a profile parameter on both NATs (udp-timeout=5; repeatable)\n"
	"  --stagger MS          peer B starts this long after A (default 20)\n"
	"  --pcap DIR            capture every interface of the hosts, NATs and servers into\n"
	"                        DIR, one pcap file each (tcpdump -r, tshark -r read them)\n"
	"  --keep                leave the lab up afterwards and say how to get in\n"
	"  --expectations FILE   expected outcomes (default ci/expectations.yaml)\n"
	"  --no-classify         do not classify the two profiles first\n"
	"  -o, --out DIR         report directory (default results/run-<timestamp>)\n"
	"\n"
	"Exit: 0 as expected, 1 a regression (worse than expected, disputed), 2 an error cell or\n"
	"bad input.\n";

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "punchlab run: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return EXIT_SETUP;
}

/* The cell's id from the options, checked as the matrix checks ids. */
static int build_id(struct cell_spec *c, const char *topology, const char *a, const char *b,
		    const char *proto, const char *technique, const char *engine,
		    const char *impairment, const struct profile_params *params,
		    enum cell_family family, const char *ipv6_profile)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->topology, sizeof(c->topology), "%s", topology);
	snprintf(c->profile_a, sizeof(c->profile_a), "%s", a);
	snprintf(c->profile_b, sizeof(c->profile_b), "%s", b ? b : "");
	snprintf(c->proto, sizeof(c->proto), "%s", proto);
	snprintf(c->technique, sizeof(c->technique), "%s",
		 strcmp(technique, "plain") == 0 ? proto : technique);
	snprintf(c->engine, sizeof(c->engine), "%s", engine);
	snprintf(c->impair, sizeof(c->impair), "%s",
		 impairment && strcmp(impairment, "none") ? impairment : "");
	cell_spec_set_params(c, params);
	c->family = family;
	/* the default companion is left out of the id, as the matrix writes it */
	snprintf(c->ipv6_profile, sizeof(c->ipv6_profile), "%s",
		 ipv6_profile && strcmp(ipv6_profile, CELL_DEFAULT_IPV6_PROFILE) ? ipv6_profile : "");
	if (!technique_fits(c->technique, proto))
		return bad("--technique %s: not a technique over this transport, expected plain, "
			   "udp, predict, birthday, relay or auto over udp; plain, tcp, tcp-ttl, "
			   "relay or auto over tcp", technique);
	if (cell_spec_set_id(c) < 0)
		return bad("%s: the cell id would be too long (a profile path too long?)", a);
	return 0;
}

static void print_keep(const struct run_watch *w, bool interrupted, enum cell_family family)
{
	if (interrupted && !w->kept_lab[0]) {
		printf("\nthe run was interrupted: the lab was removed, not kept\n");
		return;
	}
	if (w->keep_error[0]) {
		printf("\nthe lab could not be kept: %s (it was removed)\n", w->keep_error);
		return;
	}
	if (!w->kept_lab[0]) {
		printf("\nthe lab was not kept (it was never up)\n");
		return;
	}
	printf("\nlab %s is kept. Get in:\n", w->kept_lab);
	printf("  punchlab exec %s nat-a -- conntrack -L     # a command in a node\n", w->kept_lab);
	printf("  punchlab exec %s host-a -- bash            # a shell in a node\n", w->kept_lab);
	/* rootless, the pins exist only in the lab's keeper's mount namespace (docs/rootless.md):
	 * punchlab exec is the way in */
	if (!userns_rootless()) {
		printf("  nsenter --net=/run/netns/%s-nat-a nft list ruleset\n", w->kept_lab);
		/* the server's first address of the family the cell runs (two-nats-dual's) */
		printf("  ip netns exec %s-host-b ping -c1 %s   # (outside a chroot)\n", w->kept_lab,
		       family == CELL_FAMILY_6 ? "2001:db8:100::10" : "198.51.100.10");
	}
	printf("  punchlab lab down %s                       # remove it\n", w->kept_lab);
	printf("still running: %s\n", w->still_running[0] ? w->still_running
							: "nothing (the peers were stopped)");
}

int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "a", required_argument, NULL, 'a' },          { "b", required_argument, NULL, 'b' },
		{ "proto", required_argument, NULL, 'p' },      { "technique", required_argument, NULL, 'T' },
		{ "engine", required_argument, NULL, 'E' },     { "engine-binary", required_argument, NULL, 'B' },
		{ "topology", required_argument, NULL, 't' },   { "cell", required_argument, NULL, 'c' },
		{ "impair", required_argument, NULL, 'i' },     { "impairment", required_argument, NULL, 'I' },
		{ "events", required_argument, NULL, 'V' },     { "profile-param", required_argument, NULL, 'Q' },
		{ "stagger", required_argument, NULL, 's' },    { "pcap", required_argument, NULL, 'P' },
		{ "keep", no_argument, NULL, 'k' },             { "expectations", required_argument, NULL, 'e' },
		{ "no-classify", no_argument, NULL, 'n' },      { "out", required_argument, NULL, 'o' },
		{ "family", required_argument, NULL, 'F' },     { "ipv6-profile", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },             { 0 },
	};
	struct matrix_opts o = { .udp = true, .repeat = 1, .jobs = 1, .jobs_adaptive = false,
				 .stagger_ms = CELL_DEFAULT_STAGGER_MS, .engine = CELL_DEFAULT_ENGINE,
				 .classify = true, .one_run = true };
	const char *a = NULL, *b = NULL, *proto = "udp", *technique = "plain", *topology = "two-nats";
	const char *impairment = NULL, *cell = NULL, *pcap = NULL, *ipv6_profile = NULL;
	enum cell_family family = CELL_FAMILY_4;
	static struct run_watch w;
	static struct cell_spec spec;
	struct profile_params params = { 0 };
	char out_dir[512] = "", pcap_abs[PATH_MAX], why[256], *end;
	struct results res;
	struct diag_list dl = { .count = 0 };
	bool engine_given = false, shaped = false;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': a = optarg; shaped = true; break;
		case 'b': b = optarg; shaped = true; break;
		case 'p':
			if (strcmp(optarg, "udp") && strcmp(optarg, "tcp"))
				return bad("--proto %s: expected udp or tcp", optarg);
			proto = optarg;
			shaped = true;
			break;
		case 'T': technique = optarg; shaped = true; break;
		case 'E': o.engine = optarg; engine_given = true; break;
		case 'B': o.engine_binary = optarg; break;
		case 't': topology = optarg; shaped = true; break;
		case 'c': cell = optarg; break;
		case 'i':
			if (o.nimpair >= TOPO_MAX_LINKS)
				return bad("too many --impair options (%s), expected at most one per link",
					   optarg);
			o.impair[o.nimpair++] = optarg;
			break;
		case 'I': impairment = optarg; shaped = true; break;
		case 'V': o.events = optarg; break;
		case 'Q':
			if (profile_params_parse(&params, optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "punchlab run: --profile-param %s: %s\n", optarg, why);
				return EXIT_SETUP;
			}
			shaped = true;
			break;
		case 's':
			o.stagger_ms = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || o.stagger_ms < 0 || o.stagger_ms > 10000)
				return bad("--stagger %s: expected 0..10000 ms", optarg);
			break;
		case 'F':
			if (cell_family_parse(optarg, &family) < 0)
				return bad("--family %s: expected 4, 6 or dual (one family: a run is one "
					   "cell)", optarg);
			shaped = true;
			break;
		case 'S': ipv6_profile = optarg; shaped = true; break;
		case 'P': pcap = optarg; break;
		case 'k': w.keep = true; break;
		case 'e': o.expectations = optarg; break;
		case 'n': o.classify = false; break;
		case 'o': snprintf(out_dir, sizeof(out_dir), "%s", optarg); break;
		case 'h': fputs(run_usage, stdout); return 0;
		default: fputs(run_usage, stderr); return EXIT_SETUP;
		}
	}
	if (optind != argc)
		return bad("unexpected argument \"%s\", expected options only (punchlab run --help)",
			   argv[optind]);
	if (cell && shaped)
		return bad("%s: --cell names the whole cell; --a, --b, --proto, --technique, "
			   "--topology, --impairment, --profile-param, --family and --ipv6-profile "
			   "describe one instead, expected one way or the other", cell);
	if (cell) {
		if (cell_id_parse_msg(cell, &spec, why, sizeof(why)) < 0)
			return bad("--cell %s", why);
		if (!engine_given)
			o.engine = spec.engine;
	} else {
		if (!a)
			return bad("%s", "missing --a PROFILE (peer A's NAT profile), expected e.g. "
				   "--a port-restricted-cone --b symmetric");
		if (!b) {
			/* said here in the run's words (the matrix would speak of a cell id) */
			static struct topo t;
			if (cli_load_topology(topology, &t))
				return EXIT_SETUP;
			if (t.roles[ROLE_NAT_B] >= 0)
				return bad("missing --b PROFILE: topology %s puts peer B behind a NAT of "
					   "its own, expected e.g. --b symmetric", t.name);
		}
		if (ipv6_profile && family != CELL_FAMILY_DUAL)
			return bad("--ipv6-profile %s: the IPv6 profile beside each home NAT's IPv4 "
				   "one is for dual cells, expected --family dual with it (family 6 "
				   "takes IPv6 profiles in --a and --b)", ipv6_profile);
		if ((ret = build_id(&spec, topology, a, b, proto, technique, o.engine, impairment,
				    &params, family, ipv6_profile)))
			return ret;
	}
	if (pcap) {
		/* an absolute path: the runner writes from another working directory's view */
		if (paths_mkdir_p(pcap) < 0 || !realpath(pcap, pcap_abs))
			return bad("--pcap %s: cannot create this directory, expected a writable path", pcap);
	}
	o.cells[o.ncells++] = spec.id;
	if (!out_dir[0] && cli_default_out_dir(out_dir, sizeof(out_dir), "run-") < 0) {
		out_warn(&out_std, -errno, "create results/");
		return EXIT_SETUP;
	}
	o.out_dir = out_dir;
	w.live = stdout;
	o.watch = &w;
	o.progress_tty = false;
	o.pcap_dir = pcap ? pcap_abs : NULL;
	printf("cell %s\n", spec.id);
	fflush(stdout);
	ret = matrix_run(&o, &res, &out_std);
	if (ret) {
		results_free(&res);
		return ret;
	}
	if (report_dir_write(&res, out_dir, &dl) < 0) {
		diag_print(&dl, &out_std);
		results_free(&res);
		return EXIT_SETUP;
	}
	if (res.ncells == 1) {
		const struct cell_result *cr = &res.cells[0];
		char expected[80] = "";
		size_t used = 0;

		for (int k = 0; k < CELL_OUTCOME_COUNT && used < sizeof(expected); k++)
			if (cr->refs.expected_allowed & (1u << k))
				used += (size_t)snprintf(expected + used, sizeof(expected) - used,
							 "%s%s", used ? " or " : "",
							 cell_outcome_name((enum cell_outcome)k));
		printf("\noutcome: %s (expected %s)%s%s%s\n", cell_outcome_name(cr->outcome),
		       expected[0] ? expected : "?",
		       cr->verdict.regression ? " -- REGRESSION" : "",
		       cr->verdict.error || cr->outcome == CELL_ERROR ? " -- ERROR" : "",
		       res.meta.incomplete ? " -- INCOMPLETE (interrupted)" : "");
	}
	if (w.dir[0])
		printf("timeline: %s/timeline.txt (and timeline.jsonl)\n", w.dir);
	if (w.captures[0]) {
		for (char *p = w.captures; *p; p++)
			*p = *p == '\n' ? ' ' : *p;
		printf("captures: %s/ %s\n", w.pcap_dir, w.captures);
	}
	printf("report: %s/ (index.html, matrix.json, junit.xml)\n", out_dir);
	if (w.keep)
		print_keep(&w, res.meta.incomplete, spec.family);
	ret = results_exit_code(&res);
	results_free(&res);
	return ret;
}
