/* punchlab bench connect: time to connect as users feel it, over the default matrix (or saved
 * matrix.json files, e.g. from an older build, for a before/after table in one session).
 * Per transport and technique: the direct runs' time to connect (from the second peer's
 * registration to the payload verified both ways over the direct path), the relayed runs'
 * (to the payload verified over the relay), and the time to first byte (the first verified
 * path of any kind: punch's auto verifies over the relay alongside its direct techniques).
 * With several techniques in one run, each pairing's auto is compared with its fastest
 * technique alone (median against median, direct runs). A benchmark: it asserts nothing. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/bench_stats.h"
#include "matrix/matrix.h"
#include "matrix/results_json_read.h"
#include "report/report.h"

static const char usage[] =
	"usage: punchlab bench connect [--repeat N] [--jobs N] [--techniques T,...] [--family F,...]\n"
	"                              [-o DIR]\n"
	"       punchlab bench connect --from MATRIX.JSON [--from ...]\n"
	"\n"
	"  Runs the default matrix (both transports, the default profiles) with --techniques\n"
	"  (auto) --repeat times (5) and prints, per transport and technique, the median and p95\n"
	"  of: time to connect of the direct runs, of the relayed runs, and time to first byte;\n"
	"  with auto and other techniques, auto against each pairing's fastest technique alone.\n"
	"  --family 4,dual: each family apart (dual: both peers race IPv6 against IPv4), and\n"
	"  each pairing's dual cell against its IPv4 one (time to direct, medians).\n"
	"  --from: the same summary of saved runs (an older build's matrix.json: before/after).\n";


/* Nearest rank (a measured value), as the results model's percentiles; -1 when empty. */
static double nearest_rank(double *v, int n, int pct)
{
	int k;

	if (n <= 0)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	k = (pct * n + 99) / 100;
	return v[(k < 1 ? 1 : k) - 1];
}

static void print_stat(const char *what, double *v, int n)
{
	if (n <= 0) {
		printf("  %-24s -\n", what);
		return;
	}
	printf("  %-24s median %9.1f ms  p95 %9.1f ms  (%d runs)\n", what,
	       nearest_rank(v, n, 50), nearest_rank(v, n, 95), n);
}

/* The techniques present, in first-seen order. */
static int techniques_of(const struct results *r, const char **out, int max)
{
	int n = 0;

	for (int i = 0; i < r->ncells; i++) {
		bool seen = false;
		for (int k = 0; k < n; k++)
			seen |= strcmp(out[k], r->cells[i].spec.technique) == 0;
		if (!seen && n < max)
			out[n++] = r->cells[i].spec.technique;
	}
	return n;
}

static int runs_of(const struct results *r)
{
	int n = 0;

	for (int i = 0; i < r->ncells; i++)
		n += r->cells[i].nruns;
	return n;
}

/* The families present, in first-seen order. */
static int families_of(const struct results *r, enum cell_family *out)
{
	int n = 0;

	for (int i = 0; i < r->ncells; i++) {
		bool seen = false;
		for (int k = 0; k < n; k++)
			seen |= out[k] == r->cells[i].spec.family;
		if (!seen && n < 3)
			out[n++] = r->cells[i].spec.family;
	}
	return n;
}

