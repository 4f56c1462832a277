/* A cell's NAT events: the timeline thread and the recovery verdict (cell_events.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/events.h"
#include "matrix/cell.h"
#include "matrix/cell_events.h"

struct cell_events {
	struct lab *lab;
	struct lab_timeline tl;
	struct lab_event_record rec[LAB_EVENT_RECORDS_MAX];
	int nrec;
	double origin;
	int stop[2];
	pthread_t tid;
};

int cell_events_hold_s(const struct cell_spec *spec)
{
	struct lab_timeline tl;
	struct lab_event_record rec[LAB_EVENT_RECORDS_MAX];
	char why[300];
	int n;

	if (!spec->events[0] || lab_timeline_parse(spec->events, &tl, why, sizeof(why)) < 0)
		return 0;
	n = lab_timeline_steps(&tl, rec);
	return ((n ? rec[n - 1].planned_ms : 0) + CELL_EVENTS_RECOVER_MS + 999) / 1000;
}

int cell_events_family_check(const struct cell_spec *spec, char *why, size_t len)
{
	struct lab_timeline tl;

	if (!spec->events[0] || spec->family == CELL_FAMILY_4 ||
	    lab_timeline_parse(spec->events, &tl, why, len) < 0)
		return 0; /* a timeline that does not parse is said where it is parsed */
	for (int i = 0; i < tl.n; i++) {
		const struct lab_event *ev = &tl.ev[i];

		/* A rebind moves the public ports of IPv4 flows (an IPv6 firewall has none; nat66's
		 * would need its own pinning), and a new WAN address for IPv6 means a new
		 * delegated prefix for the whole home (every host renumbered): neither is built */
		if (ev->kind != LAB_EV_REBIND && ev->kind != LAB_EV_WAN_ADDRESS)
			continue;
		snprintf(why, len, "cell %s: %s %s is an IPv4 event (family 4 only): in family %s "
			 "cells, expected reboot or link down (rebind and wan-address of IPv6 rulesets "
			 "are not built; docs/events.md \"Address families\")", spec->id, ev->node,
			 lab_event_kind_name(ev->kind), cell_family_name(spec->family));
		return -EINVAL;
	}
	return 0;
}

static void *run(void *arg)
{
	struct cell_events *ce = arg;

	lab_timeline_run(ce->lab, &ce->tl, ce->origin, ce->stop[0], ce->rec, NULL);
	return NULL;
}

int cell_events_start(struct lab *lab, const struct cell_spec *spec, double origin_ms,
		      struct cell_events **out)
{
	struct cell_events *ce;
	char why[300];

	*out = NULL;
	if (!spec->events[0])
		return 0;
	ce = calloc(1, sizeof(*ce));
	if (!ce)
		return -ENOMEM;
	ce->lab = lab;
	ce->origin = origin_ms;
	if (lab_timeline_parse(spec->events, &ce->tl, why, sizeof(why)) < 0) {
		free(ce);
		return -EINVAL; /* planning checked it: not reached */
	}
	ce->nrec = lab_timeline_steps(&ce->tl, ce->rec);
	if (pipe2(ce->stop, O_CLOEXEC) < 0) {
		free(ce);
		return -errno;
	}
	if (pthread_create(&ce->tid, NULL, run, ce) != 0) {
		close(ce->stop[0]);
		close(ce->stop[1]);
		free(ce);
		return -EAGAIN;
	}
	*out = ce;
	return 0;
}

/* What one peer said about its path, on the origin's clock. */
struct peer_path {
	int lost, recovered;
	double first_lost, last_recovered;
	char via[16];
};

static void scan(const char *text, double offset, struct peer_path *pp)
{
	memset(pp, 0, sizeof(*pp));
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		json_t *j = json_loadb(p, n, 0, NULL);
		const char *ev = j ? json_string_value(json_object_get(j, "event")) : NULL;
		double t = offset + json_number_value(json_object_get(j, "t_ms"));

		if (ev && strcmp(ev, "path-lost") == 0) {
			if (!pp->lost++)
				pp->first_lost = t;
		} else if (ev && strcmp(ev, "path-recovered") == 0) {
			const char *via = json_string_value(json_object_get(j, "via"));
			pp->recovered++;
			pp->last_recovered = t;
			snprintf(pp->via, sizeof(pp->via), "%s", via ? via : "");
		}
		json_decref(j);
		p = nl ? nl + 1 : NULL;
	}
}

