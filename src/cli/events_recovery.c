/* punchlab events recovery: the recovery-time table (docs/events.md). Each cell is run by
 * src/matrix/recovery_cell.c; this file parses the options and prints the table.
 */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/events_recovery.h"
#include "engine/adapter.h"
#include "engine/engine_file.h"
#include "lab/events.h"
#include "lab/topo.h"
#include "matrix/recovery_cell.h"

#define MAX_ROWS_IN 16

static const char *const default_profiles[] = { "full-cone", "restricted-cone",
						"port-restricted-cone", "symmetric",
						"symmetric-sequential" };
static const char *const default_timelines[] = { "nat-a reboot@1s for 2s", "nat-a rebind@1s" };

struct rec_opts {
	const char *profiles[MAX_ROWS_IN];
	int nprofiles;
	const char *timelines[MAX_ROWS_IN];
	int ntimelines;
	int revalidate_ms;
	char binary[PATH_MAX];
	bool json;
};

static void print_table(const struct recovery_row *rows, int n, const struct rec_opts *ro)
{
	printf("punch's recovery after NAT events (two-nats, both NATs the profile, udp, --technique "
	       "auto, --revalidate %dms)\n\n", ro->revalidate_ms);
	printf("| profile | event | path before | path lost after | recovered | via | recovery time |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		const struct recovery_row *r = &rows[i];
		char lost[32] = "not lost", rec[32] = "-";

		if (r->error[0]) {
			printf("| %s | %s | | error: %s | | | |\n", r->profile, r->timeline, r->error);
			continue;
		}
		if (r->lost)
			snprintf(lost, sizeof(lost), "%.2f s", r->detect_ms / 1000);
		if (r->recovered)
			snprintf(rec, sizeof(rec), "%.2f s", r->recovery_ms / 1000);
		printf("| %s | %s | %s | %s | %s | %s | %s |\n", r->profile, r->timeline, r->before, lost,
		       !r->lost ? "(held)" : r->recovered ? "yes" : "**no**",
		       r->recovered ? r->via : "-", rec);
	}
	printf("\npath lost after: from the event to the first peer's path-lost; recovery time: "
	       "from the event's last step (the NAT back on, the rebind done) to both peers' "
	       "path-recovered.\n");
}

static void print_json(const struct recovery_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		const struct recovery_row *r = &rows[i];
		json_t *j = json_object(), *steps = json_array();

		json_object_set_new(j, "profile", json_string(r->profile));
		json_object_set_new(j, "events", json_string(r->timeline));
		json_object_set_new(j, "error", r->error[0] ? json_string(r->error) : json_null());
		json_object_set_new(j, "before", json_string(r->before));
		json_object_set_new(j, "lost", json_boolean(r->lost));
		json_object_set_new(j, "detect_ms", r->lost ? json_real(r->detect_ms) : json_null());
		json_object_set_new(j, "recovered", json_boolean(r->recovered));
		json_object_set_new(j, "via", r->recovered ? json_string(r->via) : json_null());
		json_object_set_new(j, "recovery_ms", r->recovered ? json_real(r->recovery_ms)
								   : json_null());
		for (int s = 0; s < r->nsteps; s++) {
			char name[96];
			json_t *o = json_object();
			json_object_set_new(o, "event", json_string(lab_event_format(&r->steps[s].ev,
										  name, sizeof(name))));
			json_object_set_new(o, "second_half", json_boolean(r->steps[s].up));
			json_object_set_new(o, "planned_ms", json_integer(r->steps[s].planned_ms));
			json_object_set_new(o, "applied_ms", json_real(r->steps[s].started_ms));
			json_object_set_new(o, "done_ms", json_real(r->steps[s].actual_ms));
			json_object_set_new(o, "detail", json_string(r->steps[s].detail));
			json_array_append_new(steps, o);
		}
		json_object_set_new(j, "steps", steps);
		char *text = json_dumps(j, JSON_COMPACT);
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
	}
}

