#include "matrix/run_watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/outcome.h"
#include "ct/ct_events.h"
#include "lab/lab.h"

struct ct_node {
	const char *name;
	struct run_watch *w;
	struct mnl_socket *events;   /* subscribed to NEW/UPDATE/DESTROY */
	struct mnl_socket *dump;     /* for the periodic dumps */
	struct ct_mappings prev;     /* the last dump */
	int refreshes;
	bool lost_said;
};

struct run_watch_ct {
	struct ct_node nodes[TOPO_MAX_NODES];
	int n;
	int stop_fd;
	pthread_t th;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void run_watch_begin(struct run_watch *w, double origin_ms)
{
	struct timespec now;
	struct tm tm;
	char date[32];

	timeline_init(&w->tl, origin_ms, w->live, 0);
	w->started = true;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(w->origin_utc, sizeof(w->origin_utc), "%s.%03ldZ", date, now.tv_nsec / 1000000);
	w->kept_lab[0] = w->still_running[0] = w->keep_error[0] = w->captures[0] = '\0';
}

/* "udp 10.0.1.10:4242 -> 203.0.113.2:4242 remote 198.51.100.10:3478 UNREPLIED 30s", IPv6
 * endpoints in brackets, and " (not NATed)" for a flow without NAT (a firewall's, traffic to the
 * node itself). */
static void mapping_text(const struct ct_mapping *m, bool nat, char *buf, size_t len)
{
	char line[256];

	ct_mapping_format(m, line, sizeof(line));
	snprintf(buf, len, "%s%s", line, nat ? "" : " (not NATed)");
}

static void on_event(enum ct_event_kind kind, const struct ct_mapping *m, bool nat, void *arg)
{
	struct ct_node *cn = arg;
	char text[300];

	mapping_text(m, nat, text, sizeof(text));
	timeline_add(&cn->w->tl, now_ms(), TL_CT_EVENT, cn->name, ct_event_kind_name(kind), "%s",
		     text);
}

/* Compare a dump with the previous one: a flow whose packet counters grew was refreshed (each
 * packet resets its timeout; ctnetlink says nothing of it). */
static void dump_compare(struct ct_node *cn)
{
	struct ct_mappings cur = { 0 };
	double t = now_ms();

	/* both families, translated or not: an IPv6 cell's flows and a firewall's refresh too */
	if (ct_dump_flows(cn->dump, AF_UNSPEC, &cur) < 0) {
		ct_mappings_free(&cur);
		return;
	}
	for (size_t i = 0; i < cur.n; i++) {
		const struct ct_mapping *m = &cur.v[i];
		for (size_t k = 0; k < cn->prev.n; k++) {
			const struct ct_mapping *p = &cn->prev.v[k];
			char text[300];

			if (!ct_mapping_same_flow(m, p))
				continue;
			if (m->orig_packets + m->reply_packets > p->orig_packets + p->reply_packets &&
			    cn->refreshes < RUN_WATCH_REFRESH_MAX) {
				cn->refreshes++;
				mapping_text(m, ct_mapping_nated(m), text, sizeof(text));
				timeline_add(&cn->w->tl, t, TL_CT_DUMP, cn->name, "refresh",
					     "%s (+%llu/+%llu packets since the last dump)", text,
					     (unsigned long long)(m->orig_packets - p->orig_packets),
					     (unsigned long long)(m->reply_packets - p->reply_packets));
			}
			break;
		}
	}
	ct_mappings_free(&cn->prev);
	cn->prev = cur;
}

static void read_events(struct ct_node *cn)
{
	int ret = ct_events_read(cn->events, on_event, cn);

	if (ret == -ENOBUFS && !cn->lost_said) {
		cn->lost_said = true;
		timeline_add(&cn->w->tl, now_ms(), TL_CT_EVENT, cn->name, "lost",
			     "the kernel dropped conntrack events (socket buffer full): this "
			     "NAT's event list is incomplete; the dumps still see every flow");
	}
}

static void *ct_thread(void *arg)
{
	struct run_watch_ct *ct = arg;
	double next_dump = now_ms() + RUN_WATCH_DUMP_MS;

	/* bounded: the stop fd always comes (run_watch_stop), and each dump is bounded by
	 * CT_RECV_TIMEOUT_MS */
	for (;;) {
		struct pollfd pfd[TOPO_MAX_NODES + 1];
		int n = 0, wait = (int)(next_dump - now_ms());

		for (int i = 0; i < ct->n; i++)
			pfd[n++] = (struct pollfd){ .fd = mnl_socket_get_fd(ct->nodes[i].events),
						    .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ct->stop_fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, wait > 0 ? wait : 0) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < ct->n; i++)
			if (pfd[i].revents)
				read_events(&ct->nodes[i]);
		if (pfd[n - 1].revents)
			break;
		if (now_ms() >= next_dump) {
			for (int i = 0; i < ct->n; i++)
				dump_compare(&ct->nodes[i]);
			next_dump = now_ms() + RUN_WATCH_DUMP_MS;
		}
	}
	for (int i = 0; i < ct->n; i++)
		read_events(&ct->nodes[i]); /* what came just before the stop */
	return NULL;
}

