/* The checks of an engine file that need all of it (engine_file_internal.h): required keys,
 * the roles' start order, and every variable a template names, by the grammar of
 * docs/engine-format.md "Variables", so that a misspelt variable is a FILE:LINE error when the
 * file is read, not an `error` cell later. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_file_internal.h"
#include "engine/template.h"

/* --- whole-file checks: variables ------------------------------------------------------------ */

struct var_check {
	struct parse *p;
	const struct ef_role *self; /* NULL: a file or the version command */
	int self_index;             /* the start order: servers, peer-a, peer-b */
	int line;
	const char *what;
	bool input;                 /* a stdin: template: it may name late captures */
};

static const char *const plain_vars[] = { "program", "session", "dir", "transport", "technique",
					  "deadline_ms", "port", "role", "side",
					  /* only in cells with NAT events (docs/events.md) */
					  "hold_s", "revalidate",
					  /* only for peer B, in signal-delay= cells (docs/punch.md) */
					  "signal_delay_ms",
					  /* the cell's address family: 4, 6 or dual */
					  "family", NULL };
static const char *const node_vars[] = { "peer-a", "peer-b", "nat-a", "nat-b", "rendezvous",
					 "self", "other", "self-nat", "other-nat", NULL };

static bool in_list(const char *const *l, const char *s, size_t n)
{
	for (; *l; l++)
		if (strlen(*l) == n && strncmp(*l, s, n) == 0)
			return true;
	return false;
}

/* Whether the file's vars declare NODE.NAME. */
static bool var_declared(const struct engine_file *e, const char *node, size_t nlen,
			 const char *name)
{
	for (int i = 0; i < e->nvars; i++) {
		const char *d = strchr(e->vars[i].name, '.');
		if ((size_t)(d - e->vars[i].name) == nlen &&
		    strncmp(e->vars[i].name, node, nlen) == 0 && strcmp(d + 1, name) == 0)
			return true;
	}
	return false;
}

/* An engine's own NODE.NAME (vars:); self/other.NAME when both peers have it, self-nat/
 * other-nat.NAME when both NATs do. */
static bool engine_var(const struct engine_file *e, const char *name, const char *dot)
{
	size_t n = (size_t)(dot - name);

	if ((n == 4 && strncmp(name, "self", 4) == 0) || (n == 5 && strncmp(name, "other", 5) == 0))
		return var_declared(e, "peer-a", 6, dot + 1) && var_declared(e, "peer-b", 6, dot + 1);
	if (strncmp(name, "self-nat", n) == 0 || strncmp(name, "other-nat", n) == 0)
		return var_declared(e, "nat-a", 5, dot + 1) && var_declared(e, "nat-b", 5, dot + 1);
	return var_declared(e, name, n, dot + 1);
}

