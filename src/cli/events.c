/* punchlab events apply|recovery: NAT events (docs/events.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/out.h"
#include "cli/cli.h"
#include "cli/events_recovery.h"
#include "lab/events.h"
#include "lab/lab.h"

static const char events_usage[] =
	"usage: punchlab events apply LAB TIMELINE\n"
	"       punchlab events recovery [--events TIMELINE]... [--profiles P,...]\n"
	"                                [--revalidate S] [--engine-binary PATH] [--json]\n"
	"\n"
	"  apply     run TIMELINE against a kept lab (`punchlab lab up --keep`), times counted\n"
	"            from now; one line per step with what the lab did and saw. Exit 1 when a\n"
	"            step failed.\n"
	"  recovery  for each profile P, a fresh two-nats lab with P on both NATs, punch holding a\n"
	"            UDP path with --revalidate, the timeline applied: whether and how fast punch\n"
	"            recovered (the recovery-time table). Exit 1 when a cell did not recover.\n"
	"\n"
	"  TIMELINE  events separated by commas, times from the start:\n"
	"              NODE reboot@TIME [for DURATION]   conntrack flushed, ruleset reloaded\n"
	"                                                (off for DURATION first)\n"
	"              NODE rebind@TIME                  the NAT's flows move to new public ports\n"
	"              NODE wan-address@TIME             a new public address on the NAT's WAN\n"
	"              link NODE:NODE down@TIME for DURATION\n"
	"            TIME and DURATION: 3s, 2.5s, 2500ms. Example:\n"
	"              'nat-a reboot@2s for 2s, link inet:nat-b down@8s for 3s'\n";

static int apply_main(int argc, char **argv)
{
	struct lab_event_record rec[LAB_EVENT_RECORDS_MAX];
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct lab_timeline tl;
	struct lab *lab = NULL;
	char why[400];
	int ret = EXIT_SETUP, r;

	if (!dl)
		return EXIT_SETUP;
	if (argc != 3) {
		fputs(events_usage, stderr);
		goto out;
	}
	if (lab_timeline_parse(argv[2], &tl, why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab: events apply: %s\n", why);
		goto out;
	}
	if (tl.n == 0) {
		fprintf(stderr, "punchlab: events apply: the timeline is empty, expected at least "
			"one event such as 'nat-a reboot@0s'\n");
		goto out;
	}
	if (lab_attach(argv[1], &lab, dl) < 0) {
		diag_print(dl, &out_std);
		goto out;
	}
	if (lab_timeline_check(&tl, lab_topo(lab), why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab: events apply: %s\n", why);
		goto out;
	}
	r = lab_timeline_run(lab, &tl, lab_events_now_ms(), -1, rec, &out_std);
	ret = r < 0 ? EXIT_FINDING : 0;
out:
	lab_release(lab);
	free(dl);
	return ret;
}

int events_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(events_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_SETUP : 0;
	}
	if (strcmp(argv[1], "apply") == 0)
		return apply_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "recovery") == 0)
		return events_recovery_main(argc - 1, argv + 1);
	fprintf(stderr, "punchlab: events: unknown command \"%s\", expected apply or recovery\n",
		argv[1]);
	return EXIT_SETUP;
}
