/* punchlab matrix: every pairing, in parallel, checked against the documents. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "matrix/matrix.h"
#include "report/report.h"

static const char matrix_usage[] =
	"usage: punchlab matrix [OPTIONS]\n"
	"\n"
	"Run the engine across every pairing of NAT profiles, each cell in its own fresh lab,\n"
	"and report the outcomes next to the documents' claims, the theory and a baseline.\n"
	"\n"
	"  -t, --topology T      topology, a name or a path (default two-nats); same-nat and\n"
	"                        public-peer vary profile A only\n"
	"  --profiles P,P,...    profiles, names or paths to .nft files (default: full-cone,\n"
	"                        restricted-cone, port-restricted-cone, symmetric,\n"
	"                        symmetric-sequential, port-restricted-cone-rst)\n"
	"  --proto udp,tcp       transports (default both)\n"
	"  --techniques T,...    techniques (default plain,auto; plain = udp or tcp by transport;\n"
	"                        also tcp-ttl, predict, birthday, relay)\n"
	"  --cell ID             run only this cell (repeatable); ids look like\n"
	"                        two-nats/udp/auto/full-cone~symmetric (- for no B; paths\n"
	"                        percent-encoded: /tmp/x.nft is %2Ftmp%2Fx.nft; /engine=E when\n"
	"                        not punch); they carry topology and engine, and exclude\n"
	"                        --profiles, --proto and --techniques\n"
	"  -j, --jobs N          cells at once, exactly (default: adaptive, at most the engine\n"
	"                        file's jobs:, else " "40" ", as many as the cells' measured\n"
	"                        CPU cost lets start in time)\n"
	"  --repeat N            run every cell N times: success rates, p50/p95, flaky cells\n"
	"  --stagger MS          start peer B this long after peer A (default " "20" ")\n"
	"  --sweep stagger=FROM..TO/STEP  run every cell with peer B starting FROM, FROM+STEP,\n"
	"                        ... TO ms after A (0..200ms/10), --repeat N runs per point; the\n"
	"                        reports plot each cell's success rate over the range\n"
	"  --sweep signal-delay=FROM..TO/STEP  the same over the rendezvous' answer reaching\n"
	"                        peer B this long after A (engines using {{signal_delay_ms}})\n"
	"  --shard K/N           run only slice K of N (every cell is in exactly one slice);\n"
	"                        join slices with punchlab merge\n"
	"  -o, --out DIR         report directory (default results/<timestamp>)\n"
	"  --baseline FILE       compare with a saved matrix.json (regressions: exit 1)\n"
	"  --update-baseline F   also save this run's matrix.json as F\n"
	"  --expectations FILE   claims and expected outcomes (default ci/expectations.yaml)\n"
	"  --engine NAME|PATH    the engine: a file under engines/ by name, or a path to one\n"
	"                        (default punch, or the --cell ids'; punchlab engines lists\n"
	"                        them, docs/engine-format.md); --engine-binary PATH its program\n"
	"  --engine-a X --engine-b Y  engine against engine: peer A runs X, peer B runs Y (the\n"
	"                        servers are X's); --engine-binary-a/-b PATH each side's program\n"
	"                        (two builds of one engine: --engine-b punch --engine-binary-b P);\n"
	"                        ids say engine=X~Y; only techniques both offer run\n"
	"  --impairments P,...   impairment presets, each a matrix dimension (default none;\n"
	"                        dsl, lte, satellite, lossy-wifi or a path to an .impair file;\n"
	"                        ids gain /impair=P; docs/impairments.md)\n"
	"  --impair LINK=SPEC    impair one link of every cell ('inet:nat-a=delay 40ms loss 2%');\n"
	"                        repeatable; not part of the cell ids\n"
	"  --pcap failed|all     capture every run's interfaces (hosts, NATs, servers) into its\n"
	"                        log directory; failed keeps the pcaps of failed, flaky,\n"
	"                        disputed and error cells only; the reports link them\n"
	"  --outer P,...         the profiles of the outer NAT both NATs share (double-nat's CGN),\n"
	"                        a dimension; ids gain /outer=P, absent for the topology's own\n"
	"  --no-classify         skip classifying the profiles first\n"
	"  --only-rate-cells     only the cells the theory calls timing-dependent or probabilistic\n"
	"                        (with --repeat 30: how ci/measure-rates measures their rates)\n"
	"  --events TIMELINE     NAT events in every cell, times from peer A's start, e.g.\n"
	"                        'nat-a reboot@3s for 2s, link inet:nat-b down@5s for 3s'\n"
	"                        (docs/events.md); punch holds its path and revalidates it, and\n"
	"                        the report says whether and how fast it recovered\n"
	"  --no-color            plain terminal output\n"
	"  --profile-param N=S   set a profile parameter on every cell's profiles (udp-timeout,\n"
	"                        udp-timeout-unreplied, udp-timeout-replied; repeatable): each\n"
	"                        cell loads a copy with the value written in; ids carry it\n"
	"                        (/udp-timeout=5s)\n"
	"  --rendezvous-port N   the port of the rendezvous server and relay (engines' {{port}};\n"
	"                        default 3478), e.g. 443 for a network that lets out only\n"
	"                        TCP to 80 and 443 (profile web-only); ids carry it\n"
	"                        (/port=443), and a --cell id's own port= wins\n"
	"  --family 4,6,dual     address families, a dimension (default 4): 6 pairs the IPv6\n"
	"                        profiles (default: the shipped ones), dual gives every home\n"
	"                        both families (its IPv4 profile plus --ipv6-profile) and the\n"
	"                        engine may use either; 6 and dual run on the topology's\n"
	"                        dual-stack twin (two-nats-dual); ids gain /family=6|dual\n"
	"  --ipv6-profile P      dual cells' IPv6 companion on every home NAT (default\n"
	"                        ipv6-firewall; ids gain /ipv6-profile=P otherwise)\n"
	"\n"
	"Exit: 0 no regression, 1 regressions, 2 an error cell, an interrupted run or bad input.\n"
	"Disagreements with the documents are findings, listed and explained, and never change\n"
	"the exit code.\n";

/* A comma-separated list; an empty one is an error that says what was expected. */
/* Long options without a short letter. */
enum { OPT_OUTER = 256, OPT_RENDEZVOUS_PORT, OPT_FAMILY, OPT_IPV6_PROFILE };