/* Whether a variable exists, by the grammar of docs/engine-format.md "Variables". */
static const char *var_problem(const struct var_check *c, const char *name)
{
	const struct engine_file *e = c->p->e;
	const char *dot = strchr(name, '.');

	if (!dot)
		return in_list(plain_vars, name, strlen(name)) ? NULL : "unknown variable";
	if (strncmp(name, "capture.", 8) == 0) {
		const char *r = name + 8, *d = strchr(r, '.');
		if (!d)
			return "expected capture.ROLE.NAME";
		for (int i = 0; i < e->nroles; i++) {
			const struct ef_role *ro = &e->roles[i];
			if (strlen(ro->name) != (size_t)(d - r) || strncmp(ro->name, r, (size_t)(d - r)))
				continue;
			for (int j = 0; j < ro->ncaptures; j++)
				if (strcmp(ro->captures[j].name, d + 1) == 0)
					return ro->captures[j].late && !c->input
						       ? "a late capture (late: true) comes after "
							 "its role is ready: only stdin: may name it"
					       : c->self && i >= c->self_index
						       ? "a capture of a role that starts later "
							 "(servers start first, then peer-a, then "
							 "peer-b)"
						       : NULL;
			return "that role captures no such value";
		}
		return "no such role";
	}
	if (strcmp(name, "npm.dir") == 0)
		return e->npm_dir[0] ? NULL : "the file declares no npm: { dir: DIR }";
	if (!in_list(node_vars, name, (size_t)(dot - name)))
		return "unknown node (expected peer-a, peer-b, nat-a, nat-b, rendezvous, self, "
		       "other, self-nat or other-nat)";
	if (strncmp(name, "self", 4) == 0 || strncmp(name, "other", 5) == 0)
		if (!c->self || !c->self->peer)
			return "self and other are for peers' commands";
	if (strcmp(dot, ".public") == 0 || strcmp(dot, ".public6") == 0)
		return strstr(name, "nat") ? NULL : "public is a NAT's address (nat-a.public)";
	/* reach: where a peer is reached at from outside its home (engine/reach.h) */
	if (strcmp(dot, ".reach") == 0 || strcmp(dot, ".reach6") == 0)
		return strstr(name, "peer") || strncmp(name, "self.", 5) == 0 ||
				       strncmp(name, "other.", 6) == 0
			       ? NULL
			       : "reach is a peer's address (peer-a.reach, other.reach)";
	/* NAT64 (engine/reach.h): an IPv6-only peer's prefix and the rendezvous as it reaches
	 * it, only where the topology has a NAT64 on its way (so: in optional groups) */
	if (strcmp(dot, ".nat64") == 0 ||
	    (strncmp(dot, ".rendezvous64.", 14) == 0 && dot[14] >= '0' && dot[14] <= '3' &&
	     !dot[15]))
		return strstr(name, "peer") || strncmp(name, "self.", 5) == 0 ||
				       strncmp(name, "other.", 6) == 0
			       ? NULL
			       : "nat64 and rendezvous64.N are a peer's (self.nat64)";
	/* the addresses by family (docs/engine-format.md "Address families"): addr and host in
	 * the cell's family, addr6 and host6 the IPv6 ones of dual cells */
	for (int k = 0; k < 4; k++) {
		static const char *const kinds[] = { ".addr", ".host", ".addr6", ".host6" };
		size_t kl = strlen(kinds[k]);

		if (strncmp(dot, kinds[k], kl) == 0 &&
		    (!dot[kl] || (dot[kl] == '.' && dot[kl + 1] >= '0' && dot[kl + 1] <= '3' &&
				  !dot[kl + 2])))
			return NULL;
	}
	if (engine_var(e, name, dot))
		return NULL;
	return "expected NODE.addr, NODE.addr.N (N 0 to 3), NODE.host, NODE.host.N, NAT.public, "
	       "PEER.reach, PEER.nat64, PEER.rendezvous64.N, in dual cells also NODE.addr6, "
	       ".addr6.N, .host6, .host6.N, NAT.public6 and PEER.reach6, or a "
	       "NODE.NAME of vars: (self and other: both peers')";
}

static int var_check_one(const char *name, void *arg)
{
	struct var_check *c = arg;
	const char *why = var_problem(c, name);

	if (why)
		diag_add(c->p->y.dl, c->p->file, c->line, "%s: {{%s}}: %s", c->what, name, why);
	return 0;
}

static void template_check(struct var_check *c, const char *text, int line)
{
	char why[160];

	c->line = line;
	if (tpl_for_each_var(text, var_check_one, c, why, sizeof(why)) < 0)
		diag_add(c->p->y.dl, c->p->file, line, "%s: %s", c->what, why);
}

static int only_program(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "program") != 0;
}

/* Servers first in file order, then peer-a, then peer-b: the order the runner starts them. */
static void roles_order(struct engine_file *e)
{
	struct ef_role tmp[EF_MAX_ROLES];
	int n = 0;

	for (int pass = 0; pass < 3; pass++)
		for (int i = 0; i < e->nroles; i++) {
			const char *nm = e->roles[i].name;
			if ((pass == 0 && !e->roles[i].peer) ||
			    (pass == 1 && strcmp(nm, "peer-a") == 0) ||
			    (pass == 2 && strcmp(nm, "peer-b") == 0))
				tmp[n++] = e->roles[i];
		}
	memcpy(e->roles, tmp, sizeof(tmp[0]) * (size_t)n);
}