void cell_events_finish(struct cell_events *ce, const char *const text[2],
			const double start_ms[2], const char *dir, struct run_recovery *rec)
{
	struct peer_path pp[2];
	double first = -1, last = -1;
	char path[4096], x = 1;
	FILE *log;

	if (!ce)
		return;
	if (write(ce->stop[1], &x, 1) < 0) /* cut the thread's waits short */
		abort(); /* our own pipe: cannot fail, and the join below must not hang */
	pthread_join(ce->tid, NULL);
	close(ce->stop[0]);
	close(ce->stop[1]);

	memset(rec, 0, sizeof(*rec));
	rec->detect_ms = rec->recovery_ms = -1;
	snprintf(path, sizeof(path), "%s/events.log", dir);
	log = fopen(path, "w");
	for (int i = 0; i < ce->nrec; i++) {
		const struct lab_event_record *r = &ce->rec[i];
		bool reached = r->ret != -ECANCELED;

		if (i < RUN_EVENTS_MAX) {
			struct run_event *e = &rec->events[rec->nevents++];
			lab_event_format(&r->ev, e->event, sizeof(e->event));
			e->second_half = r->up;
			e->planned_ms = r->planned_ms;
			e->actual_ms = reached ? r->started_ms : -1;
			e->failed = reached && r->ret < 0;
			snprintf(e->detail, sizeof(e->detail), "%s", reached ? r->detail : "not reached");
		}
		if (log) {
			char name[96];
			fprintf(log, "%d ms planned, applied %.1f..%.1f ms: %s%s: %s\n", r->planned_ms,
				reached ? r->started_ms : -1.0, reached ? r->actual_ms : -1.0, lab_event_format(&r->ev, name, sizeof(name)),
				r->up ? (r->ev.kind == LAB_EV_LINK_DOWN ? " (up again)" : " (booted)") : "",
				reached ? r->detail : "not reached");
		}
		if (reached && first < 0)
			first = r->started_ms;
		if (reached)
			last = r->started_ms;
	}
	for (int i = 0; i < 2; i++)
		scan(text[i] ? text[i] : "", start_ms[i] - ce->origin, &pp[i]);
	for (int i = 0; i < 2; i++)
		if (pp[i].lost && first >= 0) {
			double d = pp[i].first_lost - first;
			if (!rec->path_lost || d < rec->detect_ms)
				rec->detect_ms = d;
			rec->path_lost = true;
		}
	/* recovered: both peers reported their path back after the last step (when one lost
	 * it, the other's path died with it), as often as they lost it */
	if (rec->path_lost && last >= 0 && pp[0].recovered && pp[1].recovered &&
	    pp[0].recovered >= pp[0].lost && pp[1].recovered >= pp[1].lost &&
	    pp[0].last_recovered >= last && pp[1].last_recovered >= last) {
		int later = pp[0].last_recovered > pp[1].last_recovered ? 0 : 1;
		rec->recovered = true;
		rec->recovery_ms = pp[later].last_recovered - last;
		snprintf(rec->via, sizeof(rec->via), "%s",
			 strcmp(pp[0].via, "relay") == 0 ? pp[0].via : pp[1].via);
	}
	if (log) {
		if (!rec->path_lost)
			fprintf(log, "the engine reported no loss of its path\n");
		else if (rec->recovered)
			fprintf(log, "path lost %.0f ms after the first step, recovered (%s) %.0f ms after "
				"the last\n", rec->detect_ms, rec->via, rec->recovery_ms);
		else
			fprintf(log, "path lost %.0f ms after the first step, not recovered\n",
				rec->detect_ms);
		fclose(log);
	}
	free(ce);
}
