#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml_doc.h"

int yaml_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

const char *yaml_scalar(const yaml_node_t *n)
{
	return (n && n->type == YAML_SCALAR_NODE) ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *yaml_node_at(const struct yaml_ctx *y, int id)
{
	return yaml_document_get_node(y->doc, id);
}

void yaml_for_each_pair(const struct yaml_ctx *y, yaml_node_t *map, const char *what,
			yaml_pair_fn fn, void *arg)
{
	if (!map || map->type != YAML_MAPPING_NODE) {
		diag_add(y->dl, y->file, yaml_line(map), "%s must be a mapping, expected key: value lines",
			 what);
		return;
	}
	for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top;
	     a++) {
		yaml_node_t *k = yaml_node_at(y, a->key), *v = yaml_node_at(y, a->value);
		const char *key = yaml_scalar(k);
		bool dup = false;

		if (!key) {
			diag_add(y->dl, y->file, yaml_line(k), "%s: keys must be plain words", what);
			continue;
		}
		for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
			const char *other = yaml_scalar(yaml_node_at(y, b->key));
			if (other && strcmp(other, key) == 0)
				dup = true;
		}
		if (dup) {
			diag_add(y->dl, y->file, yaml_line(k),
				 "%s: \"%s\" appears twice, expected each key once", what, key);
			continue;
		}
		fn(y, key, k, v, arg);
	}
}

int yaml_load_buffer(yaml_document_t *doc, const char *name, const char *buf, size_t len,
		     struct diag_list *dl)
{
	yaml_parser_t parser;
	int ret = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, doc)) {
		diag_add(dl, name, (int)parser.problem_mark.line + 1,
			 "YAML syntax: %s%s%s, expected block YAML indented with spaces, every { and "
			 "[ closed", parser.problem ? parser.problem : "error",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		ret = -EINVAL;
	}
	yaml_parser_delete(&parser);
	return ret;
}

int yaml_read_file(const char *path, const char *what, char **bufp, size_t *lenp,
		   struct diag_list *dl)
{
	const size_t max = 1 << 20;
	FILE *f = fopen(path, "r");
	char *buf;
	size_t len;

	*bufp = NULL;
	if (!f) {
		int err = errno;
		diag_add(dl, path, 0, "cannot open %s: %s", what, strerror(err));
		return -err;
	}
	buf = malloc(max);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, max - 1, f);
	if (!feof(f)) {
		fclose(f);
		free(buf);
		diag_add(dl, path, 0, "%s file larger than 1 MiB, expected a small YAML file", what);
		return -EINVAL;
	}
	fclose(f);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}
