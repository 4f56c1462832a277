/* punchlab lifetime: how long a silent punched path survives each profile, and whether an
 * engine's keep-alive interval is short enough for it (docs/lifetime.md). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/paths.h"
#include "cli/cli.h"
#include "engine/adapter.h"
#include "engine/engine_file.h"
#include "lab/classify.h"
#include "lab/topo.h"
#include "matrix/family.h"
#include "matrix/lifetime.h"
#include "nft/profile.h"
#include "nft/profile_params.h"

#define MAX_PROFILES 32
#define PATH_LEN CLI_PATH_LEN
/* punch's keep-alive interval when it holds a path (src/punch/opts.h PEER_KEEPALIVE_MS; punch
 * shares no header with the lab by design, so the number is repeated here) */
#define PUNCH_KEEPALIVE_MS 5000
#define PEER_PROFILE "full-cone"
/* an IPv6 profile's peer: RFC 6092's default firewall filters endpoint-independently and
 * translates nothing, so every IPv6 profile connects through it as an IPv4 one does through
 * full-cone */
#define PEER_PROFILE6 "ipv6-firewall"

static const char lifetime_usage[] =
	"usage: punchlab lifetime [--profiles P,...] [--engine punch] [--udp-timeout S]\n"
	"                         [--gaps LO..HI] [--keepalive T] [--markdown] [-j N] [-t T]\n"
	"       punchlab lifetime --gap G --profiles P [--udp-timeout S] [--keepalive T]\n"
	"                         [--unreplied | --stream]\n"
	"\n"
	"Find, per profile, the longest silence a punched path survives: each probe is a fresh\n"
	"two-nats lab with the profile in nat-a (its udp-timeout set short, so a probe takes\n"
	"seconds) and full-cone in nat-b (an IPv6 profile: two-nats-dual, ipv6-firewall in nat-b,\n"
	"everything over IPv6); punch connects over UDP, both peers stay silent for the\n"
	"gap, then b probes a. The gap is bisected in whole seconds. A profile that declares a\n"
	"different lifetime for mappings without replies gets three rows: a path silent at once\n"
	"(answered), one silent after 3 s of keep-alives (stream: conntrack's replied timeout\n"
	"applies only to packets 2 s after a flow began), and a mapping that saw no reply (a\n"
	"datagram the server answers late). Then the keep-alive adequacy: the engine's interval\n"
	"against the lifetime at the profile's own udp-timeout (the short lifetime measured, moved\n"
	"by the difference of the two settings).\n"
	"\n"
	"  --profiles P,...  names from nat-profiles/ or paths (default: every shipped profile\n"
	"                    whose network lets UDP out, IPv4 and IPv6)\n"
	"  --engine E        the engine (punch: the only one with an idle-gap probe)\n"
	"  --udp-timeout S   the short setting probed (default 4)\n"
	"  --gaps LO..HI     the silences searched, whole seconds (default 2..8)\n"
	"  --keepalive T     the engine's keep-alive interval judged (default punch's, 5 s);\n"
	"                    with --gap: punch's interval during the gap (default none)\n"
	"  --markdown        print the table as Markdown\n"
	"  -t, --topology T  the lab (default two-nats): roles peer-a, peer-b, nat-a, nat-b,\n"
	"                    rendezvous\n"
	"  -j N              searches at once (default 12; one per profile and kind of mapping)\n"
	"  --gap G           one probe: exit 0 when the path survives G seconds, 1 when not\n"
	"  --unreplied       with --gap: probe a mapping that saw no reply instead\n"
	"  --stream          with --gap: go silent only after 3 s of keep-alives\n"
	"\n"
	"Exit: 0 done (or survived), 1 a keep-alive is not adequate (or the path died), 2 setup.\n";

struct row {
	char path[PATH_LEN];
	struct profile_header h;
	bool split;                 /* unreplied lifetime declared apart */
	struct lifetime_result res[LIFETIME_KINDS];
};

