/* punchlab classify [PROFILE...] [--json] [--timeouts] [-t TOPOLOGY] [-v] [--wait MS] */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/paths.h"
#include "cli/cli.h"
#include "lab/classify.h"
#include "lab/topo.h"
#include "nft/profile_params.h"

#define DEFAULT_TOPOLOGY "two-nats"
#define MAX_PROFILES 64
#define PATH_LEN CLI_PATH_LEN

int classify_main(int argc, char **argv);

static const char classify_usage[] =
	"usage: punchlab classify [PROFILE...] [--json] [--timeouts] [-t TOPOLOGY] [-v] [--wait MS]\n"
	"                         [--param NAME=SECONDS]...\n"
	"\n"
	"Build a small lab around each profile (a host behind the NAT, a probe server with two\n"
	"public addresses and two ports) and measure its behaviour with real packets, over UDP\n"
	"and TCP: the transports it handles, RFC 4787 mapping and filtering, port allocation\n"
	"(preserved, sequential with its stride, random), hairpinning (from the sender's public\n"
	"endpoint) and its filtering, the answer to unsolicited inbound traffic (unmapped and\n"
	"mapped ports), and the UDP mapping timeout (from conntrack; with --timeouts also end to\n"
	"end). Every test runs three rounds that must agree; controls that must succeed stand\n"
	"beside every negative result. Print it beside what the profile's header declares.\n"
	"An IPv6 profile (header \"family: ipv6\") is measured over IPv6 (in two-nats-dual\n"
	"unless -t names a topology with IPv6); a node that does not translate (an IPv6\n"
	"firewall) reads \"no translation\" for mapping and n/a for hairpinning.\n"
	"Without PROFILE, classify every profile in nat-profiles/, both families. Labs run in\n"
	"parallel.\n"
	"\n"
"  PROFILE           a name from nat-profiles/ or a path to a .nft file\n"
	"  --json            one JSON document on stdout instead of the tables\n"
	"  --timeouts        also measure the UDP mapping lifetime end to end (slow: about each\n"
	"                    profile's udp-timeout, probed up to 30 s beyond it)\n"
	"  -t, --topology T  the lab (default " DEFAULT_TOPOLOGY ", two-firewalls for a profile that\n"
	"                    translates nothing); it needs the roles peer-a, nat-a (gets the\n"
	"                    profile) and rendezvous (two addresses of the profile's family)\n"
	"  -v, --verbose     also print the evidence: what each probe of each round saw, and\n"
	"                    the NAT's conntrack mappings\n"
	"  --wait MS         how long to wait for a packet that may never come (default 500)\n"
	"  --param N=S       set a profile parameter (udp-timeout, udp-timeout-unreplied,\n"
	"                    udp-timeout-replied; repeatable): each profile is measured as a\n"
	"                    copy with the value written in (docs/profile-format.md)\n"
	"\n"
	"Exit status: 0 every profile behaves as declared; 1 a measured value differs from the\n"
	"header (a finding); 2 a bad header, a ruleset that does not load, or a lab failure.\n";

/* The keys shown, in order, with the label of their row. */
static const enum profile_key shown[] = {
	PROFILE_KEY_TRANSPORTS,  PROFILE_KEY_RFC3489,     PROFILE_KEY_MAPPING,
	PROFILE_KEY_FILTERING,   PROFILE_KEY_PORTS,       PROFILE_KEY_HAIRPIN,
	PROFILE_KEY_HAIRPIN_FILTERING, PROFILE_KEY_TCP_UNSOLICITED, PROFILE_KEY_PREDICTABLE,
	PROFILE_KEY_UDP_TIMEOUT,
};
#define NSHOWN (sizeof(shown) / sizeof(shown[0]))

struct job {
	const struct topo *topo;
	char path[PATH_LEN];
	struct classify_opts opts;
	struct classify_result r;
	struct diag_list dl;
	int ret;
	pthread_t thread;
	bool started;
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	j->ret = classify_profile(j->topo, j->path, &j->opts, &j->r, &j->dl);
	return NULL;
}

static const char *short_dep(const char *v)
{
	if (strcmp(v, "endpoint-independent") == 0)
		return "EI";
	if (strcmp(v, "address-dependent") == 0)
		return "AD";
	if (strcmp(v, "address-and-port-dependent") == 0)
		return "APD";
	return v;
}

