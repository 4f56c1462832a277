/* gzip over zlib's deflate/inflate (gz.h): windowBits 15 + 16 selects the gzip wrapper. */
#include "bundle/gz.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define CHUNK 65536

int gz_compress(const void *in, size_t len, struct tar_buf *out)
{
	z_stream z = { 0 };
	unsigned char buf[CHUNK];
	const unsigned char *p = in;
	int zr, ret = 0;

	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	do {
		size_t step = len > UINT_MAX ? UINT_MAX : len;

		z.next_in = (unsigned char *)p;
		z.avail_in = (unsigned)step;
		p += step;
		len -= step;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			zr = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
			if (zr == Z_STREAM_ERROR) {
				ret = -ENOMEM;
				goto out;
			}
			ret = tar_buf_put(out, buf, sizeof(buf) - z.avail_out);
			if (ret)
				goto out;
		} while (z.avail_out == 0);
	} while (len);
	if (zr != Z_STREAM_END)
		ret = -EIO;
out:
	deflateEnd(&z);
	return ret;
}

int gz_decompress(const void *in, size_t len, size_t max_out, struct tar_buf *out, char *why,
		  size_t wlen)
{
	z_stream z = { 0 };
	unsigned char buf[CHUNK];
	size_t produced = 0;
	int zr = Z_OK, ret = 0;

	if (len < 2 || ((const unsigned char *)in)[0] != 0x1f ||
	    ((const unsigned char *)in)[1] != 0x8b) {
		snprintf(why, wlen, "not a gzip file (no gzip magic at its start)");
		return -EINVAL;
	}
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	z.next_in = (unsigned char *)in;
	/* bundles are far below 4 GiB compressed (the caller caps what it reads) */
	z.avail_in = len > UINT_MAX ? UINT_MAX : (unsigned)len;
	while (zr != Z_STREAM_END) {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_MEM_ERROR) {
			ret = -ENOMEM;
			goto out;
		}
		if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
			snprintf(why, wlen, "damaged gzip data (%s)",
				 z.msg ? z.msg : "zlib could not decode it");
			ret = -EINVAL;
			goto out;
		}
		produced += sizeof(buf) - z.avail_out;
		if (produced > max_out) {
			snprintf(why, wlen, "it unpacks to more than %zu MiB, the most a bundle may "
				 "hold", max_out >> 20);
			ret = -EFBIG;
			goto out;
		}
		ret = tar_buf_put(out, buf, sizeof(buf) - z.avail_out);
		if (ret)
			goto out;
		/* no progress with input left to read means the input ended mid-stream */
		if (zr == Z_BUF_ERROR || (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0)) {
			snprintf(why, wlen, "truncated: the compressed data ends before the end of "
				 "its gzip stream (%zu bytes read)", len);
			ret = -EINVAL;
			goto out;
		}
	}
	if (z.avail_in != 0) {
		snprintf(why, wlen, "%u bytes of other data after the gzip stream", z.avail_in);
		ret = -EINVAL;
	}
out:
	inflateEnd(&z);
	return ret;
}
