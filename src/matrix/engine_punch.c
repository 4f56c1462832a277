/* The built-in engine: punch (src/punch/, docs/punch.md). Its peers print one JSON object per
 * line with --json; the last "result" event carries the outcome. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "matrix/engine.h"

static int punch_rendezvous_argv(const struct engine_cell *c, struct engine_argv *a)
{
	int argc = 0, ret = 0;

	ret |= engine_argv_add(a, &argc, "%s", c->binary);
	ret |= engine_argv_add(a, &argc, "rendezvous");
	for (int i = 0; i < c->nrendezvous; i++) {
		ret |= engine_argv_add(a, &argc, "--listen");
		ret |= engine_argv_add(a, &argc, "%s:%d", c->rendezvous[i], c->port);
	}
	ret |= engine_argv_add(a, &argc, "--json");
	return ret ? -E2BIG : 0;
}

static int punch_peer_argv(const struct engine_cell *c, int role, struct engine_argv *a)
{
	int argc = 0, ret = 0;

	ret |= engine_argv_add(a, &argc, "%s", c->binary);
	ret |= engine_argv_add(a, &argc, "peer");
	ret |= engine_argv_add(a, &argc, "--rendezvous");
	ret |= engine_argv_add(a, &argc, "%s:%d", c->rendezvous[0], c->port);
	if (c->nrendezvous > 1) {
		/* the second address lets the engine see whether its NAT maps per destination
		 * and learn a sequential stride */
		ret |= engine_argv_add(a, &argc, "--rendezvous2");
		ret |= engine_argv_add(a, &argc, "%s:%d", c->rendezvous[1], c->port);
	}
	ret |= engine_argv_add(a, &argc, "--session");
	ret |= engine_argv_add(a, &argc, "%s", c->session);
	ret |= engine_argv_add(a, &argc, "--role");
	ret |= engine_argv_add(a, &argc, "%s", role ? "b" : "a");
	ret |= engine_argv_add(a, &argc, "--proto");
	ret |= engine_argv_add(a, &argc, "%s", c->spec->proto);
	ret |= engine_argv_add(a, &argc, "--technique");
	ret |= engine_argv_add(a, &argc, "%s", c->spec->technique);
	ret |= engine_argv_add(a, &argc, "--timeout");
	ret |= engine_argv_add(a, &argc, "%dms", c->timeout_ms);
	ret |= engine_argv_add(a, &argc, "--json");
	return ret ? -E2BIG : 0;
}

/* Calls fn for each line of text that parses as a JSON object with an "event" member. */
static void for_each_event(const char *text, void (*fn)(json_t *ev, const char *name, void *arg),
			   void *arg)
{
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		json_t *ev = json_loadb(p, n, 0, NULL);
		const char *name;

		if (ev && json_is_object(ev) && (name = json_string_value(json_object_get(ev, "event"))))
			fn(ev, name, arg);
		json_decref(ev);
		p = eol ? eol + 1 : NULL;
	}
}

static void ready_event(json_t *ev, const char *name, void *arg)
{
	(void)ev;
	if (strcmp(name, "listening") == 0)
		*(bool *)arg = true;
}

static bool punch_rendezvous_ready(const char *output)
{
	bool ready = false;

	for_each_event(output, ready_event, &ready);
	return ready;
}

static void copy_str(json_t *ev, const char *key, char *dst, size_t len)
{
	const char *s = json_string_value(json_object_get(ev, key));
	snprintf(dst, len, "%s", s ? s : "");
}

static void result_event(json_t *ev, const char *name, void *arg)
{
	struct engine_peer_result *r = arg;
	const char *outcome;
	json_t *ttc;

	if (strcmp(name, "result") != 0)
		return;
	outcome = json_string_value(json_object_get(ev, "outcome"));
	if (!outcome || cell_outcome_parse(outcome, &r->outcome) < 0 ||
	    (r->outcome != CELL_DIRECT && r->outcome != CELL_RELAYED && r->outcome != CELL_FAILED))
		return;
	r->reported = true;
	copy_str(ev, "phase", r->phase, sizeof(r->phase));
	copy_str(ev, "reason", r->reason, sizeof(r->reason));
	copy_str(ev, "technique", r->technique, sizeof(r->technique));
	copy_str(ev, "local", r->local, sizeof(r->local));
	copy_str(ev, "public", r->public_ep, sizeof(r->public_ep));
	copy_str(ev, "peer", r->peer, sizeof(r->peer));
	ttc = json_object_get(ev, "time_to_connect_ms");
	r->time_to_connect_ms = json_is_number(ttc) ? json_number_value(ttc) : -1;
	r->attempts = (int)json_integer_value(json_object_get(ev, "attempts"));
}

static void punch_peer_result(const char *output, struct engine_peer_result *r)
{
	memset(r, 0, sizeof(*r));
	r->time_to_connect_ms = -1;
	for_each_event(output, result_event, r); /* the last result line wins */
}

static int punch_version(const char *binary, char *buf, size_t len)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		execl(binary, binary, "--version", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], buf, len - 1); /* one short line; the child exits right after */
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ENOEXEC;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

const struct engine_ops engine_punch = {
	.name = "punch",
	.program = "punch",
	.rendezvous_argv = punch_rendezvous_argv,
	.peer_argv = punch_peer_argv,
	.rendezvous_ready = punch_rendezvous_ready,
	.peer_result = punch_peer_result,
	.version = punch_version,
};