void engine_file_check(struct parse *p, yaml_node_t *root)
{
	struct engine_file *e = p->e;
	struct var_check c = { .p = p };

	if (!e->name[0])
		ERR(p, root, "no engine: NAME, expected the engine's name");
	if (!e->program[0])
		ERR(p, root, "no program: expected the program's name or path (program: nc)");
	if (!e->ntechniques)
		ERR(p, root, "no techniques: expected at least one (techniques: { udp: { "
		    "transports: [udp], deadline: 2s } })");
	if (!p->have_outcome)
		ERR(p, root, "no outcome: expected how a peer's output says what happened");
	if (!p->have_roles)
		ERR(p, root, "no roles: expected at least peer-a and peer-b (or peers)");
	else if (!engine_file_role(e, "peer-a") || !engine_file_role(e, "peer-b"))
		ERR(p, p->roles_key, "roles: peer-a and peer-b are both needed (or peers for both)");
	roles_order(e);
	for (int i = 0; i < e->nroles; i++) {
		const struct ef_role *r = &e->roles[i];
		char what[64];

		snprintf(what, sizeof(what), "role %s", r->name);
		c = (struct var_check){ .p = p, .self = r, .self_index = i, .what = what };
		if (!r->nargs)
			diag_add(p->y.dl, p->file, r->line, "%s: no command, expected command: "
				 "[program, args...]", what);
		for (int j = 0; j < r->nargs; j++)
			template_check(&c, r->args[j].text, r->args[j].line);
		if (r->ready.kind == EF_MATCH_LINE)
			template_check(&c, r->ready.pattern, r->ready.line);
		if (r->ready.kind == EF_MATCH_PORT)
			template_check(&c, r->ready.port, r->ready.line);
		if (r->input.text[0]) {
			/* its input waits for its captures: any role's, also a later one's */
			struct var_check in = c;
			char iwhat[80];
			snprintf(iwhat, sizeof(iwhat), "role %s: stdin", r->name);
			in.what = iwhat;
			in.self_index = e->nroles;
			in.input = true;
			template_check(&in, r->input.text, r->input.line);
		}
		if (r->peer && r->node != (strcmp(r->name, "peer-a") == 0 ? ROLE_PEER_A : ROLE_PEER_B))
			diag_add(p->y.dl, p->file, r->line, "%s: runs on its own peer's node, expected "
				 "no node: key", what);
	}
	c = (struct var_check){ .p = p, .self = NULL, .self_index = e->nroles, .what = "file" };
	for (int i = 0; i < e->nfiles; i++)
		template_check(&c, e->files[i].text, e->files[i].line);
	c.what = "vars";
	for (int i = 0; i < e->nvars; i++)
		template_check(&c, e->vars[i].text, e->vars[i].line);
	for (int i = 0; i < e->nsetup; i++) {
		char what[32];
		snprintf(what, sizeof(what), "setup %d", i + 1);
		c.what = what;
		for (int j = 0; j < e->setup[i].nargs; j++)
			template_check(&c, e->setup[i].args[j].text, e->setup[i].args[j].line);
	}
	if (e->outcome.kind == EF_OUTCOME_PROBE) {
		const struct ef_probe *pr = &e->outcome.probe;
		const struct ef_role *who = engine_file_role(e, pr->node == ROLE_PEER_B ? "peer-b"
										       : "peer-a");
		c = (struct var_check){ .p = p, .self = who, .self_index = e->nroles,
					.what = "outcome: probe" };
		for (int j = 0; j < pr->nargs; j++)
			template_check(&c, pr->args[j].text, pr->args[j].line);
		if (pr->relayed.kind == EF_MATCH_LINE)
			template_check(&c, pr->relayed.pattern, pr->relayed.line);
		if (pr->direct.kind == EF_MATCH_LINE)
			template_check(&c, pr->direct.pattern, pr->direct.line);
	}
	c = (struct var_check){ .p = p, .self = NULL, .self_index = e->nroles };
	c.what = "version";
	for (int i = 0; i < e->nversion; i++) {
		char why[160];
		int line = e->version[i].line;
		int r = tpl_for_each_var(e->version[i].text, only_program, NULL, why, sizeof(why));
		if (r < 0)
			diag_add(p->y.dl, p->file, line, "version: %s", why);
		else if (r)
			diag_add(p->y.dl, p->file, line, "version: {{program}} is the only variable "
				 "known before a cell runs");
	}
	/* a peer's pattern outcome may name its own side: checked as a peer's template */
	if (e->outcome.kind == EF_OUTCOME_LINE) {
		const struct ef_role *a = engine_file_role(e, "peer-a");
		c = (struct var_check){ .p = p, .self = a, .self_index = e->nroles,
					.what = "outcome" };
		if (a)
			template_check(&c, e->outcome.match.pattern, e->outcome.line);
	}
}

