/* The documents' half of the expectations file: documents:, claims: and explanations:, and which
 * claims speak of a cell (docs/expectations-format.md).
 *
 * A claim is scoped the way its document words it: the transports and techniques it is about,
 * the layout of the peers, conditions on each of the two peers' NATs (in either order) and the
 * preconditions it assumes. Nothing here combines claims: a pair gets a claim only when one is
 * written for it (a document's words about the pair, or its per-type definitions with the
 * reasoning written next to it), and a cell no claim reaches has the claim `none`. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "matrix/claim.h"
#include "matrix/expect_internal.h"

/* --- documents -------------------------------------------------------------------------------- */

static void doc_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct expect_doc *d = arg;
	const char *s = yaml_scalar(v);

	if (!s)
		ERR(yc, v, "document %s: %s needs a text value", d->id, key);
	else if (strcmp(key, "title") == 0)
		snprintf(d->title, sizeof(d->title), "%s", s);
	else if (strcmp(key, "file") == 0)
		snprintf(d->file, sizeof(d->file), "%s", s);
	else if (strcmp(key, "where") == 0)
		snprintf(d->where, sizeof(d->where), "%s", s);
	else
		ERR(yc, k, "document %s: unknown key \"%s\", expected title, file or where", d->id,
		    key);
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
	if (!d->title[0] || !d->file[0])
		ERR(yc, k, "document %s needs title and file (its passages under docs/sources/)",
		    key);
}

/* --- value helpers ---------------------------------------------------------------------------- */

/* Calls fn(yc, item, text, arg) for each scalar of a flow or block list. */
static void each_word(const struct yaml_ctx *yc, yaml_node_t *v, const char *key,
		      void (*fn)(const struct yaml_ctx *, yaml_node_t *, const char *, void *),
		      void *arg)
{
	if (!v || v->type != YAML_SEQUENCE_NODE) {
		ERR(yc, v, "%s: expected a list such as [a, b]", key);
		return;
	}
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *n = yaml_node_at(yc, *i);
		const char *s = yaml_scalar(n);
		if (!s)
			ERR(yc, n, "%s: expected words in the list", key);
		else
			fn(yc, n, s, arg);
	}
}

/* index of s in names[], or -1 */
static int word_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

struct bits {
	unsigned *set;
	const char *const *names;
	int n;
	const char *key, *expected;
};

static void bit_word(const struct yaml_ctx *yc, yaml_node_t *node, const char *s, void *arg)
{
	struct bits *b = arg;
	int i = word_index(b->names, b->n, s);

	if (i < 0)
		ERR(yc, node, "%s: \"%s\" unknown, expected %s", b->key, s, b->expected);
	else
		*b->set |= 1u << i;
}

static void bits_of(const struct yaml_ctx *yc, yaml_node_t *v, const char *key,
		    const char *const *names, int n, const char *expected, unsigned *set)
{
	struct bits b = { .set = set, .names = names, .n = n, .key = key, .expected = expected };

	*set = 0;
	each_word(yc, v, key, bit_word, &b);
}

static int tristate(const struct yaml_ctx *yc, yaml_node_t *v, const char *key, const char *no,
		    const char *yes)
{
	const char *s = yaml_scalar(v);

	if (s && strcmp(s, yes) == 0)
		return 1;
	if (s && strcmp(s, no) == 0)
		return 0;
	if (s && strcmp(s, "any") == 0)
		return -1;
	ERR(yc, v, "%s: \"%s\", expected %s, %s or any", key, s ? s : "", yes, no);
	return -1;
}

/* --- claims ----------------------------------------------------------------------------------- */

static const char *const transport_names[] = { "udp", "tcp" };
static const char *const layout_names[] = {
	[LAYOUT_TWO_NATS] = "two-nats",
	[LAYOUT_PUBLIC_B] = "public-peer",
	[LAYOUT_SAME_LAN] = "same-nat",
	[LAYOUT_SHARED_OUTER] = "double-nat",
	[LAYOUT_TWO_LEVEL] = "two-level",
};
static const char *const rfc3489_names[] = { "full-cone", "restricted-cone",
					     "port-restricted-cone", "symmetric" };
