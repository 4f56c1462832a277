/* Engine files: YAML (libyaml's document API, for line numbers) into struct engine_file, then
 * the checks that need the whole file (every variable a template names exists, a capture is
 * used only by a role started after the one that makes it). Format: docs/engine-format.md.
 *
 * Errors are collected, not returned at the first one, so a user fixes a file in one pass. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/paths.h"
#include "base/yaml_doc.h"
#include "engine/engine_file.h"
#include "engine/engine_file_internal.h"


static const struct {
	const char *word;
	unsigned bit;
} capabilities[] = {
	{ "rendezvous", EF_CAP_RENDEZVOUS },
	{ "peer-reflexive", EF_CAP_PEER_REFLEXIVE },
	{ "simultaneous-open", EF_CAP_SIMULTANEOUS_OPEN },
	{ "port-prediction", EF_CAP_PORT_PREDICTION },
	{ "birthday", EF_CAP_BIRTHDAY },
	{ "relay", EF_CAP_RELAY },
	{ "ignores-icmp-errors", EF_CAP_IGNORES_ICMP },
	{ "relay-fallback", EF_CAP_RELAY_FALLBACK },
	{ "single-probe", EF_CAP_SINGLE_PROBE },
	{ "fresh-port-dials", EF_CAP_FRESH_PORT_DIALS },
	{ "port-mapping", EF_CAP_PORT_MAPPING },
	{ "relay-tcp", EF_CAP_RELAY_TCP },
	{ "ipv6", EF_CAP_IPV6 },
};
#define NCAPS (sizeof(capabilities) / sizeof(capabilities[0]))

unsigned engine_capability_parse(const char *word)
{
	for (size_t i = 0; i < NCAPS; i++)
		if (strcmp(capabilities[i].word, word) == 0)
			return capabilities[i].bit;
	return 0;
}

const char *engine_capability_name(unsigned bit)
{
	for (size_t i = 0; i < NCAPS; i++)
		if (capabilities[i].bit == bit)
			return capabilities[i].word;
	return "?";
}

/* A scalar value, or an error naming what was expected; NULL then. */
static const char *want_scalar(struct parse *p, yaml_node_t *v, const char *what,
			       const char *expected)
{
	const char *s = yaml_scalar(v);

	if (!s)
		ERR(p, v, "%s: expected %s", what, expected);
	return s;
}

static void copy_text(struct parse *p, yaml_node_t *v, const char *what, char *dst, size_t len)
{
	const char *s = want_scalar(p, v, what, "a string");

	if (s && strlen(s) >= len)
		ERR(p, v, "%s: longer than %zu characters", what, len - 1);
	else if (s)
		snprintf(dst, len, "%s", s);
}

/* "2000ms" or "2s" (1 ms .. 10 min): a unit is required, so nobody wonders which one. */
static int duration_parse(struct parse *p, yaml_node_t *v, const char *what)
{
	const char *s = yaml_scalar(v);
	char *end;
	long n;

	if (!s)
		goto bad;
	n = strtol(s, &end, 10);
	if (end == s)
		goto bad;
	if (strcmp(end, "s") == 0) {
		/* range first: strtol saturates at LONG_MAX, and LONG_MAX * 1000 overflowed (found by
		 * ci/fuzz, tests/fuzz/regressions/engine-file/) */
		if (n < 1 || n > 600)
			goto bad;
		n *= 1000;
	} else if (strcmp(end, "ms") != 0)
		goto bad;
	if (n < 1 || n > 600000)
		goto bad;
	return (int)n;
bad:
	ERR(p, v, "%s: \"%s\" is no duration, expected milliseconds or seconds from 1ms to 600s "
	    "with their unit (2000ms, 2s)", what, s ? s : "(not a scalar)");
	return -1;
}

/* The largest product of the pattern's repetition bounds ({m,n}) it may have: glibc's regcomp
 * copies a bounded repetition's operand n times, so nested or chained bounds multiply. */
#define REGEX_MAX_BOUND_PRODUCT 4096

/* Why a pattern is refused before regcomp sees it, or NULL. glibc's regcomp builds an
 * automaton whose size multiplies with every stacked repetition operator and every bound: the
 * fuzzer's "i+++...+" (90 '+') took over 2 GB. POSIX leaves a repetition of a repetition
 * undefined anyway. Templates ({{...}}) and bracket expressions are skipped. */
