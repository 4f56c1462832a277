#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml_doc.h"
#include "matrix/expect.h"
#include "matrix/rate.h"

struct parse {
	struct yaml_ctx y; /* first: the yaml_doc callbacks' context is the parse */
	struct expectations *e;
};

#define P(yc) ((struct parse *)(yc))
#define ERR(yc, n, ...) diag_add((yc)->dl, (yc)->file, yaml_line(n), __VA_ARGS__)

static void doc_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct expect_doc *d = arg;
	const char *s = yaml_scalar(v);

	if (!s) {
		ERR(yc, v, "document %s: %s needs a text value", d->id, key);
	} else if (strcmp(key, "title") == 0) {
		snprintf(d->title, sizeof(d->title), "%s", s);
	} else if (strcmp(key, "file") == 0) {
		snprintf(d->file, sizeof(d->file), "%s", s);
	} else {
		ERR(yc, k, "document %s: unknown key \"%s\", expected title or file", d->id, key);
	}
}

static void doc_entry(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct expectations *e = P(yc)->e;
	struct expect_doc *d;

	(void)arg;
	if (e->ndocs >= EXPECT_MAX_DOCS) {
		ERR(yc, k, "too many documents, expected at most %d", EXPECT_MAX_DOCS);
		return;
	}
	d = &e->docs[e->ndocs++];
	snprintf(d->id, sizeof(d->id), "%s", key);
	yaml_for_each_pair(yc, v, "a document", doc_attr, d);
	if (!d->title[0])
		ERR(yc, k, "document %s has no title, expected title: \"...\"", key);
}

static int outcome_of(const struct yaml_ctx *yc, yaml_node_t *v, enum cell_outcome *o)
{
	const char *s = yaml_scalar(v);

	if (!s || cell_outcome_parse(s, o) < 0 || *o == CELL_ERROR || *o == CELL_SKIPPED)
		return ERR(yc, v, "outcome \"%s\" unknown, expected direct, relayed or failed",
			   s ? s : "");
	return 0;
}

static int yesno(const struct yaml_ctx *yc, yaml_node_t *v, const char *key)
{
	const char *s = yaml_scalar(v);

	if (s && strcmp(s, "yes") == 0)
		return 1;
	if (s && strcmp(s, "no") == 0)
		return 0;
	ERR(yc, v, "%s: \"%s\", expected yes or no", key, s ? s : "");
	return -1;
}

static unsigned transports_of(const struct yaml_ctx *yc, yaml_node_t *v)
{
	unsigned t = 0;

	if (!v || v->type != YAML_SEQUENCE_NODE) {
		ERR(yc, v, "transports: expected a list such as [udp, tcp]");
		return 0;
	}
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
		const char *s = yaml_scalar(yaml_node_at(yc, *i));
		if (s && strcmp(s, "udp") == 0)
			t |= PROFILE_UDP;
		else if (s && strcmp(s, "tcp") == 0)
			t |= PROFILE_TCP;
		else
			ERR(yc, yaml_node_at(yc, *i), "transport \"%s\" unknown, expected udp or tcp",
			    s ? s : "");
	}
	return t;
}

static void claim_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct expectations *e = P(yc)->e;
	struct expect_claim *c = arg;
	const char *s = yaml_scalar(v);

	if (strcmp(key, "kind") == 0) {
		static const char *const kinds[] = { "per-type", "pair", "technique", "topology" };
		int i;
		for (i = 0; i < 4 && !(s && strcmp(s, kinds[i]) == 0); i++)
			;
		if (i == 4)
			ERR(yc, v, "claim kind \"%s\" unknown, expected per-type, pair, technique or "
				   "topology", s ? s : "");
		c->kind = (enum claim_kind)i;
	} else if (strcmp(key, "document") == 0) {
		c->doc = -1;
		for (int i = 0; s && i < e->ndocs; i++)
			if (strcmp(e->docs[i].id, s) == 0)
				c->doc = i;
		if (c->doc < 0)
			ERR(yc, v, "document \"%s\" is not listed under documents:", s ? s : "");
	} else if (strcmp(key, "transports") == 0) {
		c->transports = transports_of(yc, v);
	} else if (strcmp(key, "rfc3489") == 0) {
		int i;
		for (i = 0; i <= PROFILE_SYMMETRIC; i++)
			if (s && strcmp(s, profile_rfc3489_name(i)) == 0)
				break;
		if (i > PROFILE_SYMMETRIC)
			ERR(yc, v, "rfc3489 \"%s\" unknown, expected full-cone, restricted-cone, "
				   "port-restricted-cone or symmetric", s ? s : "");
		c->rfc3489 = i;
	} else if (strcmp(key, "a-predictable") == 0) {
		c->a_predictable = yesno(yc, v, key);
	} else if (strcmp(key, "b-predictable") == 0) {
		c->b_predictable = yesno(yc, v, key);
	} else if (strcmp(key, "technique") == 0 && s) {
		snprintf(c->technique, sizeof(c->technique), "%s", s);
	} else if (strcmp(key, "topology") == 0 && s) {
		snprintf(c->topology, sizeof(c->topology), "%s", s);
	} else if (strcmp(key, "outcome") == 0) {
		c->has_outcome = outcome_of(yc, v, &c->outcome) == 0;
	} else if (strcmp(key, "quote") == 0 && s) {
		snprintf(c->quote, sizeof(c->quote), "%s", s);
	} else {
		ERR(yc, k, "claim: unknown key \"%s\", expected kind, document, transports, rfc3489, "
			   "a-predictable, b-predictable, technique, topology, outcome or quote", key);
	}
}

