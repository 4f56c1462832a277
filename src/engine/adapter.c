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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "engine/adapter.h"
#include "engine/reach.h"
#include "lab/lab.h"
#include "nft/profile.h"

#define VERSION_TIMEOUT_MS 3000

/* --- variables -------------------------------------------------------------------------------- */

/* A node's addresses of one family as PREFIX.addrSUFFIX, .addrSUFFIX.N (N from 0, at most 4,
 * in link order), .hostSUFFIX and .hostSUFFIX.N (bracketed when IPv6: what goes before
 * ":port"), and for a NAT node PREFIX.publicSUFFIX: its first address of that family on the
 * link toward its gateway, the source its translated packets carry (for an IPv6 firewall, which
 * translates nothing, still its WAN address: an engine wanting the host's own address uses
 * NODE.addr of the host). */
static int node_vars_family(const struct topo *t, int node, const char *prefix, int family,
			    const char *suffix, struct tpl_vars *v)
{
	bool six = family == AF_INET6;
	int n = 0, ret = 0;

	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], node);
		if (e < 0)
			continue;
		for (int a = 0; a < t->links[li].ends[e].naddrs && n < 4; a++) {
			char buf[64], name[TPL_NAME_MAX];
			if (t->links[li].ends[e].addrs[a].family != family)
				continue;
			net_addr_format(&t->links[li].ends[e].addrs[a], false, buf, sizeof(buf));
			if (n == 0) {
				snprintf(name, sizeof(name), "%s.addr%s", prefix, suffix);
				ret |= tpl_set(v, name, "%s", buf);
				snprintf(name, sizeof(name), "%s.host%s", prefix, suffix);
				ret |= tpl_set(v, name, six ? "[%s]" : "%s", buf);
			}
			snprintf(name, sizeof(name), "%s.host%s.%d", prefix, suffix, n);
			ret |= tpl_set(v, name, six ? "[%s]" : "%s", buf);
			snprintf(name, sizeof(name), "%s.addr%s.%d", prefix, suffix, n++);
			ret |= tpl_set(v, name, "%s", buf);
		}
	}
	if (t->nodes[node].kind == NODE_NAT && t->nodes[node].wan_link >= 0) {
		const struct topo_end *we = &t->links[t->nodes[node].wan_link]
						     .ends[t->nodes[node].wan_end];
		const struct net_addr *a = topo_end_addr(we, family);
		char buf[64], name[TPL_NAME_MAX];
		if (a) {
			net_addr_format(a, false, buf, sizeof(buf));
			snprintf(name, sizeof(name), "%s.public%s", prefix, suffix);
			ret |= tpl_set(v, name, "%s", buf);
		}
	}
	return ret;
}

/* The node's variables in the cell's family: family 6 gives its IPv6 addresses the plain
 * names; dual gives the IPv4 ones the plain names and the IPv6 ones the "6" names. */
static int node_vars(const struct topo *t, int node, const char *prefix, const char *family,
		     struct tpl_vars *v)
{
	bool six = family && strcmp(family, "6") == 0;
	bool dual = family && strcmp(family, "dual") == 0;
	int ret;

	if (node < 0)
		return 0;
	ret = node_vars_family(t, node, prefix, six ? AF_INET6 : AF_INET, "", v);
	if (dual)
		ret |= node_vars_family(t, node, prefix, AF_INET6, "6", v);
	return ret;
}

/* What the lab's NAT nodes do to addresses of family: the translation of the profile of that
 * family each loads (its own or its IPv6 companion); a node with none of that family passes
 * the family's addresses on untouched. */
static void lab_translations(const struct lab *lab, int family, struct reach_translations *x)
{
	const struct topo *t = lab_topo(lab);
	struct diag_list *scratch = calloc(1, sizeof(*scratch));
	enum profile_family want = family == AF_INET6 ? PROFILE_FAMILY_IPV6 : PROFILE_FAMILY_IPV4;

	for (int n = 0; n < t->nnodes; n++) {
		const char *files[2] = { lab_node_profile(lab, n), lab_node_companion(lab, n) };

		x->tr[n] = PROFILE_TRANSLATION_NONE;
		for (int i = 0; i < 2 && scratch && t->nodes[n].kind == NODE_NAT; i++) {
			struct profile_header h;

			/* the lab loaded these files: a header that does not parse cannot be here */
			scratch->count = 0;
			if (files[i] && *files[i] &&
			    profile_header_parse_file(&h, files[i], scratch) == 0 && h.family == want) {
				x->tr[n] = h.translation;
				break;
			}
		}
	}
	free(scratch);
}

