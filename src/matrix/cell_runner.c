#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "base/sha256.h"
#include "capture/capture.h"
#include "ct/conntrack.h"
#include "lab/lab.h"
#include "lab/proc.h"
#include "engine/adapter.h"
#include "matrix/attest.h"
#include "matrix/cell.h"
#include "matrix/cell_events.h"
#include "matrix/cell_runner.h"
#include "matrix/cell_params.h"
#include "matrix/family_judge.h"
#include "matrix/impair_deadline.h"

#define OUTPUT_MAX (256 * 1024) /* what we keep of one program's stdout in memory */
#define HARNESS_GRACE_MS 2000   /* beyond the engine's own deadline */
#define PORT_POLL_MS 5          /* how often a port readiness is looked at (adapter.c) */

int runner_deadline_ms(const struct engine_file *e, const struct cell_spec *spec)
{
	const struct ef_technique *t = engine_file_technique(e, spec->technique,
							     strcmp(spec->proto, "tcp") == 0);

	return t ? t->deadline_ms : 5000;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "two-nats/udp/auto/a~b" -> "two-nats_udp_auto_a~b" (a directory name). */
/* An id too long for a directory name and the run's log_dir (a profile given by a long path):
 * its head, then a hash of the whole id, so two such cells never share a directory. */
#define CELL_DIR_NAME_MAX 160

static void cell_dir_name(const char *id, char *buf, size_t len)
{
	if (strlen(id) <= CELL_DIR_NAME_MAX) {
		snprintf(buf, len, "%s", id);
	} else {
		char hex[65];
		sha256_hex(id, strlen(id), hex);
		snprintf(buf, len, "%.*s-%.16s", CELL_DIR_NAME_MAX - 17, id, hex);
	}
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '_';
}

/* A program of the cell: its handle in the lab, its stdout pipe and what it said. */
struct prog {
	const char *name;       /* its role: "rendezvous", "peer-a", "peer-b", ... */
	int handle;
	int out;                /* read end of its stdout, -1 at EOF */
	int log;                /* copy of its stdout on disk */
	int in;                 /* write end of its stdin while its `stdin:` is pending, else -1 */
	double in_deadline;     /* when that input must have been written */
	char *text;
	size_t len;
	size_t seen;            /* how far the live timeline has read text */
	bool started;
};

static int prog_start(struct lab *lab, int node, struct prog *p, struct engine_argv *a,
		      const char *dir, int timeout_ms, const struct ef_stdin *input, bool detach)
{
	char path[PATH_MAX];
	int fds[2], in[2] = { -1, -1 }, err_fd, ret;
	struct lab_spawn_opts o;

	snprintf(path, sizeof(path), "%s/%s.err", dir, p->name);
	err_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/%s.out", dir, p->name);
	p->log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (err_fd < 0 || p->log < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		ret = -errno;
		if (err_fd >= 0)
			close(err_fd);
		return ret;
	}
	/* the command line, for whoever reruns it by hand */
	snprintf(path, sizeof(path), "%s/%s.cmd", dir, p->name);
	FILE *f = fopen(path, "w");
	if (f) {
		for (int i = 0; a->argv[i]; i++)
			fprintf(f, "%s%s", i ? " " : "", a->argv[i]);
		fputc('\n', f);
		fclose(f);
	}
	/* a role with `stdin:` reads a pipe the harness writes once its captures are there */
	if (input->text[0] && pipe2(in, O_CLOEXEC) < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		close(err_fd);
		return ret;
	}
	o = (struct lab_spawn_opts){ .stdin_fd = in[0], .stdout_fd = fds[1], .stderr_fd = err_fd,
				     .timeout_ms = timeout_ms, .detach = detach };
	ret = lab_spawn(lab, node, a->argv, &o);
	close(fds[1]);
	close(err_fd);
	if (in[0] >= 0)
		close(in[0]);
	if (ret < 0) {
		close(fds[0]);
		if (in[1] >= 0)
			close(in[1]);
		return ret;
	}
	p->handle = ret;
	p->out = fds[0];
	p->in = in[1];
	p->in_deadline = now_ms() + input->deadline_ms;
	p->started = true;
	p->text = calloc(1, OUTPUT_MAX + 1);
	return p->text ? 0 : -ENOMEM;
}

/* Read what is there; returns false at EOF. */
static bool prog_drain(struct prog *p)
{
	char buf[4096];
	ssize_t n = read(p->out, buf, sizeof(buf));

	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return true;
		close(p->out);
		p->out = -1;
		return false;
	}
	if (write(p->log, buf, (size_t)n) < 0) {
		/* the log is a copy; the in-memory text is what counts */
	}
	if (p->len < OUTPUT_MAX) {
		size_t take = (size_t)n < OUTPUT_MAX - p->len ? (size_t)n : OUTPUT_MAX - p->len;
		memcpy(p->text + p->len, buf, take);
		p->len += take;
	}
	return true;
}

static void prog_release(struct prog *p)
{
	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
	if (p->log >= 0)
		close(p->log);
	free(p->text);
	p->out = p->log = p->in = -1;
	p->text = NULL;
}

/* A cell's programs: an engine's roles, or an engine pair's (A's servers and peer-a, B's peer-b
 * and any server of B's that A lacks). */
#define CELL_MAX_PROGS (EF_MAX_ROLES * 2)

/* What a wait is about: the cell's programs (one per role, in start order) and what their
 * outputs let us know so far. */
struct cellctx {
	const struct engine_file *e;    /* engine A's: servers, setup, files, a probe outcome */
	const struct engine_file *pe[2]; /* each peer's own engine (the same one but in a pair) */
	const struct ef_role *roles[CELL_MAX_PROGS];
	const char *bin[CELL_MAX_PROGS]; /* each role's {{program}} */
	int deadline_ms[CELL_MAX_PROGS]; /* each role's {{deadline_ms}}: its engine's technique's */
	struct prog progs[CELL_MAX_PROGS];
	int nprogs;
	struct tpl_vars *vars;          /* the cell's variables, captures added as they come */
	char pattern[2][EF_TEXT_MAX];   /* each peer's rendered outcome pattern (LINE outcomes) */
	int peer[2];                    /* indices of peer-a and peer-b in progs */
	int waiting;                    /* the role a readiness wait is for */
	struct lab *lab;
	char input_why[300];            /* a role's `stdin:` that could not be written */
	struct run_watch *watch;        /* punchlab run's live timeline, NULL: none */
	int signal_delay_ms;            /* peer B's {{signal_delay_ms}}; -1: none (not set) */
};

/* Write to a pipe without dying of SIGPIPE when the program has already gone: the signal is
 * blocked in this thread for the write and a pending one is taken back (the harness runs many
 * cells in one process and sets no process-wide disposition). */
static ssize_t write_nosigpipe(int fd, const char *buf, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && errno == EPIPE)
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/* Write every pending `stdin:` whose variables all have values (captures come as roles get
 * ready, late ones whenever they are printed), then close that pipe. Returns 0, or -ENOMSG
 * once when one could not be written by its deadline or does not render (input_why says which
 * and why; the run is then `error`). */
