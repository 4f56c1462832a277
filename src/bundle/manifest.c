/* manifest.json of a repro bundle (manifest.h). */
#include "bundle/manifest.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"

void manifest_free(struct bundle_manifest *m)
{
	if (!m)
		return;
	free(m->files);
	m->files = NULL;
	m->nfiles = 0;
}

int bundle_path_check(const char *path, char *why, size_t wlen)
{
	size_t len = strlen(path);

	if (len == 0 || len > 255) {
		snprintf(why, wlen, "path \"%s\": %s, expected 1 to 255 bytes", path,
			 len ? "too long" : "empty");
		return -EINVAL;
	}
	if (path[0] == '/') {
		snprintf(why, wlen, "path \"%s\" is absolute: a bundle holds relative paths only",
			 path);
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			snprintf(why, wlen, "path \"%s\" holds a control byte or a backslash (0x%02x)",
				 path, *p);
			return -EINVAL;
		}
	for (const char *s = path; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 2 && strncmp(s, "..", 2) == 0) {
			snprintf(why, wlen, "path \"%s\" has a \"..\" component: a bundle may not "
				 "reach outside its directory", path);
			return -EINVAL;
		}
		if (n == 0 || (n == 1 && s[0] == '.')) {
			snprintf(why, wlen, "path \"%s\" has an empty or \".\" component, expected a "
				 "plain relative path (a/b/c)", path);
			return -EINVAL;
		}
		s += n + (e ? 1 : 0);
		if (e && !*s) {
			snprintf(why, wlen, "path \"%s\" ends with '/', expected a file", path);
			return -EINVAL;
		}
	}
	return 0;
}

char *manifest_to_json(const struct bundle_manifest *m)
{
	json_t *root = json_object(), *files = json_array(), *v = json_object();
	char *text = NULL;

	if (!root || !files || !v)
		goto out;
	json_object_set_new(root, "format", json_string("punchlab-bundle"));
	json_object_set_new(root, "format_version", json_integer(m->format_version));
	json_object_set_new(root, "created", json_string(m->created));
	json_object_set_new(root, "cell", json_string(m->cell));
	json_object_set_new(root, "outcome", json_string(m->outcome));
	json_object_set_new(root, "runs", json_integer(m->runs));
	json_object_set_new(root, "rerun", json_string(m->rerun));
	json_object_set_new(v, "kernel", json_string(m->versions.kernel));
	json_object_set_new(v, "nft", json_string(m->versions.nft));
	json_object_set_new(v, "harness", json_string(m->versions.harness));
	json_object_set_new(v, "engine", json_string(m->versions.engine));
	json_object_set_new(v, "engine_version", json_string(m->versions.engine_version));
	json_object_set_new(v, "engine_b", json_string(m->versions.engine_b));
	json_object_set_new(v, "engine_b_version", json_string(m->versions.engine_b_version));
	json_object_set(root, "versions", v);
	for (int i = 0; i < m->nfiles; i++) {
		const struct bundle_file *f = &m->files[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "path", f->path, "kind", f->kind,
				      "ref", f->ref, "sha256", f->sha256, "size",
				      (json_int_t)f->size);
		if (!o || json_array_append_new(files, o) < 0)
			goto out;
	}
	json_object_set(root, "files", files);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(v);
	json_decref(files);
	json_decref(root);
	return text;
}

/* A string member into buf; missing or not a string: -EINVAL with why. */
static int get_str(json_t *o, const char *where, const char *key, char *buf, size_t len,
		   char *why, size_t wlen)
{
	json_t *s = json_object_get(o, key);

	if (!json_is_string(s)) {
		snprintf(why, wlen, "manifest: %s%s: %s, expected a string", where, key,
			 s ? "not a string" : "missing");
		return -EINVAL;
	}
	if (strlen(json_string_value(s)) >= len) {
		snprintf(why, wlen, "manifest: %s%s: too long, expected at most %zu bytes", where,
			 key, len - 1);
		return -EINVAL;
	}
	snprintf(buf, len, "%s", json_string_value(s));
	return 0;
}