struct job {
	struct row *row;
	struct lifetime_probe_opts o;
	int lo, hi, short_s;
};

/* A network that lets no UDP out (outbound: no-udp or a TCP port list: udp-blocked, web-only)
 * makes no UDP mapping to measure: left out of the default list (named with --profiles, the
 * lab says it cannot reach the server). Returns the count kept, in order. */
static int keep_udp_networks(char paths[][PATH_LEN], int n)
{
	int kept = 0;

	for (int i = 0; i < n; i++) {
		struct profile_header h;
		struct diag_list dl = { .count = 0 };

		if (profile_header_parse_file(&h, paths[i], &dl) == 0 && h.outbound_no_udp)
			continue;
		if (kept != i)
			memcpy(paths[kept], paths[i], PATH_LEN);
		kept++;
	}
	return kept;
}

/* A job's lab by its profile's family: the run's topology and full-cone in nat-b for an IPv4
 * profile (tfw, when loaded, for one that translates nothing); for an IPv6 one, the topology's
 * dual-stack twin and ipv6-firewall, over IPv6. */
static void job_family(struct job *j, const struct topo *t, const struct topo *t6,
		       const struct topo *tfw, const char *peer, const char *peer6,
		       const char *program)
{
	bool six = j->row->h.family == PROFILE_FAMILY_IPV6;

	j->o.topo = six ? t6 : tfw && j->row->h.translation == PROFILE_TRANSLATION_NONE ? tfw : t;
	j->o.peer_profile = six ? peer6 : peer;
	j->o.family = six ? AF_INET6 : AF_INET;
	j->o.punch = program;
}

/* One search: a profile's one kind of mapping (its own thread: labs build in parallel). */
static void *job_run(void *arg)
{
	struct job *j = arg;
	struct lifetime_probe_opts o = j->o;
	int k = (int)o.kind;

	o.profile = j->row->path;
	/* a split profile's row shortens only the lifetime it is about: the other stays long,
	 * so a row that follows the short value shows which timeout governs that mapping */
	if (!j->row->split)
		o.params = (struct profile_params){ j->short_s, j->short_s };
	else if (k == LIFETIME_STREAM)
		o.params = (struct profile_params){ .udp_replied = j->short_s };
	else
		o.params = (struct profile_params){ .udp_unreplied = j->short_s };
	lifetime_search(&o, j->lo, j->hi, &j->row->res[k]);
	return NULL;
}

/* "4 s" / "< 2 s" / ">= 8 s" / "error" */
static void fmt_alive(const struct lifetime_result *r, char *buf, size_t len, int lo, int hi)
{
	if (r->error)
		snprintf(buf, len, "error");
	else if (r->alive_s < 0)
		snprintf(buf, len, "< %d s", lo);
	else if (r->dead_s < 0)
		snprintf(buf, len, ">= %d s", hi);
	else
		snprintf(buf, len, "%d s (dies at %d)", r->alive_s, r->dead_s);
}

/* The lifetime at the profile's own setting: declared + (alive - short), or -1 unknown. */
static int lifetime_at_default(const struct lifetime_result *r, int declared, int short_s)
{
	if (r->error || r->alive_s < 0)
		return -1;
	return declared + r->alive_s - short_s;
}

struct verdict {
	char kind[12], declared[12], alive[32], at_default[24], keepalive[16], adequate[48];
	bool inadequate;
};

static void verdict_of(const struct row *row, int k, int short_s, int lo, int hi, int ka_ms,
		       struct verdict *v)
{
	const struct lifetime_result *r = &row->res[k];
	/* a path silent at once lives by the unreplied timeout (lifetime.h) */
	int declared = k == LIFETIME_STREAM || !row->split ? row->h.udp_timeout
							   : row->h.udp_timeout_unreplied;
	static const char *const kinds[] = { "answered", "stream", "unreplied" };
	int at = lifetime_at_default(r, declared, short_s);

