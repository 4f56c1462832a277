/* gzip (RFC 1952) in memory over zlib, for repro bundles. Pure code. */
#pragma once
#include <stddef.h>

#include "bundle/tar.h"

/* Compress len bytes into out (appended) as one gzip member. Returns 0 or -ENOMEM. */
int gz_compress(const void *in, size_t len, struct tar_buf *out);

/* Decompress one gzip member into out (appended), at most max_out bytes. The member's CRC-32
 * and length are checked by zlib. Returns 0, -EFBIG (more than max_out bytes: why says so),
 * -EINVAL (not gzip, damaged, cut short, or followed by other data: why says which) or
 * -ENOMEM. */
int gz_decompress(const void *in, size_t len, size_t max_out, struct tar_buf *out, char *why,
		  size_t wlen);