static int files_parse(json_t *arr, struct bundle_manifest *m, char *why, size_t wlen)
{
	size_t i;
	json_t *o;

	if (!json_is_array(arr)) {
		snprintf(why, wlen, "manifest: files: %s, expected an array",
			 arr ? "not an array" : "missing");
		return -EINVAL;
	}
	if (json_array_size(arr) > BUNDLE_MAX_ENTRIES) {
		snprintf(why, wlen, "manifest: files: more than %d", BUNDLE_MAX_ENTRIES);
		return -EINVAL;
	}
	m->files = calloc(json_array_size(arr) + 1, sizeof(*m->files));
	if (!m->files)
		return -ENOMEM;
	json_array_foreach(arr, i, o) {
		struct bundle_file *f = &m->files[i];
		char where[32];
		json_t *size = json_object_get(o, "size");

		snprintf(where, sizeof(where), "files[%zu].", i);
		if (get_str(o, where, "path", f->path, sizeof(f->path), why, wlen) < 0 ||
		    get_str(o, where, "kind", f->kind, sizeof(f->kind), why, wlen) < 0 ||
		    get_str(o, where, "ref", f->ref, sizeof(f->ref), why, wlen) < 0 ||
		    get_str(o, where, "sha256", f->sha256, sizeof(f->sha256), why, wlen) < 0)
			return -EINVAL;
		if (strlen(f->sha256) != 64 || strspn(f->sha256, "0123456789abcdef") != 64) {
			snprintf(why, wlen, "manifest: %ssha256: expected 64 lower-case hex digits",
				 where);
			return -EINVAL;
		}
		if (!json_is_integer(size) || json_integer_value(size) < 0) {
			snprintf(why, wlen, "manifest: %ssize: expected a byte count", where);
			return -EINVAL;
		}
		f->size = (uint64_t)json_integer_value(size);
		m->nfiles++;
	}
	return 0;
}

int manifest_parse(const char *text, size_t len, struct bundle_manifest *m, char *why,
		   size_t wlen)
{
	json_error_t err;
	json_t *root, *ver, *v, *runs;
	int ret = -EINVAL;

	memset(m, 0, sizeof(*m));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		snprintf(why, wlen, "manifest: line %d: %s, expected JSON", err.line, err.text);
		return -EINVAL;
	}
	if (!json_is_string(json_object_get(root, "format")) ||
	    strcmp(json_string_value(json_object_get(root, "format")), "punchlab-bundle") != 0) {
		snprintf(why, wlen, "manifest: format: expected \"punchlab-bundle\" (not a punchlab "
			 "bundle's manifest)");
		goto out;
	}
	/* the version first: a newer format may have changed any other field */
	ver = json_object_get(root, "format_version");
	if (!json_is_integer(ver) || json_integer_value(ver) < 1) {
		snprintf(why, wlen, "manifest: format_version: %s, expected a positive integer",
			 ver ? "not a positive integer" : "missing");
		goto out;
	}
	if (json_integer_value(ver) > BUNDLE_FORMAT_VERSION) {
		snprintf(why, wlen, "bundle format version %lld is newer than this punchlab reads "
			 "(up to %d): replay it with a newer punchlab",
			 (long long)json_integer_value(ver), BUNDLE_FORMAT_VERSION);
		ret = -EPROTONOSUPPORT;
		goto out;
	}
	m->format_version = (int)json_integer_value(ver);
	v = json_object_get(root, "versions");
	runs = json_object_get(root, "runs");
	if (get_str(root, "", "created", m->created, sizeof(m->created), why, wlen) < 0 ||
	    get_str(root, "", "cell", m->cell, sizeof(m->cell), why, wlen) < 0 ||
	    get_str(root, "", "outcome", m->outcome, sizeof(m->outcome), why, wlen) < 0 ||
	    get_str(root, "", "rerun", m->rerun, sizeof(m->rerun), why, wlen) < 0)
		goto out;
	if (!json_is_integer(runs) || json_integer_value(runs) < 0) {
		snprintf(why, wlen, "manifest: runs: expected a count");
		goto out;
	}
	m->runs = (int)json_integer_value(runs);
	if (!json_is_object(v)) {
		snprintf(why, wlen, "manifest: versions: %s, expected an object",
			 v ? "not an object" : "missing");
		goto out;
	}
	if (get_str(v, "versions.", "kernel", m->versions.kernel, sizeof(m->versions.kernel), why, wlen) < 0 ||
	    get_str(v, "versions.", "nft", m->versions.nft, sizeof(m->versions.nft), why, wlen) < 0 ||
	    get_str(v, "versions.", "harness", m->versions.harness, sizeof(m->versions.harness), why, wlen) < 0 ||
	    get_str(v, "versions.", "engine", m->versions.engine, sizeof(m->versions.engine), why, wlen) < 0 ||
	    get_str(v, "versions.", "engine_version", m->versions.engine_version,
		    sizeof(m->versions.engine_version), why, wlen) < 0 ||
	    get_str(v, "versions.", "engine_b", m->versions.engine_b, sizeof(m->versions.engine_b), why, wlen) < 0 ||
	    get_str(v, "versions.", "engine_b_version", m->versions.engine_b_version,
		    sizeof(m->versions.engine_b_version), why, wlen) < 0)
		goto out;
	ret = files_parse(json_object_get(root, "files"), m, why, wlen);