static const char *const ports_names[] = { "preserve", "sequential", "random" };
static const char *const known_techniques[] = { "udp", "tcp", "tcp-ttl", "predict",
						"birthday", "relay", "auto" };

static void side_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	struct claim_side *s = arg;

	if (strcmp(key, "nat") == 0)
		s->nat = tristate(yc, v, key, "no", "yes");
	else if (strcmp(key, "rfc3489") == 0)
		bits_of(yc, v, key, rfc3489_names, 4, "full-cone, restricted-cone, "
			"port-restricted-cone or symmetric", &s->rfc3489);
	else if (strcmp(key, "ports") == 0)
		bits_of(yc, v, key, ports_names, 3, "preserve, sequential or random", &s->ports);
	else if (strcmp(key, "predictable") == 0)
		s->predictable = tristate(yc, v, key, "no", "yes");
	else if (strcmp(key, "tcp-unsolicited") == 0)
		s->rst = tristate(yc, v, key, "drop", "rst");
	else
		ERR(yc, k, "peer: unknown key \"%s\", expected nat, rfc3489, ports, predictable or "
			   "tcp-unsolicited", key);
}

static void technique_word(const struct yaml_ctx *yc, yaml_node_t *n, const char *s, void *arg)
{
	struct expect_claim *c = arg;

	if (word_index(known_techniques, 7, s) < 0)
		ERR(yc, n, "technique \"%s\" unknown, expected udp, tcp, tcp-ttl, predict, birthday, "
			   "relay or auto", s);
	else if (c->ntechniques >= EXPECT_MAX_TECHNIQUES)
		ERR(yc, n, "too many techniques, expected at most %d", EXPECT_MAX_TECHNIQUES);
	else
		snprintf(c->techniques[c->ntechniques++], sizeof(c->techniques[0]), "%s", s);
}

static void requires_word(const struct yaml_ctx *yc, yaml_node_t *n, const char *s, void *arg)
{
	struct expect_claim *c = arg;

	if (strcmp(s, "prediction-done") == 0)
		c->prediction_done = true;
	else
		ERR(yc, n, "requires: \"%s\" unknown, expected prediction-done", s);
}

static void conflict_word(const struct yaml_ctx *yc, yaml_node_t *n, const char *s, void *arg)
{
	struct expect_claim *c = arg;
	size_t len = strlen(c->conflicts);

	(void)yc;
	(void)n;
	snprintf(c->conflicts + len, sizeof(c->conflicts) - len, "%s%s", len ? "," : "", s);
}

#define TEXT(field) snprintf(c->field, sizeof(c->field), "%s", s)

