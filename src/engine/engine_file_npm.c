/* An engine's npm packages (docs/engine-format.md "npm packages"): the `npm:` key of an engine
 * file, where its directory is, and whether `npm ci` has installed it; and `jobs:`, how many
 * cells of such a costly engine run at once by default. ci/bootstrap.sh installs
 * (Debian's nodejs and npm when there is no node, then `npm ci` in the directory); punchlab only
 * looks, so a cell never starts a program whose modules are missing or older than the lock. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine_file.h"
#include "engine/engine_file_internal.h"

/* A directory inside the engine file's own: relative, no "..", plain characters (the bootstrap
 * reads it with sed and hands it to npm). */
static const char *npm_dir_problem(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return "is empty";
	if (n >= EF_TEXT_MAX)
		return "is too long";
	if (s[0] == '/')
		return "is absolute";
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != n)
		return "has characters other than letters, digits, '.', '_', '-' and '/'";
	for (const char *c = s; c; c = strchr(c, '/')) {
		c += *c == '/';
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
			return "leaves the engine file's directory (..)";
	}
	return NULL;
}

static void npm_pair(const struct yaml_ctx *y, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct parse *p = P(y);
	const char *s = yaml_scalar(v), *why;

	(void)arg;
	if (strcmp(key, "dir") != 0) {
		ERR(p, k, "npm: unknown key \"%s\", expected dir", key);
		return;
	}
	if (!s) {
		ERR(p, v, "npm: dir: expected a directory name");
		return;
	}
	if ((why = npm_dir_problem(s))) {
		ERR(p, v, "npm: dir: \"%s\" %s, expected a directory next to the engine file "
		    "(libp2p for engines/libp2p)", s, why);
		return;
	}
	snprintf(p->e->npm_dir, sizeof(p->e->npm_dir), "%s", s);
}

void engine_file_npm_parse(struct parse *p, yaml_node_t *v)
{
	p->e->npm_line = yaml_line(v);
	if (v->type != YAML_MAPPING_NODE) {
		ERR(p, v, "npm: expected { dir: DIR } (a directory next to the engine file with "
		    "package.json and package-lock.json)");
		return;
	}
	yaml_for_each_pair(&p->y, v, "npm", npm_pair, NULL);
	if (!p->e->npm_dir[0] && v->data.mapping.pairs.top == v->data.mapping.pairs.start)
		ERR(p, v, "npm: no dir, expected { dir: DIR }");
}

void engine_file_jobs_parse(struct parse *p, yaml_node_t *v)
{
	const char *s = yaml_scalar(v);
	char *end = NULL;
	long n = s ? strtol(s, &end, 10) : 0;

	if (!s || end == s || *end || n < 1 || n > 256) {
		ERR(p, v, "jobs: \"%s\" is no number of cells, expected 1 to 256 (how many cells of "
		    "this engine the machine runs at once when --jobs is not given)",
		    s ? s : "(not a scalar)");
		return;
	}
	p->e->jobs = (int)n;
}

int engine_npm_dir(const struct engine_file *e, char *buf, size_t len)
{
	char path[sizeof(e->path)], real[PATH_MAX];
	const char *dir;

	buf[0] = '\0';
	if (!e->npm_dir[0])
		return -ENOENT;
	snprintf(path, sizeof(path), "%s", e->path);
	dir = dirname(path);
	/* absolute, so a program started in another working directory finds it */
	if (realpath(dir, real))
		dir = real;
	if ((size_t)snprintf(buf, len, "%s/%s", dir, e->npm_dir) >= len) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int engine_npm_installed(const struct engine_file *e)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct stat lock, installed;

	if (!e->npm_dir[0])
		return 0;
	if (engine_npm_dir(e, dir, sizeof(dir)) < 0)
		return -ENOENT;
	/* npm ci writes node_modules/.package-lock.json last: its presence means a whole install */
	snprintf(path, sizeof(path), "%s/node_modules/.package-lock.json", dir);
	if (stat(path, &installed) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/package-lock.json", dir);
	if (stat(path, &lock) < 0)
		return -ENOENT;
	if (lock.st_mtim.tv_sec > installed.st_mtim.tv_sec ||
	    (lock.st_mtim.tv_sec == installed.st_mtim.tv_sec &&
	     lock.st_mtim.tv_nsec > installed.st_mtim.tv_nsec))
		return -ESTALE;
	return 0;
}
