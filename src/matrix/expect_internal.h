/* Shared by the expectations parser's halves: expect.c (the file, rates, expected outcomes) and
 * expect_claims.c (documents, claims, explanations). Not a public interface. */
#pragma once
#include "base/yaml_doc.h"
#include "matrix/expect.h"

struct parse {
	struct yaml_ctx y; /* first: the yaml_doc callbacks' context is the parse */
	struct expectations *e;
};

#define P(yc) ((struct parse *)(yc))
#define ERR(yc, n, ...) diag_add((yc)->dl, (yc)->file, yaml_line(n), __VA_ARGS__)

/* fn for each item of a sequence; a non-sequence is reported ("<what> must be a list"). */
void expect_for_each_item(const struct yaml_ctx *yc, yaml_node_t *seq, const char *what,
			  void (*fn)(const struct yaml_ctx *, yaml_node_t *));

/* The documents:, claims: and explanations: sections (explanations may be NULL: none). */
void expect_claims_parse(const struct yaml_ctx *yc, yaml_node_t *docs, yaml_node_t *claims,
			 yaml_node_t *explanations);
