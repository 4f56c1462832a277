/* Both address families at once: the decision (dual_next, pure) and the driver (dual_run) that
 * runs one peer per family on its own event loop and watches both loops' epoll fds from one
 * epoll instance. Each family's run keeps its own loop so that cancelling it is closing that
 * loop and its sockets: no timer of a cancelled run can fire afterwards. */
#include "dual.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop.h"
#include "peer.h"

static bool ended(enum dual_state s)
{
	return s == DS_DIRECT || s == DS_RELAYED || s == DS_FAILED || s == DS_CANCELLED;
}

/* Rank of an ended attempt's outcome for keeping it when nobody went direct. */
static int rank(const struct dual_view *v, int i)
{
	switch (v->st[i]) {
	case DS_DIRECT:
		return 3000;
	case DS_RELAYED:
		return 2000;
	case DS_FAILED:
		return 1000 + v->phase[i];
	default:
		return 0;
	}
}

void dual_next(const struct dual_view *v, struct dual_action *a)
{
	int i, direct = -1;
	bool busy = false, waiting = false;

	memset(a, 0, sizeof(*a));
	a->keep = -1;
	for (i = 0; i < DUAL_N && direct < 0; i++)
		if (v->st[i] == DS_VERIFIED || v->st[i] == DS_DIRECT)
			direct = i;
	if (direct >= 0) {
		/* a path verified both ways: the attempts without one stop at once, those
		 * verifying one of their own are waited for (bounded) */
		for (i = 0; i < DUAL_N; i++) {
			if (v->st[i] == DS_IDLE || v->st[i] == DS_RUNNING ||
			    (v->st[i] == DS_VERIFYING && v->wait_over))
				a->cancel[i] = true;
			else if (v->st[i] == DS_VERIFYING)
				waiting = true;
		}
		a->keep = direct;
		if (waiting)
			return;
		/* the first verified family in preference order is kept, the others close */
		a->done = v->st[direct] == DS_DIRECT;
		for (i = 0; i < DUAL_N; i++)
			if (i != direct && v->st[i] == DS_VERIFIED)
				a->cancel[i] = true;
		return;
	}
	/* IPv4 after the delay, or as soon as IPv6 ended without a direct path (RFC 8305 5.) */
	if (v->st[DUAL_V4] == DS_IDLE && (v->delay_passed || ended(v->st[DUAL_V6])))
		a->start[DUAL_V4] = true;
	if (v->st[DUAL_V6] == DS_IDLE)
		a->start[DUAL_V6] = true;
	for (i = 0; i < DUAL_N; i++)
		if (!ended(v->st[i]))
			busy = true;
	if (busy)
		return;
	a->done = true;
	a->keep = 0;
	for (i = 1; i < DUAL_N; i++)
		if (rank(v, i) > rank(v, a->keep))
			a->keep = i;
}

const char *dual_state_name(enum dual_state s)
{
	switch (s) {
	case DS_IDLE:
		return "idle";
	case DS_RUNNING:
		return "running";
	case DS_VERIFYING:
		return "verifying";
	case DS_VERIFIED:
	case DS_DIRECT:
		return "direct";
	case DS_RELAYED:
		return "relayed";
	case DS_FAILED:
		return "failed";
	case DS_CANCELLED:
		return "cancelled";
	}
	return "?";
}

/* ---- the driver ---- */

struct dual {
	struct peer_opts o[DUAL_N];
	struct peer *p[DUAL_N];
	bool started[DUAL_N], cancelled[DUAL_N], setup_failed[DUAL_N], watched[DUAL_N];
	bool verified[DUAL_N];        /* it verified a direct path (even if not kept) */
	bool delay_passed, wait_over;
	uint64_t first_verified_us;   /* when a family first verified (0: none yet) */
	int epfd, sigfd, tfd;         /* tfd: the family delay, then the wait (DUAL_WAIT_MS) */
	FILE *err;
};

/* epoll data of the driver's own fds; a family's loop is its index */
#define EV_SIG 100
#define EV_DELAY 101