static void print_profile(const struct job *j, bool verbose)
{
	const struct classify_result *r = &j->r;
	char d[64], m[64];

	printf("%s  (%s)\n  %s\n", r->declared.name, j->path, r->declared.description);
	if (r->family == AF_INET6)
		printf("  measured over IPv6 in %s%s\n", r->topology,
		       r->m[CLASSIFY_UDP].no_translation ? "; no translation: the server sees the "
		       "host's own endpoint" : "");
	if (r->unmeasured) {
		char ob[64];

		printf("  => not measured: outbound %s keeps the probes (UDP and TCP to the probe "
		       "server's ports) from leaving; docs/profile-format.md \"outbound\"\n\n",
		       profile_outbound_format(&r->declared, ob, sizeof(ob)));
		return;
	}
	printf("  %-16s %-28s %-28s %-28s\n", "key", "declared", "udp measured", "tcp measured");
	for (size_t i = 0; i < NSHOWN; i++) {
		enum profile_key k = shown[i];

		printf("  %-16s %-28s", profile_key_name(k), classify_declared(r, k, d, sizeof(d)));
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
			enum classify_transport t = (enum classify_transport)tr;
			bool cmp = classify_compared(r, k, t);
			char cell[80];

			classify_measured(r, k, t, m, sizeof(m));
			/* "*": differs from the header; "()": not compared (the header does not
			 * cover the transport, or the key does not apply) */
			snprintf(cell, sizeof(cell), cmp || !strcmp(m, "-") ? "%s%s" : "(%s)%s", m,
				 classify_mismatch(r, k, t) ? " *" : "");
			printf(" %-28s", cell);
		}
		printf("\n");
	}
	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
		if (r->m[tr].note[0])
			printf("  note (%s): %s\n", tr == CLASSIFY_UDP ? "udp" : "tcp", r->m[tr].note);
	if (verbose) {
		for (int i = 0; i < r->nevidence; i++)
			printf("  evidence: %s\n", r->evidence[i]);
		for (size_t i = 0; i < r->conntrack.n; i++) {
			char b[200];
			printf("  conntrack: %s\n", ct_mapping_format(&r->conntrack.v[i], b, sizeof(b)));
		}
	}
	if (!r->mismatches) {
		printf("  => behaves as declared (%.0f ms)\n\n", r->elapsed_ms);
	} else {
		printf("  => MISMATCH on:");
		for (int k = 0; k < PROFILE_KEY_COUNT; k++)
			if (r->mismatches & (1u << k))
				printf(" %s", profile_key_name((enum profile_key)k));
		printf(" (%.0f ms)\n\n", r->elapsed_ms);
	}
}