	memset(v, 0, sizeof(*v));
	snprintf(v->kind, sizeof(v->kind), "%s", !row->split ? "both" : kinds[k]);
	snprintf(v->declared, sizeof(v->declared), "%d s", declared);
	fmt_alive(r, v->alive, sizeof(v->alive), lo, hi);
	/* alive <= L < dead at the short setting, so D + alive - T <= L < D + dead - T */
	if (at < 0)
		snprintf(v->at_default, sizeof(v->at_default), "?");
	else if (r->dead_s < 0)
		snprintf(v->at_default, sizeof(v->at_default), ">= %d s", at);
	else
		snprintf(v->at_default, sizeof(v->at_default), "%d..%d s", at,
			 declared + r->dead_s - short_s);
	snprintf(v->keepalive, sizeof(v->keepalive), "%g s", ka_ms / 1000.0);
	if (k == LIFETIME_UNREPLIED && row->split) {
		snprintf(v->adequate, sizeof(v->adequate), "- (keep-alives follow a reply)");
		return;
	}
	if (r->error || at < 0) {
		snprintf(v->adequate, sizeof(v->adequate), "unknown");
		v->inadequate = true;
		return;
	}
	/* a keep-alive every K s leaves silences of K s: the path needs to survive K */
	v->inadequate = ka_ms > at * 1000;
	if (v->inadequate)
		snprintf(v->adequate, sizeof(v->adequate), "no");
	else
		snprintf(v->adequate, sizeof(v->adequate), "yes (%.0fx)",
			 at * 1000.0 / (ka_ms ? ka_ms : 1));
}

static int print_table(struct row *rows, int n, int short_s, int lo, int hi, int ka_ms,
		       bool md)
{
	static const char *const head[] = { "profile", "mapping", "udp-timeout", "survives at " ,
					    "lifetime at udp-timeout", "keep-alive", "adequate" };
	int bad = 0;
	char h3[32];

	snprintf(h3, sizeof(h3), "survives at %d s", short_s);
	if (md)
		printf("| %s | %s | %s | %s | %s | %s | %s |\n|---|---|---|---|---|---|---|\n",
		       head[0], head[1], head[2], h3, head[4], head[5], head[6]);
	else
		printf("%-26s %-9s %-11s %-18s %-23s %-10s %s\n", head[0], head[1], head[2], h3,
		       head[4], head[5], head[6]);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < (rows[i].split ? LIFETIME_KINDS : 1); k++) {
			struct verdict v;

			verdict_of(&rows[i], k, short_s, lo, hi, ka_ms, &v);
			bad += v.inadequate;
			if (md)
				printf("| %s | %s | %s | %s | %s | %s | %s |\n", rows[i].h.name,
				       v.kind, v.declared, v.alive, v.at_default, v.keepalive,
				       v.adequate);
			else
				printf("%-26s %-9s %-11s %-18s %-23s %-10s %s\n", rows[i].h.name,
				       v.kind, v.declared, v.alive, v.at_default, v.keepalive,
				       v.adequate);
		}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < LIFETIME_KINDS; k++)
			if (rows[i].res[k].error)
				fprintf(stderr, "punchlab: %s (%s): %s\n", rows[i].h.name,
					k == LIFETIME_REPLIED ? "answered" : k == LIFETIME_STREAM ?
					"stream" : "unreplied", rows[i].res[k].why);
	return bad;
}

static int parse_gaps(const char *s, int *lo, int *hi)
{
	char tail;

	if (sscanf(s, "%d..%d%c", lo, hi, &tail) != 2 || *lo < 1 || *hi <= *lo || *hi > 3600)
		return -1;
	return 0;
}

