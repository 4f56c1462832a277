/* Repro bundles (docs/bundle.md): one .tar.gz with everything a cell needs to run again,
 * checked before anything of it reaches the disk. Depends on base only. */
#pragma once
#include <stddef.h>

#include "bundle/manifest.h"
#include "bundle/tar.h"

/* --- writing ------------------------------------------------------------------------------- */

/* Files collected in memory, then written as one archive with manifest.json first. */
struct bundle_writer {
	struct bundle_manifest m;   /* the caller fills all but files/nfiles */
	uint8_t **data;             /* the files' contents, parallel to m.files */
	size_t total;
};

/* Add a file from memory (copied) or from disk. Checks the path (bundle_path_check), refuses a
 * path twice and a total above BUNDLE_MAX_BYTES. 0, or -EINVAL/-EEXIST/-EFBIG with why, or
 * -errno from reading the source (why names it). */
int bundle_writer_add(struct bundle_writer *w, const char *path, const char *kind,
		      const char *ref, const void *data, size_t len, char *why, size_t wlen);
int bundle_writer_add_file(struct bundle_writer *w, const char *path, const char *kind,
			   const char *ref, const char *src, char *why, size_t wlen);
/* Write the archive to out_file through a temporary file in its directory renamed into place:
 * a failure leaves no partial bundle. 0 or -errno with why. */
int bundle_writer_save(struct bundle_writer *w, const char *out_file, char *why, size_t wlen);
void bundle_writer_free(struct bundle_writer *w);

/* --- reading ------------------------------------------------------------------------------- */

struct bundle {
	struct tar_buf tar;          /* the unpacked archive */
	struct tar_entry *entries;   /* pointing into tar */
	int nentries;
	struct bundle_manifest m;
};

/* Read and verify a bundle file entirely in memory: size limits, gzip, ustar (regular files
 * only), safe paths, the manifest's format version, every file's size and SHA-256. Nothing is
 * written anywhere. 0, or a negative errno with why: -EINVAL (damaged, truncated, tampered,
 * unsafe), -EPROTONOSUPPORT (a newer format), -EFBIG (over a limit), -ENOENT etc. (the file).
 * Free b with bundle_free() in every case. */
int bundle_read(const char *file, struct bundle *b, char *why, size_t wlen);

/* The same from a compressed buffer (what bundle_read does after reading the file). */
int bundle_read_buffer(const void *gz, size_t len, struct bundle *b, char *why, size_t wlen);

void bundle_free(struct bundle *b);

/* An entry by path, NULL when absent. */
const struct tar_entry *bundle_entry(const struct bundle *b, const char *path);

/* Create every entry below dir, which must exist and be empty (mkdtemp): directories 0755,
 * files 0644, each created new (O_EXCL, O_NOFOLLOW, relative to dir's descriptor). On failure
 * whatever was created is left for the caller's bundle_rm_tree(dir). 0 or -errno with why. */
int bundle_extract(const struct bundle *b, const char *dir, char *why, size_t wlen);

/* rm -r dir, not following symbolic links, not crossing into other file systems. 0 or
 * -errno (the first failure; it goes on with the rest). */
int bundle_rm_tree(const char *dir);