/* PREFIX.reachSUFFIX for both peers: the address each is reached at from outside its home in
 * the family (engine/reach.h). A peer without one (no address of the family) gets none: an
 * engine file using it fails that cell naming the variable. */
static int reach_vars(const struct engine_cell *c, const struct topo *t, int family,
		      const char *suffix, struct tpl_vars *v)
{
	struct reach_translations x;
	int ret = 0;

	lab_translations(c->lab, family, &x);
	for (int r = ROLE_PEER_A; r <= ROLE_PEER_B; r++) {
		struct net_addr a;
		char buf[64], name[TPL_NAME_MAX];

		if (engine_reach(t, t->roles[r], family, &x, &a) < 0)
			continue;
		net_addr_format(&a, false, buf, sizeof(buf));
		snprintf(name, sizeof(name), "%s.reach%s", topo_role_name((enum topo_role)r), suffix);
		ret |= tpl_set(v, name, "%s", buf);
	}
	return ret;
}

/* PEER.nat64 and PEER.rendezvous64.N for an IPv6-only peer behind a NAT64 (engine/reach.h):
 * the prefix ("P/LEN") and the rendezvous' IPv4 addresses as that peer reaches them, embedded
 * in the prefix and bracketed (what goes before ":port"). Other peers get none, so an engine
 * file's optional group using them drops out on every other topology. */
static int nat64_vars(const struct topo *t, struct tpl_vars *v)
{
	int rdv = t->roles[ROLE_RENDEZVOUS], ret = 0;

	for (int r = ROLE_PEER_A; r <= ROLE_PEER_B; r++) {
		const char *role = topo_role_name((enum topo_role)r);
		struct net_addr p;
		char buf[64], name[TPL_NAME_MAX];
		int n = 0;

		if (engine_nat64_prefix(t, t->roles[r], &p) < 0)
			continue;
		net_addr_format(&p, true, buf, sizeof(buf));
		snprintf(name, sizeof(name), "%s.nat64", role);
		ret |= tpl_set(v, name, "%s", buf);
		for (int li = 0; rdv >= 0 && li < t->nlinks; li++) {
			int e = topo_link_end_of(&t->links[li], rdv);

			for (int a = 0; e >= 0 && a < t->links[li].ends[e].naddrs && n < 4; a++) {
				struct net_addr x;

				if (t->links[li].ends[e].addrs[a].family != AF_INET)
					continue;
				engine_nat64_embed(&p, &t->links[li].ends[e].addrs[a], &x);
				net_addr_format(&x, false, buf, sizeof(buf));
				snprintf(name, sizeof(name), "%s.rendezvous64.%d", role, n++);
				ret |= tpl_set(v, name, "[%s]", buf);
			}
		}
	}
	return ret;
}

int engine_vars_cell(const struct engine_cell *c, const struct topo *t, struct tpl_vars *v)
{
	int ret = 0;

	memset(v, 0, sizeof(*v));
	ret |= tpl_set(v, "program", "%s", c->program);
	ret |= tpl_set(v, "session", "%s", c->session);
	ret |= tpl_set(v, "dir", "%s", c->dir);
	ret |= tpl_set(v, "transport", "%s", c->transport);
	ret |= tpl_set(v, "technique", "%s", c->technique);
	ret |= tpl_set(v, "deadline_ms", "%d", c->deadline_ms);
	ret |= tpl_set(v, "port", "%d", c->port);
	ret |= tpl_set(v, "family", "%s", c->family ? c->family : "4");
	for (int r = 0; r < ROLE_COUNT; r++)
		ret |= node_vars(t, t->roles[r], topo_role_name((enum topo_role)r), c->family, v);
	if (c->lab) {
		bool six = c->family && strcmp(c->family, "6") == 0;

		ret |= reach_vars(c, t, six ? AF_INET6 : AF_INET, "", v);
		if (c->family && strcmp(c->family, "dual") == 0)
			ret |= reach_vars(c, t, AF_INET6, "6", v);
	}
	/* the rendezvous is dialled over IPv4 only in family 4 */
	if (!c->family || strcmp(c->family, "4") == 0)
		ret |= nat64_vars(t, v);
	return ret ? -E2BIG : 0;
}