static const char *regex_too_costly(const char *re)
{
	bool prev_rep = false;
	double product = 1;

	for (size_t i = 0; re[i]; i++) {
		char c = re[i];
		bool rep = c == '*' || c == '+' || c == '?' || c == '{';

		if (c == '\\') {
			i += re[i + 1] != '\0';
			prev_rep = false;
			continue;
		}
		if (c == '{' && re[i + 1] == '{') {
			const char *end = strstr(re + i, "}}");

			if (!end)
				break;
			i = (size_t)(end - re) + 1;
			prev_rep = false;
			continue;
		}
		if (c == '[') {
			i += re[i + 1] == '^';
			i += re[i + 1] == ']';
			while (re[i + 1] && re[i + 1] != ']')
				i++;
			i += re[i + 1] != '\0';
			prev_rep = false;
			continue;
		}
		if (rep && prev_rep)
			return "a repetition operator (*, +, ?, {m,n}) follows another one";
		if (c == '{') {
			char *end;
			long lo = strtol(re + i + 1, &end, 10), hi = lo;

			if (*end == ',')
				hi = end[1] == '}' ? lo + 1 : strtol(end + 1, &end, 10);
			/* a negative or missing bound is regcomp's to refuse */
			product *= (double)(hi > lo ? hi : lo > 0 ? lo : 0) + 1;
			if (product > REGEX_MAX_BOUND_PRODUCT)
				return "its repetition bounds ({m,n}) multiply to more than 4096 copies";
			while (re[i + 1] && re[i] != '}')
				i++;
		}
		prev_rep = rep;
	}
	return NULL;
}

static void regex_check(struct parse *p, yaml_node_t *v, const char *what, const char *re)
{
	const char *costly = regex_too_costly(re);
	regex_t r;
	int err;

	if (costly) {
		ERR(p, v, "%s: the pattern \"%.80s\" is refused: %s (expected a plain POSIX extended "
		    "regular expression: a line to wait for, not a puzzle for the regex engine)",
		    what, re, costly);
		return;
	}
	/* templates inside a pattern are rendered first; check what is there without them */
	if (strstr(re, "{{"))
		return;
	err = regcomp(&r, re, REG_EXTENDED | REG_NOSUB);
	if (err) {
		char msg[128];
		regerror(err, &r, msg, sizeof(msg));
		ERR(p, v, "%s: the pattern \"%s\" does not compile (%s), expected a POSIX extended "
		    "regular expression", what, re, msg);
		return;
	}
	regfree(&r);
}

/* --- matches: ready and outcome ------------------------------------------------------------- */

struct match_ctx {
	struct ef_match *m;
	const char *what;
	bool readiness;
	int nkinds;
};

static void json_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct match_ctx *c = arg;
	const char *s = yaml_scalar(v);

	(void)k;
	if (c->m->key[0]) {
		ERR(P(y), v, "%s: json: one member only, expected { MEMBER: VALUE }", c->what);
		return;
	}
	if (!s) {
		ERR(P(y), v, "%s: json: %s: expected a string value", c->what, key);
		return;
	}
	snprintf(c->m->key, sizeof(c->m->key), "%s", key);
	snprintf(c->m->value, sizeof(c->m->value), "%s", s);
}

static void match_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct match_ctx *c = arg;
	struct parse *p = P(y);
	const char *s;

	if (strcmp(key, "line") == 0) {
		c->m->kind = EF_MATCH_LINE;
		c->nkinds++;
		copy_text(p, v, c->what, c->m->pattern, sizeof(c->m->pattern));
		regex_check(p, v, c->what, c->m->pattern);
	} else if (strcmp(key, "json") == 0) {
		c->m->kind = EF_MATCH_JSON;
		c->nkinds++;
		yaml_for_each_pair(y, v, c->what, json_pair, c);
		if (!c->m->key[0] && v->type == YAML_MAPPING_NODE)
			ERR(p, v, "%s: json: expected { MEMBER: VALUE }", c->what);
	} else if (c->readiness && (strcmp(key, "udp-port") == 0 || strcmp(key, "tcp-port") == 0)) {
		c->m->kind = EF_MATCH_PORT;
		c->nkinds++;
		c->m->tcp = key[0] == 't';
		if ((s = want_scalar(p, v, c->what, "a port number or a variable")))
			snprintf(c->m->port, sizeof(c->m->port), "%s", s);
	} else if (c->readiness && strcmp(key, "deadline") == 0) {
		c->m->deadline_ms = duration_parse(p, v, c->what);
	} else if (!c->readiness && (strcmp(key, "exit") == 0 || strcmp(key, "probe") == 0)) {
		/* handled by the outcome's own walk */
	} else {
		ERR(p, k, "%s: unknown key \"%s\", expected %s", c->what, key,
		    c->readiness ? "line, json, udp-port, tcp-port or deadline"
				 : "json, line, probe or exit");
	}
}

