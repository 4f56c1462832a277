#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "base/sha256.h"
#include "ct/conntrack.h"
#include "lab/lab.h"
#include "matrix/attest.h"
#include "matrix/cell_runner.h"

#define OUTPUT_MAX (256 * 1024) /* what we keep of one program's stdout in memory */
#define READY_TIMEOUT_MS 2000
#define HARNESS_GRACE_MS 2000   /* beyond the engine's own deadline */

static const struct {
	const char *technique;
	int timeout_ms;
} deadlines[] = {
	{ "udp", 2000 },     { "tcp", 2000 },   { "tcp-ttl", 3000 }, { "predict", 3000 },
	{ "birthday", 6000 }, { "relay", 2000 }, { "auto", 9000 },
};

int runner_technique_timeout_ms(const char *technique)
{
	for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++)
		if (strcmp(deadlines[i].technique, technique) == 0)
			return deadlines[i].timeout_ms;
	return 5000;
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
	const char *name;       /* "rendezvous", "peer-a", "peer-b" */
	int handle;
	int out;                /* read end of its stdout, -1 at EOF */
	int log;                /* copy of its stdout on disk */
	char *text;
	size_t len;
	bool started;
};

static int prog_start(struct lab *lab, int node, struct prog *p, struct engine_argv *a,
		      const char *dir, int timeout_ms)
{
	char path[PATH_MAX];
	int fds[2], err_fd, ret;
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
	o = (struct lab_spawn_opts){ .stdin_fd = -1, .stdout_fd = fds[1], .stderr_fd = err_fd,
				     .timeout_ms = timeout_ms };
	ret = lab_spawn(lab, node, a->argv, &o);
	close(fds[1]);
	close(err_fd);
	if (ret < 0) {
		close(fds[0]);
		return ret;
	}
	p->handle = ret;
	p->out = fds[0];
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
	if (p->out >= 0)
		close(p->out);
	if (p->log >= 0)
		close(p->log);
	free(p->text);
	p->out = p->log = -1;
	p->text = NULL;
}

/* Wait on the programs' outputs and the stop fd until `done` says so or the deadline passes.
 * Returns 0, -ETIMEDOUT or -ECANCELED. */
static int pump(struct prog *progs, int nprogs, int stop_fd, double deadline,
		bool (*done)(struct prog *progs, void *arg), void *arg)
{
	for (int guard = 0; guard < 100000; guard++) {
		struct pollfd pfd[4];
		int n = 0, left = (int)(deadline - now_ms()), map[4];

		if (done(progs, arg))
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		for (int i = 0; i < nprogs; i++)
			if (progs[i].started && progs[i].out >= 0) {
				map[n] = i;
				pfd[n++] = (struct pollfd){ .fd = progs[i].out, .events = POLLIN };
			}
		if (stop_fd >= 0) {
			map[n] = -1;
			pfd[n++] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		}
		if (poll(pfd, (nfds_t)n, left) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] < 0)
				return -ECANCELED;
			prog_drain(&progs[map[i]]);
		}
	}
	return -ETIMEDOUT;
}

static bool rendezvous_ready(struct prog *progs, void *arg)
{
	const struct engine_ops *e = arg;
	return progs[0].out < 0 || e->rendezvous_ready(progs[0].text);
}

static bool peers_done(struct prog *progs, void *arg)
{
	(void)arg;
	return progs[1].out < 0 && (!progs[2].started || progs[2].out < 0);
}

static void set_error(struct cell_run *run, const char *fmt, const char *detail)
{
	run->outcome = CELL_ERROR;
	snprintf(run->reason, sizeof(run->reason), fmt, detail);
}

/* Every NAT node's conntrack, read once at the end of the run: flows[n] for node n (empty for
 * other nodes). The caller frees each with ct_mappings_free(). */