int engine_vars_engine(const struct engine_file *e, struct tpl_vars *v, char *why, size_t wlen)
{
	char npm[PATH_MAX];

	/* npm.dir: where the engine's npm packages are (engine_file_npm.c) */
	if (engine_npm_dir(e, npm, sizeof(npm)) == 0 && tpl_set(v, "npm.dir", "%s", npm) < 0) {
		snprintf(why, wlen, "npm.dir: does not fit");
		return -E2BIG;
	}
	for (int i = 0; i < e->nvars; i++) {
		char val[EF_TEXT_MAX], missing[TPL_NAME_MAX] = "";
		int ret = tpl_render(e->vars[i].text, v, val, sizeof(val), missing, sizeof(missing));

		if (ret == 0)
			ret = tpl_set(v, e->vars[i].name, "%s", val);
		if (ret < 0) {
			snprintf(why, wlen, "vars: %s: %s%s%s", e->vars[i].name,
				 ret == -ENOENT ? "{{" : "does not fit", missing,
				 ret == -ENOENT ? "}} has no value in this cell" : "");
			return ret;
		}
	}
	return 0;
}

/* Copy every PREFIX.* variable to ALIAS.*. */
static int alias(struct tpl_vars *v, const char *prefix, const char *as)
{
	size_t n = strlen(prefix);
	int ret = 0, count = v->n;

	for (int i = 0; i < count; i++)
		if (strncmp(v->name[i], prefix, n) == 0 && v->name[i][n] == '.') {
			char name[TPL_NAME_MAX];
			snprintf(name, sizeof(name), "%s%s", as, v->name[i] + n);
			ret |= tpl_set(v, name, "%s", v->value[i]);
		}
	return ret;
}

int engine_vars_role(const struct ef_role *r, struct tpl_vars *v)
{
	int ret = tpl_set(v, "role", "%s", r->name);

	if (r->peer) {
		bool a = r->name[5] == 'a';
		ret |= tpl_set(v, "side", "%s", a ? "a" : "b");
		ret |= alias(v, a ? "peer-a" : "peer-b", "self");
		ret |= alias(v, a ? "peer-b" : "peer-a", "other");
		ret |= alias(v, a ? "nat-a" : "nat-b", "self-nat");
		ret |= alias(v, a ? "nat-b" : "nat-a", "other-nat");
	}
	return ret ? -E2BIG : 0;
}

/* --- command lines and files ------------------------------------------------------------------ */

int engine_argv_render(const struct ef_arg *args, int nargs, const struct tpl_vars *v,
		       struct engine_argv *a, char *why, size_t wlen)
{
	size_t used = 0;
	int argc = 0;

	for (int i = 0; i < nargs;) {
		/* an optional group renders as a whole or not at all */
		int end = i + 1, start_argc = argc;
		size_t start_used = used;
		bool skip = false;

		if (args[i].group)
			while (end < nargs && args[end].group == args[i].group)
				end++;
		for (int j = i; j < end && !skip; j++) {
			char missing[TPL_NAME_MAX] = "";
			int ret = tpl_render(args[j].text, v, a->buf + used, sizeof(a->buf) - used,
					     missing, sizeof(missing));
			if (ret == -ENOENT && args[j].group) {
				skip = true;
				break;
			}
			if (ret < 0 || argc >= ENGINE_MAX_ARGS) {
				if (ret == -ENOENT)
					snprintf(why, wlen, "{{%s}} has no value in this cell",
						 missing);
				else
					snprintf(why, wlen, "argument %d \"%s\": %s", j + 1,
						 args[j].text, ret == -EINVAL ? "bad template"
									      : "too long");
				return ret < 0 ? ret : -E2BIG;
			}
			a->argv[argc++] = a->buf + used;
			used += strlen(a->buf + used) + 1;
		}
		if (skip) {
			argc = start_argc;
			used = start_used;
		}
		i = end;
	}
	a->argv[argc] = NULL;
	return 0;
}