static void ready_parse(struct parse *p, yaml_node_t *v, struct ef_role *r)
{
	char what[64];
	struct match_ctx c = { .m = &r->ready, .what = what, .readiness = true };

	snprintf(what, sizeof(what), "role %s: ready", r->name);
	r->ready.line = yaml_line(v);
	yaml_for_each_pair(&p->y, v, what, match_pair, &c);
	if (c.nkinds > 1)
		ERR(p, v, "%s: one condition only, expected line, json, udp-port or tcp-port", what);
	else if (c.nkinds == 0 && v->type == YAML_MAPPING_NODE)
		ERR(p, v, "%s: no condition, expected line, json, udp-port or tcp-port", what);
	if (!r->ready.deadline_ms && v->type == YAML_MAPPING_NODE)
		ERR(p, v, "%s: no deadline, expected deadline: DURATION (how long this program may "
		    "take to get ready on a loaded machine)", what);
}

/* --- command lines ---------------------------------------------------------------------------- */

static void arg_add(struct parse *p, yaml_node_t *v, struct ef_arg *args, int *n, int max,
		    int group, const char *what)
{
	const char *s = yaml_scalar(v);

	if (!s) {
		ERR(p, v, "%s: expected a word or a list of words (an optional group)", what);
		return;
	}
	if (*n >= max) {
		ERR(p, v, "%s: more than %d arguments", what, max);
		return;
	}
	if (strlen(s) >= EF_TEXT_MAX) {
		ERR(p, v, "%s: an argument longer than %d characters", what, EF_TEXT_MAX - 1);
		return;
	}
	snprintf(args[*n].text, sizeof(args[*n].text), "%s", s);
	args[*n].group = group;
	args[(*n)++].line = yaml_line(v);
}

/* A list of words; a word that is itself a list is an optional group. */
static void argv_parse(struct parse *p, yaml_node_t *v, struct ef_arg *args, int *n, int max,
		       const char *what)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		ERR(p, v, "%s: expected a list of words [program, arg, ...]", what);
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *w = yaml_node_at(&p->y, *it);

		if (w && w->type == YAML_SEQUENCE_NODE) {
			int group = ++p->ngroups;
			for (yaml_node_item_t *g = w->data.sequence.items.start;
			     g < w->data.sequence.items.top; g++)
				arg_add(p, yaml_node_at(&p->y, *g), args, n, max, group, what);
		} else if (w) {
			arg_add(p, w, args, n, max, 0, what);
		}
	}
	if (*n == 0)
		ERR(p, v, "%s: empty, expected at least the program", what);
}

/* --- roles --------------------------------------------------------------------------------- */

static void capture_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k,
			 yaml_node_t *v, void *arg);

struct capture_ctx {
	struct ef_role *r;
	struct ef_capture *c;
};

static void capture_how(const struct yaml_ctx *y, const char *key, yaml_node_t *k,
			yaml_node_t *v, void *arg)
{
	struct capture_ctx *cc = arg;
	struct parse *p = P(y);
	char what[96];

	snprintf(what, sizeof(what), "role %s: capture %s", cc->r->name, cc->c->name);
	if (strcmp(key, "regex") == 0) {
		copy_text(p, v, what, cc->c->regex, sizeof(cc->c->regex));
		regex_check(p, v, what, cc->c->regex);
	} else if (strcmp(key, "json") == 0) {
		copy_text(p, v, what, cc->c->json, sizeof(cc->c->json));
	} else if (strcmp(key, "late") == 0) {
		const char *s = yaml_scalar(v);
		if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
			cc->c->late = s[0] == 't';
		else
			ERR(p, v, "%s: late: expected true or false", what);
	} else {
		ERR(p, k, "%s: unknown key \"%s\", expected regex, json or late", what, key);
	}
}

static void capture_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k,
			 yaml_node_t *v, void *arg)
{
	struct ef_role *r = arg;
	struct parse *p = P(y);
	struct capture_ctx cc = { .r = r };

	if (r->ncaptures >= EF_MAX_CAPTURES) {
		ERR(p, k, "role %s: more than %d captures", r->name, EF_MAX_CAPTURES);
		return;
	}
	cc.c = &r->captures[r->ncaptures++];
	snprintf(cc.c->name, sizeof(cc.c->name), "%s", key);
	cc.c->line = yaml_line(k);
	yaml_for_each_pair(y, v, "capture", capture_how, &cc);
	if (v->type == YAML_MAPPING_NODE && !!cc.c->regex[0] == !!cc.c->json[0])
		ERR(p, v, "role %s: capture %s: expected exactly one of regex: PATTERN or json: "
		    "MEMBER", r->name, key);
}

