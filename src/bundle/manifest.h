/* A repro bundle's manifest (manifest.json, docs/bundle.md): the format version, the cell and
 * its outcome, the command that reran it, the versions it ran with, and every other file of
 * the bundle with its size and SHA-256. Pure code (jansson for the JSON). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/tar.h"

/* The format this punchlab writes and the newest it reads. Bump it when a field changes
 * meaning or disappears (adding a field does not: readers ignore keys they do not know). */
#define BUNDLE_FORMAT_VERSION 1
#define BUNDLE_MANIFEST "manifest.json"
/* Limits a reader enforces (and the writer, so that it never makes a bundle replay refuses):
 * the compressed file and its unpacked contents, and the number of files. */
#define BUNDLE_MAX_BYTES ((size_t)256 << 20)
#define BUNDLE_MAX_ENTRIES 4096

struct bundle_file {
	char path[256];     /* inside the bundle */
	char kind[16];      /* profile, topology, engine, impair, expectations, rules, log, result */
	char ref[256];      /* what the run called it (a shipped name or a path); "" for others */
	char sha256[65];
	uint64_t size;
};

struct bundle_versions {
	char kernel[128], nft[32], harness[32];
	char engine[256], engine_version[64];     /* peer A's (and the servers') */
	char engine_b[256], engine_b_version[64]; /* an engine pair's peer B, else "" */
};

struct bundle_manifest {
	int format_version;
	char created[32];       /* ISO 8601 UTC */
	char cell[1024];        /* the cell id */
	char outcome[16];       /* its representative outcome in the run */
	int runs;               /* how many runs it had */
	char rerun[4096];       /* the rerun command matrix printed for it */
	struct bundle_versions versions;
	struct bundle_file *files; /* malloc'd, nfiles entries */
	int nfiles;
};

/* Free what m owns; NULL-safe. */
void manifest_free(struct bundle_manifest *m);

/* Whether a bundle path is safe to create below a directory: relative, no "." or ".."
 * component, no empty component, no control byte or backslash, under 256 bytes. 0, or -EINVAL
 * with why. */
int bundle_path_check(const char *path, char *why, size_t wlen);

/* The manifest as JSON text (malloc'd, the caller frees), NULL on -ENOMEM. */
char *manifest_to_json(const struct bundle_manifest *m);

/* Parse manifest JSON. The format version is read first: a newer one than
 * BUNDLE_FORMAT_VERSION is -EPROTONOSUPPORT (why names both), before any other field is
 * looked at. Other mistakes: -EINVAL with why naming the field (or JSON's line). m is
 * overwritten; free it with manifest_free() also after an error. */
int manifest_parse(const char *text, size_t len, struct bundle_manifest *m, char *why,
		   size_t wlen);

/* Check a parsed archive against its manifest: every entry but the manifest is listed with
 * its size and SHA-256, every listed file is there, no path twice, every path safe. 0, or
 * -EINVAL with why naming the first file that differs. */
int manifest_verify(const struct bundle_manifest *m, const struct tar_entry *e, int n,
		    char *why, size_t wlen);

/* The listed file of a kind (and ref, when not NULL), NULL when none. */
const struct bundle_file *manifest_file(const struct bundle_manifest *m, const char *kind,
					const char *ref);