/* @fam < 0: every family (a run with one family prints as before) */
static void summarize_group(const struct results *r, const char *proto, const char *tech,
			    int fam, double *buf)
{
	int total = runs_of(r);
	double *direct = buf, *relayed = buf + total, *ttfb = buf + 2 * total;
	int nd = 0, nr = 0, nt = 0, nruns = 0, nfail = 0;

	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];

		if (strcmp(c->spec.proto, proto) || strcmp(c->spec.technique, tech) ||
		    (fam >= 0 && (int)c->spec.family != fam))
			continue;
		for (int k = 0; k < c->nruns; k++) {
			const struct cell_run *run = &c->runs[k];

			nruns++;
			if (run->outcome == CELL_DIRECT && run->time_to_connect_ms >= 0)
				direct[nd++] = run->time_to_connect_ms;
			else if (run->outcome == CELL_RELAYED && run->time_to_connect_ms >= 0)
				relayed[nr++] = run->time_to_connect_ms;
			else if (run->outcome != CELL_DIRECT && run->outcome != CELL_RELAYED)
				nfail++;
			if ((run->outcome == CELL_DIRECT || run->outcome == CELL_RELAYED) &&
			    run->ttfb_ms >= 0)
				ttfb[nt++] = run->ttfb_ms;
		}
	}
	if (!nruns)
		return;
	if (fam >= 0)
		printf("%s/%s family=%s: %d runs, %d direct, %d relayed, %d neither\n", proto, tech,
		       cell_family_name((enum cell_family)fam), nruns, nd, nr, nfail);
	else
		printf("%s/%s: %d runs, %d direct, %d relayed, %d neither\n", proto, tech, nruns,
		       nd, nr, nfail);
	print_stat("time to connect, direct", direct, nd);
	print_stat("time to connect, relayed", relayed, nr);
	print_stat("time to first byte", ttfb, nt);
}

/* The cell of @tech with the same topology, transport and pairing as @c, or NULL. */
static const struct cell_result *sibling(const struct results *r, const struct cell_result *c,
					 const char *tech)
{
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_spec *s = &r->cells[i].spec;
		if (strcmp(s->technique, tech) == 0 && strcmp(s->topology, c->spec.topology) == 0 &&
		    strcmp(s->proto, c->spec.proto) == 0 &&
		    strcmp(s->profile_a, c->spec.profile_a) == 0 &&
		    strcmp(s->profile_b, c->spec.profile_b) == 0 &&
		    strcmp(s->engine, c->spec.engine) == 0 && s->family == c->spec.family)
			return &r->cells[i];
	}
	return NULL;
}

/* The IPv4 cell of the same topology, transport, technique, pairing and engine as @c. */
static const struct cell_result *ipv4_twin(const struct results *r, const struct cell_result *c)
{
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_spec *s = &r->cells[i].spec;
		if (s->family == CELL_FAMILY_4 && strcmp(s->technique, c->spec.technique) == 0 &&
		    strcmp(s->topology, c->spec.topology) == 0 &&
		    strcmp(s->proto, c->spec.proto) == 0 &&
		    strcmp(s->profile_a, c->spec.profile_a) == 0 &&
		    strcmp(s->profile_b, c->spec.profile_b) == 0 &&
		    strcmp(s->engine, c->spec.engine) == 0)
			return &r->cells[i];
	}
	return NULL;
}

/* Dual against IPv4 only, per pairing: how often each goes direct, and where both do, the
 * ratio of their time-to-direct medians (what racing IPv6 first costs or gains). */
static void compare_dual(const struct results *r)
{
	int pairs = 0, both = 0, only_dual = 0, only_v4 = 0, neither = 0, kept6 = 0, kept4 = 0;
	double *ratios = calloc((size_t)r->ncells + 1, sizeof(double)), *dual_ttc, *v4_ttc;

	if (!ratios)
		return;
	dual_ttc = calloc((size_t)r->ncells + 1, sizeof(double));
	v4_ttc = calloc((size_t)r->ncells + 1, sizeof(double));
	if (!dual_ttc || !v4_ttc)
		goto out;
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i], *t;
		bool d, f;

		if (c->spec.family != CELL_FAMILY_DUAL || !(t = ipv4_twin(r, c)))
			continue;
		pairs++;
		for (int k = 0; k < c->nruns; k++) {
			kept6 += c->runs[k].outcome == CELL_DIRECT && c->runs[k].family_used == 6;
			kept4 += c->runs[k].outcome == CELL_DIRECT && c->runs[k].family_used == 4;
		}
		d = c->ttc_p50_ms >= 0;
		f = t->ttc_p50_ms >= 0;
		if (d && f) {
			dual_ttc[both] = c->ttc_p50_ms;
			v4_ttc[both] = t->ttc_p50_ms;
			/* below a millisecond both are "at once": compare against 1 ms */
			ratios[both++] = (c->ttc_p50_ms > 1 ? c->ttc_p50_ms : 1) /
					 (t->ttc_p50_ms > 1 ? t->ttc_p50_ms : 1);
		} else {
			only_dual += d && !f;
			only_v4 += f && !d;
			neither += !d && !f;
		}
	}
	if (!pairs)
		goto out;
	printf("dual against IPv4 only: %d pairings; direct in both %d, only dual %d, only IPv4 "
	       "%d, neither %d; dual's direct runs kept IPv6 %d, IPv4 %d\n", pairs, both,
	       only_dual, only_v4, neither, kept6, kept4);
	if (both)
		printf("  where both are direct: median of the pairings' time-to-direct medians: "
		       "dual %.1f ms, IPv4 only %.1f ms; median ratio %.2f (1 ms floor)\n",
		       nearest_rank(dual_ttc, both, 50), nearest_rank(v4_ttc, both, 50),
		       nearest_rank(ratios, both, 50));
