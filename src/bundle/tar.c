/* ustar in memory (tar.h). Field offsets are POSIX.1-1988 ustar's. */
#include "bundle/tar.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

enum {
	F_NAME = 0, F_MODE = 100, F_UID = 108, F_GID = 116, F_SIZE = 124, F_MTIME = 136,
	F_CHKSUM = 148, F_TYPE = 156, F_LINK = 157, F_MAGIC = 257, F_VERSION = 263,
	F_UNAME = 265, F_GNAME = 297, F_PREFIX = 345,
};

int tar_buf_put(struct tar_buf *b, const void *p, size_t len)
{
	if (len > SIZE_MAX - b->len)
		return -ENOMEM;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *n;

		while (cap < b->len + len)
			cap = cap > SIZE_MAX / 2 ? b->len + len : cap * 2;
		n = realloc(b->data, cap);
		if (!n)
			return -ENOMEM;
		b->data = n;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

void tar_buf_free(struct tar_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static unsigned header_sum(const uint8_t *h)
{
	unsigned sum = 0;

	for (int i = 0; i < BLOCK; i++)
		sum += (i >= F_CHKSUM && i < F_CHKSUM + 8) ? ' ' : h[i];
	return sum;
}

/* An octal field: digits, then NULs or spaces to its end (leading spaces allowed, as old tars
 * wrote them). Base-256 numbers (the high bit set) are refused: nothing a bundle holds is big
 * enough to need them. */
static int octal_parse(const uint8_t *f, int n, uint64_t *v)
{
	int i = 0;
	bool digits = false;

	*v = 0;
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v >> 60)
			return -1;
		*v = *v << 3 | (uint64_t)(f[i] - '0');
		digits = true;
	}
	for (; i < n; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return -1;
	return digits ? 0 : -1;
}

int tar_add_file(struct tar_buf *t, const char *path, const void *data, size_t len,
		 long long mtime)
{
	static const uint8_t zeros[BLOCK];
	uint8_t h[BLOCK] = { 0 };
	size_t plen = strlen(path), split = 0;
	int ret;

	if (plen == 0)
		return -EINVAL;
	if (plen > 100) {
		/* the last '/' that leaves at most 100 bytes of name and 155 of prefix */
		for (size_t i = plen - 1; i > 0 && !split; i--)
			if (path[i] == '/' && plen - i - 1 <= 100 && plen - i - 1 > 0 && i <= 155)
				split = i;
		if (!split)
			return -ENAMETOOLONG;
		memcpy(h + F_PREFIX, path, split);
		memcpy(h + F_NAME, path + split + 1, plen - split - 1);
	} else {
		memcpy(h + F_NAME, path, plen);
	}
	if ((uint64_t)len > 077777777777ULL)
		return -EFBIG;
	snprintf((char *)h + F_MODE, 8, "%07o", 0644);
	snprintf((char *)h + F_UID, 8, "%07o", 0);
	snprintf((char *)h + F_GID, 8, "%07o", 0);
	snprintf((char *)h + F_SIZE, 12, "%011" PRIo64, (uint64_t)len);
	snprintf((char *)h + F_MTIME, 12, "%011llo", mtime < 0 ? 0ULL : (unsigned long long)mtime);
	h[F_TYPE] = '0';
	memcpy(h + F_MAGIC, "ustar", 6); /* "ustar\0" */
	memcpy(h + F_VERSION, "00", 2);
	memcpy(h + F_UNAME, "root", 4);
	memcpy(h + F_GNAME, "root", 4);
	snprintf((char *)h + F_CHKSUM, 8, "%06o", header_sum(h));
	h[F_CHKSUM + 7] = ' ';
	ret = tar_buf_put(t, h, BLOCK);
	if (!ret)
		ret = tar_buf_put(t, data, len);
	if (!ret && len % BLOCK)
		ret = tar_buf_put(t, zeros, BLOCK - len % BLOCK);
	return ret;
}

int tar_finish(struct tar_buf *t)
{
	static const uint8_t zeros[2 * BLOCK];

	return tar_buf_put(t, zeros, sizeof(zeros));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case '1': return "a hard link";
	case '2': return "a symbolic link";
	case '3': return "a character device";
	case '4': return "a block device";
	case '5': return "a directory";
	case '6': return "a FIFO";
	case '7': return "a contiguous file";
	case 'x': case 'g': return "a pax extended header";
	case 'L': case 'K': return "a GNU long name";
	default: return "of an unknown type";
	}
}