int engine_files_write(const struct engine_file *e, const struct tpl_vars *v, const char *dir,
		       char *why, size_t wlen)
{
	char *text = malloc(8192);
	int ret = 0;

	if (!text)
		return -ENOMEM;
	for (int i = 0; i < e->nfiles && ret == 0; i++) {
		char path[PATH_MAX], missing[TPL_NAME_MAX] = "";
		FILE *f;

		ret = tpl_render(e->files[i].text, v, text, 8192, missing, sizeof(missing));
		if (ret < 0) {
			snprintf(why, wlen, "file %s: %s%s%s", e->files[i].name,
				 ret == -ENOENT ? "{{" : "cannot render", missing,
				 ret == -ENOENT ? "}} has no value in this cell" : "");
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->files[i].name);
		f = fopen(path, "w");
		if (!f || fputs(text, f) < 0) {
			ret = -errno;
			snprintf(why, wlen, "write %s: %s", path, strerror(errno));
		}
		if (f && fclose(f) != 0 && ret == 0) {
			ret = -errno;
			snprintf(why, wlen, "write %s: %s", path, strerror(errno));
		}
	}
	free(text);
	return ret;
}

/* --- readiness -------------------------------------------------------------------------------- */

/* Whether /proc/PID/net/{udp,udp6,tcp,tcp6} (the namespace of that process) lists the port as
 * bound (UDP) or listening (TCP). The kernel tells nobody about a bind in another namespace, so
 * the runner looks now and then while it waits (cell_runner.c). */
static bool port_bound(pid_t pid, bool tcp, int port)
{
	static const char *const files[2][2] = { { "udp", "udp6" }, { "tcp", "tcp6" } };

	for (int i = 0; i < 2; i++) {
		char path[64], line[512];
		FILE *f;
		bool hit = false;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, files[tcp][i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!hit && fgets(line, sizeof(line), f)) {
			unsigned lport, st;
			char local[64];
			/* "  0: 0100007F:0FA0 00000000:0000 0A ..." */
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x", local, &lport, &st) != 3)
				continue;
			hit = (int)lport == port && (!tcp || st == 0x0A);
		}
		fclose(f);
		if (hit)
			return true;
	}
	return false;
}

static bool condition_holds(const struct ef_role *r, const char *output, pid_t pid,
			    const struct tpl_vars *v)
{
	char rendered[EF_TEXT_MAX];

	switch (r->ready.kind) {
	case EF_MATCH_NONE:
		return true;
	case EF_MATCH_PORT:
		if (tpl_render(r->ready.port, v, rendered, sizeof(rendered), NULL, 0) < 0)
			return false;
		return pid > 0 && port_bound(pid, r->ready.tcp, atoi(rendered));
	case EF_MATCH_LINE:
		if (tpl_render(r->ready.pattern, v, rendered, sizeof(rendered), NULL, 0) < 0)
			return false;
		return tpl_output_matches(&r->ready, rendered, output, NULL, 0);
	case EF_MATCH_JSON:
		return tpl_output_matches(&r->ready, NULL, output, NULL, 0);
	}
	return false;
}

bool engine_role_capture(const struct ef_role *r, const char *output, struct tpl_vars *v)
{
	bool all = true;

	for (int i = 0; i < r->ncaptures; i++) {
		char name[TPL_NAME_MAX], val[EF_TEXT_MAX];
		snprintf(name, sizeof(name), "capture.%s.%s", r->name, r->captures[i].name);
		if (tpl_get(v, name))
			continue;
		if (tpl_capture(&r->captures[i], output, val, sizeof(val)) == 0)
			tpl_set(v, name, "%s", val);
		else if (!r->captures[i].late)
			all = false;
	}
	return all;
}