static void claim_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct expectations *e = P(yc)->e;
	struct expect_claim *c = arg;
	const char *s = yaml_scalar(v);
	static const char *const text_keys[] = { "id", "document", "quote", "says", "applies",
						 "test", "outcome", "strength", "reasoning" };

	if (word_index(text_keys, 9, key) >= 0 && !s) {
		ERR(yc, v, "claim: %s needs a text value", key);
	} else if (strcmp(key, "id") == 0) {
		TEXT(id);
	} else if (strcmp(key, "document") == 0) {
		c->doc = -1;
		for (int i = 0; i < e->ndocs; i++)
			if (strcmp(e->docs[i].id, s) == 0)
				c->doc = i;
		if (c->doc < 0)
			ERR(yc, v, "document \"%s\" is not listed under documents:", s);
	} else if (strcmp(key, "quote") == 0) {
		if (strlen(s) >= sizeof(c->quote))
			ERR(yc, v, "quote of %zu bytes, expected at most %zu: quote less", strlen(s),
			    sizeof(c->quote) - 1);
		TEXT(quote);
	} else if (strcmp(key, "says") == 0) {
		TEXT(says);
	} else if (strcmp(key, "applies") == 0) {
		static const char *const names[] = { "cells", "later", "not-here" };
		int i = word_index(names, 3, s);
		if (i < 0)
			ERR(yc, v, "applies: \"%s\" unknown, expected cells, later or not-here", s);
		else
			c->applies = (enum claim_applies)i;
	} else if (strcmp(key, "test") == 0) {
		TEXT(test);
	} else if (strcmp(key, "outcome") == 0) {
		if (cell_outcome_parse(s, &c->outcome) < 0 || c->outcome > CELL_FAILED)
			ERR(yc, v, "outcome \"%s\" unknown, expected direct, relayed or failed", s);
		else
			c->has_outcome = true;
	} else if (strcmp(key, "strength") == 0) {
		if (claim_strength_bound(s, &c->bound) < 0)
			ERR(yc, v, "strength \"%s\" unknown, expected %s", s, claim_strength_names());
		TEXT(strength);
	} else if (strcmp(key, "reasoning") == 0) {
		TEXT(reasoning);
	} else if (strcmp(key, "transports") == 0) {
		bits_of(yc, v, key, transport_names, 2, "udp or tcp", &c->transports);
	} else if (strcmp(key, "techniques") == 0) {
		each_word(yc, v, key, technique_word, c);
	} else if (strcmp(key, "layouts") == 0) {
		bits_of(yc, v, key, layout_names, 5,
			"two-nats, public-peer, same-nat, double-nat or two-level",
			&c->layouts);
	} else if (strcmp(key, "a") == 0 || strcmp(key, "b") == 0) {
		yaml_for_each_pair(yc, v, "a peer", side_attr, key[0] == 'a' ? &c->a : &c->b);
	} else if (strcmp(key, "requires") == 0) {
		each_word(yc, v, key, requires_word, c);
	} else if (strcmp(key, "conflicts") == 0) {
		each_word(yc, v, key, conflict_word, c);
	} else {
		ERR(yc, k, "claim: unknown key \"%s\", expected id, document, quote, says, applies, "
			   "test, outcome, strength, transports, techniques, layouts, a, b, requires, "
			   "reasoning or conflicts", key);
	}
}

static void claim_check(const struct yaml_ctx *yc, yaml_node_t *item, struct expect_claim *c)
{
	struct expectations *e = P(yc)->e;

	for (int i = 0; i < e->nclaims - 1; i++)
		if (c->id[0] && strcmp(e->claims[i].id, c->id) == 0)
			ERR(yc, item, "claim id \"%s\" used twice (line %d), expected unique ids", c->id,
			    e->claims[i].line);
	if (!c->id[0] || c->doc < 0 || !c->quote[0])
		ERR(yc, item, "claim without id, document or quote, expected all three: a claim rests "
			      "on a quoted sentence");
	else if (c->applies == CLAIM_CELLS &&
		 (!c->has_outcome || !c->strength[0] || c->ntechniques == 0))
		ERR(yc, item, "claim %s judged on cells needs outcome, strength and techniques "
			      "(or applies: later / not-here with test:)", c->id);
	else if (c->applies != CLAIM_CELLS && (!c->test[0] || !c->says[0]))
		ERR(yc, item, "claim %s is not judged on cells: it needs says: (the claim in our "
			      "words) and test: (what would test it, and when)", c->id);
}

static void claim_item(const struct yaml_ctx *yc, yaml_node_t *item)
{
	struct expectations *e = P(yc)->e;
	struct expect_claim *c;
	int before = yc->dl->count;
	const struct claim_side any_nat = { .nat = 1, .predictable = -1, .rst = -1 };

	if (e->nclaims >= EXPECT_MAX_CLAIMS) {
		ERR(yc, item, "too many claims, expected at most %d", EXPECT_MAX_CLAIMS);
		return;
	}
	c = &e->claims[e->nclaims++];
	*c = (struct expect_claim){ .doc = -1, .line = yaml_line(item), .a = any_nat, .b = any_nat,
				    .transports = PROFILE_UDP | PROFILE_TCP,
				    .layouts = 1u << LAYOUT_TWO_NATS | 1u << LAYOUT_PUBLIC_B };
	yaml_for_each_pair(yc, item, "a claim", claim_attr, c);
	if (yc->dl->count == before)
		claim_check(yc, item, c);
}

