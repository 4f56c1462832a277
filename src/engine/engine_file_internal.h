/* The engine-file parser's state, shared by its two halves: engine_file.c (the YAML into the
 * model) and engine_file_check.c (the checks that need the whole file). Not for other users. */
#pragma once
#include <stdbool.h>
#include <yaml.h>

#include "base/yaml_doc.h"
#include "engine/engine_file.h"

/* The parser's state; y comes first so that the yaml_doc callbacks' context is the parse. */
struct parse {
	struct yaml_ctx y;
	struct engine_file *e;
	const char *file;
	int ngroups;
	bool have_outcome, have_roles;
	yaml_node_t *roles_key;
};

#define P(yc) ((struct parse *)(yc))
#define ERR(p, n, ...) diag_add((p)->y.dl, (p)->file, yaml_line(n), __VA_ARGS__)

/* Every check that needs the whole file: required keys, the roles' start order (servers, then
 * peer-a, then peer-b; e->roles is sorted into it), and every variable each template names.
 * Mistakes go to p->y.dl. */
void engine_file_check(struct parse *p, yaml_node_t *root);

/* npm: { dir: DIR } (engine_file_npm.c): a relative path inside the engine file's directory. */
void engine_file_npm_parse(struct parse *p, yaml_node_t *v);
/* jobs: N (engine_file_npm.c, the other key for engines whose programs are costly to start). */
void engine_file_jobs_parse(struct parse *p, yaml_node_t *v);
/* needs: [tun] (engine_file_needs.c): devices of the machine the engine's programs open. */
void engine_file_needs_parse(struct parse *p, yaml_node_t *v);

/* A key whose value is a list of words (packages:, capabilities:, needs:): fn(p, w, s) for each
 * word s of the sequence v. Mistakes to p->y.dl: "<what>: expected <list>" when v is no list,
 * "<what>: expected <word>" for an item that is no word. */
typedef void (*engine_file_word_fn)(struct parse *p, yaml_node_t *w, const char *s);
void engine_file_words(struct parse *p, yaml_node_t *v, const char *what, const char *list,
		       const char *word, engine_file_word_fn fn);
