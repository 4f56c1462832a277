/* Small helpers over libyaml's document API, shared by the YAML file parsers (topologies,
 * expectations): line numbers for diagnostics, scalars, and mapping iteration that rejects
 * duplicate keys (YAML parsers accept them silently and the later one would win). */
#pragma once
#include <stdbool.h>
#include <yaml.h>

#include "base/out.h"

struct yaml_ctx {
	yaml_document_t *doc;
	struct diag_list *dl;
	const char *file;
};

/* 1-based line of a node, 0 for NULL. */
int yaml_line(const yaml_node_t *n);

/* The scalar's text, NULL when n is not a scalar. */
const char *yaml_scalar(const yaml_node_t *n);

yaml_node_t *yaml_node_at(const struct yaml_ctx *y, int id);

/* Calls fn(y, key, key_node, value_node, arg) for each pair of a mapping. A non-mapping, a
 * non-scalar key or a repeated key is reported to y->dl ("<what> ..."), naming what is
 * expected. */
typedef void (*yaml_pair_fn)(const struct yaml_ctx *y, const char *key, yaml_node_t *k,
			     yaml_node_t *v, void *arg);
void yaml_for_each_pair(const struct yaml_ctx *y, yaml_node_t *map, const char *what,
			yaml_pair_fn fn, void *arg);

/* Load the single document of a buffer; on a syntax error adds "YAML syntax: ..." at its line
 * to dl and returns -EINVAL. On success the caller owns *doc (yaml_document_delete). */
int yaml_load_buffer(yaml_document_t *doc, const char *name, const char *buf, size_t len,
		     struct diag_list *dl);

/* Read a whole (small, < 1 MiB) file into a malloc'd NUL-terminated buffer; `what` names the file
 * in diagnostics ("topology"). Returns 0 or -errno (adds the reason to dl). */
int yaml_read_file(const char *path, const char *what, char **buf, size_t *len,
		   struct diag_list *dl);
