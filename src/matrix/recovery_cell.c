/* One recovery cell (matrix/recovery_cell.h): how fast punch gets its path back after NAT events.
 *
 * One cell per profile and timeline: a fresh two-nats lab with the profile on both NATs, punch's
 * rendezvous on the server, two peers holding a path (--technique auto --hold --revalidate).
 * Once both peers said `verified`, the timeline's clock starts; each step is applied at its
 * time while the peers' JSON lines are read as they come. A cell ends when both peers report
 * `path-recovered` after the event's last step, when neither lost the path within a few
 * revalidation intervals after it (the event did not break it), or at a bounded deadline.
 *
 * The recovery time is from the event's last step taking effect (a rebooted NAT back on, the
 * rebind done) to the later of the two peers' `path-recovered`: a path re-verified both ways. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "matrix/punch_secret.h"
#include "matrix/recovery_cell.h"

#define CONNECT_BUDGET_MS 15000   /* from the peers' start to both verified (auto: <= 9 s) */
#define RECOVER_BUDGET_MS 20000   /* after the last step */
#define NOT_LOST_GRACE_MS 2000    /* beyond REVAL_MISSES intervals: the path held */
#define REVAL_MISSES 4            /* src/punch/revalidate.c */
#define RDV_PORT "3478"

/* What one peer said, stamped with the harness's clock (ms from the timeline's origin, or
 * from the start before it). */
struct rec_peer {
	int fd;
	char buf[8192];
	size_t len;
	bool verified;
	int lost, recovered;          /* counts */
	double lost_ms, recovered_ms; /* the last of each */
	char via[16], technique[24];
	char result[16];
	char before[16];              /* the path verified before the events: direct or relay */
};

/* The timeline runs in a thread of its own, so that the peers' lines are stamped as they come
 * even while a step is being applied (a reload takes tens of ms). */
struct tl_thread {
	struct lab *lab;
	const struct lab_timeline *tl;
	struct lab_event_record *rec;
	double origin;
	int stop_fd;       /* read end: the cell ends early */
	int done_fd;       /* write end: written once every step ran */
	int ret;
};

static void *tl_thread_main(void *arg)
{
	struct tl_thread *th = arg;
	char x = 1;

	th->ret = lab_timeline_run(th->lab, th->tl, th->origin, th->stop_fd, th->rec, NULL);
	if (write(th->done_fd, &x, 1) < 0)
		th->ret = -errno;
	return NULL;
}

static void peer_line(struct rec_peer *p, const char *line, double now)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *ev = j ? json_string_value(json_object_get(j, "event")) : NULL;

	if (!ev)
		goto out;
	if (strcmp(ev, "connected") == 0 && !p->verified) {
		const char *via = json_string_value(json_object_get(j, "via"));
		snprintf(p->before, sizeof(p->before), "%s",
			 via && strcmp(via, "relay") == 0 ? "relay" : "direct");
	} else if (strcmp(ev, "verified") == 0) {
		p->verified = true;
	} else if (strcmp(ev, "path-lost") == 0) {
		p->lost++;
		p->lost_ms = now;
	} else if (strcmp(ev, "path-recovered") == 0) {
		const char *via = json_string_value(json_object_get(j, "via"));
		const char *tech = json_string_value(json_object_get(j, "technique"));
		p->recovered++;
		p->recovered_ms = now;
		snprintf(p->via, sizeof(p->via), "%s", via ? via : "?");
		snprintf(p->technique, sizeof(p->technique), "%s", tech ? tech : "?");
	} else if (strcmp(ev, "result") == 0) {
		const char *o = json_string_value(json_object_get(j, "outcome"));
		snprintf(p->result, sizeof(p->result), "%s", o ? o : "?");
	}
out:
	json_decref(j);
}

/* Read what a peer has written; returns false at EOF. */
static bool peer_read(struct rec_peer *p, double now)
{
	ssize_t n = read(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
	char *nl;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		close(p->fd);
		p->fd = -1;
		return false;
	}
	p->len += (size_t)n;
	p->buf[p->len] = '\0';
	while ((nl = strchr(p->buf, '\n'))) {
		*nl = '\0';
		peer_line(p, p->buf, now);
		p->len -= (size_t)(nl + 1 - p->buf);
		memmove(p->buf, nl + 1, p->len + 1);
	}
	if (p->len == sizeof(p->buf) - 1)
		p->len = 0; /* a line longer than any punch writes: drop it */
	return true;
}

static int spawn(struct lab *lab, int node, char **argv, int out_fd, int timeout_ms)
{
	struct lab_spawn_opts so = { .stdout_fd = out_fd, .stderr_fd = -1, .stdin_fd = -1,
				     .timeout_ms = timeout_ms };
	return lab_spawn(lab, node, argv, &so);
}