static void rate_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct expect_rate *r = arg;
	const char *s = yaml_scalar(v);
	char *end;

	if (!s) {
		ERR(yc, v, "rate: %s needs a single value", key);
	} else if (strcmp(key, "mechanism") == 0) {
		if (strcmp(s, "rst-race") && strcmp(s, "rst-race-both") && strcmp(s, "birthday"))
			ERR(yc, v, "mechanism \"%s\" unknown, expected rst-race, rst-race-both or "
				   "birthday", s);
		snprintf(r->mechanism, sizeof(r->mechanism), "%s", s);
	} else if (strcmp(key, "technique") == 0) {
		snprintf(r->technique, sizeof(r->technique), "%s", s);
	} else if (strcmp(key, "cells") == 0) {
		snprintf(r->cells, sizeof(r->cells), "%s", s);
	} else if (strcmp(key, "runs") == 0 || strcmp(key, "direct") == 0) {
		long n = strtol(s, &end, 10);
		if (*end || end == s || n < 0 || n > 100000)
			ERR(yc, v, "%s \"%s\", expected a count", key, s);
		*(strcmp(key, "runs") == 0 ? &r->runs : &r->direct) = (int)n;
	} else if (strcmp(key, "date") == 0) {
		snprintf(r->date, sizeof(r->date), "%s", s);
	} else if (strcmp(key, "command") == 0) {
		snprintf(r->command, sizeof(r->command), "%s", s);
	} else {
		ERR(yc, k, "rate: unknown key \"%s\", expected mechanism, technique, cells, runs, "
			   "direct, date or command", key);
	}
}

static void for_each_item(const struct yaml_ctx *yc, yaml_node_t *seq, const char *what,
			  void (*fn)(const struct yaml_ctx *, yaml_node_t *))
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE) {
		ERR(yc, seq, "%s must be a list (lines starting with -)", what);
		return;
	}
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++)
		fn(yc, yaml_node_at(yc, *i));
}

static void claim_item(const struct yaml_ctx *yc, yaml_node_t *item)
{
	struct expectations *e = P(yc)->e;
	struct expect_claim *c;
	int before = yc->dl->count;

	if (e->nclaims >= EXPECT_MAX_CLAIMS) {
		ERR(yc, item, "too many claims, expected at most %d", EXPECT_MAX_CLAIMS);
		return;
	}
	c = &e->claims[e->nclaims++];
	*c = (struct expect_claim){ .doc = -1, .rfc3489 = -1, .a_predictable = -1,
				    .b_predictable = -1, .transports = PROFILE_UDP | PROFILE_TCP,
				    .line = yaml_line(item) };
	yaml_for_each_pair(yc, item, "a claim", claim_attr, c);
	if (yc->dl->count > before)
		return;
	if (c->doc < 0 || !c->quote[0])
		ERR(yc, item, "claim without document or quote, expected both: a claim rests on a "
			      "quoted sentence");
	else if (c->kind != CLAIM_TOPOLOGY && !c->has_outcome)
		ERR(yc, item, "claim without outcome, expected direct, relayed or failed");
	else if (c->kind == CLAIM_PER_TYPE && c->rfc3489 < 0)
		ERR(yc, item, "per-type claim without rfc3489, expected the NAT type it is about");
	else if (c->kind == CLAIM_PAIR && (c->a_predictable < 0 || c->b_predictable < 0))
		ERR(yc, item, "pair claim without a-predictable and b-predictable");
	else if (c->kind == CLAIM_TECHNIQUE && !c->technique[0])
		ERR(yc, item, "technique claim without technique");
	else if (c->kind == CLAIM_TOPOLOGY && !c->topology[0])
		ERR(yc, item, "topology claim without topology");
}