static enum dual_state state_of(const struct dual *d, int i)
{
	const struct peer *p = d->p[i];

	if (d->cancelled[i])
		return DS_CANCELLED;
	if (!d->started[i])
		return DS_IDLE;
	if (peer_finished(p)) {
		switch (peer_exit_code(p)) {
		case PEER_EXIT_DIRECT:
			return DS_DIRECT;
		case PEER_EXIT_RELAYED:
			return DS_RELAYED;
		default:
			return DS_FAILED;
		}
	}
	return peer_direct_verified(p) ? DS_VERIFIED :
	       peer_direct_verifying(p) ? DS_VERIFYING : DS_RUNNING;
}

static void timer_at(struct dual *d, uint64_t delay_ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(delay_ms / 1000);
	its.it_value.tv_nsec = (long)(delay_ms % 1000) * 1000000L;
	if (!delay_ms)
		its.it_value.tv_nsec = 1; /* zero would disarm it */
	timerfd_settime(d->tfd, 0, &its, NULL);
}

static int watch(struct dual *d, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void unwatch(struct dual *d, int i)
{
	if (!d->watched[i])
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, peer_loop(d->p[i])->epfd, NULL);
	d->watched[i] = false;
}

static void start(struct dual *d, int i)
{
	char why[160];
	int err;

	d->started[i] = true;
	err = peer_begin(d->p[i]);
	if (!err)
		err = watch(d, peer_loop(d->p[i])->epfd, (uint64_t)i);
	if (err) {
		/* no route to this family's rendezvous (say): this family failed, the other goes on */
		d->setup_failed[i] = true;
		snprintf(why, sizeof(why), "cannot reach the rendezvous: %s", strerror(-err));
		peer_fail(d->p[i], why);
		return;
	}
	d->watched[i] = true;
}

static void cancel(struct dual *d, int i, int kept)
{
	char why[96];

	d->cancelled[i] = true;
	if (!d->started[i])
		return;
	unwatch(d, i);
	if (d->wait_over && peer_direct_verifying(d->p[i]))
		snprintf(why, sizeof(why), "cancelled: its path not verified within %d ms of the "
			 "IPv%d one", DUAL_WAIT_MS, kept == DUAL_V6 ? 6 : 4);
	else if (d->verified[i])
		snprintf(why, sizeof(why), "cancelled: verified too, the IPv%d path is kept",
			 kept == DUAL_V6 ? 6 : 4);
	else
		snprintf(why, sizeof(why), "cancelled: the IPv%d path was verified first",
			 kept == DUAL_V6 ? 6 : 4);
	peer_cancel(d->p[i], why);
}

static void on_signal(struct dual *d)
{
	struct signalfd_siginfo si;
	int i;

	if (read(d->sigfd, &si, sizeof(si)) <= 0)
		return;
	for (i = 0; i < DUAL_N; i++) {
		if (!d->started[i] || d->cancelled[i])
			d->cancelled[i] = true; /* never started: it ends with the run */
		else
			peer_interrupt(d->p[i], si.ssi_signo);
	}
}

static void report(struct dual *d, int keep)
{
	static const char *const keys[DUAL_N] = { "6", "4" };
	const char *vals[DUAL_N], *phases[DUAL_N];
	int i;

	for (i = 0; i < DUAL_N; i++) {
		enum dual_state s = state_of(d, i);

		/* a family that verified but was not kept did connect: say so */
		vals[i] = d->verified[i] ? "direct" : dual_state_name(s);
		phases[i] = d->verified[i] || s == DS_RELAYED || !d->started[i] ? NULL :
			    peer_phase_name(peer_phase_of(d->p[i]));
	}
	peer_report_final(d->p[keep], keys, vals, phases, DUAL_N);
}

