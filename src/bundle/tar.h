/* ustar archives in memory: the container of a repro bundle (docs/bundle.md). Pure code.
 *
 * Written by hand rather than with libarchive: a bundle holds regular files only, and the
 * reader's job is mostly to refuse (links, devices, long-name extensions, bad checksums,
 * truncation), which is shorter to state and to test here than as a policy over a general
 * library. The output is POSIX ustar: GNU tar lists it (tests/lab/bundle.sh), and the reader
 * takes what Python's tarfile writes in ustar format (the same test crafts its bad bundles so). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; the owner frees data with free(). */
struct tar_buf {
	uint8_t *data;
	size_t len, cap;
};

/* Append len bytes. Returns 0 or -ENOMEM. */
int tar_buf_put(struct tar_buf *b, const void *p, size_t len);
void tar_buf_free(struct tar_buf *b);

/* Append one regular file (mode 0644, owner 0, the given mtime) to an archive being written.
 * path is relative, at most 255 bytes and splittable at a '/' into ustar's prefix (155) and
 * name (100). Returns 0, -ENAMETOOLONG, -EINVAL (an empty path) or -ENOMEM. */
int tar_add_file(struct tar_buf *t, const char *path, const void *data, size_t len,
		 long long mtime);
/* End the archive (two zero blocks). Returns 0 or -ENOMEM. */
int tar_finish(struct tar_buf *t);

/* One entry of a parsed archive: data points into the archive's buffer. */
struct tar_entry {
	char path[257];         /* ustar's longest: a 155-byte prefix, '/', a 100-byte name */
	const uint8_t *data;
	size_t size;
};

/* Parse an archive that may hold only regular files, at most max_entries of them. *entries is
 * malloc'd (the caller frees it; its data pointers stay valid as long as buf does). Returns the
 * number of entries, or -EINVAL with why[len] saying what is wrong and where ("entry 3
 * (\"logs/x\"): a symbolic link: a bundle holds regular files only"), or -ENOMEM. The
 * archive must end with a zero block followed by nothing but zero bytes: an archive cut short
 * is "truncated". Paths are returned as written: checking them is the caller's policy. */
int tar_parse(const void *buf, size_t len, int max_entries, struct tar_entry **entries,
	      char *why, size_t wlen);