/* --- explanations ----------------------------------------------------------------------------- */

static void explanation_attr(const struct yaml_ctx *yc, const char *key, yaml_node_t *k,
			     yaml_node_t *v, void *arg)
{
	struct expect_explanation *x = arg;
	const char *s = yaml_scalar(v);

	if (!s)
		ERR(yc, v, "explanation: %s needs a text value", key);
	else if (strcmp(key, "claim") == 0)
		snprintf(x->claim, sizeof(x->claim), "%s", s);
	else if (strcmp(key, "cells") == 0)
		snprintf(x->cells, sizeof(x->cells), "%s", s);
	else if (strcmp(key, "why") == 0)
		snprintf(x->why, sizeof(x->why), "%s", s);
	else
		ERR(yc, k, "explanation: unknown key \"%s\", expected claim, cells or why", key);
}

static void explanation_item(const struct yaml_ctx *yc, yaml_node_t *item)
{
	struct expectations *e = P(yc)->e;
	struct expect_explanation *x;
	int before = yc->dl->count, found = 0;

	if (e->nexplanations >= EXPECT_MAX_EXPLANATIONS) {
		ERR(yc, item, "too many explanations, expected at most %d", EXPECT_MAX_EXPLANATIONS);
		return;
	}
	x = &e->explanations[e->nexplanations++];
	*x = (struct expect_explanation){ .line = yaml_line(item) };
	yaml_for_each_pair(yc, item, "an explanation", explanation_attr, x);
	if (yc->dl->count > before)
		return;
	for (int i = 0; i < e->nclaims; i++)
		found |= strcmp(e->claims[i].id, x->claim) == 0;
	if (!x->why[0])
		ERR(yc, item, "explanation without why, expected the reason the measurement differs");
	else if (!found)
		ERR(yc, item, "explanation of claim \"%s\", which is not under claims:", x->claim);
}

/* Every id a conflicts: list names must be a claim of another document. */
static void conflicts_check(const struct yaml_ctx *yc, yaml_node_t *claims)
{
	const struct expectations *e = P(yc)->e;

	for (int i = 0; i < e->nclaims; i++) {
		char list[sizeof(e->claims[i].conflicts)], *save = NULL;

		snprintf(list, sizeof(list), "%s", e->claims[i].conflicts);
		for (char *id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
			int j;
			for (j = 0; j < e->nclaims && strcmp(e->claims[j].id, id) != 0; j++)
				;
			if (j == e->nclaims || e->claims[j].doc == e->claims[i].doc)
				diag_add(yc->dl, yc->file, e->claims[i].line ? e->claims[i].line
									   : yaml_line(claims),
					 "claim %s conflicts with \"%s\", expected the id of another "
					 "document's claim", e->claims[i].id, id);
		}
	}
}

void expect_claims_parse(const struct yaml_ctx *yc, yaml_node_t *docs, yaml_node_t *claims,
			 yaml_node_t *explanations)
{
	int before = yc->dl->count;

	yaml_for_each_pair(yc, docs, "documents", doc_entry, NULL);
	expect_for_each_item(yc, claims, "claims", claim_item);
	if (yc->dl->count == before)
		conflicts_check(yc, claims);
	if (explanations && yc->dl->count == before)
		expect_for_each_item(yc, explanations, "explanations", explanation_item);
}

/* --- which claims speak of a cell ------------------------------------------------------------- */

static bool side_matches(const struct claim_side *s, const struct profile_header *h)
{
	if (!h)
		return s->nat != 1;
	return s->nat != 0 && (!s->rfc3489 || (s->rfc3489 & 1u << h->rfc3489)) &&
	       (!s->ports || (s->ports & 1u << h->ports)) &&
	       (s->predictable < 0 || s->predictable == (int)h->predictable) &&
	       (s->rst < 0 || s->rst == (h->tcp_unsolicited == PROFILE_UNSOLICITED_RST));
}