static int input_feed(struct cellctx *c)
{
	bool pending = false;

	for (int i = 0; i < c->nprogs; i++)
		pending |= c->progs[i].started && c->progs[i].in >= 0;
	/* late captures are read only for an input that waits (a regex per capture and pass) */
	for (int i = 0; i < c->nprogs && pending; i++)
		if (c->progs[i].started)
			engine_role_capture(c->roles[i], c->progs[i].text, c->vars);
	for (int i = 0; i < c->nprogs; i++) {
		struct prog *p = &c->progs[i];
		const struct ef_role *r = c->roles[i];
		struct tpl_vars *rv;
		char text[EF_FILE_MAX], missing[TPL_NAME_MAX] = "";
		int ret;

		if (!p->started || p->in < 0)
			continue;
		rv = malloc(sizeof(*rv));
		if (!rv)
			return -ENOMEM;
		*rv = *c->vars;
		ret = engine_vars_role(r, rv);
		if (ret == 0)
			ret = tpl_render(r->input.text, rv, text, sizeof(text), missing,
					 sizeof(missing));
		free(rv);
		if (ret == -ENOENT && now_ms() < p->in_deadline)
			continue; /* a capture still to come */
		if (ret == 0) {
			size_t len = strlen(text);
			ssize_t n = write_nosigpipe(p->in, text, len);
			if (n == (ssize_t)len) {
				close(p->in);
				p->in = -1;
				continue;
			}
			snprintf(c->input_why, sizeof(c->input_why), "%s's stdin could not be "
				 "written: %s", r->name, n < 0 ? strerror(errno) : "short write");
		} else if (ret == -ENOENT) {
			snprintf(c->input_why, sizeof(c->input_why), "%s's stdin: {{%s}} had no "
				 "value within %d ms of its start (engine file line %d)", r->name,
				 missing, r->input.deadline_ms, r->input.line);
		} else {
			snprintf(c->input_why, sizeof(c->input_why), "%s's stdin does not render: %s",
				 r->name, ret == -E2BIG ? "too long" : strerror(-ret));
		}
		close(p->in);
		p->in = -1;
		return -ENOMSG;
	}
	return 0;
}

/* The nearest deadline of a pending `stdin:`, or `until` when none is nearer. */
static double input_next_deadline(const struct cellctx *c, double until)
{
	for (int i = 0; i < c->nprogs; i++)
		if (c->progs[i].started && c->progs[i].in >= 0 && c->progs[i].in_deadline < until)
			until = c->progs[i].in_deadline;
	return until;
}

/* Wait on the programs' outputs and the stop fd until `done` says so or the deadline passes,
 * writing each pending `stdin:` as soon as it can be. Returns 0, -ETIMEDOUT, -ECANCELED, or
 * -ENOMSG when a `stdin:` failed (c->input_why). poll_often: look at `done` every PORT_POLL_MS
 * even without output (a port readiness: nothing tells us about a bind in another namespace). */
static int pump(struct cellctx *c, int stop_fd, double deadline, bool poll_often,
		bool (*done)(struct cellctx *c))
{
	for (int guard = 0; guard < 1000000; guard++) {
		struct pollfd pfd[CELL_MAX_PROGS + 1];
		int n = 0, left = (int)(deadline - now_ms()), map[CELL_MAX_PROGS + 1], wake;

		if (input_feed(c) < 0)
			return -ENOMSG;
		if (done(c))
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		/* a pending input's deadline wakes us too (a capture that never comes) */
		wake = (int)(input_next_deadline(c, deadline) - now_ms()) + 1;
		if (wake < left)
			left = wake > 0 ? wake : 0;
		for (int i = 0; i < c->nprogs; i++)
			if (c->progs[i].started && c->progs[i].out >= 0) {
				map[n] = i;
				pfd[n++] = (struct pollfd){ .fd = c->progs[i].out, .events = POLLIN };
			}
		if (stop_fd >= 0) {
			map[n] = -1;
			pfd[n++] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		}
		if (poll(pfd, (nfds_t)n, poll_often && left > PORT_POLL_MS ? PORT_POLL_MS : left) < 0 &&
		    errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] < 0)
				return -ECANCELED;
			prog_drain(&c->progs[map[i]]);
			if (c->watch) {
				struct prog *p = &c->progs[map[i]];
				run_watch_output(c->watch, p->name, p->text, p->len, &p->seen,
						 now_ms(), false);
			}
		}
	}
	return -ETIMEDOUT;
}

static pid_t prog_pid(struct lab *lab, const struct prog *p)
{
	return p->started ? lab_spawn_pid(lab, p->handle) : -1;
}

static bool role_ready(struct cellctx *c)
{
	struct prog *p = &c->progs[c->waiting];

	/* a program that ended cannot become ready; the caller reports it */
	return p->out < 0 || engine_role_ready(c->roles[c->waiting], p->text,
					       prog_pid(c->lab, p), c->vars);
}

/* Peers are done when each has exited or its output already decides (a LINE outcome). */
static bool peers_done(struct cellctx *c)
{
	for (int i = 0; i < 2; i++) {
		struct prog *p = &c->progs[c->peer[i]];
		if (!p->started)
			continue;
		if (p->out >= 0 && !engine_peer_decided(c->pe[i], c->pattern[i], p->text))
			return false;
	}
	return true;
}

static void set_error(struct cell_run *run, const char *fmt, const char *detail)
{
	run->outcome = CELL_ERROR;
	snprintf(run->reason, sizeof(run->reason), fmt, detail);
}

/* The NAT mappings, into mappings.txt and (as much as fits) the run's record. */
static void write_mappings(const struct topo *t, const struct ct_mappings *flows, const char *dir,
			   struct cell_run *run)
{
	char path[PATH_MAX];
	size_t used = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mappings.txt", dir);
	f = fopen(path, "w");
	for (int n = 0; n < t->nnodes; n++)
		for (size_t i = 0; i < flows[n].n; i++) {
			char line[256];
			ct_mapping_format(&flows[n].v[i], line, sizeof(line));
			if (f)
				fprintf(f, "%s: %s\n", t->nodes[n].name, line);
			if (used + strlen(line) + 16 < sizeof(run->mappings))
				used += (size_t)snprintf(run->mappings + used,
							 sizeof(run->mappings) - used, "%s: %s\n",
							 t->nodes[n].name, line);
		}
	if (f)
		fclose(f);
}

/* The transport the lab attests: the cell's, or the one both peers say their path took when
 * they agree on another (punch's auto over UDP falls back to TCP where UDP is blocked: its
 * path is then a TCP one, and only TCP flows can prove it). Peers that say nothing are held to
 * the cell's. Peers that both say and differ are each held to their own (side[]): ice on a
 * network without UDP reaches its TURN relay over TLS while the other peer sends UDP to that
 * relay's address; a direct path is one flow, which such peers cannot both show. */