static int run(struct dual *d)
{
	struct epoll_event evs[4];
	struct dual_view v;
	struct dual_action a;
	int i, n, k;
	bool acted;

	for (;;) {
		memset(&v, 0, sizeof(v));
		for (i = 0; i < DUAL_N; i++) {
			v.st[i] = state_of(d, i);
			v.phase[i] = d->started[i] ? peer_phase_of(d->p[i]) : 0;
			if (v.st[i] == DS_VERIFIED || v.st[i] == DS_DIRECT) {
				d->verified[i] = true;
				if (!d->first_verified_us) {
					d->first_verified_us = loop_now_us();
					timer_at(d, DUAL_WAIT_MS); /* the delay is moot now */
				}
			}
		}
		v.delay_passed = d->delay_passed;
		v.wait_over = d->wait_over;
		dual_next(&v, &a);
		acted = false;
		for (i = 0; i < DUAL_N; i++) {
			if (a.cancel[i]) {
				cancel(d, i, a.keep);
				acted = true;
			}
			if (a.start[i]) {
				start(d, i);
				acted = true;
			}
		}
		if (acted)
			continue;
		if (a.done) {
			report(d, a.keep);
			if (d->setup_failed[DUAL_V6] && d->setup_failed[DUAL_V4])
				return PEER_EXIT_SETUP; /* as a single family: exit 2 */
			return peer_exit_code(d->p[a.keep]);
		}
		/* Bounded: every started run has its deadline, the delay its timerfd. */
		n = epoll_wait(d->epfd, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(d->err, "punch peer: epoll_wait: %s\n", strerror(errno));
			return PEER_EXIT_SETUP;
		}
		for (k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64, x;

			if (tag == EV_SIG) {
				on_signal(d);
			} else if (tag == EV_DELAY) {
				if (read(d->tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
					return PEER_EXIT_SETUP;
				if (d->first_verified_us)
					d->wait_over = true;
				else
					d->delay_passed = true;
			} else if (tag < DUAL_N && d->watched[tag]) {
				i = (int)tag;
				if (loop_poll(peer_loop(d->p[i])) < 0) {
					peer_fail(d->p[i], "event loop failed");
				}
				if (peer_finished(d->p[i]))
					unwatch(d, i);
				/* re-decide after every event: a cancel must follow a verification at
				 * once, before the other family's next packet */
				break;
			}
		}
	}
}

int dual_run(const struct peer_opts *o, FILE *out, FILE *err)
{
	struct dual *d;
	sigset_t mask;
	uint64_t t0 = loop_now_us();
	int i, code = PEER_EXIT_SETUP;

	d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(err, "punch peer: out of memory\n");
		return PEER_EXIT_SETUP;
	}
	d->epfd = d->sigfd = d->tfd = -1;
	d->err = err;
	for (i = 0; i < DUAL_N; i++) {
		d->o[i] = *o;
		d->o[i].has_rdv6 = false;
		if (i == DUAL_V6) {
			d->o[i].rdv = o->rdv6;
			/* --rendezvous2 names an IPv4 address; IPv6 learns the server's other one */
			d->o[i].has_rdv2 = false;
		}
		/* --bind names one family's address: the other family binds to any */
		if (o->bind.ss_family && o->bind.ss_family != d->o[i].rdv.ss_family)
			memset(&d->o[i].bind, 0, sizeof(d->o[i].bind));
		d->p[i] = peer_new(&d->o[i], out, err, t0, false, i == DUAL_V6 ? 6 : 4);
		if (!d->p[i])
			goto out;
		peer_set_result_event(d->p[i], "family_result");
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->epfd < 0 || d->sigfd < 0 || d->tfd < 0 || watch(d, d->sigfd, EV_SIG) ||
	    watch(d, d->tfd, EV_DELAY)) {
		fprintf(err, "punch peer: set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	if (o->family_delay_ms)
		timer_at(d, o->family_delay_ms);
	else
		d->delay_passed = true;
	code = run(d);
out:
	for (i = 0; i < DUAL_N; i++)
		peer_free(d->p[i]);
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->epfd >= 0)
		close(d->epfd);
	free(d);
	return code;
}