static void stdin_key(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct ef_role *r = arg;
	struct parse *p = P(y);
	char what[64];

	snprintf(what, sizeof(what), "role %s: stdin: %s", r->name, key);
	if (strcmp(key, "text") == 0)
		copy_text(p, v, what, r->input.text, sizeof(r->input.text));
	else if (strcmp(key, "deadline") == 0)
		r->input.deadline_ms = duration_parse(p, v, what);
	else
		ERR(p, k, "role %s: stdin: unknown key \"%s\", expected text or deadline", r->name,
		    key);
}

/* stdin: { text: TEMPLATE, deadline: DURATION } (docs/engine-format.md "Standard input") */
static void stdin_parse(struct parse *p, yaml_node_t *v, struct ef_role *r)
{
	r->input.line = yaml_line(v);
	if (v->type != YAML_MAPPING_NODE) {
		ERR(p, v, "role %s: stdin: expected { text: TEMPLATE, deadline: DURATION }", r->name);
		return;
	}
	yaml_for_each_pair(&p->y, v, "stdin", stdin_key, r);
	if (!r->input.text[0])
		ERR(p, v, "role %s: stdin: no text, expected text: TEMPLATE (what to write to the "
		    "program's standard input)", r->name);
	if (!r->input.deadline_ms)
		ERR(p, v, "role %s: stdin: no deadline, expected deadline: DURATION (how long its "
		    "captures may take to come, from the role's start)", r->name);
}

static int node_role_parse(const char *s)
{
	for (int i = 0; i < ROLE_COUNT; i++)
		if (strcmp(topo_role_name((enum topo_role)i), s) == 0)
			return i;
	return -1;
}

static void role_key(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct ef_role *r = arg;
	struct parse *p = P(y);
	char what[64];
	const char *s;

	snprintf(what, sizeof(what), "role %s: %s", r->name, key);
	if (strcmp(key, "node") == 0) {
		int n;
		if (!(s = want_scalar(p, v, what, "a topology role")))
			return;
		if ((n = node_role_parse(s)) < 0)
			ERR(p, v, "%s: \"%s\" is no topology role, expected peer-a, peer-b, nat-a, "
			    "nat-b or rendezvous", what, s);
		else
			r->node = (enum topo_role)n;
	} else if (strcmp(key, "command") == 0) {
		argv_parse(p, v, r->args, &r->nargs, EF_MAX_ARGS, what);
	} else if (strcmp(key, "ready") == 0) {
		ready_parse(p, v, r);
	} else if (strcmp(key, "capture") == 0) {
		yaml_for_each_pair(y, v, what, capture_pair, r);
	} else if (strcmp(key, "stdin") == 0) {
		stdin_parse(p, v, r);
	} else {
		ERR(p, k, "role %s: unknown key \"%s\", expected node, command, ready, capture or "
		    "stdin", r->name, key);
	}
}

static struct ef_role *role_new(struct parse *p, yaml_node_t *k, const char *name)
{
	struct engine_file *e = p->e;

	if (engine_file_role(e, name)) {
		ERR(p, k, "role %s: declared twice (peers: declares peer-a and peer-b)", name);
		return NULL;
	}
	if (e->nroles >= EF_MAX_ROLES) {
		ERR(p, k, "more than %d roles", EF_MAX_ROLES);
		return NULL;
	}
	struct ef_role *r = &e->roles[e->nroles++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->line = yaml_line(k);
	r->peer = strcmp(name, "peer-a") == 0 || strcmp(name, "peer-b") == 0;
	r->node = r->peer ? (name[5] == 'a' ? ROLE_PEER_A : ROLE_PEER_B) : ROLE_RENDEZVOUS;
	return r;
}

static void roles_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct parse *p = P(y);
	size_t n = strlen(key);

	(void)arg;
	if (strcmp(key, "peers") == 0) {
		/* one template for both peers ({{side}} tells them apart) */
		struct ef_role *a = role_new(p, k, "peer-a"), *b;
		if (!a)
			return;
		yaml_for_each_pair(y, v, "role peers", role_key, a);
		b = role_new(p, k, "peer-b");
		if (b) {
			*b = *a;
			snprintf(b->name, sizeof(b->name), "peer-b");
			b->node = ROLE_PEER_B;
		}
		return;
	}
	if (n == 0 || n >= EF_NAME_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
		ERR(p, k, "role \"%s\": expected a name of lower-case letters, digits and dashes "
		    "(at most %d)", key, EF_NAME_MAX - 1);
		return;
	}
	struct ef_role *r = role_new(p, k, key);
	if (r)
		yaml_for_each_pair(y, v, "role", role_key, r);
}

/* --- techniques, files, outcome ------------------------------------------------------------- */