static uint8_t attest_proto(struct cellctx *c, const struct cell_spec *spec, const bool exited[2],
			    const int status[2], uint8_t side[2])
{
	struct engine_peer_result r[2];
	bool tcp = strcmp(spec->proto, "tcp") == 0;
	bool known[2];

	side[0] = side[1] = 0;
	for (int i = 0; i < 2; i++) {
		engine_peer_result(c->pe[i], c->pattern[i], c->progs[c->peer[i]].text, exited[i],
				   status[i], &r[i]);
		known[i] = r[i].reported && (strcmp(r[i].proto, "tcp") == 0 ||
					     strcmp(r[i].proto, "udp") == 0);
	}
	if (known[0] && known[1] && strcmp(r[0].proto, r[1].proto) == 0)
		tcp = strcmp(r[0].proto, "tcp") == 0;
	else if (known[0] && known[1])
		for (int i = 0; i < 2; i++)
			side[i] = strcmp(r[i].proto, "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	return tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

/* The lab's evidence for the run's path, for a cell of any address family (attest_lab()): each
 * peer's own NAT or firewall is held to the endpoints its engine reported, when it named any,
 * and to its own transport when the peers' differ (side_proto). */
static void attest_run(struct cellctx *c, struct lab *lab, uint8_t proto,
		       const uint8_t side_proto[2], const bool exited[2], const int status[2],
		       const struct ct_mappings *flows, struct cell_run *run)
{
	struct engine_peer_result r[2];
	struct attest_report said[2];

	for (int i = 0; i < 2; i++) {
		engine_peer_result(c->pe[i], c->pattern[i], c->progs[c->peer[i]].text, exited[i],
				   status[i], &r[i]);
		said[i] = (struct attest_report){ .local = r[i].reported ? r[i].local : NULL,
						  .peer = r[i].reported ? r[i].peer : NULL,
						  .proto = side_proto[i] };
	}
	attest_lab(lab, proto, flows, said, &run->attestation);
}

/* Combine the two peers' reports into the run's outcome. exited[i]: peer i ended on its own
 * (status[i] is its wait status); otherwise it was stopped when the peers were done or at the
 * deadline (hung: the deadline passed). */
static void judge_peers(struct cellctx *c, const bool exited[2], const int status[2], bool hung,
			const struct engine_peer_result *given, struct cell_run *run)
{
	struct engine_peer_result r[2];
	const char *who[2] = { "A", "B" };
	char note[200];

	for (int i = 0; i < 2; i++) {
		/* given: a probe's word for both (outcome by probe), else each peer's output */
		if (given)
			r[i] = given[i];
		else
			engine_peer_result(c->pe[i], c->pattern[i], c->progs[c->peer[i]].text,
					   exited[i], status[i], &r[i]);
		if (exited[i] && WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 127) {
			set_error(run, "engine program could not be started in peer %s's node (exit "
				       "127)", who[i]);
			return;
		}
	}
	for (int i = 0; i < 2; i++)
		if (!r[i].reported) {
			/* no word from the engine is not a NAT result: never green, never failed */
			run->outcome = CELL_ERROR;
			snprintf(run->phase, sizeof(run->phase), "%s", hung ? "hung" : "crashed");
			if (hung && !exited[i])
				snprintf(run->reason, sizeof(run->reason), "peer %s gave no outcome "
					 "before the harness deadline (hung)", who[i]);
			else if (WIFSIGNALED(status[i]) || (WIFEXITED(status[i]) &&
							    WEXITSTATUS(status[i]) >= 128))
				snprintf(run->reason, sizeof(run->reason), "peer %s crashed (wait "
					 "status %#x) without an outcome", who[i], status[i]);
			else
				snprintf(run->reason, sizeof(run->reason), "peer %s exited %d without "
					 "an outcome", who[i], WEXITSTATUS(status[i]));
			return;
		}
	/* The engine's word is as good as its worse side: direct only when both verified a direct
	 * path; the lab's evidence then confirms or disputes it. */
	run->engine_said = cell_outcome_worse(r[1].outcome, r[0].outcome) ? r[1].outcome
									  : r[0].outcome;
	run->outcome = attest_judge(run->engine_said, &run->attestation, note, sizeof(note));
	snprintf(run->technique_used, sizeof(run->technique_used), "%s",
		 r[0].technique[0] ? r[0].technique : c->e->ntechniques == 1
							  ? c->e->techniques[0].name : "");
	run->attempts = r[0].attempts + r[1].attempts;
	/* a dual cell's race: the family both sides kept (they may differ only in a bug) */
	run->family_used = r[0].family == r[1].family ? r[0].family : 0;
	run->time_to_connect_ms = run->ttfb_ms = run->time_to_direct_ms = -1;
	if (run->outcome == CELL_DIRECT || run->outcome == CELL_RELAYED) {
		run->time_to_connect_ms = r[0].time_to_connect_ms > r[1].time_to_connect_ms
						  ? r[0].time_to_connect_ms : r[1].time_to_connect_ms;
		/* the pair has a path when both sides have it: the later side's time; a side that
		 * does not say (< 0) leaves it unknown */
		if (r[0].ttfb_ms >= 0 && r[1].ttfb_ms >= 0)
			run->ttfb_ms = r[0].ttfb_ms > r[1].ttfb_ms ? r[0].ttfb_ms : r[1].ttfb_ms;
	}
	if (run->outcome == CELL_DIRECT)
		run->time_to_direct_ms = run->time_to_connect_ms;
	if (run->outcome == CELL_FAILED) {
		const struct engine_peer_result *f = r[0].outcome == CELL_FAILED ? &r[0] : &r[1];
		snprintf(run->phase, sizeof(run->phase), "%s", f->phase[0] ? f->phase : "probing");
		snprintf(run->reason, sizeof(run->reason), "A: %s%s%s; B: %s%s%s",
			 cell_outcome_name(r[0].outcome), r[0].reason[0] ? ", " : "", r[0].reason,
			 cell_outcome_name(r[1].outcome), r[1].reason[0] ? ", " : "", r[1].reason);
	} else if (run->outcome == CELL_DISPUTED) {
		snprintf(run->phase, sizeof(run->phase), "attestation");
		snprintf(run->reason, sizeof(run->reason), "%s", note);
		return;
	} else if (r[0].local[0] || r[1].local[0]) {
		snprintf(run->reason, sizeof(run->reason), "A %s -> %s (%s), B %s -> %s",
			 r[0].local, r[0].peer, r[0].technique, r[1].local, r[1].peer);
	} else {
		snprintf(run->reason, sizeof(run->reason), "A: %s; B: %s", r[0].reason, r[1].reason);
	}
	if (note[0]) {
		size_t n = strlen(run->reason);
		snprintf(run->reason + n, sizeof(run->reason) - n, "; %s", note);
	}
}

static void cellctx_add(struct cellctx *c, const struct ef_role *r, const char *bin,
			int deadline_ms)
{
	int i = c->nprogs++;

	c->roles[i] = r;
	c->bin[i] = bin;
	c->deadline_ms[i] = deadline_ms;
	c->progs[i] = (struct prog){ .name = r->name, .handle = -1, .out = -1, .log = -1, .in = -1 };
	if (strcmp(r->name, "peer-a") == 0)
		c->peer[0] = i;
	if (strcmp(r->name, "peer-b") == 0)
		c->peer[1] = i;
}

/* The cell's roles in start order. An engine pair: engine A's servers, then B's servers that A
 * has none of the name of (a server of the same name is A's), then A's peer-a and B's peer-b. */
static struct cellctx *cellctx_new(const struct runner_config *cfg, const struct cell_spec *spec,
				   struct lab *lab)
{
	struct cellctx *c = calloc(1, sizeof(*c));
	const struct engine_file *ea = cfg->engine, *eb = cfg->engine_b ? cfg->engine_b : ea;
	const char *bin_b = cfg->engine_b ? cfg->engine_binary_b : cfg->engine_binary;
	/* a cell with NAT events holds its path through them: each side's deadline grows by it */
	/* and an impaired lab's path needs more time (impair_deadline.h): every engine alike */
	int hold_ms = spec ? cell_events_hold_s(spec) * 1000 +
			     impair_deadline_extra_ms(lab_topo(lab)) : 0;
	int dl_a = (spec ? runner_deadline_ms(ea, spec) : ea->techniques[0].deadline_ms) + hold_ms;
	int dl_b = (spec ? runner_deadline_ms(eb, spec) : eb->techniques[0].deadline_ms) + hold_ms;

	if (!c || !(c->vars = calloc(1, sizeof(*c->vars)))) {
		free(c);
		return NULL;
	}
	c->e = ea;
	/* signal-delay=: only peer B hears the rendezvous late, so only B's command gets it */
	c->signal_delay_ms = spec && spec->has_signal_delay ? spec->signal_delay_ms : -1;
	c->pe[0] = ea;
	c->pe[1] = eb;
	c->lab = lab;
	for (int i = 0; i < ea->nroles; i++)
		if (!ea->roles[i].peer)
			cellctx_add(c, &ea->roles[i], cfg->engine_binary, dl_a);
	for (int i = 0; eb != ea && i < eb->nroles; i++)
		if (!eb->roles[i].peer && !engine_file_role(ea, eb->roles[i].name))
			cellctx_add(c, &eb->roles[i], bin_b, dl_b);
	cellctx_add(c, engine_file_role(ea, "peer-a"), cfg->engine_binary, dl_a);
	cellctx_add(c, engine_file_role(eb, "peer-b"), bin_b, dl_b);
	return c;
}

static void cellctx_free(struct cellctx *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nprogs; i++)
		prog_release(&c->progs[i]);
	free(c->vars);
	free(c);
}

/* The probe's `relayed` or `direct` pattern, NULL when it has none. */
static const struct ef_match *probe_pattern(const struct engine_file *e)
{
	const struct ef_probe *pr = &e->outcome.probe;

	if (e->outcome.kind != EF_OUTCOME_PROBE)
		return NULL;
	if (pr->relayed.kind == EF_MATCH_LINE)
		return &pr->relayed;
	return pr->direct.kind == EF_MATCH_LINE ? &pr->direct : NULL;
}

/* Whether either peer's output matches the probe's pattern (each rendered from its own view). */
static bool probe_pattern_seen(const struct cellctx *c)
{
	const struct ef_match *m = probe_pattern(c->e);
	bool seen = false;

	for (int k = 0; k < 2 && m; k++)
		seen |= tpl_output_matches(m, c->pattern[k], c->progs[c->peer[k]].text, NULL, 0);
	return seen;
}

/* Start role i: its command line rendered from the cell's variables and its own (peers: self,
 * other...). 0, or -errno with why filled. */
static int role_start(struct cellctx *c, int i, const char *dir, int timeout_ms, char *why,
		      size_t wlen)
{
	const struct ef_role *r = c->roles[i];
	const struct engine_file *own = r->peer ? c->pe[r->name[5] == 'a' ? 0 : 1] : c->e;
	struct tpl_vars *rv = malloc(sizeof(*rv));
	struct engine_argv *argv = calloc(1, sizeof(*argv));
	const struct topo *t = lab_topo(c->lab);
	int ret = -ENOMEM;

	snprintf(why, wlen, "out of memory");
	if (!rv || !argv)
		goto out;
	*rv = *c->vars;
	/* its own engine's program and deadline (an engine pair: each side its own) */
	if ((ret = engine_vars_role(r, rv)) < 0 || tpl_set(rv, "program", "%s", c->bin[i]) < 0 ||
	    tpl_set(rv, "deadline_ms", "%d", c->deadline_ms[i]) < 0 ||
	    (i == c->peer[1] && c->signal_delay_ms >= 0 &&
	     tpl_set(rv, "signal_delay_ms", "%d", c->signal_delay_ms) < 0)) {
		snprintf(why, wlen, "too many variables");
		goto out;
	}
	if (r->peer && (own->outcome.kind == EF_OUTCOME_LINE || probe_pattern(own))) {
		/* a LINE outcome, or the probe's `relayed`/`direct` pattern, seen from this peer */
		int side = r->name[5] == 'a' ? 0 : 1;
		ret = tpl_render(own->outcome.kind == EF_OUTCOME_LINE
					 ? own->outcome.match.pattern : probe_pattern(own)->pattern,
				 rv, c->pattern[side], sizeof(c->pattern[side]), NULL, 0);
		if (ret < 0) {
			snprintf(why, wlen, "its outcome pattern does not render");
			goto out;
		}
	}
	if ((ret = engine_argv_render(r->args, r->nargs, rv, argv, why, wlen)) < 0)
		goto out;
	if (t->roles[r->node] < 0) {
		snprintf(why, wlen, "the topology has no %s node", topo_role_name(r->node));
		ret = -ENOENT;
		goto out;
	}
	/* a kept lab's servers live until `lab down` (which kills them): no deadline, no parent
	 * death signal; the peers are stopped by the run as always */
	if (c->watch && c->watch->keep && !r->peer)
		timeout_ms = 0;
	ret = prog_start(c->lab, t->roles[r->node], &c->progs[i], argv, dir, timeout_ms,
			 &r->input, c->watch && c->watch->keep && !r->peer);
	if (ret < 0)
		snprintf(why, wlen, "%s", strerror(-ret));
	/* detached, it outlives a killed punchlab: the record (pinned at lab up) must name it
	 * at once, so that `lab down` or `clean` ends it whatever happens next */
	if (ret == 0 && c->watch && c->watch->keep && !r->peer &&
	    (ret = lab_pin_add(c->lab, c->progs[i].handle)) < 0)
		snprintf(why, wlen, "cannot add it to the kept lab's record: %s", strerror(-ret));
out:
	free(rv);
	free(argv);
	return ret;
}

/* Wait for role i to be ready (its condition and captures) within its deadline. 0, -ECANCELED,
 * or -ETIMEDOUT with why saying what it was waiting for. */
static int role_wait_ready(struct cellctx *c, int i, int stop_fd, const char *log_dir, char *why,
			   size_t wlen)
{
	const struct ef_role *r = c->roles[i];
	struct prog *p = &c->progs[i];
	/* captures without a ready condition: the file's parser wants a deadline with every
	 * condition; a capture alone gets the default one of docs/engine-format.md */
	int limit = r->ready.deadline_ms ? r->ready.deadline_ms : 5000;
	char waiting[200];
	int ret;

	if (r->ready.kind == EF_MATCH_NONE && !r->ncaptures)
		return 0;
	c->waiting = i;
	ret = pump(c, stop_fd, now_ms() + limit, r->ready.kind == EF_MATCH_PORT, role_ready);
	if (ret == -ECANCELED || ret == -ENOMSG)
		return ret;
	if (ret == 0 && p->out >= 0)
		return 0;
	engine_role_waiting_for(r, p->text, prog_pid(c->lab, p), c->vars, waiting, sizeof(waiting));
	snprintf(why, wlen, "%s %s within %d ms (waiting for %s; see %s/%s.err)", r->name,
		 p->out < 0 ? "ended before it was ready" : "did not become ready",
		 limit, waiting[0] ? waiting : "?", log_dir, r->name);
	return -ETIMEDOUT;
}

/* The first line of a file (a failing setup's stderr, for the reason). */
static void first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

/* Run one setup command to its end within its deadline: on the host (proc_spawn in this
 * process's own network namespace: it still gets an init that dies with this thread and kills
 * it at the deadline) or in a node. Output to setup-N.out/.err, the command line to setup-N.cmd.
 * Returns 0, or -1 with why naming the command, what went wrong and its output file. */
static int setup_one(struct cellctx *c, int i, const char *dir, const char *log_dir, char *why,
		     size_t wlen)
{
	const struct ef_setup *st = &c->e->setup[i];
	const struct topo *t = lab_topo(c->lab);
	struct tpl_vars *v = malloc(sizeof(*v));
	struct engine_argv *a = calloc(1, sizeof(*a));
	char path[PATH_MAX], errline[160];
	int out = -1, err = -1, hostns = -1, status = 0, ret = -1;
	struct lab_spawn_opts o;

	snprintf(why, wlen, "setup %d: out of memory", i + 1);
	if (!v || !a)
		goto out;
	*v = *c->vars;
	tpl_set(v, "role", "setup");
	if (engine_argv_render(st->args, st->nargs, v, a, errline, sizeof(errline)) < 0) {
		snprintf(why, wlen, "setup %d: %s", i + 1, errline);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/setup-%d.cmd", dir, i + 1);
	FILE *f = fopen(path, "w");
	if (f) {
		for (int k = 0; a->argv[k]; k++)
			fprintf(f, "%s%s", k ? " " : "", a->argv[k]);
		fputc('\n', f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/setup-%d.out", dir, i + 1);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/setup-%d.err", dir, i + 1);
	err = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || err < 0) {
		snprintf(why, wlen, "setup %d: cannot write its output files: %s", i + 1,
			 strerror(errno));
		goto out;
	}
	o = (struct lab_spawn_opts){ .stdin_fd = -1, .stdout_fd = out, .stderr_fd = err,
				     .timeout_ms = st->deadline_ms };
	if (st->harness) {
		pid_t pid;
		hostns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		pid = hostns < 0 ? -errno : proc_spawn(hostns, a->argv, &o, false);
		/* bounded: the init kills the command at its deadline (exit 124) */
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			snprintf(why, wlen, "setup %d (%s): cannot run it on the host: %s", i + 1,
				 a->argv[0], strerror(pid < 0 ? (int)-pid : errno));
			goto out;
		}
	} else {
		int h = t->roles[st->node] >= 0 ? lab_spawn(c->lab, t->roles[st->node], a->argv, &o)
						: -ENOENT;
		if (h < 0 || lab_wait(c->lab, h, st->deadline_ms + HARNESS_GRACE_MS, &status) < 0) {
			snprintf(why, wlen, "setup %d (%s): cannot run it in the %s node: %s", i + 1,
				 a->argv[0], topo_role_name(st->node), strerror(h < 0 ? -h : ETIMEDOUT));
			goto out;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ret = 0;
		goto out;
	}
	first_line(path, errline, sizeof(errline));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 124)
		snprintf(why, wlen, "setup %d (%s) did not finish within %d ms; see %s/setup-%d.err",
			 i + 1, a->argv[0], st->deadline_ms, log_dir, i + 1);
	else
		snprintf(why, wlen, "setup %d (%s) %s %d%s%s; see %s/setup-%d.err", i + 1,
			 a->argv[0], WIFEXITED(status) ? "exited" : "was killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 errline[0] ? ": " : "", errline, log_dir, i + 1);
out:
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	if (hostns >= 0)
		close(hostns);
	free(v);
	free(a);
	return ret;
}

static int setup_run(struct cellctx *c, const char *dir, const char *log_dir, char *why,
		     size_t wlen)
{
	for (int i = 0; i < c->e->nsetup; i++)
		if (setup_one(c, i, dir, log_dir, why, wlen) < 0)
			return -1;
	return 0;
}

static bool never_done(struct cellctx *c)
{
	(void)c;
	return false;
}

/* Whether either peer's program has ended (a daemon that should run until it is stopped). */
static bool peer_ended(const struct cellctx *c)
{
	for (int i = 0; i < 2; i++)
		if (c->progs[c->peer[i]].started && c->progs[c->peer[i]].out < 0)
			return true;
	return false;
}

/* Outcome by probe (daemons that never exit): the probe command in its peer's node, tried every
 * interval until it exits 0 or the deadline passes; the peers' outputs are read meanwhile (a
 * daemon blocked on a full pipe would stop forwarding). Fills both peers' results alike: the
 * probe speaks for the pair. Returns 0, -ECANCELED, or -EPIPE when a peer ended first. */
static int probe_run(struct cellctx *c, int stop_fd, double deadline, const char *dir,
		     const char *log_dir, struct engine_peer_result r[2])
{
	const struct ef_probe *pr = &c->e->outcome.probe;
	const struct ef_role *who = c->roles[c->peer[pr->node == ROLE_PEER_B ? 1 : 0]];
	const struct topo *t = lab_topo(c->lab);
	struct tpl_vars *v = malloc(sizeof(*v));
	struct engine_argv *a = calloc(1, sizeof(*a));
	char path[PATH_MAX], why[200];
	double t0 = now_ms(), ok_ms = -1;
	int fd = -1, tries = 0, status = 0, ret = 0;
	bool ok = false, want_direct = pr->direct.kind == EF_MATCH_LINE;

	memset(r, 0, 2 * sizeof(*r));
	if (!v || !a) {
		ret = -ENOMEM;
		goto out;
	}
	*v = *c->vars;
	if (engine_vars_role(who, v) < 0 ||
	    engine_argv_render(pr->args, pr->nargs, v, a, why, sizeof(why)) < 0) {
		ret = -EINVAL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/probe.out", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	for (int guard = 0; guard < 100000 && !(ok && !want_direct); guard++) {
		double next = now_ms() + pr->interval_ms;
		int left = (int)(deadline - now_ms()), h;
		struct lab_spawn_opts o = { .stdin_fd = -1, .stdout_fd = fd, .stderr_fd = fd };

		if (left <= 0 || peer_ended(c))
			break;
		if (ok) {
			/* `direct`: the probe got through; is it direct yet? (until the deadline:
			 * the engine may upgrade a relayed path) */
			if (probe_pattern_seen(c))
				break;
			ret = pump(c, stop_fd, next < deadline ? next : deadline, false, never_done);
			if (ret == -ECANCELED)
				goto out;
			ret = 0;
			continue;
		}
		o.timeout_ms = left;
		tries++;
		h = lab_spawn(c->lab, t->roles[who->node], a->argv, &o);
		if (h < 0) {
			ret = h;
			goto out;
		}
		if (lab_wait(c->lab, h, left + HARNESS_GRACE_MS, &status) < 0)
			lab_stop(c->lab, h, 100, &status);
		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (ok) {
			ok_ms = now_ms() - t0;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			/* the probe's program is not there: no NAT result */
			ret = -ENOEXEC;
			goto out;
		}
		/* read the daemons' outputs until the next try */
		ret = pump(c, stop_fd, next < deadline ? next : deadline, false, never_done);
		if (ret == -ECANCELED)
			goto out;
		ret = 0;
	}
	if (!ok && peer_ended(c)) {
		ret = -EPIPE;
		goto out;
	}
	/* the peers' last words (a relay in use is written when it is chosen) */
	pump(c, stop_fd, now_ms() + 50, false, never_done);
	for (int i = 0; i < 2; i++) {
		struct engine_peer_result *ri = &r[i];
		if (i == 1) {
			/* one probe speaks for the pair: B says what A says, without repeating */
			*ri = r[0];
			snprintf(ri->reason, sizeof(ri->reason), "the same probe");
			ri->attempts = 0;
			break;
		}
		ri->reported = true;
		ri->attempts = i == 0 ? tries : 0;
		ri->time_to_connect_ms = ri->ttfb_ms = ri->time_to_direct_ms = -1;
		if (ok) {
			/* relayed: its `relayed` pattern was seen, or its `direct` one was not */
			bool seen = probe_pattern_seen(c);
			bool relayed = want_direct ? !seen : seen;
			ri->outcome = relayed ? CELL_RELAYED : CELL_DIRECT;
			/* until the first answer, or until the path turned direct */
			ri->time_to_connect_ms = want_direct && !relayed ? now_ms() - t0 : ok_ms;
			snprintf(ri->reason, sizeof(ri->reason), "probe %s succeeded on try %d%s",
				 a->argv[0], tries, !probe_pattern(c->e) ? ""
				 : relayed ? (want_direct ? " (no peer said it is direct)"
							  : " (a peer said it relays)")
				 : (want_direct ? " (a peer said it is direct)" : ""));
		} else {
			ri->outcome = CELL_FAILED;
			snprintf(ri->phase, sizeof(ri->phase), "probing");
			snprintf(ri->reason, sizeof(ri->reason), "no probe (%s) succeeded in %d tries "
				 "(last: %s %d); see %s/probe.out", a->argv[0], tries,
				 WIFEXITED(status) ? "exit" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log_dir);
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(v);
	free(a);
	return ret;
}

/* The engine's own variables and files; for an engine pair B's too: B's first, so that A's win
 * where both define one (the servers and setup are A's), and B's files only under names A does
 * not write. 0 or -errno with why filled. */
static int pair_vars_files(const struct runner_config *cfg, struct tpl_vars *v, const char *dir,
			   char *why, size_t wlen)
{
	struct engine_file *b_only = NULL;
	int ret;

	if (cfg->engine_b && cfg->engine_b != cfg->engine &&
	    (ret = engine_vars_engine(cfg->engine_b, v, why, wlen)) < 0)
		return ret;
	if ((ret = engine_vars_engine(cfg->engine, v, why, wlen)) < 0 ||
	    (ret = engine_files_write(cfg->engine, v, dir, why, wlen)) < 0)
		return ret;
	if (!cfg->engine_b || cfg->engine_b == cfg->engine || !cfg->engine_b->nfiles)
		return 0;
	b_only = malloc(sizeof(*b_only));
	if (!b_only) {
		snprintf(why, wlen, "out of memory");
		return -ENOMEM;
	}
	*b_only = *cfg->engine_b;
	b_only->nfiles = 0;
	for (int i = 0; i < cfg->engine_b->nfiles; i++) {
		bool a_has = false;
		for (int k = 0; k < cfg->engine->nfiles; k++)
			a_has |= strcmp(cfg->engine->files[k].name, cfg->engine_b->files[i].name) == 0;
		if (!a_has)
			b_only->files[b_only->nfiles++] = cfg->engine_b->files[i];
	}
	ret = engine_files_write(b_only, v, dir, why, wlen);
	free(b_only);
	return ret;
}

/* --keep, right after lab up: pin the lab now, not at the end, so that a punchlab killed
 * mid-run leaves a kept lab that `lab down`/`clean` remove (its servers are detached and named
 * in the record as they start) rather than programs no record knows of. 0 or -errno (the watch
 * says why). */
static int run_pin(struct lab *lab, struct run_watch *w)
{
	struct diag_list *dl = calloc(1, sizeof(*dl));
	int ret = dl ? lab_pin(lab, dl) : -ENOMEM;

	if (ret < 0)
		snprintf(w->keep_error, sizeof(w->keep_error), "%s", dl && dl->count
			 ? dl->items[0].msg : strerror(-ret));
	else
		timeline_add(&w->tl, now_ms(), TL_LAB, "lab", "pinned", "--keep: lab %s pinned as "
			     "%s/%s-NODE (punchlab lab down %s removes it)", lab_name(lab),
			     paths_netns_dir() ? paths_netns_dir() : "/run/netns", lab_name(lab),
			     lab_name(lab));
	free(dl);
	return ret;
}

/* --keep, at the end: say what stays (the servers still running) and release the lab. */
static void run_keep(struct cellctx *c, struct lab *lab, struct run_watch *w)
{
	size_t used = 0;

	snprintf(w->kept_lab, sizeof(w->kept_lab), "%s", lab_name(lab));
	for (int i = 0; c && i < c->nprogs; i++) {
		pid_t pid = prog_pid(lab, &c->progs[i]);
		int status;

		if (c->roles[i]->peer || pid <= 0 ||
		    lab_wait(lab, c->progs[i].handle, 0, &status) == 0)
			continue; /* a peer (stopped by the run) or a server that has ended */
		used += (size_t)snprintf(w->still_running + used, sizeof(w->still_running) - used,
					 "%s%s (init pid %d, node %s)", used ? ", " : "",
					 c->progs[i].name, (int)pid,
					 lab_topo(lab)->nodes[lab_topo(lab)->roles[c->roles[i]->node]].name);
		if (used >= sizeof(w->still_running))
			break;
	}
	timeline_add(&w->tl, now_ms(), TL_LAB, "lab", "kept", "lab %s kept%s%s", w->kept_lab,
		     w->still_running[0] ? "; still running: " : "", w->still_running);
	lab_release(lab);
}

int cell_run_once(const struct runner_config *cfg, const struct cell_spec *spec, int run_index,
		  struct cell_run *run)
{
	/* families 6 and dual: the dual-stack twin (matrix/family.h) */
	const struct topo *t = spec->family != CELL_FAMILY_4 && cfg->topo6 ? cfg->topo6 : cfg->topo;
	struct topo *impaired = NULL; /* the cell's copy with its impairment preset applied */
	struct lab_options lo = { 0 };
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct cellctx *c = NULL;
	struct lab *lab = NULL;
	struct ct_mappings *flows;
	char dir[PATH_MAX], name[200], session[32], why[300];
	char copy_a[PATH_MAX] = "", copy_b[PATH_MAX] = "";
	int status[2] = { 0, 0 }, ret = 0, timeout_ms = runner_deadline_ms(cfg->engine, spec);
	bool exited[2] = { false, false };
	/* the cell's own stagger (a sweep point), else the run's */
	int stagger_ms = spec->has_stagger ? spec->stagger_ms : cfg->stagger_ms;
	/* how much later than A peer B may act: its start, and a late rendezvous answer
	 * (signal-delay=); the harness's deadlines allow for both */
	int late_ms = stagger_ms + (spec->has_signal_delay ? spec->signal_delay_ms : 0);
	double t0 = now_ms(), deadline, a_started = 0;
	bool hung = false, ended = false;
	struct engine_peer_result probe_given[2], *given = NULL;
	/* NAT events (docs/events.md): the engine holds its path through them (and revalidates
	 * it: {{hold_s}}, {{revalidate}}), its deadline grows by the hold */
	struct cell_events *ce = NULL;
	double peer_started[2] = { 0, 0 };
	int hold_s = cell_events_hold_s(spec);
	struct run_watch *w = cfg->watch;
	struct capture *cap = NULL;
	char pcap_dir[PATH_MAX] = "";
	double lab_t0;

	timeout_ms += hold_s * 1000;

	memset(run, 0, sizeof(*run));
	/* an engine pair: the harness waits for the slower side's deadline */
	if (cfg->engine_b && runner_deadline_ms(cfg->engine_b, spec) + hold_s * 1000 > timeout_ms)
		timeout_ms = runner_deadline_ms(cfg->engine_b, spec) + hold_s * 1000;
	run->time_to_connect_ms = run->ttfb_ms = run->time_to_direct_ms = -1;
	run->engine_said = CELL_ERROR;
	cell_dir_name(spec->id, name, sizeof(name));
	snprintf(run->log_dir, sizeof(run->log_dir), "cells/%s/run-%d", name, run_index + 1);
	snprintf(dir, sizeof(dir), "%s/%s", cfg->out_dir, run->log_dir);
	if (!dl) {
		set_error(run, "%s", "out of memory");
		goto out;
	}
	if (paths_mkdir_p(dir) < 0) {
		set_error(run, "cannot create the log directory: %s", strerror(errno));
		goto out;
	}
	/* a report directory given again (-o DIR) holds an earlier run's logs here: they would
	 * mix with this run's, and an engine that makes a file afresh refuses to overwrite one
	 * (punch's rendezvous --new-secret: every cell ended error) */
	if ((ret = paths_empty_dir(dir)) < 0) {
		set_error(run, "cannot empty the log directory of an earlier run: %s",
			  strerror(-ret));
		goto out;
	}

	/* profile parameters (udp-timeout=5s): the NATs load per-cell copies */
	if (cell_profiles_prepare(spec, copy_a, copy_b, sizeof(copy_a), why, sizeof(why)) < 0) {
		set_error(run, "profile parameters: %s", why);
		goto out;
	}
	lo.override_node[lo.noverrides] = t->nodes[t->roles[ROLE_NAT_A]].name;
	lo.override_profile[lo.noverrides++] = copy_a[0] ? copy_a : spec->profile_a;
	if (spec->profile_b[0] && t->roles[ROLE_NAT_B] >= 0) {
		lo.override_node[lo.noverrides] = t->nodes[t->roles[ROLE_NAT_B]].name;
		lo.override_profile[lo.noverrides++] = copy_b[0] ? copy_b : spec->profile_b;
	}
	/* outer=P: the NAT both home NATs sit behind (the matrix allows it only there) loads P;
	 * profile parameters are not applied to it */
	if (spec->outer[0] && t->nodes[t->roles[ROLE_NAT_A]].gateway >= 0) {
		lo.override_node[lo.noverrides] = t->nodes[t->nodes[t->roles[ROLE_NAT_A]].gateway].name;
		lo.override_profile[lo.noverrides++] = spec->outer;
	}
	/* dual: each home NAT runs the cell's IPv6 companion beside its IPv4 profile */
	if (spec->family == CELL_FAMILY_DUAL) {
		const char *six = spec->ipv6_profile[0] ? spec->ipv6_profile
							: CELL_DEFAULT_IPV6_PROFILE;

		lo.companion_what = "ipv6-profile=";
		for (int side = ROLE_NAT_A; side <= ROLE_NAT_B; side++)
			if (t->roles[side] >= 0 && (side == ROLE_NAT_A || spec->profile_b[0])) {
				lo.companion_node[lo.ncompanions] = t->nodes[t->roles[side]].name;
				lo.companion_profile[lo.ncompanions++] = six;
			}
	}
	if (spec->impair[0]) {
		struct topo *it = malloc(sizeof(*it));

		if (!it) {
			set_error(run, "%s", "out of memory");
			goto out;
		}
		*it = *t;
		impaired = it;
		t = it;
		if (topo_impair_preset(it, spec->impair, dl) < 0) {
			snprintf(why, sizeof(why), "%s: %s", spec->impair,
				 dl->count ? dl->items[0].msg : "?");
			set_error(run, "impairment %s", why);
			goto out;
		}
	}
	/* a kept lab's impaired links' forwarders outlive this process */
	lo.keep = w && w->keep;
	lab_t0 = now_ms();
	if (w)
		run_watch_begin(w, lab_t0);
	timeout_ms += impair_deadline_extra_ms(t); /* as cellctx_new() does for each role */
	if (lab_up(t, &lo, &lab, dl) < 0) {
		snprintf(why, sizeof(why), "%s:%d: %s", dl->count ? dl->items[0].file : "?",
			 dl->count ? dl->items[0].line : 0, dl->count ? dl->items[0].msg : "?");
		set_error(run, "lab build failed: %s", why);
		goto out;
	}
	if (w)
		run_watch_lab_up(w, lab, now_ms(), now_ms() - lab_t0);
	if (w && w->keep && run_pin(lab, w) < 0) {
		set_error(run, "cannot keep the lab: %s", w->keep_error);
		goto out;
	}
	/* captures before any program of the engine runs, so its first packet is in them */
	if (cfg->pcap_dir) {
		snprintf(pcap_dir, sizeof(pcap_dir), "%s", cfg->pcap_dir[0] ? cfg->pcap_dir : dir);
		if (capture_start(lab, pcap_dir, NULL, &cap, why, sizeof(why)) < 0) {
			set_error(run, "packet capture: %s", why);
			goto out;
		}
		if (w)
			timeline_add(&w->tl, now_ms(), TL_LAB, "lab", "capture", "capturing every "
				     "interface of the hosts, NATs and servers into %s (snaplen %d, "
				     "at most %ld MiB a file)", pcap_dir, CAPTURE_SNAPLEN,
				     CAPTURE_MAX_BYTES >> 20);
	}
	c = cellctx_new(cfg, spec, lab);
	if (!c) {
		set_error(run, "%s", "out of memory");
		goto out;
	}
	c->watch = w;
	snprintf(session, sizeof(session), "cell%d", run_index + 1);
	{
		char absdir[PATH_MAX];
		struct engine_cell ec = { .program = cfg->engine_binary, .session = session,
					  .dir = realpath(dir, absdir) ? absdir : dir,
					  .transport = spec->proto, .technique = spec->technique,
					  .deadline_ms = timeout_ms,
					  .port = spec->port ? spec->port : cfg->rendezvous_port,
					  .family = cell_family_name(spec->family),
					  .lab = lab };
		snprintf(why, sizeof(why), "too many variables");
		if (engine_vars_cell(&ec, t, c->vars) < 0 ||
		    (hold_s && (tpl_set(c->vars, "hold_s", "%d", hold_s) < 0 ||
				tpl_set(c->vars, "revalidate", "%s", CELL_EVENTS_REVALIDATE) < 0)) ||
		    pair_vars_files(cfg, c->vars, ec.dir, why, sizeof(why)) < 0) {
			set_error(run, "engine setup: %s", why);
			goto out;
		}
	}
	/* the engine's setup commands (keys, certificates), after its files, before any role */
	if (setup_run(c, dir, run->log_dir, why, sizeof(why)) < 0) {
		set_error(run, "%s", why);
		snprintf(run->phase, sizeof(run->phase), "setup");
		goto out;
	}
	deadline = now_ms() + timeout_ms + HARNESS_GRACE_MS + late_ms;

	/* Servers first (each ready before the next starts), then A, then B `stagger_ms` after A
	 * (A cannot finish without B: it waits for the pairing). */
	for (int i = 0; i < c->nprogs; i++) {
		const struct ef_role *r = c->roles[i];
		bool is_b = i == c->peer[1];
		/* every program outlives the harness's deadline, so that the harness stops it
		 * there (a peer that never exits, like nc, is judged by its output, not killed
		 * by the lab's backstop first) */
		int life = timeout_ms + HARNESS_GRACE_MS * 2 + late_ms;

		/* and through both peers' readiness, each of which may take its whole ready
		 * deadline (a slow start on a loaded machine: the harness's deadline is counted
		 * again from a peer's readiness, so a program whose life did not include it was
		 * killed by its own init while the harness still waited); a daemon judged by a
		 * probe runs until the probe is done, which starts when both peers are ready */
		for (int k = 0; k < 2; k++)
			life += c->roles[c->peer[k]]->ready.deadline_ms;

		if (is_b) {
			ret = pump(c, cfg->stop_fd, a_started + stagger_ms, false, peers_done);
			if (ret == -ECANCELED)
				goto out;
		}
		if (role_start(c, i, dir, life + (r->peer ? 0 : r->ready.deadline_ms), why,
			       sizeof(why)) < 0) {
			char msg[400];
			snprintf(msg, sizeof(msg), "cannot start %s: %s", r->name, why);
			set_error(run, "%s", msg);
			ret = 0;
			goto out;
		}
		if (i == c->peer[0]) {
			a_started = now_ms();
			/* the peers' deadline counts from A's start: the servers' start is bounded
			 * by their own readiness deadlines, and a slow one (a loaded machine) must
			 * not eat the engine's time to connect */
			deadline = a_started + timeout_ms + HARNESS_GRACE_MS + late_ms;
		}
		if (r->peer)
			peer_started[i == c->peer[1]] = now_ms();
		/* the events' clock starts with peer A */
		if (i == c->peer[0] && cell_events_start(lab, spec, a_started, &ce) < 0) {
			set_error(run, "%s", "cannot start the NAT events");
			ret = 0;
			goto out;
		}
		ret = role_wait_ready(c, i, cfg->stop_fd, run->log_dir, why, sizeof(why));
		if (ret == -ECANCELED)
			goto out;
		if (ret < 0) {
			set_error(run, "%s", c->input_why[0] ? c->input_why : why);
			snprintf(run->phase, sizeof(run->phase), c->input_why[0] ? "stdin" : "ready");
			ret = 0;
			goto out;
		}
		if (r->peer && r->ready.deadline_ms)
			deadline = now_ms() + timeout_ms + HARNESS_GRACE_MS + late_ms;
	}
	/* the last role's captures may be what an earlier role's input waited for */
	input_feed(c);
	if (cfg->engine->outcome.kind == EF_OUTCOME_PROBE) {
		/* daemons: the probe decides, within the technique's deadline from the moment
		 * both peers are ready; then the harness stops them */
		given = probe_given;
		ret = probe_run(c, cfg->stop_fd, now_ms() + timeout_ms, dir, run->log_dir, given);
		if (ret == -ECANCELED)
			goto out;
		if (ret == -EPIPE)
			ended = true; /* a daemon ended by itself: no NAT result */
		else if (ret < 0) {
			set_error(run, "the probe could not run: %s", ret == -ENOEXEC
				  ? "its program was not found (exit 127); see probe.out"
				  : strerror(-ret));
			ret = 0;
			goto out;
		}
		ret = 0;
	} else {
		ret = pump(c, cfg->stop_fd, deadline, false, peers_done);
		if (ret == -ECANCELED)
			goto out;
		hung = ret == -ETIMEDOUT;
		ret = 0;
	}
	for (int i = 0; i < 2; i++) {
		struct prog *p = &c->progs[c->peer[i]];
		if (!p->started)
			continue;
		exited[i] = p->out < 0;
		if (exited[i])
			lab_wait(lab, p->handle, HARNESS_GRACE_MS, &status[i]);
		else
			lab_stop(lab, p->handle, 100, &status[i]);
	}
	{
		const char *text[2] = { c->progs[c->peer[0]].text, c->progs[c->peer[1]].text };
		cell_events_finish(ce, text, peer_started, dir, &run->recovery);
		ce = NULL;
	}
	flows = calloc((size_t)t->nnodes, sizeof(*flows));
	if (flows) {
		attest_lab_read(lab, flows); /* both families, translated or not */
		if (w)
			run_watch_final(w, lab, flows, now_ms());
		write_mappings(t, flows, dir, run);
		{
			uint8_t side_proto[2];
			uint8_t proto = attest_proto(c, spec, exited, status, side_proto);

			attest_run(c, lab, proto, side_proto, exited, status, flows, run);
		}
		for (int n = 0; n < t->nnodes; n++)
			ct_mappings_free(&flows[n]);
		free(flows);
	}
	if (c->input_why[0]) {
		/* a peer that never got its input is no NAT result */
		set_error(run, "%s", c->input_why);
		snprintf(run->phase, sizeof(run->phase), "stdin");
	} else if (ended) {
		int i = exited[0] ? 0 : 1;
		run->outcome = CELL_ERROR;
		snprintf(run->phase, sizeof(run->phase), "crashed");
		snprintf(run->reason, sizeof(run->reason), "peer %s ended while it was probed "
			 "(wait status %#x), a daemon should run until stopped; see %s/%s.err",
			 i ? "B" : "A", status[i], run->log_dir, c->progs[c->peer[i]].name);
	} else {
		judge_peers(c, exited, status, hung, given, run);
		family_judge_run(run); /* the engine's family against the attested flows' */
	}
out:
	if (ret == -ECANCELED) {
		run->outcome = CELL_ERROR;
		snprintf(run->reason, sizeof(run->reason), "interrupted");
	}
	if (ce) { /* left early: stop the events before the lab goes */
		const char *none[2] = { NULL, NULL };
		cell_events_finish(ce, none, peer_started, dir, &run->recovery);
	}
	if (w && w->started) {
		/* what the programs printed last without a newline */
		for (int i = 0; c && i < c->nprogs; i++)
			if (c->progs[i].text)
				run_watch_output(w, c->progs[i].name, c->progs[i].text, c->progs[i].len,
						 &c->progs[i].seen, now_ms(), true);
		run_watch_stop(w);
		run_watch_nat_events(w, &run->recovery, a_started);
		run_watch_result(w, run, now_ms());
	}
	/* captures stop after the attestation (the final dump is in them too) */
	if (cap) {
		long packets = capture_stop(cap, run->captures, sizeof(run->captures));
		if (w) {
			snprintf(w->captures, sizeof(w->captures), "%s", run->captures);
			snprintf(w->pcap_dir, sizeof(w->pcap_dir), "%s", pcap_dir);
			timeline_add(&w->tl, now_ms(), TL_LAB, "lab", "capture", "%ld packets "
				     "captured: %s", packets, run->captures);
		}
		if (cfg->pcap_dir && cfg->pcap_dir[0])
			run->captures[0] = '\0'; /* not in the log directory: nothing to link */
	}
	/* an interrupted run (Ctrl-C) is not kept: whoever stopped it wants it gone (lab_down()
	 * unpins it) */
	if (w && w->keep && lab && !w->keep_error[0] && ret != -ECANCELED)
		run_keep(c, lab, w);
	if (w && w->keep && w->kept_lab[0])
		lab = NULL; /* pinned and released: it stays up */
	else if (w && w->started && lab)
		timeline_add(&w->tl, now_ms(), TL_LAB, "lab", "down", "removing the lab");
	lab_down(lab); /* stops the servers and anything still running */
	if (w && w->started)
		run_watch_end(w, dir, spec->id);
	cell_profiles_release(copy_a, copy_b);
	cellctx_free(c);
	free(impaired);
	free(dl);
	run->wall_ms = now_ms() - t0;
	return ret == -ECANCELED ? -ECANCELED : 0;
}

int cell_overhead_once(const struct runner_config *cfg, struct cell_overhead *oh)
{
	const struct topo *t = cfg->topo;
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct cellctx *c = NULL;
	struct lab *lab = NULL;
	char dir[PATH_MAX];
	struct engine_cell ec = { .program = cfg->engine_binary, .session = "bench",
				  .dir = dir, .transport = "udp",
				  .technique = cfg->engine->techniques[0].name,
				  .deadline_ms = cfg->engine->techniques[0].deadline_ms,
				  .port = cfg->rendezvous_port };
	double t0 = now_ms(), t1, t2;
	char why[300];
	int ret = -EIO;

	/* a directory of its own per cell, as a real run has: setup commands may refuse to
	 * overwrite what an earlier one made (nebula-cert does) */
	snprintf(dir, sizeof(dir), "%s/cell-XXXXXX", cfg->out_dir);
	if (!dl || !mkdtemp(dir))
		goto out;
	if (lab_up(t, NULL, &lab, dl) < 0)
		goto out;
	t1 = now_ms();
	/* the harness's part of starting an engine: its servers started and ready */
	c = cellctx_new(cfg, NULL, lab);
	ec.lab = lab; /* {{NODE.reach}}: what the lab's profiles do to addresses */
	/* an engine's servers may need its files and setup (a lighthouse's certificate) */
	if (!c || engine_vars_cell(&ec, t, c->vars) < 0 ||
	    pair_vars_files(cfg, c->vars, dir, why, sizeof(why)) < 0 ||
	    setup_run(c, dir, dir, why, sizeof(why)) < 0)
		goto out;
	for (int i = 0; i < c->nprogs; i++) {
		if (c->roles[i]->peer)
			continue;
		if (role_start(c, i, dir, 10000, why, sizeof(why)) < 0 ||
		    role_wait_ready(c, i, -1, dir, why, sizeof(why)) < 0)
			goto out;
	}
	t2 = now_ms();
	lab_down(lab);
	lab = NULL;
	oh->lab_up_ms = t1 - t0;
	oh->engine_start_ms = t2 - t1;
	oh->lab_down_ms = now_ms() - t2;
	oh->total_ms = now_ms() - t0;
	ret = 0;
out:
	lab_down(lab);
	cellctx_free(c);
	free(dl);
	return ret;
}
