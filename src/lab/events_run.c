/* Running a timeline against a lab: each step at its time, waits bounded by the timeline's own
 * times (at most LAB_EVENT_TIME_MAX_MS each) and cut short by a stop fd. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/out.h"
#include "lab/events.h"

double lab_events_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int lab_timeline_steps(const struct lab_timeline *tl, struct lab_event_record *rec)
{
	int n = 0;

	for (int i = 0; i < tl->n; i++) {
		bool two = tl->ev[i].kind == LAB_EV_LINK_DOWN || tl->ev[i].for_ms > 0;

		for (int half = 0; half < (two ? 2 : 1); half++) {
			struct lab_event_record r = { .ev = tl->ev[i], .up = half == 1, .ret = -ECANCELED };
			int j = n++;

			r.planned_ms = tl->ev[i].at_ms + (half ? tl->ev[i].for_ms : 0);
			/* insert in time order (stable: a step waits behind equal times) */
			while (j > 0 && rec[j - 1].planned_ms > r.planned_ms) {
				rec[j] = rec[j - 1];
				j--;
			}
			rec[j] = r;
		}
	}
	return n;
}

/* Wait until the monotonic time `until` (ms) or stop_fd is readable. Returns 0, or -ECANCELED. */
static int wait_until(double until, int stop_fd)
{
	for (;;) {
		double left = until - lab_events_now_ms();
		struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };

		if (left <= 0)
			return 0;
		if (poll(&pfd, stop_fd >= 0 ? 1 : 0, (int)(left + 0.999)) > 0)
			return -ECANCELED;
	}
}

int lab_timeline_run(struct lab *lab, const struct lab_timeline *tl, double origin_ms,
		     int stop_fd, struct lab_event_record *rec, const struct out *o)
{
	int n = lab_timeline_steps(tl, rec), failed = 0;

	for (int i = 0; i < n; i++) {
		struct lab_event_record *r = &rec[i];
		char name[96];

		if (wait_until(origin_ms + r->planned_ms, stop_fd) < 0)
			break;
		r->started_ms = lab_events_now_ms() - origin_ms;
		r->ret = lab_event_apply(lab, &r->ev, r->up, r->detail, sizeof(r->detail));
		r->actual_ms = lab_events_now_ms() - origin_ms;
		if (r->ret < 0 && !failed)
			failed = r->ret;
		if (o) {
			FILE *f = o->out ? o->out : stdout; /* out_std leaves them NULL */
			lab_event_format(&r->ev, name, sizeof(name));
			fprintf(f, "%.0f ms %s%s: %s%s\n", r->started_ms, name,
				r->up ? (r->ev.kind == LAB_EV_LINK_DOWN ? " (up again)" : " (booted)") : "",
				r->ret < 0 ? "FAILED: " : "", r->detail);
			fflush(f);
		}
	}
	return failed ? failed : n;
}