static void rate_item(const struct yaml_ctx *yc, yaml_node_t *item)
{
	struct expectations *e = P(yc)->e;
	struct expect_rate *r;
	int before = yc->dl->count;

	if (e->nrates >= EXPECT_MAX_RATES) {
		ERR(yc, item, "too many rates, expected at most %d", EXPECT_MAX_RATES);
		return;
	}
	r = &e->rates[e->nrates++];
	*r = (struct expect_rate){ .line = yaml_line(item), .runs = -1, .direct = -1 };
	yaml_for_each_pair(yc, item, "a rate", rate_attr, r);
	if (yc->dl->count > before)
		return;
	/* a rate is a measurement: never a bar typed in, never 0, never from a handful of runs */
	if (!r->mechanism[0] || r->runs < 0 || r->direct < 0 || !r->date[0] || !r->command[0])
		ERR(yc, item, "rate incomplete: it needs mechanism, runs, direct, date and command "
			      "(the measurement it comes from)");
	else if (r->runs < 30)
		ERR(yc, item, "rate measured over %d runs, expected at least 30", r->runs);
	else if (r->direct < 1 || r->direct > r->runs)
		ERR(yc, item, "rate %d of %d, expected 1..%d direct runs (a rate of 0 is a cell "
			      "that cannot fail: raise it in the engine)", r->direct, r->runs, r->runs);
}

static void top_entry(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	yaml_node_t **sections = arg;

	if (strcmp(key, "documents") == 0)
		sections[0] = v;
	else if (strcmp(key, "claims") == 0)
		sections[1] = v;
	else if (strcmp(key, "rates") == 0)
		sections[2] = v;
	else
		ERR(yc, k, "unknown key \"%s\", expected documents, claims or rates", key);
}

int expectations_load_buffer(struct expectations *e, const char *name, const char *buf,
			     size_t len, struct diag_list *dl)
{
	yaml_document_t doc;
	struct parse p = { .y = { .doc = &doc, .dl = dl, .file = name }, .e = e };
	yaml_node_t *sections[3] = { NULL, NULL, NULL };
	int before = dl->count, ret;

	memset(e, 0, sizeof(*e));
	snprintf(e->file, sizeof(e->file), "%s", name);
	ret = yaml_load_buffer(&doc, name, buf, len, dl);
	if (ret < 0)
		return ret;
	yaml_for_each_pair(&p.y, yaml_document_get_root_node(&doc), "the file", top_entry, sections);
	if (dl->count == before) {
		if (!sections[0] || !sections[1] || !sections[2])
			diag_add(dl, name, 1, "missing section, expected documents:, claims: and "
					      "rates:");
		else {
			yaml_for_each_pair(&p.y, sections[0], "documents", doc_entry, NULL);
			for_each_item(&p.y, sections[1], "claims", claim_item);
			for_each_item(&p.y, sections[2], "rates", rate_item);
		}
	}
	yaml_document_delete(&doc);
	return dl->count > before ? -EINVAL : 0;
}

int expectations_load(struct expectations *e, const char *path, struct diag_list *dl)
{
	char *buf;
	size_t len;
	int ret = yaml_read_file(path, "expectations", &buf, &len, dl);

	if (ret < 0)
		return ret;
	ret = expectations_load_buffer(e, path, buf, len, dl);
	free(buf);
	return ret;
}

static void set_claim(const struct expectations *e, const struct expect_claim *c,
		      struct cell_refs *refs)
{
	refs->has_claim = true;
	refs->claim = c->outcome;
	snprintf(refs->claim_source, sizeof(refs->claim_source), "%s", e->docs[c->doc].title);
	snprintf(refs->claim_quote, sizeof(refs->claim_quote), "%s", c->quote);
}

static const struct expect_claim *per_type(const struct expectations *e, unsigned transport,
					   const struct profile_header *h)
{
	for (int i = 0; i < e->nclaims; i++) {
		const struct expect_claim *c = &e->claims[i];
		if (c->kind == CLAIM_PER_TYPE && (c->transports & transport) &&
		    c->rfc3489 == (int)h->rfc3489)
			return c;
	}
	return NULL;
}