int run_watch_lab_up(struct run_watch *w, struct lab *lab, double at_ms, double built_ms)
{
	const struct topo *t = lab_topo(lab);
	struct run_watch_ct *ct = calloc(1, sizeof(*ct));
	int ret = 0;

	timeline_add(&w->tl, at_ms, TL_LAB, "lab", "up", "lab %s (topology %s, %d nodes) built in "
		     "%.1f ms", lab_name(lab), t->name, t->nnodes, built_ms);
	if (!ct)
		return -ENOMEM;
	ct->stop_fd = eventfd(0, EFD_CLOEXEC);
	for (int n = 0; n < t->nnodes && ct->stop_fd >= 0; n++) {
		struct ct_node *cn = &ct->nodes[ct->n];

		if (t->nodes[n].kind != NODE_NAT)
			continue;
		cn->name = t->nodes[n].name;
		cn->w = w;
		/* both sockets born inside the node: conntrack is per namespace */
		cn->events = ct_events_open(lab_node_netns(lab, n));
		cn->dump = cn->events ? ct_socket_open(lab_node_netns(lab, n)) : NULL;
		if (!cn->dump) {
			ret = -errno;
			timeline_add(&w->tl, now_ms(), TL_LAB, cn->name, "error", "cannot follow "
				     "this NAT's conntrack: %s", strerror(errno));
			ct_socket_close(cn->events);
			continue;
		}
		timeline_add(&w->tl, now_ms(), TL_LAB, cn->name, "watch", "conntrack events "
			     "subscribed (new, update, destroy); refreshes from dumps every %d ms "
			     "(ctnetlink sends no event for a timeout refresh)", RUN_WATCH_DUMP_MS);
		ct->n++;
	}
	if (ct->stop_fd < 0 || pthread_create(&ct->th, NULL, ct_thread, ct) != 0) {
		ret = ct->stop_fd < 0 ? -errno : -EAGAIN;
		for (int i = 0; i < ct->n; i++) {
			ct_socket_close(ct->nodes[i].events);
			ct_socket_close(ct->nodes[i].dump);
		}
		if (ct->stop_fd >= 0)
			close(ct->stop_fd);
		free(ct);
		return ret;
	}
	w->ct = ct;
	return ret;
}