/* Wikipedia's "we assume here that port prediction has already taken place": a predictable
 * side's port is known when its mapping is endpoint-independent or its port preserved (the
 * rendezvous saw it), or when it is sequential and the technique predicts the next one. */
static bool predicted(const struct profile_header *h, const char *technique)
{
	return !h || !h->predictable || h->mapping == PROFILE_ENDPOINT_INDEPENDENT ||
	       h->ports == PROFILE_PORTS_PRESERVE ||
	       (h->ports == PROFILE_PORTS_SEQUENTIAL && strcmp(technique, "predict") == 0);
}

static bool claim_speaks(const struct expect_claim *c, const struct cell_spec *cell,
			 const struct profile_header *a, const struct profile_header *b,
			 enum theory_layout layout)
{
	unsigned transport = strcmp(cell->proto, "tcp") == 0 ? PROFILE_TCP : PROFILE_UDP;
	bool technique = false;

	for (int i = 0; i < c->ntechniques; i++)
		technique |= strcmp(c->techniques[i], cell->technique) == 0;
	if (c->applies != CLAIM_CELLS || !technique || !(c->transports & transport) ||
	    !(c->layouts & 1u << layout))
		return false;
	if (c->prediction_done && !(predicted(a, cell->technique) && predicted(b, cell->technique)))
		return false;
	return (side_matches(&c->a, a) && side_matches(&c->b, b)) ||
	       (side_matches(&c->a, b) && side_matches(&c->b, a));
}

void expectations_claim(const struct expectations *e, const struct cell_spec *cell,
			const struct profile_header *a, const struct profile_header *b,
			enum theory_layout layout, struct cell_refs *refs)
{
	refs->has_claim = false;
	refs->claims_conflict = false;
	refs->nclaims = 0;
	refs->claim_source[0] = refs->claim_quote[0] = '\0';
	/* Every document quoted here speaks of IPv4 NATs (docs/sources/): an IPv6 or dual cell
	 * has no claim, even where an IPv6 header's rfc3489 name matches a claim's scope (an
	 * IPv6 firewall's "full-cone" describes its filter, not what the article measured). */
	if (cell->family != CELL_FAMILY_4)
		return;
	for (int i = 0; i < e->nclaims && refs->nclaims < CELL_MAX_CLAIMS; i++) {
		const struct expect_claim *c = &e->claims[i];
		struct cell_claim *o;

		if (!claim_speaks(c, cell, a, b, layout))
			continue;
		o = &refs->claims[refs->nclaims++];
		*o = (struct cell_claim){ .outcome = c->outcome, .bound = c->bound, .p_value = 1 };
		snprintf(o->id, sizeof(o->id), "%s", c->id);
		snprintf(o->strength, sizeof(o->strength), "%s", c->strength);
		snprintf(o->source, sizeof(o->source), "%s", e->docs[c->doc].title);
		snprintf(o->quote, sizeof(o->quote), "%s", c->quote);
		for (int j = 0; j < e->nexplanations; j++) {
			const struct expect_explanation *x = &e->explanations[j];
			if (strcmp(x->claim, c->id) == 0 &&
			    (!x->cells[0] || fnmatch(x->cells, cell->id, 0) == 0)) {
				snprintf(o->explanation, sizeof(o->explanation), "%s", x->why);
				break;
			}
		}
		refs->claims_conflict |= o->outcome != refs->claims[0].outcome;
	}
	if (refs->nclaims == 0)
		return; /* no document speaks of this cell: the claim is `none` */
	refs->has_claim = true;
	refs->claim = refs->claims[0].outcome;
	snprintf(refs->claim_source, sizeof(refs->claim_source), "%s", refs->claims[0].source);
	snprintf(refs->claim_quote, sizeof(refs->claim_quote), "%s", refs->claims[0].quote);
}