static void tech_key(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct ef_technique *t = arg;
	struct parse *p = P(y);
	char what[64];

	snprintf(what, sizeof(what), "technique %s: %s", t->name, key);
	if (strcmp(key, "deadline") == 0) {
		t->deadline_ms = duration_parse(p, v, what);
	} else if (strcmp(key, "transports") == 0) {
		if (v->type != YAML_SEQUENCE_NODE) {
			ERR(p, v, "%s: expected a list of udp and tcp", what);
			return;
		}
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			yaml_node_t *w = yaml_node_at(&p->y, *it);
			const char *s = yaml_scalar(w);
			if (s && strcmp(s, "udp") == 0)
				t->udp = true;
			else if (s && strcmp(s, "tcp") == 0)
				t->tcp = true;
			else
				ERR(p, w, "%s: \"%s\" is no transport, expected udp or tcp", what,
				    s ? s : "(not a scalar)");
		}
	} else {
		ERR(p, k, "technique %s: unknown key \"%s\", expected transports or deadline",
		    t->name, key);
	}
}

static void techniques_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k,
			    yaml_node_t *v, void *arg)
{
	struct parse *p = P(y);
	struct engine_file *e = p->e;
	struct ef_technique *t;

	(void)arg;
	if (e->ntechniques >= EF_MAX_TECHNIQUES) {
		ERR(p, k, "more than %d techniques", EF_MAX_TECHNIQUES);
		return;
	}
	if (strcmp(key, "plain") == 0) {
		ERR(p, k, "technique plain: a cell's name for udp over UDP and tcp over TCP, expected "
		    "the technique itself (udp, tcp)");
		return;
	}
	t = &e->techniques[e->ntechniques++];
	snprintf(t->name, sizeof(t->name), "%s", key);
	t->line = yaml_line(k);
	yaml_for_each_pair(y, v, "technique", tech_key, t);
	if (v->type == YAML_MAPPING_NODE && !t->udp && !t->tcp)
		ERR(p, v, "technique %s: no transports, expected transports: [udp] or [tcp] or both",
		    key);
	if (v->type == YAML_MAPPING_NODE && !t->deadline_ms)
		ERR(p, v, "technique %s: no deadline, expected deadline: DURATION (the engine's own "
		    "time limit for it)", key);
}

static void files_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct parse *p = P(y);
	struct engine_file *e = p->e;
	struct ef_file *f;

	(void)arg;
	if (e->nfiles >= EF_MAX_FILES) {
		ERR(p, k, "more than %d files", EF_MAX_FILES);
		return;
	}
	if (strchr(key, '/') || key[0] == '.' || strlen(key) >= EF_NAME_MAX) {
		ERR(p, k, "file \"%s\": expected a plain file name (it goes into the cell's "
		    "directory)", key);
		return;
	}
	f = &e->files[e->nfiles++];
	snprintf(f->name, sizeof(f->name), "%s", key);
	f->line = yaml_line(k);
	copy_text(p, v, "file", f->text, sizeof(f->text));
}

/* A topology role's node, or "harness" (the host outside the lab) where allowed. */
static bool where_parse(struct parse *p, yaml_node_t *v, const char *what, bool harness_ok,
			bool *harness, enum topo_role *node)
{
	const char *s = want_scalar(p, v, what, "a topology role");
	int n;

	if (!s)
		return false;
	if (harness_ok && strcmp(s, "harness") == 0) {
		*harness = true;
		return true;
	}
	if ((n = node_role_parse(s)) < 0) {
		ERR(p, v, "%s: \"%s\" is no topology role, expected %speer-a, peer-b, nat-a, nat-b "
		    "or rendezvous", what, s, harness_ok ? "harness, " : "");
		return false;
	}
	*node = (enum topo_role)n;
	return true;
}

static void setup_key(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct ef_setup *st = arg;
	struct parse *p = P(y);
	char what[64];

	snprintf(what, sizeof(what), "setup %d: %s", (int)(st - p->e->setup) + 1, key);
	if (strcmp(key, "command") == 0)
		argv_parse(p, v, st->args, &st->nargs, EF_MAX_SETUP_ARGS, what);
	else if (strcmp(key, "node") == 0)
		where_parse(p, v, what, true, &st->harness, &st->node);
	else if (strcmp(key, "deadline") == 0)
		st->deadline_ms = duration_parse(p, v, what);
	else
		ERR(p, k, "setup %d: unknown key \"%s\", expected command, node or deadline",
		    (int)(st - p->e->setup) + 1, key);
}