void expectations_claim(const struct expectations *e, const struct cell_spec *cell,
			const struct profile_header *a, const struct profile_header *b,
			bool same_lan, struct cell_refs *refs)
{
	unsigned transport = strcmp(cell->proto, "tcp") == 0 ? PROFILE_TCP : PROFILE_UDP;
	const struct expect_claim *ca, *cb;

	refs->has_claim = false;
	refs->claim_source[0] = refs->claim_quote[0] = '\0';
	if (same_lan || !a)
		return; /* no document speaks of two peers on one LAN */
	/* A document that speaks of the technique, then one that speaks of the pair, wins over the
	 * per-type claims (BRIEF.md). */
	for (int i = 0; i < e->nclaims; i++) {
		const struct expect_claim *c = &e->claims[i];
		if (c->kind == CLAIM_TECHNIQUE && (c->transports & transport) &&
		    strcmp(c->technique, cell->technique) == 0) {
			set_claim(e, c, refs);
			goto caveats;
		}
	}
	for (int i = 0; i < e->nclaims; i++) {
		const struct expect_claim *c = &e->claims[i];
		int pb = b ? b->predictable : 1; /* no NAT: the port is the host's own */
		if (c->kind == CLAIM_PAIR && (c->transports & transport) &&
		    c->a_predictable == (int)a->predictable && c->b_predictable == pb) {
			set_claim(e, c, refs);
			goto caveats;
		}
	}
	ca = per_type(e, transport, a);
	cb = b ? per_type(e, transport, b) : NULL;
	if (!ca && !cb)
		return;
	if (!ca || (cb && cell_outcome_worse(cb->outcome, ca->outcome))) {
		const struct expect_claim *t = ca;
		ca = cb;
		cb = t;
	}
	set_claim(e, ca, refs); /* the weaker side's claim */
	if (cb && cb != ca && strcmp(cb->quote, ca->quote) != 0) {
		size_t n = strlen(refs->claim_quote);
		snprintf(refs->claim_quote + n, sizeof(refs->claim_quote) - n, " / other side: %s",
			 cb->quote);
	}
caveats:
	for (int i = 0; i < e->nclaims; i++) {
		const struct expect_claim *c = &e->claims[i];
		if (c->kind == CLAIM_TOPOLOGY && strcmp(c->topology, cell->topology) == 0) {
			size_t n = strlen(refs->claim_quote);
			snprintf(refs->claim_quote + n, sizeof(refs->claim_quote) - n,
				 " / caveat (%s): %s", e->docs[c->doc].title, c->quote);
		}
	}
}

const struct expect_rate *expectations_rate(const struct expectations *e, const char *mechanism,
					    const struct cell_spec *c)
{
	const struct expect_rate *best = NULL;
	int best_score = -1;

	for (int i = 0; mechanism && i < e->nrates; i++) {
		const struct expect_rate *r = &e->rates[i];
		int score = (r->cells[0] ? 2 : 0) + (r->technique[0] ? 1 : 0);

		if (strcmp(r->mechanism, mechanism) != 0 ||
		    (r->technique[0] && strcmp(r->technique, c->technique) != 0) ||
		    (r->cells[0] && fnmatch(r->cells, c->id, 0) != 0))
			continue;
		if (score > best_score) {
			best = r;
			best_score = score;
		}
	}
	return best;
}

int expectations_expected(const struct expectations *e, const struct cell_spec *c,
			  const struct theory *t, struct cell_refs *refs, char *why, size_t len)
{
	const struct expect_rate *r;

	refs->cell_class = theory_class(t);
	refs->expected_allowed = 1u << t->outcome;
	refs->expected_rate = 0;
	refs->expected_runs = 0;
	refs->expected_reason[0] = '\0';
	refs->mechanism[0] = '\0';
	if (refs->cell_class == CLASS_DETERMINED)
		return 0;
	refs->expected_allowed |= 1u << t->fallback;
	snprintf(refs->mechanism, sizeof(refs->mechanism), "%s", t->mechanism);
	r = expectations_rate(e, t->mechanism, c);
	if (!r) {
		snprintf(why, len, "%s: no measured rate for mechanism %s (technique %s) in %s, "
			 "expected a rates: entry (docs/expectations-format.md)", c->id, t->mechanism,
			 c->technique, e->file);
		return -ENOENT;
	}
	refs->expected_rate = rate_expected(r->direct, r->runs);
	refs->expected_runs = rate_runs_needed(refs->expected_rate, RATE_MAX_RUNS);
	snprintf(refs->expected_reason, sizeof(refs->expected_reason),
		 "%s: %d of %d direct (%s, %s:%d: %s)", t->mechanism, r->direct, r->runs, r->date,
		 e->file, r->line, r->command);
	if (refs->expected_runs < 0) {
		snprintf(why, len, "%s:%d: a rate of %d in %d is too low to test within %d runs "
			 "(a halved rate must be caught 9 times in 10): raise it in the engine",
			 e->file, r->line, r->direct, r->runs, RATE_MAX_RUNS);
		return -ERANGE;
	}
	return 0;
}