bool engine_role_ready(const struct ef_role *r, const char *output, pid_t pid,
		       struct tpl_vars *v)
{
	return engine_role_capture(r, output, v) && condition_holds(r, output, pid, v);
}

void engine_role_waiting_for(const struct ef_role *r, const char *output, pid_t pid,
			     const struct tpl_vars *v, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (!condition_holds(r, output, pid, v)) {
		if (r->ready.kind == EF_MATCH_PORT)
			n += (size_t)snprintf(buf, len, "%s port %s bound", r->ready.tcp ? "tcp" : "udp",
					      r->ready.port);
		else if (r->ready.kind == EF_MATCH_LINE)
			n += (size_t)snprintf(buf, len, "a line matching \"%s\"", r->ready.pattern);
		else
			n += (size_t)snprintf(buf, len, "a JSON line with \"%s\": \"%s\"",
					      r->ready.key, r->ready.value);
	}
	for (int i = 0; i < r->ncaptures && n < len; i++) {
		char name[TPL_NAME_MAX];
		snprintf(name, sizeof(name), "capture.%s.%s", r->name, r->captures[i].name);
		if (!tpl_get(v, name) && !r->captures[i].late)
			n += (size_t)snprintf(buf + n, len - n, "%scapture %s", n ? ", " : "",
					      r->captures[i].name);
	}
}

/* --- outcomes --------------------------------------------------------------------------------- */

bool engine_peer_decided(const struct engine_file *e, const char *pattern, const char *output)
{
	return e->outcome.kind == EF_OUTCOME_LINE &&
	       tpl_output_matches(&e->outcome.match, pattern, output, NULL, 0);
}

static void copy_str(json_t *ev, const char *key, char *dst, size_t len)
{
	const char *s = json_string_value(json_object_get(ev, key));
	snprintf(dst, len, "%s", s ? s : "");
}

/* The result line's members (names as punch prints them; docs/engine-format.md "Outcome"). */
static void json_result(const char *line, struct engine_peer_result *r)
{
	json_t *ev = json_loads(line, 0, NULL), *ttc, *ttfb, *ttd;
	const char *outcome = ev ? json_string_value(json_object_get(ev, "outcome")) : NULL;

	if (!outcome || cell_outcome_parse(outcome, &r->outcome) < 0 ||
	    (r->outcome != CELL_DIRECT && r->outcome != CELL_RELAYED && r->outcome != CELL_FAILED))
		goto out;
	r->reported = true;
	copy_str(ev, "phase", r->phase, sizeof(r->phase));
	copy_str(ev, "reason", r->reason, sizeof(r->reason));
	copy_str(ev, "technique", r->technique, sizeof(r->technique));
	copy_str(ev, "local", r->local, sizeof(r->local));
	copy_str(ev, "public", r->public_ep, sizeof(r->public_ep));
	copy_str(ev, "peer", r->peer, sizeof(r->peer));
	copy_str(ev, "proto", r->proto, sizeof(r->proto));
	ttc = json_object_get(ev, "time_to_connect_ms");
	r->time_to_connect_ms = json_is_number(ttc) ? json_number_value(ttc) : -1;
	/* punch's auto races the relay alongside its direct techniques: the first verified path
	 * and the direct one are two numbers (docs/punch.md "Time to connect") */
	ttfb = json_object_get(ev, "ttfb_ms");
	r->ttfb_ms = json_is_number(ttfb) ? json_number_value(ttfb) : -1;
	ttd = json_object_get(ev, "time_to_direct_ms");
	r->time_to_direct_ms = json_is_number(ttd) ? json_number_value(ttd) : -1;
	r->attempts = (int)json_integer_value(json_object_get(ev, "attempts"));
	r->family = (int)json_integer_value(json_object_get(ev, "family"));
	if (r->family != 4 && r->family != 6)
		r->family = 0;
out:
	json_decref(ev);
}