static int split_list(char *arg, const char **out, int max, const char *what)
{
	int n = 0;

	for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n >= max) {
			fprintf(stderr, "punchlab: too many %s, expected at most %d\n", what, max);
			return -1;
		}
		out[n++] = tok;
	}
	if (n == 0)
		fprintf(stderr, "punchlab: empty list of %s, expected one or more, separated by "
			"commas\n", what);
	return n;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	int ret = 0;

	if (!in || !out)
		ret = -errno;
	while (!ret && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			ret = -EIO;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0 && !ret)
		ret = -EIO;
	return ret;
}

int matrix_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "topology", required_argument, NULL, 't' },  { "profiles", required_argument, NULL, 'P' },
		{ "proto", required_argument, NULL, 'p' },      { "techniques", required_argument, NULL, 'T' },
		{ "cell", required_argument, NULL, 'c' },       { "jobs", required_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },     { "stagger", required_argument, NULL, 's' },
		{ "shard", required_argument, NULL, 'S' },      { "out", required_argument, NULL, 'o' },
		{ "baseline", required_argument, NULL, 'b' },   { "update-baseline", required_argument, NULL, 'u' },
		{ "expectations", required_argument, NULL, 'e' }, { "engine", required_argument, NULL, 'E' },
		{ "engine-binary", required_argument, NULL, 'B' }, { "no-classify", no_argument, NULL, 'n' },
		{ "no-color", no_argument, NULL, 'C' },         { "help", no_argument, NULL, 'h' },
		{ "only-rate-cells", no_argument, NULL, 'O' },
		{ "profile-param", required_argument, NULL, 'Q' },
		{ "engine-a", required_argument, NULL, 'E' },  { "engine-b", required_argument, NULL, 'F' },
		{ "engine-binary-a", required_argument, NULL, 'B' },
		{ "engine-binary-b", required_argument, NULL, 'G' },
		{ "sweep", required_argument, NULL, 'W' },
		{ "events", required_argument, NULL, 'V' },
		{ "impairments", required_argument, NULL, 'I' }, { "impair", required_argument, NULL, 'i' },
		{ "pcap", required_argument, NULL, 'X' },
		{ "outer", required_argument, NULL, OPT_OUTER },
		{ "rendezvous-port", required_argument, NULL, OPT_RENDEZVOUS_PORT },
		{ "family", required_argument, NULL, OPT_FAMILY },
		{ "ipv6-profile", required_argument, NULL, OPT_IPV6_PROFILE },
		{ 0 },
	};
	struct matrix_opts o = { .topology = NULL, .udp = true, .tcp = true,
				 .jobs = 0, .jobs_adaptive = true, .repeat = 1, .stagger_ms = CELL_DEFAULT_STAGGER_MS,
				 .engine = "punch", .classify = true };
	const char *update = NULL, *protos[2], *narrowing = NULL;
	static char cell_engine[CELL_REF_MAX], cell_engine_b[CELL_REF_MAX];
	struct cell_spec first;
	char why[256];
	char out_dir[512], *end;
	struct results res;
	struct diag_list dl = { .count = 0 };
	bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	int c, ret, np;
	bool engine_given = false;

	out_dir[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:j:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o.topology = optarg; break;
		case 'P':
			narrowing = "--profiles";
			if ((o.nprofiles = split_list(optarg, o.profiles, MATRIX_MAX_PROFILES, "profiles")) <= 0)
				return EXIT_SETUP;
			break;
		case 'p':
			narrowing = "--proto";
			np = split_list(optarg, protos, 2, "transports");
			o.udp = o.tcp = false;
			for (int i = 0; i < np; i++) {
				if (strcmp(protos[i], "udp") == 0)
					o.udp = true;
				else if (strcmp(protos[i], "tcp") == 0)
					o.tcp = true;
				else
					np = -1;
			}
			if (np <= 0) {
				fprintf(stderr, "punchlab: --proto: expected udp, tcp or udp,tcp\n");
				return EXIT_SETUP;
			}
			break;
		case 'T':
			narrowing = "--techniques";
			if ((o.ntechniques = split_list(optarg, o.techniques, MATRIX_MAX_TECHNIQUES,
							"techniques")) <= 0)
				return EXIT_SETUP;
			for (int i = 0; i < o.ntechniques; i++)
				if (strcmp(o.techniques[i], "plain") && !technique_fits(o.techniques[i], "udp") &&
				    !technique_fits(o.techniques[i], "tcp")) {
					fprintf(stderr, "punchlab: unknown technique \"%s\", expected plain, udp, "
						"tcp, tcp-ttl, predict, birthday, relay or auto\n", o.techniques[i]);
					return EXIT_SETUP;
				}
			break;
		case 'c':
			if (o.ncells >= MATRIX_MAX_CELL_ARGS) {
				fprintf(stderr, "punchlab: too many --cell options\n");
				return EXIT_SETUP;
			}
			o.cells[o.ncells++] = optarg;
			break;
		case 'j':
			o.jobs = (int)strtol(optarg, &end, 10);
			o.jobs_adaptive = false;
			if (*end || o.jobs < 1 || o.jobs > 256) {
				fprintf(stderr, "punchlab: --jobs %s: expected 1..256\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'r':
			o.repeat = (int)strtol(optarg, &end, 10);
			if (*end || o.repeat < 1 || o.repeat > 1000) {
				fprintf(stderr, "punchlab: --repeat %s: expected 1..1000\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 's':
			o.stagger_ms = (int)strtol(optarg, &end, 10);
			if (*end || o.stagger_ms < 0 || o.stagger_ms > 10000) {
				fprintf(stderr, "punchlab: --stagger %s: expected 0..10000 ms\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'S':
			if (shard_parse(optarg, &o.shard_k, &o.shard_n) < 0) {
				fprintf(stderr, "punchlab: --shard %s: expected K/N with 1 <= K <= N\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'o': snprintf(out_dir, sizeof(out_dir), "%s", optarg); break;
		case 'b': o.baseline = optarg; break;
		case 'u': update = optarg; break;
		case 'e': o.expectations = optarg; break;
		case 'E': o.engine = optarg; engine_given = true; break;
		case 'B': o.engine_binary = optarg; break;
		case 'F': o.engine_b = optarg; break;
		case 'G': o.engine_binary_b = optarg; break;
		case 'W': {
			char why[300];
			/* one sweep at a time: a curve over one dimension, every other one fixed */
			if (o.sweep.npoints) {
				fprintf(stderr, "punchlab: --sweep %s: expected one --sweep per run "
					"(a curve over one dimension; a %s sweep was given already)\n",
					optarg, o.sweep.key);
				return EXIT_SETUP;
			}
			if (sweep_parse(optarg, &o.sweep, why, sizeof(why)) < 0) {
				fprintf(stderr, "punchlab: %s\n", why);
				return EXIT_SETUP;
			}
			break;
		}
		case 'n': o.classify = false; break;
		case 'O': o.only_rate_cells = true; break;
		case 'V': o.events = optarg; break;
		case 'C': color = false; break;
		case 'Q':
			if (profile_params_parse(&o.params, optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "punchlab: --profile-param %s: %s\n", optarg, why);
				return EXIT_SETUP;
			}
			narrowing = "--profile-param";
			break;
		case OPT_RENDEZVOUS_PORT:
			o.rendezvous_port = (int)strtol(optarg, &end, 10);
			if (!*optarg || *end || o.rendezvous_port < 1 || o.rendezvous_port > 65535) {
				fprintf(stderr, "punchlab: --rendezvous-port %s: expected a port, 1..65535\n",
					optarg);
				return EXIT_SETUP;
			}
			break;
		case OPT_FAMILY: {
			const char *fams[4];
			int nf;

			narrowing = narrowing ? narrowing : "--family";
			if ((nf = split_list(optarg, fams, 4, "families")) <= 0)
				return EXIT_SETUP;
			o.nfamilies = 0;
			for (int i = 0; i < nf; i++) {
				enum cell_family f;
				bool dup = false;

				if (cell_family_parse(fams[i], &f) < 0) {
					fprintf(stderr, "punchlab: --family: \"%s\" is no address family, "
						"expected 4, 6 or dual (e.g. --family 4,6,dual)\n", fams[i]);
					return EXIT_SETUP;
				}
				for (int j = 0; j < o.nfamilies; j++)
					dup |= o.families[j] == f;
				if (!dup)
					o.families[o.nfamilies++] = f;
			}
			break;
		}
		case OPT_IPV6_PROFILE:
			narrowing = narrowing ? narrowing : "--ipv6-profile";
			o.ipv6_profile = optarg;
			break;
		case OPT_OUTER:
			narrowing = narrowing ? narrowing : "--outer";
			if ((o.nouters = split_list(optarg, o.outers, MATRIX_MAX_PROFILES,
						    "outer profiles")) <= 0)
				return EXIT_SETUP;
			break;
		case 'I':
			narrowing = narrowing ? narrowing : "--impairments";
			if ((o.nimpairments = split_list(optarg, o.impairments, MATRIX_MAX_IMPAIRMENTS,
							 "impairments")) <= 0)
				return EXIT_SETUP;
			break;
		case 'i':
			if (o.nimpair >= TOPO_MAX_LINKS) {
				fprintf(stderr, "punchlab: too many --impair options\n");
				return EXIT_SETUP;
			}
			o.impair[o.nimpair++] = optarg;
			break;
		case 'X':
			if (strcmp(optarg, "failed") == 0)
				o.pcap = MATRIX_PCAP_FAILED;
			else if (strcmp(optarg, "all") == 0)
				o.pcap = MATRIX_PCAP_ALL;
			else {
				fprintf(stderr, "punchlab: --pcap %s: expected failed (keep the captures "
					"of failed, flaky, disputed and error cells) or all\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'h': fputs(matrix_usage, stdout); return 0;
		default: fputs(matrix_usage, stderr); return EXIT_SETUP;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "punchlab: unexpected argument \"%s\"\n%s", argv[optind], matrix_usage);
		return EXIT_SETUP;
	}
	/* --cell names whole cells: a list that would narrow the matrix has nothing to narrow, and
	 * ignoring it would run something else than the user asked for */
	if (o.ncells && narrowing) {
		fprintf(stderr, "punchlab: %s and --cell exclude each other: a cell id already names "
			"its profiles, transport, technique, family and profile parameters\n", narrowing);
		return EXIT_SETUP;
	}
	/* like the topology, the engine (or engine pair) comes from the ids when not given */
	if (o.ncells && !engine_given && !o.engine_b && cell_id_parse(o.cells[0], &first) == 0) {
		snprintf(cell_engine, sizeof(cell_engine), "%s", first.engine);
		o.engine = cell_engine;
		if (first.engine_b[0]) {
			snprintf(cell_engine_b, sizeof(cell_engine_b), "%s", first.engine_b);
			o.engine_b = cell_engine_b;
		}
	}
	if (o.engine_binary_b && !o.engine_b) {
		fprintf(stderr, "punchlab: --engine-binary-b needs an engine pair: give --engine-b "
			"NAME (the same engine as A for two binaries of one program)\n");
		return EXIT_SETUP;
	}
	if (!out_dir[0] && cli_default_out_dir(out_dir, sizeof(out_dir), "") < 0) {
		out_warn(&out_std, -errno, "create results/");
		return EXIT_SETUP;
	}
	o.out_dir = out_dir;
	o.progress_tty = isatty(STDERR_FILENO);

	ret = matrix_run(&o, &res, &out_std);
	if (ret) {
		results_free(&res);
		return ret;
	}
	report_terminal_write(&res, stdout, color);
	if (report_dir_write(&res, out_dir, &dl) < 0) {
		diag_print(&dl, &out_std);
		results_free(&res);
		return EXIT_SETUP;
	}
	if (update) {
		char from[600];
		snprintf(from, sizeof(from), "%s/matrix.json", out_dir);
		if (copy_file(from, update) < 0) {
			out_warn(&out_std, -errno, "write the baseline %s", update);
			results_free(&res);
			return EXIT_SETUP;
		}
	}
	printf("\nreports: %s/ (index.html, matrix.json, junit.xml, matrix.md)%s\n", out_dir,
	       res.meta.incomplete ? " -- INCOMPLETE: the run was interrupted" : "");
	ret = results_exit_code(&res);
	results_free(&res);
	return ret;
}