static void print_summary(const struct job *jobs, int n, double wall_ms)
{
	int bad = 0;
	int w = 26; /* the name column fits the longest name */

	for (int i = 0; i < n; i++)
		if ((int)strlen(jobs[i].r.declared.name) > w)
			w = (int)strlen(jobs[i].r.declared.name);
	/* mapping: wide enough for "no translation" (a firewall's, which is no mapping type) */
	printf("%-*s %-21s %-14s %-9s %-22s %-7s %-9s %-6s %-10s %s\n", w, "profile (measured, udp)",
	       "rfc3489", "mapping", "filtering", "ports", "hairpin", "hp-filter", "syn", "timeout",
	       "verdict");
	for (int i = 0; i < n; i++) {
		const struct classify_result *r = &jobs[i].r;
		char v[NSHOWN][64];

		if (jobs[i].ret < 0) {
			printf("%-*s error (see above)\n", w, r->declared.name[0] ? r->declared.name
										: jobs[i].path);
			continue;
		}
		if (r->unmeasured) {
			printf("%-*s not measured (outbound restricted)\n", w, r->declared.name);
			continue;
		}
		for (size_t k = 0; k < NSHOWN; k++)
			classify_measured(r, shown[k], CLASSIFY_UDP, v[k], sizeof(v[k]));
		printf("%-*s %-21s %-14s %-9s %-22s %-7s %-9s %-6s %-10s %s\n", w, r->declared.name,
		       v[1], short_dep(v[2]), short_dep(v[3]), v[4], v[5], short_dep(v[6]), v[7],
		       v[9], r->mismatches ? "MISMATCH" : "ok");
		bad += r->mismatches != 0;
	}
	printf("\n%d profile%s classified in %.2f s wall time (labs in parallel); %d mismatch%s\n",
	       n, n == 1 ? "" : "s", wall_ms / 1000, bad, bad == 1 ? "" : "es");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_profile(FILE *f, const struct job *j)
{
	const struct classify_result *r = &j->r;
	char b[200];
	bool first = true;

	fprintf(f, "    {\"name\": ");
	json_str(f, r->declared.name);
	fprintf(f, ", \"file\": ");
	json_str(f, j->path);
	fprintf(f, ", \"description\": ");
	json_str(f, r->declared.description);
	fprintf(f, ", \"family\": \"%s\", \"topology\": ", r->family == AF_INET6 ? "ipv6" : "ipv4");
	json_str(f, r->topology);
	/* "not-measured": the header's outbound line keeps the probes in (classify.h) */
	fprintf(f, ",\n     \"verdict\": \"%s\", \"mismatches\": [",
		r->unmeasured ? "not-measured" : r->mismatches ? "mismatch" : "match");
	for (int k = 0; k < PROFILE_KEY_COUNT; k++)
		if (r->mismatches & (1u << k)) {
			fprintf(f, "%s\"%s\"", first ? "" : ", ", profile_key_name((enum profile_key)k));
			first = false;
		}
	fprintf(f, "],\n     \"declared\": {");
	for (size_t i = 0, k = 0; i < NSHOWN; i++) {
		if (shown[i] == PROFILE_KEY_TRANSPORTS)
			continue; /* an array, below */
		fprintf(f, "%s\"%s\": ", k++ ? ", " : "", profile_key_name(shown[i]));
		if (shown[i] == PROFILE_KEY_UDP_TIMEOUT)
			fprintf(f, "%d", r->declared.udp_timeout);
		else
			json_str(f, classify_declared(r, shown[i], b, sizeof(b)));
	}
	fprintf(f, ", \"stride\": %d, \"transports\": [%s%s%s]},\n     \"measured\": {",
		r->declared.stride, (r->declared.transports & PROFILE_UDP) ? "\"udp\"" : "",
		r->declared.transports == (PROFILE_UDP | PROFILE_TCP) ? ", " : "",
		(r->declared.transports & PROFILE_TCP) ? "\"tcp\"" : "");
	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
		fprintf(f, "%s\"%s\": {", tr ? ", " : "", tr == CLASSIFY_UDP ? "udp" : "tcp");
		first = true;
		for (size_t i = 0; i < NSHOWN; i++) {
			if (shown[i] == PROFILE_KEY_UDP_TIMEOUT)
				continue;
			fprintf(f, "%s\"%s\": ", first ? "" : ", ", profile_key_name(shown[i]));
			classify_measured(r, shown[i], (enum classify_transport)tr, b, sizeof(b));
			if (!strcmp(b, "?"))
				fprintf(f, "null");
			else
				json_str(f, b);
			first = false;
		}
		fprintf(f, ", \"stride\": %d, \"disagree\": [", r->m[tr].stride);
		for (int k = 0, d = 0; k < PROFILE_KEY_COUNT; k++)
			if (r->m[tr].disagree & (1u << k))
				fprintf(f, "%s\"%s\"", d++ ? ", " : "",
					profile_key_name((enum profile_key)k));
		fprintf(f, "], \"rounds\": %d, \"note\": ", r->nrounds);
		json_str(f, r->m[tr].note);
		fprintf(f, "}");
	}
	fprintf(f, ", \"udp-timeout-conntrack\": [");
	for (int i = 0; i < r->nrounds; i++)
		fprintf(f, "%s{\"unreplied_s\": %d, \"replied_s\": %d}", i ? ", " : "",
			r->round[i][CLASSIFY_UDP].ct_unreplied, r->round[i][CLASSIFY_UDP].ct_replied);
	fprintf(f, "]");
	if (r->lifetime_lo >= 0)
		fprintf(f, ", \"udp-timeout\": {\"alive_after_s\": %d, \"gone_after_s\": %d}",
			r->lifetime_lo, r->lifetime_hi);
	else
		fprintf(f, ", \"udp-timeout\": null");
	fprintf(f, "},\n     \"evidence\": [");
	for (int i = 0; i < r->nevidence; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_str(f, r->evidence[i]);
	}
	fprintf(f, "],\n     \"conntrack\": [");
	for (size_t i = 0; i < r->conntrack.n; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_str(f, ct_mapping_format(&r->conntrack.v[i], b, sizeof(b)));
	}
	fprintf(f, "],\n     \"elapsed_ms\": %.0f}", r->elapsed_ms);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

int classify_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },    { "timeouts", no_argument, NULL, 'T' },
		{ "topology", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' }, { "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },    { "param", required_argument, NULL, 'P' },
		{ 0 },
	};
	struct profile_params params = { 0 };
	char why[256];
	const char *topology = DEFAULT_TOPOLOGY;
	bool topology_given = false;
	struct topo *tfw = NULL; /* two-firewalls, for translation-none profiles without -t */
	const char **fw = NULL;   /* that lab's name per profile, NULL for t */
	struct classify_opts opts = { .wait_ms = 0 };
	bool json = false, verbose = false;
	char (*paths)[PATH_LEN] = NULL;
	struct job *jobs = NULL;
	struct topo *t = NULL;
	int c, n = 0, ret = EXIT_SETUP, bad = 0, errors = 0, ncopies = 0;
	double start, wall;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'T':
			opts.timeouts = true;
			break;
		case 't':
			topology = optarg;
			topology_given = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'w':
			opts.wait_ms = atoi(optarg);
			if (opts.wait_ms < 10 || opts.wait_ms > 10000) {
				fprintf(stderr, "punchlab: --wait %s: expected milliseconds, 10 to "
					"10000\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'P':
			if (profile_params_parse(&params, optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "punchlab: --param %s: %s\n", optarg, why);
				return EXIT_SETUP;
			}
			break;
		case 'h':
			fputs(classify_usage, stdout);
			return 0;
		default:
			fputs(classify_usage, stderr);
			return EXIT_SETUP;
		}
	}

	paths = calloc(MAX_PROFILES, sizeof(*paths));
	jobs = calloc(MAX_PROFILES, sizeof(*jobs));
	t = calloc(1, sizeof(*t));
	fw = calloc(MAX_PROFILES, sizeof(*fw));
	if (!paths || !jobs || !t || !fw) {
		fprintf(stderr, "punchlab: out of memory\n");
		goto out;
	}
	if (optind == argc) {
		n = cli_shipped_profiles_any_family(paths, MAX_PROFILES);
		if (n <= 0)
			goto out;
	}
	for (int a = optind; a < argc; a++) {
		if (n >= MAX_PROFILES) {
			fprintf(stderr, "punchlab: at most %d profiles at once\n", MAX_PROFILES);
			goto out;
		}
		if (paths_resolve("nat-profiles", ".nft", argv[a], paths[n], PATH_LEN) < 0) {
			fprintf(stderr, "punchlab: profile \"%s\" not found (looked for %s), expected a "
				"name from nat-profiles/ or a path to a .nft file\n", argv[a], paths[n]);
			goto out;
		}
		n++;
	}

	/* Every header first: a bad one stops everything before any lab exists. With --param,
	 * each profile is replaced by its copy with the values written in. */
	for (int i = 0; i < n; i++) {
		struct profile_header h;
		struct diag_list dl = { .count = 0 };
		char copy[PATH_LEN];

		if (!profile_params_empty(&params)) {
			if (profile_params_instance(paths[i], &params, copy, sizeof(copy), &dl) < 0) {
				diag_print(&dl, &out_std);
				errors++;
				continue;
			}
			snprintf(paths[i], PATH_LEN, "%s", copy);
			ncopies = i + 1;
		}
		if (profile_header_parse_file(&h, paths[i], &dl) < 0) {
			diag_print(&dl, &out_std);
			errors++;
		} else if (!topology_given &&
			   strcmp(classify_default_topology(&h), DEFAULT_TOPOLOGY) != 0) {
			fw[i] = classify_default_topology(&h);
		}
	}
	if (errors || cli_load_topology(topology, t))
		goto out;
	for (int i = 0; i < n && !tfw; i++)
		if (fw[i]) {
			tfw = calloc(1, sizeof(*tfw));
			if (!tfw || cli_load_topology(fw[i], tfw))
				goto out;
		}

	start = now_ms();
	for (int i = 0; i < n; i++) {
		jobs[i].topo = fw[i] ? tfw : t;
		jobs[i].opts = opts;
		snprintf(jobs[i].path, sizeof(jobs[i].path), "%s", paths[i]);
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, job_run, &jobs[i]) == 0;
		if (!jobs[i].started)
			job_run(&jobs[i]); /* no thread: run it here */
	}
	for (int i = 0; i < n; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
	wall = now_ms() - start;

	for (int i = 0; i < n; i++) {
		if (jobs[i].ret < 0) {
			diag_print(&jobs[i].dl, &out_std);
			errors++;
		}
		bad += jobs[i].ret == 0 && jobs[i].r.mismatches != 0;
	}
	if (json) {
		printf("{\"topology\": ");
		json_str(stdout, topology);
		printf(", \"wall_ms\": %.0f, \"mismatches\": %d, \"errors\": %d, \"profiles\": [\n",
		       wall, bad, errors);
		for (int i = 0, k = 0; i < n; i++) {
			if (jobs[i].ret < 0)
				continue;
			printf("%s", k++ ? ",\n" : "");
			json_profile(stdout, &jobs[i]);
		}
		printf("\n]}\n");
	} else {
		for (int i = 0; i < n; i++)
			if (jobs[i].ret == 0)
				print_profile(&jobs[i], verbose);
		print_summary(jobs, n, wall);
	}
	ret = errors ? EXIT_SETUP : bad ? EXIT_FINDING : 0;
out:
	for (int i = 0; paths && i < ncopies; i++)
		profile_params_instance_remove(paths[i]);
	for (int i = 0; jobs && i < n; i++)
		classify_result_free(&jobs[i].r);
	free(jobs);
	free(paths);
	free(t);
	free(tfw);
	free(fw);
	return ret;
}