void engine_peer_result(const struct engine_file *e, const char *pattern, const char *output,
			bool exited, int status, struct engine_peer_result *r)
{
	const struct ef_outcome *o = &e->outcome;

	memset(r, 0, sizeof(*r));
	r->time_to_connect_ms = r->ttfb_ms = r->time_to_direct_ms = -1;
	if (o->kind == EF_OUTCOME_JSON) {
		char *line = malloc(16384);
		if (line && tpl_output_matches(&o->match, NULL, output, line, 16384))
			json_result(line, r); /* the last result line wins */
		free(line);
	} else if (o->kind == EF_OUTCOME_LINE) {
		if (tpl_output_matches(&o->match, pattern, output, NULL, 0)) {
			r->reported = true;
			r->outcome = CELL_DIRECT;
			snprintf(r->reason, sizeof(r->reason), "a line matched \"%s\"", pattern);
		} else if (!exited) {
			/* a program that never exits said nothing by the deadline: the engine's
			 * word is "no path" (and the runner tells it apart from a program that
			 * could not start, by exit code 127) */
			r->reported = true;
			r->outcome = CELL_FAILED;
			snprintf(r->phase, sizeof(r->phase), "probing");
			snprintf(r->reason, sizeof(r->reason), "no line matching \"%s\" before the "
				 "deadline", pattern);
		}
	}
	if (!r->reported && exited && WIFEXITED(status) &&
	    o->exit_map[WEXITSTATUS(status)] != CELL_ERROR) {
		r->reported = true;
		r->outcome = o->exit_map[WEXITSTATUS(status)];
		snprintf(r->reason, sizeof(r->reason), "exit code %d", WEXITSTATUS(status));
		if (r->outcome == CELL_FAILED)
			snprintf(r->phase, sizeof(r->phase), "probing");
	}
}

/* --- the program ---------------------------------------------------------------------------- */

int engine_program_find(const struct engine_file *e, const char *binary, char *buf, size_t len)
{
	const char *name = binary ? binary : e->program;
	char exe[PATH_MAX];
	const char *path;
	ssize_t n;

	if (binary || strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return access(buf, X_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(buf, len, "%s/%s", exe, name);
		if (access(buf, X_OK) == 0)
			return 0;
		snprintf(buf, len, "%s/src/%s/%s", exe, name, name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, len, "%s/src/%s/%s", PUNCHLAB_BUILD_DIR, name, name);
	if (access(buf, X_OK) == 0)
		return 0;
	/* a Debian program (nc): on PATH, or the usual directories when PATH is bare (sudo) */
	path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		snprintf(buf, len, "%.*s/%s", (int)dl, p, name);
		if (dl && access(buf, X_OK) == 0)
			return 0;
		p = colon ? colon + 1 : NULL;
	}
	snprintf(buf, len, "%s", name);
	return -ENOENT;
}

int engine_version(const struct engine_file *e, const char *program, char *buf, size_t len)
{
	struct tpl_vars *v = calloc(1, sizeof(*v));
	struct engine_argv *a = calloc(1, sizeof(*a));
	char why[128], out[512];
	int fds[2] = { -1, -1 }, status, ret = 0;
	size_t got = 0;
	pid_t pid = -1;

	snprintf(buf, len, "%s", e->name);
	if (!v || !a) {
		ret = -ENOMEM;
		goto out;
	}
	if (!e->nversion)
		goto out;
	tpl_set(v, "program", "%s", program);
	if ((ret = engine_argv_render(e->version, e->nversion, v, a, why, sizeof(why))) < 0 ||
	    pipe2(fds, O_CLOEXEC) < 0) {
		ret = ret < 0 ? ret : -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(fds[1], 1);
		dup2(null, 2); /* nc -h prints its usage to stderr */
		dup2(null, 0);
		execvp(a->argv[0], a->argv);
		_exit(127);
	}
	close(fds[1]);
	fds[1] = -1;
	/* bounded: a version command that hangs costs VERSION_TIMEOUT_MS, then it is killed */
	for (int guard = 0; guard < 64 && got < sizeof(out) - 1; guard++) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t n;
		if (poll(&pfd, 1, VERSION_TIMEOUT_MS) <= 0)
			break;
		n = read(fds[0], out + got, sizeof(out) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	out[strcspn(out, "\n")] = '\0';
	if (!out[0]) {
		ret = -ENOEXEC;
		goto out;
	}
	snprintf(buf, len, "%s", out);
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(v);
	free(a);
	return ret;
}