/* setup: a list of { command, node, deadline }, run in order. */
static void setup_parse(struct parse *p, yaml_node_t *v)
{
	struct engine_file *e = p->e;

	if (v->type != YAML_SEQUENCE_NODE) {
		ERR(p, v, "setup: expected a list of { command: [...], node: NODE, deadline: "
		    "DURATION }");
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *w = yaml_node_at(&p->y, *it);
		struct ef_setup *st;

		if (!w)
			continue;
		if (e->nsetup >= EF_MAX_SETUP) {
			ERR(p, w, "setup: more than %d commands", EF_MAX_SETUP);
			return;
		}
		st = &e->setup[e->nsetup++];
		st->node = ROLE_RENDEZVOUS;
		st->line = yaml_line(w);
		if (w->type != YAML_MAPPING_NODE) {
			ERR(p, w, "setup %d: expected { command: [...], node: NODE, deadline: "
			    "DURATION }", e->nsetup);
			continue;
		}
		yaml_for_each_pair(&p->y, w, "setup", setup_key, st);
		if (!st->nargs)
			ERR(p, w, "setup %d: no command, expected command: [program, args...]",
			    e->nsetup);
		if (!st->deadline_ms)
			ERR(p, w, "setup %d: no deadline, expected deadline: DURATION (how long it "
			    "may take on a loaded machine)", e->nsetup);
	}
}

/* vars: NODE.NAME -> a template. */
static void vars_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct parse *p = P(y);
	struct engine_file *e = p->e;
	const char *dot = strchr(key, '.');
	struct ef_var *var;
	int n;

	(void)arg;
	if (e->nvars >= EF_MAX_VARS) {
		ERR(p, k, "vars: more than %d", EF_MAX_VARS);
		return;
	}
	if (!dot || strlen(key) >= EF_NAME_MAX || !dot[1] ||
	    strspn(dot + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(dot + 1)) {
		ERR(p, k, "vars: \"%s\": expected NODE.NAME (peer-a.overlay), NAME of lower-case "
		    "letters, digits and _", key);
		return;
	}
	char node[EF_NAME_MAX];
	snprintf(node, sizeof(node), "%.*s", (int)(dot - key), key);
	n = node_role_parse(node);
	if (n < 0) {
		ERR(p, k, "vars: \"%s\": \"%s\" is no topology role, expected peer-a, peer-b, "
		    "nat-a, nat-b or rendezvous", key, node);
		return;
	}
	if (strcmp(dot + 1, "addr") == 0 || strncmp(dot + 1, "addr_", 5) == 0 ||
	    strcmp(dot + 1, "public") == 0 || strcmp(dot + 1, "reach") == 0) {
		ERR(p, k, "vars: \"%s\": the lab sets %s, expected another name", key, dot + 1);
		return;
	}
	var = &e->vars[e->nvars++];
	snprintf(var->name, sizeof(var->name), "%s", key);
	var->line = yaml_line(k);
	copy_text(p, v, "vars", var->text, sizeof(var->text));
}

static void probe_key(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct ef_probe *pr = arg;
	struct parse *p = P(y);
	char what[64];
	bool harness = false;

	snprintf(what, sizeof(what), "outcome: probe: %s", key);
	if (strcmp(key, "command") == 0) {
		argv_parse(p, v, pr->args, &pr->nargs, EF_MAX_SETUP_ARGS, what);
	} else if (strcmp(key, "node") == 0) {
		if (where_parse(p, v, what, false, &harness, &pr->node) &&
		    pr->node != ROLE_PEER_A && pr->node != ROLE_PEER_B)
			ERR(p, v, "%s: expected peer-a or peer-b (a probe runs in a peer's node)",
			    what);
	} else if (strcmp(key, "interval") == 0) {
		pr->interval_ms = duration_parse(p, v, what);
	} else if (strcmp(key, "relayed") == 0 || strcmp(key, "direct") == 0) {
		struct ef_match *m = key[0] == 'r' ? &pr->relayed : &pr->direct;
		const char *s = want_scalar(p, v, what, "a pattern a peer prints when its path "
					    "is relayed (relayed) or direct (direct)");
		if (s) {
			m->kind = EF_MATCH_LINE;
			m->line = yaml_line(v);
			copy_text(p, v, what, m->pattern, sizeof(m->pattern));
			regex_check(p, v, what, m->pattern);
		}
		if (pr->relayed.kind == EF_MATCH_LINE && pr->direct.kind == EF_MATCH_LINE)
			ERR(p, k, "outcome: probe: relayed and direct together, expected one of them "
			    "(the other is its absence)");
	} else {
		ERR(p, k, "outcome: probe: unknown key \"%s\", expected command, node, interval, "
		    "relayed or direct", key);
	}
}

static void probe_parse(struct parse *p, yaml_node_t *v, struct ef_probe *pr)
{
	pr->node = ROLE_PEER_A;
	pr->interval_ms = 200;
	pr->line = yaml_line(v);
	if (v->type != YAML_MAPPING_NODE) {
		ERR(p, v, "outcome: probe: expected { command: [...], node: peer-a, interval: "
		    "DURATION }");
		return;
	}
	yaml_for_each_pair(&p->y, v, "outcome: probe", probe_key, pr);
	if (!pr->nargs)
		ERR(p, v, "outcome: probe: no command, expected command: [program, args...] (ping "
		    "over the overlay)");
}