static int parse_secs(const char *s, int min, int max)
{
	struct profile_params p = { 0 };
	char why[128], arg[64];

	/* the same spelling as a parameter's value: 5 or 5s */
	snprintf(arg, sizeof(arg), "udp-timeout=%s", s);
	if (profile_param_set(&p, arg, why, sizeof(why)) < 0 || p.udp_replied < min ||
	    p.udp_replied > max)
		return -1;
	return p.udp_replied;
}

/* --keepalive: 0 or seconds (fractions allowed), in ms; -1 when bad */
static int parse_keepalive(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || (*end && strcmp(end, "s")) || v < 0 || v > 3600)
		return -1;
	return (int)(v * 1000 + 0.5);
}

static int one_probe(struct lifetime_probe_opts *o, int gap_s, int short_s)
{
	char why[320];
	enum lifetime_verdict v;

	o->gap_ms = (uint32_t)gap_s * 1000u;
	o->params = (struct profile_params){ short_s, short_s };
	v = lifetime_probe(o, why, sizeof(why));
	printf("%s udp-timeout=%d gap=%d s keepalive=%g s: %s (%s)\n", o->profile, short_s, gap_s,
	       o->keepalive_ms / 1000.0, v == LIFETIME_SURVIVED ? "survived" : v == LIFETIME_DIED ?
	       "died" : "error", why);
	return v == LIFETIME_SURVIVED ? 0 : v == LIFETIME_DIED ? EXIT_FINDING : EXIT_SETUP;
}