out:
	free(ratios);
	free(dual_ttc);
	free(v4_ttc);
}

/* auto against each pairing's fastest technique alone: the ratio of the direct runs' medians. */
static void compare_auto(const struct results *r, const char **techs, int ntechs)
{
	int compared = 0, within2 = 0, worst[5] = { -1, -1, -1, -1, -1 };
	double ratio[5] = { 0 }, *ratios = calloc((size_t)r->ncells + 1, sizeof(double));
	char best_tech[5][16] = { { 0 } };

	if (!ratios)
		return;
	for (int i = 0; i < r->ncells; i++) {
		const struct cell_result *c = &r->cells[i];
		const char *bt = NULL;
		double best = -1, q;

		if (strcmp(c->spec.technique, "auto") || c->ttc_p50_ms < 0)
			continue;
		for (int k = 0; k < ntechs; k++) {
			const struct cell_result *s;
			if (strcmp(techs[k], "auto") == 0)
				continue;
			s = sibling(r, c, techs[k]);
			if (s && s->ttc_p50_ms >= 0 && (best < 0 || s->ttc_p50_ms < best)) {
				best = s->ttc_p50_ms;
				bt = techs[k];
			}
		}
		if (best < 0)
			continue;
		/* below a millisecond both are "at once": compare against 1 ms */
		q = c->ttc_p50_ms / (best > 1 ? best : 1);
		ratios[compared++] = q;
		within2 += q <= 2;
		for (int w = 0; w < 5; w++) {
			if (worst[w] < 0 || q > ratio[w]) {
				for (int m = 4; m > w; m--) {
					worst[m] = worst[m - 1];
					ratio[m] = ratio[m - 1];
					memcpy(best_tech[m], best_tech[m - 1], sizeof(best_tech[m]));
				}
				worst[w] = i;
				ratio[w] = q;
				snprintf(best_tech[w], sizeof(best_tech[w]), "%s", bt);
				break;
			}
		}
	}
	if (compared) {
		printf("auto against the fastest technique alone (direct medians, 1 ms floor): %d "
		       "pairings, %d within 2x, median ratio %.2f\n", compared, within2,
		       nearest_rank(ratios, compared, 50));
		for (int w = 0; w < 5 && worst[w] >= 0; w++)
			printf("  %5.2fx  %s (auto %.1f ms, %s %.1f ms)\n", ratio[w],
			       r->cells[worst[w]].spec.id, r->cells[worst[w]].ttc_p50_ms, best_tech[w],
			       sibling(r, &r->cells[worst[w]], best_tech[w])->ttc_p50_ms);
	}
	free(ratios);
}