/* A NUL-terminated copy of a field that may fill its whole width. */
static void field_str(const uint8_t *f, size_t n, char *out)
{
	size_t i = 0;

	while (i < n && f[i])
		i++;
	memcpy(out, f, i);
	out[i] = '\0';
}

/* One header at off: fills e, returns 0, or -EINVAL with why. */
static int header_parse(const uint8_t *h, int index, struct tar_entry *e, char *why, size_t wlen)
{
	char name[101], prefix[156];
	uint64_t sum, size;

	field_str(h + F_NAME, 100, name);
	field_str(h + F_PREFIX, 155, prefix);
	if (prefix[0])
		snprintf(e->path, sizeof(e->path), "%s/%s", prefix, name);
	else
		snprintf(e->path, sizeof(e->path), "%s", name);
	if (octal_parse(h + F_CHKSUM, 8, &sum) < 0 || sum != header_sum(h)) {
		snprintf(why, wlen, "entry %d: its header checksum does not match (a damaged or "
			 "not a tar archive)", index + 1);
		return -EINVAL;
	}
	if (memcmp(h + F_MAGIC, "ustar", 5) != 0) {
		snprintf(why, wlen, "entry %d (\"%s\"): not a ustar header (no \"ustar\" magic)",
			 index + 1, e->path);
		return -EINVAL;
	}
	if (h[F_TYPE] != '0' && h[F_TYPE] != '\0') {
		snprintf(why, wlen, "entry %d (\"%s\"): %s: a bundle holds regular files only",
			 index + 1, e->path, type_name(h[F_TYPE]));
		return -EINVAL;
	}
	if (octal_parse(h + F_SIZE, 12, &size) < 0) {
		snprintf(why, wlen, "entry %d (\"%s\"): its size field is not an octal number",
			 index + 1, e->path);
		return -EINVAL;
	}
	if (!e->path[0]) {
		snprintf(why, wlen, "entry %d: an empty path", index + 1);
		return -EINVAL;
	}
	e->size = (size_t)size;
	return 0;
}

int tar_parse(const void *buf, size_t len, int max_entries, struct tar_entry **entries,
	      char *why, size_t wlen)
{
	const uint8_t *p = buf;
	struct tar_entry *list = NULL;
	size_t off = 0;
	int n = 0, cap = 0;

	*entries = NULL;
	for (;;) {
		struct tar_entry e = { .size = 0 };
		size_t padded;

		if (len - off < BLOCK) {
			snprintf(why, wlen, "truncated: the archive ends %s without its end marker",
				 n ? "after its last complete entry" : "before its first entry");
			goto bad;
		}
		if (all_zero(p + off, BLOCK)) {
			/* the end: what follows may only be zeros (the second end block, padding) */
			if (!all_zero(p + off, len - off)) {
				snprintf(why, wlen, "data after the archive's end marker (offset %zu)",
					 off);
				goto bad;
			}
			break;
		}
		if (n >= max_entries) {
			snprintf(why, wlen, "more than %d entries, the most a bundle may hold",
				 max_entries);
			goto bad;
		}
		if (header_parse(p + off, n, &e, why, wlen) < 0)
			goto bad;
		off += BLOCK;
		padded = e.size + (BLOCK - e.size % BLOCK) % BLOCK;
		if (e.size > len - off || padded > len - off) {
			snprintf(why, wlen, "truncated: entry %d (\"%s\") declares %zu bytes, %zu "
				 "remain", n + 1, e.path, e.size, len - off);
			goto bad;
		}
		e.data = p + off;
		off += padded;
		if (n == cap) {
			struct tar_entry *nl;
			cap = cap ? cap * 2 : 32;
			nl = realloc(list, (size_t)cap * sizeof(*list));
			if (!nl) {
				free(list);
				return -ENOMEM;
			}
			list = nl;
		}
		list[n++] = e;
	}
	*entries = list;
	return n;
bad:
	free(list);
	return -EINVAL;
}