static void exit_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct parse *p = P(y);
	struct ef_outcome *o = arg;
	const char *s = yaml_scalar(v);
	char *end;
	long code = strtol(key, &end, 10);
	enum cell_outcome oc;

	if (*end || end == key || code < 0 || code > 255) {
		ERR(p, k, "outcome: exit: \"%s\" is no exit code, expected 0 to 255", key);
		return;
	}
	if (!s || cell_outcome_parse(s, &oc) < 0 ||
	    (oc != CELL_DIRECT && oc != CELL_RELAYED && oc != CELL_FAILED)) {
		ERR(p, v, "outcome: exit %ld: expected direct, relayed or failed", code);
		return;
	}
	o->exit_map[code] = oc;
}

static void outcome_parse(struct parse *p, yaml_node_t *v)
{
	struct ef_outcome *o = &p->e->outcome;
	struct match_ctx c = { .m = &o->match, .what = "outcome" };
	yaml_node_t *exit_v = NULL, *probe_v = NULL;

	o->line = yaml_line(v);
	yaml_for_each_pair(&p->y, v, "outcome", match_pair, &c);
	if (v->type != YAML_MAPPING_NODE)
		return;
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		const char *key = yaml_scalar(yaml_node_at(&p->y, pr->key));
		if (key && strcmp(key, "exit") == 0)
			exit_v = yaml_node_at(&p->y, pr->value);
		if (key && strcmp(key, "probe") == 0)
			probe_v = yaml_node_at(&p->y, pr->value);
	}
	if (exit_v)
		yaml_for_each_pair(&p->y, exit_v, "outcome: exit", exit_pair, o);
	if (probe_v)
		probe_parse(p, probe_v, &o->probe);
	if (c.nkinds + (probe_v != NULL) > 1)
		ERR(p, v, "outcome: %s together, expected one of json, line and probe (and exit)",
		    probe_v ? "probe and json or line" : "json and line");
	o->kind = probe_v ? EF_OUTCOME_PROBE
		  : c.nkinds ? (o->match.kind == EF_MATCH_JSON ? EF_OUTCOME_JSON : EF_OUTCOME_LINE)
			     : EF_OUTCOME_EXIT;
	if (probe_v && exit_v)
		ERR(p, exit_v, "outcome: exit: a probe decides for daemons that never exit, "
		    "expected no exit map with it");
	if (!c.nkinds && !exit_v && !probe_v)
		ERR(p, v, "outcome: nothing to read, expected json: { MEMBER: VALUE }, line: "
		    "PATTERN, probe: { command: [...] } or exit: { CODE: OUTCOME }");
}

/* --- the top level -------------------------------------------------------------------------- */

void engine_file_words(struct parse *p, yaml_node_t *v, const char *what, const char *list,
		       const char *word, engine_file_word_fn fn)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		ERR(p, v, "%s: expected %s", what, list);
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *w = yaml_node_at(&p->y, *it);
		const char *s = yaml_scalar(w);
		if (!s)
			ERR(p, w, "%s: expected %s", what, word);
		else
			fn(p, w, s);
	}
}

static void capability_add(struct parse *p, yaml_node_t *w, const char *s)
{
	unsigned bit = engine_capability_parse(s);

	if (!bit)
		ERR(p, w, "capabilities: \"%s\" is unknown, expected rendezvous, peer-reflexive, "
		    "simultaneous-open, port-prediction, birthday, relay, ignores-icmp-errors, "
		    "relay-fallback, single-probe, fresh-port-dials, port-mapping, relay-tcp or ipv6", s);
	p->e->capabilities |= bit;
}

static void package_add(struct parse *p, yaml_node_t *w, const char *s)
{
	struct engine_file *e = p->e;

	if (e->npackages >= EF_MAX_PACKAGES || strlen(s) >= EF_NAME_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+-.") != strlen(s)) {
		ERR(p, w, "packages: \"%s\": expected at most %d Debian package names", s,
		    EF_MAX_PACKAGES);
		return;
	}
	snprintf(e->packages[e->npackages++], EF_NAME_MAX, "%s", s);
}