out:
	json_decref(root);
	return ret;
}

const struct bundle_file *manifest_file(const struct bundle_manifest *m, const char *kind,
					const char *ref)
{
	for (int i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].kind, kind) == 0 && (!ref || strcmp(m->files[i].ref, ref) == 0))
			return &m->files[i];
	return NULL;
}

int manifest_verify(const struct bundle_manifest *m, const struct tar_entry *e, int n,
		    char *why, size_t wlen)
{
	int manifests = 0;

	for (int i = 0; i < m->nfiles; i++) {
		if (bundle_path_check(m->files[i].path, why, wlen) < 0)
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (strcmp(m->files[i].path, m->files[j].path) == 0) {
				snprintf(why, wlen, "manifest lists \"%s\" twice", m->files[i].path);
				return -EINVAL;
			}
	}
	for (int i = 0; i < n; i++) {
		const struct bundle_file *f = NULL;
		char hex[65];

		if (bundle_path_check(e[i].path, why, wlen) < 0)
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (strcmp(e[i].path, e[j].path) == 0) {
				snprintf(why, wlen, "the archive holds \"%s\" twice", e[i].path);
				return -EINVAL;
			}
		if (strcmp(e[i].path, BUNDLE_MANIFEST) == 0) {
			manifests++;
			continue;
		}
		for (int j = 0; j < m->nfiles && !f; j++)
			if (strcmp(m->files[j].path, e[i].path) == 0)
				f = &m->files[j];
		if (!f) {
			snprintf(why, wlen, "\"%s\" is in the archive but not in the manifest",
				 e[i].path);
			return -EINVAL;
		}
		if (f->size != e[i].size) {
			snprintf(why, wlen, "\"%s\": %zu bytes, the manifest says %llu", e[i].path,
				 e[i].size, (unsigned long long)f->size);
			return -EINVAL;
		}
		sha256_hex(e[i].data, e[i].size, hex);
		if (strcmp(hex, f->sha256) != 0) {
			snprintf(why, wlen, "\"%s\": checksum mismatch (SHA-256 %s, the manifest "
				 "says %s): the file was changed or damaged", e[i].path, hex,
				 f->sha256);
			return -EINVAL;
		}
	}
	for (int j = 0; j < m->nfiles; j++) {
		bool found = false;
		for (int i = 0; i < n && !found; i++)
			found = strcmp(m->files[j].path, e[i].path) == 0;
		if (!found) {
			snprintf(why, wlen, "\"%s\" is in the manifest but missing from the archive",
				 m->files[j].path);
			return -EINVAL;
		}
	}
	if (manifests != 1) {
		snprintf(why, wlen, "no %s in the archive", BUNDLE_MANIFEST);
		return -EINVAL;
	}
	return 0;
}