int events_recovery_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "events", required_argument, NULL, 'e' },     { "profiles", required_argument, NULL, 'p' },
		{ "revalidate", required_argument, NULL, 'r' }, { "engine-binary", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },             { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rec_opts ro = { .revalidate_ms = 250 };
	struct engine_file *ef = calloc(1, sizeof(*ef));
	struct recovery_row *rows = NULL;
	struct topo *t = calloc(1, sizeof(*t));
	char *profiles_buf = NULL, why[400];
	const char *binary = NULL;
	int c, ret = EXIT_SETUP, n = 0, failed = 0;

	if (!ef || !t)
		goto out;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': {
			struct lab_timeline tl;
			if (ro.ntimelines == MAX_ROWS_IN) {
				fprintf(stderr, "punchlab: events recovery: more than %d --events\n",
					MAX_ROWS_IN);
				goto out;
			}
			if (lab_timeline_parse(optarg, &tl, why, sizeof(why)) < 0) {
				fprintf(stderr, "punchlab: --events %s\n", why);
				goto out;
			}
			if (tl.n == 0) {
				fprintf(stderr, "punchlab: --events '%s': no event, expected e.g. "
					"'nat-a reboot@1s'\n", optarg);
				goto out;
			}
			ro.timelines[ro.ntimelines++] = optarg;
			break;
		}
		case 'p':
			free(profiles_buf);
			profiles_buf = strdup(optarg);
			ro.nprofiles = 0;
			for (char *s = profiles_buf, *save = NULL, *tok; profiles_buf &&
			     (tok = strtok_r(s, ",", &save)); s = NULL) {
				if (ro.nprofiles == MAX_ROWS_IN) {
					fprintf(stderr, "punchlab: --profiles: more than %d\n", MAX_ROWS_IN);
					goto out;
				}
				ro.profiles[ro.nprofiles++] = tok;
			}
			break;
		case 'r': {
			char *end;
			double v = strtod(optarg, &end);
			if (strcmp(end, "s") == 0)
				v *= 1000;
			else if (strcmp(end, "ms") != 0)
				v = -1;
			if (v < 10 || v > 10000) {
				fprintf(stderr, "punchlab: --revalidate %s: expected 10ms..10s (250ms, "
					"0.5s)\n", optarg);
				goto out;
			}
			ro.revalidate_ms = (int)v;
			break;
		}
		case 'b':
			binary = optarg;
			break;
		case 'j':
			ro.json = true;
			break;
		case 'h':
			ret = events_main(2, (char *[]){ "events", "--help", NULL });
			goto out;
		default:
			fprintf(stderr, "punchlab: events recovery --help for the options\n");
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "punchlab: events recovery: unexpected argument \"%s\"\n", argv[optind]);
		goto out;
	}
	if (!ro.nprofiles)
		for (size_t i = 0; i < sizeof(default_profiles) / sizeof(default_profiles[0]); i++)
			ro.profiles[ro.nprofiles++] = default_profiles[i];
	if (!ro.ntimelines)
		for (size_t i = 0; i < sizeof(default_timelines) / sizeof(default_timelines[0]); i++)
			ro.timelines[ro.ntimelines++] = default_timelines[i];
	snprintf(ef->program, sizeof(ef->program), "punch");
	if (engine_program_find(ef, binary, ro.binary, sizeof(ro.binary)) < 0) {
		fprintf(stderr, "punchlab: events recovery: punch not found (%s): build it (ninja -C "
			"build) or pass --engine-binary\n", ro.binary);
		goto out;
	}
	if (preflight_check() != 0 || cli_load_topology("two-nats", t) != 0)
		goto out;
	for (int i = 0; i < ro.ntimelines; i++) {
		struct lab_timeline tl;
		lab_timeline_parse(ro.timelines[i], &tl, why, sizeof(why));
		if (lab_timeline_check(&tl, t, why, sizeof(why)) < 0) {
			fprintf(stderr, "punchlab: --events %s: %s\n", ro.timelines[i], why);
			goto out;
		}
	}
	rows = calloc((size_t)(ro.nprofiles * ro.ntimelines), sizeof(*rows));
	if (!rows)
		goto out;
	for (int p = 0; p < ro.nprofiles; p++)
		for (int e = 0; e < ro.ntimelines; e++) {
			struct recovery_row *r = &rows[n++];
			struct lab_timeline tl;

			lab_timeline_parse(ro.timelines[e], &tl, why, sizeof(why));
			snprintf(r->profile, sizeof(r->profile), "%s", ro.profiles[p]);
			lab_timeline_format(&tl, r->timeline, sizeof(r->timeline));
			fprintf(stderr, "punchlab: %s, %s ...\n", r->profile, r->timeline);
			recovery_cell_run(t, ro.binary, ro.revalidate_ms, ro.profiles[p], &tl, r);
			for (int s = 0; s < r->nsteps; s++)
				if (r->steps[s].detail[0])
					fprintf(stderr, "  %.0f ms %s%s: %s\n", r->steps[s].started_ms,
						r->timeline, r->steps[s].up ? " (second half)" : "",
						r->steps[s].detail);
			if (r->error[0] || (r->lost && !r->recovered))
				failed++;
		}
	if (ro.json)
		print_json(rows, n);
	else
		print_table(rows, n, &ro);
	ret = failed ? EXIT_FINDING : 0;
	for (int i = 0; i < n; i++)
		if (rows[i].error[0])
			ret = EXIT_SETUP;
out:
	free(rows);
	free(profiles_buf);
	free(ef);
	free(t);
	return ret;
}