static void top_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct parse *p = P(y);
	struct engine_file *e = p->e;
	const char *s;

	(void)arg;
	if (strcmp(key, "engine") == 0) {
		if ((s = want_scalar(p, v, "engine", "the engine's name")) &&
		    (strlen(s) == 0 || strlen(s) >= EF_NAME_MAX ||
		     strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(s)))
			ERR(p, v, "engine: \"%s\": expected a name of lower-case letters, digits, - "
			    "and _ (at most %d)", s, EF_NAME_MAX - 1);
		else if (s)
			snprintf(e->name, sizeof(e->name), "%s", s);
	} else if (strcmp(key, "description") == 0) {
		copy_text(p, v, "description", e->description, sizeof(e->description));
	} else if (strcmp(key, "program") == 0) {
		copy_text(p, v, "program", e->program, sizeof(e->program));
	} else if (strcmp(key, "version") == 0) {
		argv_parse(p, v, e->version, &e->nversion, 8, "version");
	} else if (strcmp(key, "packages") == 0) {
		engine_file_words(p, v, "packages", "a list [a, b]", "a word", package_add);
	} else if (strcmp(key, "capabilities") == 0) {
		engine_file_words(p, v, "capabilities", "a list [a, b]", "a word",
				  capability_add);
	} else if (strcmp(key, "techniques") == 0) {
		yaml_for_each_pair(y, v, "techniques", techniques_pair, NULL);
	} else if (strcmp(key, "files") == 0) {
		yaml_for_each_pair(y, v, "files", files_pair, NULL);
	} else if (strcmp(key, "setup") == 0) {
		setup_parse(p, v);
	} else if (strcmp(key, "vars") == 0) {
		yaml_for_each_pair(y, v, "vars", vars_pair, NULL);
	} else if (strcmp(key, "roles") == 0) {
		p->have_roles = true;
		p->roles_key = k;
		yaml_for_each_pair(y, v, "roles", roles_pair, NULL);
	} else if (strcmp(key, "npm") == 0) {
		engine_file_npm_parse(p, v);
	} else if (strcmp(key, "jobs") == 0) {
		engine_file_jobs_parse(p, v);
	} else if (strcmp(key, "needs") == 0) {
		engine_file_needs_parse(p, v);
	} else if (strcmp(key, "outcome") == 0) {
		p->have_outcome = true;
		outcome_parse(p, v);
	} else {
		ERR(p, k, "unknown key \"%s\", expected engine, description, program, version, "
		    "packages, npm, jobs, needs, capabilities, techniques, vars, files, setup, roles or "
		    "outcome", key);
	}
}

int engine_file_parse_buffer(struct engine_file *e, const char *name, const char *buf,
			     size_t len, struct diag_list *dl)
{
	struct parse p = { .e = e, .file = name };
	yaml_document_t doc;
	yaml_node_t *root;
	int before = dl->count + dl->dropped, ret;

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < 256; i++)
		e->outcome.exit_map[i] = CELL_ERROR;
	snprintf(e->path, sizeof(e->path), "%s", name);
	ret = yaml_load_buffer(&doc, name, buf, len, dl);
	if (ret < 0)
		return ret;
	p.y = (struct yaml_ctx){ .doc = &doc, .dl = dl, .file = name };
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		diag_add(dl, name, 0, "empty file, expected an engine (engine: NAME, program:, "
			 "techniques:, roles:, outcome:)");
	} else {
		yaml_for_each_pair(&p.y, root, "the engine file", top_pair, NULL);
		if (root->type == YAML_MAPPING_NODE)
			engine_file_check(&p, root);
	}
	yaml_document_delete(&doc);
	return dl->count + dl->dropped > before ? -EINVAL : 0;
}

int engine_file_parse(struct engine_file *e, const char *path, struct diag_list *dl)
{
	char *buf = NULL;
	size_t len = 0;
	int ret = yaml_read_file(path, "engine file", &buf, &len, dl);

	if (ret == 0)
		ret = engine_file_parse_buffer(e, path, buf, len, dl);
	free(buf);
	return ret;
}

int engine_file_load(struct engine_file *e, const char *ref, struct diag_list *dl)
{
	char path[512];

	if (paths_resolve("engines", ".yaml", ref, path, sizeof(path)) < 0) {
		memset(e, 0, sizeof(*e));
		snprintf(e->path, sizeof(e->path), "%s", path);
		return -ENOENT;
	}
	return engine_file_parse(e, path, dl);
}

const struct ef_role *engine_file_role(const struct engine_file *e, const char *name)
{
	for (int i = 0; i < e->nroles; i++)
		if (strcmp(e->roles[i].name, name) == 0)
			return &e->roles[i];
	return NULL;
}

const struct ef_technique *engine_file_technique(const struct engine_file *e, const char *name,
						 bool tcp)
{
	for (int i = 0; i < e->ntechniques; i++)
		if (strcmp(e->techniques[i].name, name) == 0 &&
		    (tcp ? e->techniques[i].tcp : e->techniques[i].udp))
			return &e->techniques[i];
	return NULL;
}