void run_watch_stop(struct run_watch *w)
{
	struct run_watch_ct *ct = w ? w->ct : NULL;
	uint64_t one = 1;

	if (!ct)
		return;
	if (write(ct->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write does not fail with a counter this small */
	}
	pthread_join(ct->th, NULL);
	for (int i = 0; i < ct->n; i++) {
		ct_socket_close(ct->nodes[i].events);
		ct_socket_close(ct->nodes[i].dump);
		ct_mappings_free(&ct->nodes[i].prev);
	}
	close(ct->stop_fd);
	free(ct);
	w->ct = NULL;
}

void run_watch_output(struct run_watch *w, const char *role, const char *text, size_t len,
		      size_t *seen, double at_ms, bool final)
{
	while (*seen < len) {
		const char *start = text + *seen, *nl = memchr(start, '\n', len - *seen);
		size_t n;

		if (!nl && !final)
			return; /* a line still being written */
		n = nl ? (size_t)(nl - start) : len - *seen;
		if (n)
			timeline_add(&w->tl, at_ms, TL_ENGINE, role, "line", "%.*s", (int)n, start);
		*seen += n + 1;
	}
}

void run_watch_final(struct run_watch *w, const struct lab *lab, const struct ct_mappings *flows,
		     double at_ms)
{
	const struct topo *t = lab_topo(lab);

	run_watch_stop(w);
	for (int n = 0; n < t->nnodes; n++) {
		if (t->nodes[n].kind != NODE_NAT)
			continue;
		if (!flows[n].n)
			timeline_add(&w->tl, at_ms, TL_CT_DUMP, t->nodes[n].name, "final",
				     "no flow");
		for (size_t i = 0; i < flows[n].n; i++) {
			char text[300];
			mapping_text(&flows[n].v[i], ct_mapping_nated(&flows[n].v[i]), text,
				     sizeof(text));
			timeline_add(&w->tl, at_ms, TL_CT_DUMP, t->nodes[n].name, "final", "%s",
				     text);
		}
	}
}

void run_watch_nat_events(struct run_watch *w, const struct run_recovery *rec,
			  double a_started_ms)
{
	for (int i = 0; i < rec->nevents; i++) {
		const struct run_event *e = &rec->events[i];
		double at = a_started_ms + (e->actual_ms >= 0 ? e->actual_ms : e->planned_ms);
		timeline_add(&w->tl, at, TL_NAT_EVENT, "lab", e->actual_ms < 0 ? "not-reached"
			     : e->failed ? "failed" : e->second_half ? "end" : "start", "%s%s%s",
			     e->event, e->detail[0] ? ": " : "", e->detail);
	}
	if (rec->nevents)
		timeline_add(&w->tl, now_ms(), TL_NAT_EVENT, "engine", rec->recovered ? "recovered"
			     : "not-recovered", "path lost: %s; recovered: %s%s%s",
			     rec->path_lost ? "yes" : "no", rec->recovered ? "yes" : "no",
			     rec->via[0] ? " via " : "", rec->via);
}

void run_watch_result(struct run_watch *w, const struct cell_run *run, double at_ms)
{
	const struct run_attestation *a = &run->attestation;

	timeline_add(&w->tl, at_ms, TL_ATTEST, "lab", attest_verdict_name(a->verdict), "%s",
		     a->summary[0] ? a->summary : "(no attestation: the engine gave no path)");
	for (const char *p = a->evidence; *p;) {
		const char *e = strchr(p, '\n');
		int n = e ? (int)(e - p) : (int)strlen(p);
		if (n)
			timeline_add(&w->tl, at_ms, TL_ATTEST, "lab", "evidence", "%.*s", n, p);
		p += n + (e ? 1 : 0);
	}
	timeline_add(&w->tl, at_ms, TL_OUTCOME, "cell", cell_outcome_name(run->outcome),
		     "engine said %s%s%s%s%s", cell_outcome_name(run->engine_said),
		     run->phase[0] ? "; phase " : "", run->phase, run->reason[0] ? "; " : "",
		     run->reason);
}

int run_watch_end(struct run_watch *w, const char *dir, const char *cell_id)
{
	char header[1400];
	int ret;

	run_watch_stop(w);
	if (!w->started)
		return 0;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(header, sizeof(header), "cell %s; t = 0 ms is the start of lab up, %s (UTC, the "
		 "clock of the pcaps); conntrack refreshes come from dumps every %d ms: ctnetlink "
		 "sends no event for them", cell_id, w->origin_utc, RUN_WATCH_DUMP_MS);
	ret = timeline_write(&w->tl, dir, header);
	timeline_free(&w->tl);
	w->started = false;
	return ret;
}