static void read_flows(struct lab *lab, struct ct_mappings *flows)
{
	const struct topo *t = lab_topo(lab);

	for (int n = 0; n < t->nnodes; n++) {
		struct mnl_socket *nl;

		if (t->nodes[n].kind != NODE_NAT)
			continue;
		nl = ct_socket_open(lab_node_netns(lab, n));
		if (!nl)
			continue;
		ct_dump_mappings(nl, &flows[n]);
		ct_socket_close(nl);
	}
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

static void add_node_addrs(struct lab *lab, int node, struct in_addr *set, int *n)
{
	char addrs[ATTEST_MAX_ADDRS][64];
	int k = lab_node_ipv4(lab, node, addrs, ATTEST_MAX_ADDRS);

	for (int i = 0; i < k && *n < ATTEST_MAX_ADDRS; i++)
		if (inet_pton(AF_INET, addrs[i], &set[*n]) == 1)
			(*n)++;
}

/* What the peer `self`'s NAT may see of the other peer: the other host and every NAT on its way
 * out, except this peer's own NAT (in same-nat the one NAT's own addresses prove nothing: the
 * flow must reach the other host). Routers and servers are never the other side. */
static void other_side(struct lab *lab, int self, int other, int own_nat, struct attest_side *s)
{
	const struct topo *t = lab_topo(lab);

	for (int n = other, guard = 0; n >= 0 && guard < t->nnodes;
	     n = t->nodes[n].gateway, guard++) {
		enum node_kind k = t->nodes[n].kind;
		if ((k == NODE_HOST || k == NODE_NAT) && n != own_nat && n != self)
			add_node_addrs(lab, n, s->other, &s->nother);
	}
}

static void attest_run(struct lab *lab, const struct cell_spec *spec,
		       const struct ct_mappings *flows, struct cell_run *run)
{
	const struct topo *t = lab_topo(lab);
	struct attest_input in = { .proto = strcmp(spec->proto, "tcp") == 0 ? IPPROTO_TCP
									    : IPPROTO_UDP };
	int peer[2] = { t->roles[ROLE_PEER_A], t->roles[ROLE_PEER_B] };

	for (int i = 0; i < 2; i++) {
		struct attest_side *s = &in.side[i];
		int gw = peer[i] >= 0 ? t->nodes[peer[i]].gateway : -1;

		if (peer[i] < 0)
			continue;
		add_node_addrs(lab, peer[i], s->host, &s->nhost);
		if (gw >= 0 && t->nodes[gw].kind == NODE_NAT) {
			s->nat_name = t->nodes[gw].name;
			s->flows = &flows[gw];
		}
		if (peer[1 - i] >= 0)
			other_side(lab, peer[i], peer[1 - i], gw, s);
	}
	if (t->roles[ROLE_RENDEZVOUS] >= 0)
		add_node_addrs(lab, t->roles[ROLE_RENDEZVOUS], in.relay, &in.nrelay);
	attest_path(&in, &run->attestation);
}

/* Combine the two peers' reports into the run's outcome. */
static void judge_peers(struct prog *progs, const struct engine_ops *e, int status[2],
			bool hung, struct cell_run *run)
{
	struct engine_peer_result r[2];
	const char *who[2] = { "A", "B" };
	char note[200];

	for (int i = 0; i < 2; i++) {
		e->peer_result(progs[1 + i].text, &r[i]);
		if (WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 127) {
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
			if (hung)
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
	snprintf(run->technique_used, sizeof(run->technique_used), "%s", r[0].technique);
	run->attempts = r[0].attempts + r[1].attempts;
	run->time_to_connect_ms = -1;
	if (run->outcome == CELL_DIRECT || run->outcome == CELL_RELAYED)
		run->time_to_connect_ms = r[0].time_to_connect_ms > r[1].time_to_connect_ms
						  ? r[0].time_to_connect_ms : r[1].time_to_connect_ms;
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
	} else {
		snprintf(run->reason, sizeof(run->reason), "A %s -> %s (%s), B %s -> %s",
			 r[0].local, r[0].peer, r[0].technique, r[1].local, r[1].peer);
	}
	if (note[0]) {
		size_t n = strlen(run->reason);
		snprintf(run->reason + n, sizeof(run->reason) - n, "; %s", note);
	}
}

int cell_run_once(const struct runner_config *cfg, const struct cell_spec *spec, int run_index,
		  struct cell_run *run)
{
	const struct topo *t = cfg->topo;
	struct prog progs[3] = { { "rendezvous", -1, -1, -1 }, { "peer-a", -1, -1, -1 },
				 { "peer-b", -1, -1, -1 } };
	struct lab_options lo = { 0 };
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct engine_cell ec = { .spec = spec, .binary = cfg->engine_binary,
				  .port = cfg->rendezvous_port };
	struct engine_argv *argv = calloc(1, sizeof(*argv));
	struct lab *lab = NULL;
	struct ct_mappings *flows;
	char dir[PATH_MAX], name[200];
	int status[2] = { 0, 0 }, ret = 0, role_node[2];
	double t0 = now_ms(), deadline;
	bool hung = false;

	memset(run, 0, sizeof(*run));
	run->time_to_connect_ms = -1;
	run->engine_said = CELL_ERROR;
	cell_dir_name(spec->id, name, sizeof(name));
	snprintf(run->log_dir, sizeof(run->log_dir), "cells/%s/run-%d", name, run_index + 1);
	snprintf(dir, sizeof(dir), "%s/%s", cfg->out_dir, run->log_dir);
	if (!dl || !argv) {
		set_error(run, "%s", "out of memory");
		goto out;
	}
	if (paths_mkdir_p(dir) < 0) {
		set_error(run, "cannot create the log directory: %s", strerror(errno));
		goto out;
	}

	lo.override_node[lo.noverrides] = t->nodes[t->roles[ROLE_NAT_A]].name;
	lo.override_profile[lo.noverrides++] = spec->profile_a;
	if (spec->profile_b[0] && t->roles[ROLE_NAT_B] >= 0) {
		lo.override_node[lo.noverrides] = t->nodes[t->roles[ROLE_NAT_B]].name;
		lo.override_profile[lo.noverrides++] = spec->profile_b;
	}
	if (lab_up(t, &lo, &lab, dl) < 0) {
		char why[200];
		snprintf(why, sizeof(why), "%s:%d: %s", dl->count ? dl->items[0].file : "?",
			 dl->count ? dl->items[0].line : 0, dl->count ? dl->items[0].msg : "?");
		set_error(run, "lab build failed: %s", why);
		goto out;
	}

	ec.nrendezvous = lab_node_ipv4(lab, t->roles[ROLE_RENDEZVOUS], ec.rendezvous, 2);
	ec.timeout_ms = runner_technique_timeout_ms(spec->technique);
	snprintf(ec.session, sizeof(ec.session), "cell%d", run_index + 1);
	role_node[0] = t->roles[ROLE_PEER_A];
	role_node[1] = t->roles[ROLE_PEER_B];
	deadline = now_ms() + ec.timeout_ms + HARNESS_GRACE_MS + cfg->stagger_ms;

	if (cfg->engine->rendezvous_argv(&ec, argv) < 0 ||
	    prog_start(lab, t->roles[ROLE_RENDEZVOUS], &progs[0], argv, dir,
		       ec.timeout_ms + HARNESS_GRACE_MS * 2 + cfg->stagger_ms) < 0) {
		set_error(run, "%s", "cannot start the rendezvous");
		goto out;
	}
	ret = pump(progs, 1, cfg->stop_fd, now_ms() + READY_TIMEOUT_MS, rendezvous_ready,
		   (void *)cfg->engine);
	if (ret == -ECANCELED)
		goto out;
	if (ret < 0 || progs[0].out < 0) {
		set_error(run, "the rendezvous did not become ready (see %s/rendezvous.err)",
			  run->log_dir);
		ret = 0;
		goto out;
	}
	memset(argv, 0, sizeof(*argv));
	if (cfg->engine->peer_argv(&ec, 0, argv) < 0 ||
	    prog_start(lab, role_node[0], &progs[1], argv, dir, ec.timeout_ms + HARNESS_GRACE_MS) < 0) {
		set_error(run, "%s", "cannot start peer A");
		goto out;
	}
	/* A alone until B is due (A cannot finish without B: it waits for the pairing). */
	ret = pump(progs, 2, cfg->stop_fd, now_ms() + cfg->stagger_ms, peers_done, NULL);
	if (ret == -ECANCELED)
		goto out;
	memset(argv, 0, sizeof(*argv));
	if (cfg->engine->peer_argv(&ec, 1, argv) < 0 ||
	    prog_start(lab, role_node[1], &progs[2], argv, dir, ec.timeout_ms + HARNESS_GRACE_MS) < 0) {
		set_error(run, "%s", "cannot start peer B");
		goto out;
	}
	ret = pump(progs, 3, cfg->stop_fd, deadline, peers_done, NULL);
	if (ret == -ECANCELED)
		goto out;
	hung = ret == -ETIMEDOUT;
	ret = 0;
	for (int i = 0; i < 2; i++) {
		if (!progs[1 + i].started)
			continue;
		if (hung)
			lab_stop(lab, progs[1 + i].handle, 100, &status[i]);
		else
			lab_wait(lab, progs[1 + i].handle, HARNESS_GRACE_MS, &status[i]);
	}
	flows = calloc((size_t)t->nnodes, sizeof(*flows));
	if (flows) {
		read_flows(lab, flows);
		write_mappings(t, flows, dir, run);
		attest_run(lab, spec, flows, run);
		for (int n = 0; n < t->nnodes; n++)
			ct_mappings_free(&flows[n]);
		free(flows);
	}
	judge_peers(progs, cfg->engine, status, hung, run);
out:
	if (ret == -ECANCELED) {
		run->outcome = CELL_ERROR;
		snprintf(run->reason, sizeof(run->reason), "interrupted");
	}
	lab_down(lab); /* stops the rendezvous and anything still running */
	for (int i = 0; i < 3; i++)
		prog_release(&progs[i]);
	free(dl);
	free(argv);
	run->wall_ms = now_ms() - t0;
	return ret == -ECANCELED ? -ECANCELED : 0;
}

int cell_overhead_once(const struct runner_config *cfg, struct cell_overhead *oh)
{
	const struct topo *t = cfg->topo;
	struct prog rdv = { "rendezvous", -1, -1, -1 };
	struct engine_cell ec = { .binary = cfg->engine_binary, .port = cfg->rendezvous_port };
	struct engine_argv *argv = calloc(1, sizeof(*argv));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct lab *lab = NULL;
	double t0 = now_ms(), t1, t2;
	int ret = -EIO;

	if (!argv || !dl)
		goto out;
	if (lab_up(t, NULL, &lab, dl) < 0)
		goto out;
	t1 = now_ms();
	ec.nrendezvous = lab_node_ipv4(lab, t->roles[ROLE_RENDEZVOUS], ec.rendezvous, 2);
	if (cfg->engine->rendezvous_argv(&ec, argv) < 0 ||
	    prog_start(lab, t->roles[ROLE_RENDEZVOUS], &rdv, argv, cfg->out_dir, 10000) < 0)
		goto out;
	if (pump(&rdv, 1, -1, now_ms() + READY_TIMEOUT_MS, rendezvous_ready,
		 (void *)cfg->engine) < 0 || rdv.out < 0)
		goto out;
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
	prog_release(&rdv);
	free(argv);
	free(dl);
	return ret;
}