static void summarize(const struct results *r, const char *label)
{
	static const char *const protos[] = { "udp", "tcp" };
	const char *techs[32];
	enum cell_family fams[3];
	int ntechs = techniques_of(r, techs, 32), nfams = families_of(r, fams);
	double *buf = calloc((size_t)runs_of(r) * 3 + 3, sizeof(double));

	printf("%s: %d cells, %d runs\n", label, r->ncells, runs_of(r));
	for (int p = 0; buf && p < 2; p++)
		for (int k = 0; k < ntechs; k++)
			for (int f = 0; f < (nfams > 1 ? nfams : 1); f++)
				summarize_group(r, protos[p], techs[k], nfams > 1 ? (int)fams[f] : -1,
						buf);
	compare_auto(r, techs, ntechs);
	compare_dual(r);
	free(buf);
}

int bench_connect_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repeat", required_argument, NULL, 'r' }, { "jobs", required_argument, NULL, 'j' },
		{ "techniques", required_argument, NULL, 'T' }, { "from", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ "family", required_argument, NULL, 'F' },
		{ 0 },
	};
	struct matrix_opts mo = { .udp = true, .tcp = true, .jobs = 20, .repeat = 5,
				  .stagger_ms = 20, .engine = "punch", .classify = false };
	const char *from[16];
	char techbuf[256] = "auto", outbuf[PATH_MAX];
	int nfrom = 0, c, ret = 0;
	struct results res;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': mo.repeat = atoi(optarg); break;
		case 'j': mo.jobs = atoi(optarg); break;
		case 'T': snprintf(techbuf, sizeof(techbuf), "%s", optarg); break;
		case 'o': mo.out_dir = optarg; break;
		case 'F':
			mo.nfamilies = 0;
			for (char *save = NULL, *f = strtok_r(optarg, ",", &save); f;
			     f = strtok_r(NULL, ",", &save)) {
				enum cell_family cf;
				bool dup = false;

				if (cell_family_parse(f, &cf) < 0 || mo.nfamilies == 3) {
					fprintf(stderr, "punchlab bench connect: --family: \"%s\" is no "
						"address family, expected 4, 6 or dual (e.g. --family "
						"4,dual)\n", f);
					return EXIT_SETUP;
				}
				for (int j = 0; j < mo.nfamilies; j++)
					dup |= mo.families[j] == cf;
				if (!dup)
					mo.families[mo.nfamilies++] = cf;
			}
			break;
		case 'f':
			if (nfrom == 16) {
				fprintf(stderr, "--from %s: at most 16 files\n", optarg);
				return EXIT_SETUP;
			}
			from[nfrom++] = optarg;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_SETUP;
		}
	}
	if (optind != argc || mo.repeat < 1 || mo.repeat > 1000 || mo.jobs < 1 || mo.jobs > 256) {
		fputs(usage, stderr);
		return EXIT_SETUP;
	}
	for (int i = 0; i < nfrom; i++) {
		struct diag_list dl = { .count = 0 };
		memset(&res, 0, sizeof(res));
		if (results_json_read(from[i], &res, &dl) < 0) {
			diag_print(&dl, &out_std);
			results_free(&res);
			return EXIT_SETUP;
		}
		summarize(&res, from[i]);
		results_free(&res);
	}
	if (nfrom)
		return 0;
	for (char *save = NULL, *t = strtok_r(techbuf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (mo.ntechniques == MATRIX_MAX_TECHNIQUES) {
			fprintf(stderr, "--techniques: too many\n");
			return EXIT_SETUP;
		}
		mo.techniques[mo.ntechniques++] = t;
	}
	if (preflight_check())
		return EXIT_SETUP;
	if (!mo.out_dir) {
		if (cli_default_out_dir(outbuf, sizeof(outbuf), "bench-connect-") < 0) {
			fprintf(stderr, "bench connect: cannot create results/\n");
			return EXIT_SETUP;
		}
		mo.out_dir = outbuf;
	}
	memset(&res, 0, sizeof(res));
	if (matrix_run(&mo, &res, &out_std) != 0) {
		results_free(&res);
		return EXIT_SETUP;
	}
	{
		struct diag_list dl = { .count = 0 };
		report_dir_write(&res, mo.out_dir, &dl);
	}
	summarize(&res, mo.out_dir);
	printf("reports of that run: %s\n", mo.out_dir);
	results_free(&res);
	return ret;
}