/* One cell. Fills row; returns 0, or -errno for a harness failure (row->error says it). */
int recovery_cell_run(const struct topo *t, const char *binary, int revalidate_ms,
		      const char *profile, const struct lab_timeline *tl, struct recovery_row *row)
{
	struct lab_options lo = { 0 };
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct rec_peer peers[2] = { { .fd = -1 }, { .fd = -1 } };
	struct lab *lab = NULL;
	char addrs[2][64], rdv[2][80], hold[16], timeout[16], reval[16];
	char secret[PUNCH_SECRET_PATH_LEN] = "";
	int nsrv, devnull = -1, ret = -EIO, last_ms, stop[2] = { -1, -1 }, done[2] = { -1, -1 };
	double start, origin = 0, end_ms = 0;
	bool started = false, steps_done = false, joinable = false;
	struct tl_thread th;
	pthread_t tid;

	row->nsteps = lab_timeline_steps(tl, row->steps);
	last_ms = row->nsteps ? row->steps[row->nsteps - 1].planned_ms : 0;
	lo.override_node[0] = "nat-a";
	lo.override_profile[0] = profile;
	lo.override_node[1] = "nat-b";
	lo.override_profile[1] = profile;
	lo.noverrides = 2;
	if (!dl || lab_up(t, &lo, &lab, dl) < 0) {
		snprintf(row->error, sizeof(row->error), "lab build failed: %s",
			 dl && dl->count ? dl->items[0].msg : "out of memory");
		goto out;
	}
	nsrv = lab_node_ipv4(lab, t->roles[ROLE_RENDEZVOUS], addrs, 2);
	if (nsrv < 1) {
		snprintf(row->error, sizeof(row->error), "the rendezvous node has no IPv4 address");
		goto out;
	}
	for (int i = 0; i < nsrv; i++)
		snprintf(rdv[i], sizeof(rdv[i]), "%s:" RDV_PORT, addrs[i]);
	/* the hold outlasts connecting, the timeline and the recovery budget; --timeout the hold */
	snprintf(hold, sizeof(hold), "%d", (CONNECT_BUDGET_MS + last_ms + RECOVER_BUDGET_MS) / 1000 + 1);
	snprintf(timeout, sizeof(timeout), "%d", atoi(hold) + 5);
	snprintf(reval, sizeof(reval), "%dms", revalidate_ms);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* punch authenticates every message: one secret for the three (docs/punch.md) */
	if (punch_secret_make(secret) < 0) {
		snprintf(row->error, sizeof(row->error), "cannot write punch's secret under /tmp");
		goto out;
	}
	{
		char *srv[] = { (char *)binary, "rendezvous", "--secret-file", secret, "--listen",
				rdv[0], nsrv > 1 ? "--listen" : NULL, rdv[1], NULL };
		if (spawn(lab, t->roles[ROLE_RENDEZVOUS], srv, devnull, (atoi(timeout) + 5) * 1000) < 0) {
			snprintf(row->error, sizeof(row->error), "cannot start the rendezvous (%s)",
				 binary);
			goto out;
		}
	}
	for (int i = 0; i < 2; i++) {
		char *argv[] = { (char *)binary, "peer", "--secret-file", secret, "--rendezvous",
				 rdv[0], "--session",
				 "recovery", "--role", i ? "b" : "a", "--technique", "auto",
				 "--timeout", timeout, "--hold", hold, "--revalidate", reval, "--json",
				 NULL };
		int fds[2];

		if (pipe2(fds, O_CLOEXEC) < 0)
			goto out;
		peers[i].fd = fds[0];
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		ret = spawn(lab, t->roles[i ? ROLE_PEER_B : ROLE_PEER_A], argv, fds[1],
			    (atoi(timeout) + 5) * 1000);
		close(fds[1]);
		if (ret < 0) {
			snprintf(row->error, sizeof(row->error), "cannot start peer %s: %s",
				 i ? "b" : "a", strerror(-ret));
			goto out;
		}
	}
	start = lab_events_now_ms();
	if (pipe2(stop, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
		snprintf(row->error, sizeof(row->error), "pipe: %s", strerror(errno));
		goto out;
	}
	/* Bounded: every wait ends by the connect budget, or by the last step plus the recovery
	 * budget; a peer that ends early ends its part. */
	for (;;) {
		double now = lab_events_now_ms(), rel = now - (started ? origin : start);
		struct pollfd pfd[3];
		int np = 0, idx[3], timeout = 100;

		if (!started) {
			if (peers[0].verified && peers[1].verified) {
				started = true;
				origin = now;
				th = (struct tl_thread){ .lab = lab, .tl = tl, .rec = row->steps,
							 .origin = origin, .stop_fd = stop[0],
							 .done_fd = done[1] };
				if (pthread_create(&tid, NULL, tl_thread_main, &th) != 0) {
					snprintf(row->error, sizeof(row->error), "cannot start a thread");
					goto out;
				}
				joinable = true;
			} else if (rel > CONNECT_BUDGET_MS || (peers[0].fd < 0 && peers[1].fd < 0)) {
				snprintf(row->error, sizeof(row->error), "no path before the events (peer "
					 "a: %s, peer b: %s)", peers[0].result[0] ? peers[0].result : "-",
					 peers[1].result[0] ? peers[1].result : "-");
				goto out;
			}
		} else if (steps_done) {
			bool lost_any = false, all_back = true;

			for (int i = 0; i < 2; i++) {
				lost_any |= peers[i].lost > 0;
				/* a peer that lost its path must be back after the last step */
				if (peers[i].lost && (peers[i].recovered < peers[i].lost ||
						       peers[i].recovered_ms < end_ms))
					all_back = false;
			}
			/* when either lost the path, both must report it back (the other's path
			 * died with it) */
			if (lost_any && (!peers[0].recovered || !peers[1].recovered))
				all_back = false;
			if ((lost_any && all_back) ||
			    (!lost_any && rel > end_ms + REVAL_MISSES * revalidate_ms +
							NOT_LOST_GRACE_MS) ||
			    rel > end_ms + RECOVER_BUDGET_MS || (peers[0].fd < 0 && peers[1].fd < 0))
				break;
		} else if (rel > last_ms + RECOVER_BUDGET_MS) {
			snprintf(row->error, sizeof(row->error), "the events did not finish in time");
			goto out;
		}
		for (int i = 0; i < 2; i++)
			if (peers[i].fd >= 0) {
				pfd[np] = (struct pollfd){ .fd = peers[i].fd, .events = POLLIN };
				idx[np++] = i;
			}
		if (started && !steps_done) {
			pfd[np] = (struct pollfd){ .fd = done[0], .events = POLLIN };
			idx[np++] = 2;
		}
		if (poll(pfd, (nfds_t)np, timeout) <= 0)
			continue;
		for (int k = 0; k < np; k++) {
			if (!pfd[k].revents)
				continue;
			if (idx[k] < 2) {
				peer_read(&peers[idx[k]], lab_events_now_ms() - (started ? origin : start));
				continue;
			}
			pthread_join(tid, NULL);
			joinable = false;
			steps_done = true;
			for (int st = 0; st < row->nsteps; st++)
				if (row->steps[st].ret < 0) {
					snprintf(row->error, sizeof(row->error), "event failed: %s",
						 row->steps[st].detail);
					goto out;
				}
			end_ms = row->nsteps ? row->steps[row->nsteps - 1].started_ms : 0;
		}
	}
	ret = 0;
	snprintf(row->before, sizeof(row->before), "%s",
		 strcmp(peers[0].before, "relay") == 0 ? peers[0].before : peers[1].before);
	for (int i = 0; i < 2; i++) {
		if (peers[i].lost) {
			double d = peers[i].lost_ms - row->steps[0].started_ms;
			if (!row->lost || d < row->detect_ms)
				row->detect_ms = d;
			row->lost = true;
		}
	}
	if (row->lost) {
		row->recovered = peers[0].recovered && peers[1].recovered &&
				 peers[0].recovered_ms >= end_ms && peers[1].recovered_ms >= end_ms &&
				 peers[0].recovered >= peers[0].lost && peers[1].recovered >= peers[1].lost;
		if (row->recovered) {
			int later = peers[0].recovered_ms > peers[1].recovered_ms ? 0 : 1;
			row->recovery_ms = peers[later].recovered_ms - end_ms;
			/* the worse of the two sides' paths */
			snprintf(row->via, sizeof(row->via), "%s",
				 strcmp(peers[0].via, "relay") == 0 ? peers[0].via : peers[1].via);
			snprintf(row->technique, sizeof(row->technique), "%s", peers[later].technique);
		}
	}
out:
	if (joinable) {
		char x = 1;
		if (write(stop[1], &x, 1) < 0) /* cut its waits short */
			abort(); /* a pipe of our own: cannot fail, and the join must not hang */
		pthread_join(tid, NULL);
	}
	for (int i = 0; i < 2; i++) {
		if (stop[i] >= 0)
			close(stop[i]);
		if (done[i] >= 0)
			close(done[i]);
	}
	for (int i = 0; i < 2; i++)
		if (peers[i].fd >= 0)
			close(peers[i].fd);
	if (devnull >= 0)
		close(devnull);
	lab_down(lab); /* stops punch everywhere */
	punch_secret_remove(secret);
	free(dl);
	return ret;
}