int lifetime_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profiles", required_argument, NULL, 'p' },
		{ "engine", required_argument, NULL, 'e' },
		{ "udp-timeout", required_argument, NULL, 'u' },
		{ "gaps", required_argument, NULL, 'g' },
		{ "gap", required_argument, NULL, 'G' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "unreplied", no_argument, NULL, 'U' },
		{ "stream", no_argument, NULL, 'S' },
		{ "markdown", no_argument, NULL, 'm' },
		{ "topology", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *profiles = NULL, *engine = "punch", *topology = "two-nats";
	int short_s = 4, lo = 2, hi = 8, gap = 0, ka_ms = -1, jobs = 12, c, n = 0;
	int ret = EXIT_SETUP, errors = 0, nj = 0;
	bool md = false, unreplied = false, stream = false;
	char (*paths)[PATH_LEN] = NULL, program[PATH_MAX], peer[PATH_LEN], peer6[PATH_LEN];
	struct engine_file *ef = NULL;
	struct row *rows = NULL;
	struct job *js = NULL;
	pthread_t *th = NULL;
	struct topo *t = NULL, *t6 = NULL, *tfw = NULL; /* tfw: for a firewall's row, without -t */
	bool topology_given = false;
	struct diag_list dl = { .count = 0 };
	bool any6 = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "j:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': profiles = optarg; break;
		case 'e': engine = optarg; break;
		case 't': topology = optarg; topology_given = true; break;
		case 'm': md = true; break;
		case 'U': unreplied = true; break;
		case 'S': stream = true; break;
		case 'u':
			short_s = parse_secs(optarg, 1, 3600);
			if (short_s < 0) {
				fprintf(stderr, "punchlab: --udp-timeout %s: expected whole seconds "
					"from 1 to 3600\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'g':
			if (parse_gaps(optarg, &lo, &hi) < 0) {
				fprintf(stderr, "punchlab: --gaps %s: expected LO..HI, whole seconds, "
					"1 <= LO < HI <= 3600 (e.g. 2..8)\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'G':
			gap = parse_secs(optarg, 1, 3600);
			if (gap < 0) {
				fprintf(stderr, "punchlab: --gap %s: expected whole seconds from 1 to "
					"3600\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'k':
			ka_ms = parse_keepalive(optarg);
			if (ka_ms < 0) {
				fprintf(stderr, "punchlab: --keepalive %s: expected seconds (0 = none, "
					"fractions allowed, at most 3600)\n", optarg);
				return EXIT_SETUP;
			}
			break;
		case 'j':
			jobs = atoi(optarg);
			if (jobs < 1 || jobs > MAX_PROFILES) {
				fprintf(stderr, "punchlab: -j %s: expected 1 to %d\n", optarg,
					MAX_PROFILES);
				return EXIT_SETUP;
			}
			break;
		case 'h': fputs(lifetime_usage, stdout); return 0;
		default: fputs(lifetime_usage, stderr); return EXIT_SETUP;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "punchlab: lifetime: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_SETUP;
	}
	if (strcmp(engine, "punch") != 0) {
		fprintf(stderr, "punchlab: --engine %s: the idle-gap probe needs an engine that can "
			"stay silent and then probe its path on request; expected punch (its "
			"--idle-gap)\n", engine);
		return EXIT_SETUP;
	}
	if ((unreplied || stream) && !gap) {
		fprintf(stderr, "punchlab: --unreplied and --stream go with --gap (the table measures "
			"them where a profile declares its lifetimes apart)\n");
		return EXIT_SETUP;
	}
	if (unreplied && stream) {
		fprintf(stderr, "punchlab: --unreplied and --stream exclude each other\n");
		return EXIT_SETUP;
	}
	paths = calloc(MAX_PROFILES, sizeof(*paths));
	rows = calloc(MAX_PROFILES, sizeof(*rows));
	js = calloc(MAX_PROFILES * LIFETIME_KINDS, sizeof(*js));
	th = calloc(MAX_PROFILES * LIFETIME_KINDS, sizeof(*th));
	ef = calloc(1, sizeof(*ef));
	t = calloc(1, sizeof(*t));
	t6 = calloc(1, sizeof(*t6));
	if (!paths || !rows || !js || !th || !ef || !t || !t6) {
		fprintf(stderr, "punchlab: out of memory\n");
		goto out;
	}
	if (!profiles) {
		n = cli_shipped_profiles_any_family(paths, MAX_PROFILES);
		if (n < 0)
			goto out;
		n = keep_udp_networks(paths, n);
	} else {
		char *list = strdup(profiles), *save = NULL;

		for (char *p = strtok_r(list, ",", &save); p && n < MAX_PROFILES;
		     p = strtok_r(NULL, ",", &save), n++)
			if (paths_resolve("nat-profiles", ".nft", p, paths[n], PATH_LEN) < 0) {
				fprintf(stderr, "punchlab: profile \"%s\" not found (looked for %s), "
					"expected a name from nat-profiles/ or a path to a .nft "
					"file\n", p, paths[n]);
				free(list);
				goto out;
			}
		free(list);
	}
	if (gap && n != 1) {
		fprintf(stderr, "punchlab: --gap probes one profile: give exactly one with "
			"--profiles\n");
		goto out;
	}
	/* every header and every copy first: a bad profile stops everything before any lab */
	for (int i = 0; i < n; i++) {
		struct profile_params p = { short_s, short_s };
		char copy[PATH_LEN];

		snprintf(rows[i].path, sizeof(rows[i].path), "%s", paths[i]);
		if (profile_header_parse_file(&rows[i].h, paths[i], &dl) < 0 ||
		    profile_params_instance(paths[i], &p, copy, sizeof(copy), &dl) < 0) {
			errors++;
			continue;
		}
		profile_params_instance_remove(copy);
		any6 |= rows[i].h.family == PROFILE_FAMILY_IPV6;
		rows[i].split = rows[i].h.udp_timeout_unreplied != rows[i].h.udp_timeout;
	}
	if (errors) {
		diag_print(&dl, &out_std);
		goto out;
	}
	if (paths_resolve("nat-profiles", ".nft", PEER_PROFILE, peer, sizeof(peer)) < 0) {
		fprintf(stderr, "punchlab: the peer's profile %s is missing (looked for %s)\n",
			PEER_PROFILE, peer);
		goto out;
	}
	if (engine_file_load(ef, engine, &dl) < 0) {
		diag_print(&dl, &out_std);
		goto out;
	}
	if (engine_program_find(ef, NULL, program, sizeof(program)) < 0) {
		fprintf(stderr, "punchlab: engine %s: program not found (looked for %s): build it "
			"with ninja -C build\n", engine, program);
		goto out;
	}
	if (cli_load_topology(topology, t))
		goto out;
	/* a profile that translates nothing needs a lab whose homes are routed (classify's
	 * choice, classify_default_topology()) */
	for (int i = 0; i < n && !topology_given && !tfw; i++)
		if (strcmp(classify_default_topology(&rows[i].h), topology) != 0 &&
		    rows[i].h.family == PROFILE_FAMILY_IPV4) {
			tfw = calloc(1, sizeof(*tfw));
			if (!tfw || cli_load_topology(classify_default_topology(&rows[i].h), tfw))
				goto out;
		}
	/* IPv6 profiles: the topology's dual-stack twin and an IPv6 peer (matrix/family.h) */
	if (any6) {
		if (paths_resolve("nat-profiles", ".nft", PEER_PROFILE6, peer6, sizeof(peer6)) < 0) {
			fprintf(stderr, "punchlab: the IPv6 peer's profile %s is missing (looked for "
				"%s)\n", PEER_PROFILE6, peer6);
			goto out;
		}
		if (family_twin_topology(t, "--profiles", t6, &dl) < 0) {
			diag_print(&dl, &out_std);
			goto out;
		}
	}

	if (gap) {
		js[0] = (struct job){ .row = &rows[0] };
		job_family(&js[0], t, t6, tfw, peer, peer6, program);
		js[0].o.profile = rows[0].path;
		js[0].o.kind = unreplied ? LIFETIME_UNREPLIED : stream ? LIFETIME_STREAM
						    : LIFETIME_REPLIED;
		js[0].o.keepalive_ms = ka_ms < 0 ? 0 : (uint32_t)ka_ms;
		ret = one_probe(&js[0].o, gap, short_s);
		goto out;
	}
	if (ka_ms < 0)
		ka_ms = PUNCH_KEEPALIVE_MS;
	/* one search per profile and kind of mapping; the probes run silent (no keep-alive):
	 * the lifetime is the NAT's, not the engine's */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < (rows[i].split ? LIFETIME_KINDS : 1); k++) {
			js[nj] = (struct job){ .row = &rows[i], .lo = lo, .hi = hi,
					       .short_s = short_s };
			job_family(&js[nj], t, t6, tfw, peer, peer6, program);
			js[nj++].o.kind = (enum lifetime_kind)k;
		}
	for (int i = 0; i < nj; i += jobs) {
		int m = nj - i < jobs ? nj - i : jobs;

		for (int k = 0; k < m; k++)
			if (pthread_create(&th[i + k], NULL, job_run, &js[i + k]) != 0)
				job_run(&js[i + k]), th[i + k] = 0;
		for (int k = 0; k < m; k++)
			if (th[i + k])
				pthread_join(th[i + k], NULL);
	}
	printf("%s%s keep-alive adequacy: engine %s (keep-alive every %g s), each profile in "
	       "nat-a with udp-timeout=%d s, silences of %d..%d s bisected%s\n", md ? "**" : "",
	       md ? "Mapping lifetime and" : "mapping lifetime and", engine, ka_ms / 1000.0,
	       short_s, lo, hi, md ? "**\n" : "");
	errors = 0;
	for (int i = 0; i < n; i++)
		for (int k = 0; k < LIFETIME_KINDS; k++)
			errors += rows[i].res[k].error;
	ret = print_table(rows, n, short_s, lo, hi, ka_ms, md) ? EXIT_FINDING : 0;
	if (errors)
		ret = EXIT_SETUP;
out:
	free(paths);
	free(rows);
	free(js);
	free(th);
	free(ef);
	free(t);
	free(tfw);
	free(t6);
	return ret;
}
