/* Repro bundles: writing, reading and verifying in memory, extracting (bundle.h). */
#include "bundle/bundle.h"

#include "base/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"
#include "bundle/gz.h"

/* --- writing ------------------------------------------------------------------------------- */

int bundle_writer_add(struct bundle_writer *w, const char *path, const char *kind,
		      const char *ref, const void *data, size_t len, char *why, size_t wlen)
{
	struct bundle_file *files, *f;
	uint8_t **datas;

	if (bundle_path_check(path, why, wlen) < 0)
		return -EINVAL;
	for (int i = 0; i <= w->m.nfiles; i++)
		if (strcmp(path, BUNDLE_MANIFEST) == 0 ||
		    (i < w->m.nfiles && strcmp(w->m.files[i].path, path) == 0)) {
			snprintf(why, wlen, "%s is in the bundle already", path);
			return -EEXIST;
		}
	if (w->m.nfiles >= BUNDLE_MAX_ENTRIES - 1 || len > BUNDLE_MAX_BYTES - w->total) {
		snprintf(why, wlen, "adding %s (%zu bytes) would make the bundle larger than a "
			 "bundle may be (%zu MiB, %d files)", path, len, BUNDLE_MAX_BYTES >> 20,
			 BUNDLE_MAX_ENTRIES);
		return -EFBIG;
	}
	files = realloc(w->m.files, (size_t)(w->m.nfiles + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	w->m.files = files;
	datas = realloc(w->data, (size_t)(w->m.nfiles + 1) * sizeof(*datas));
	if (!datas)
		return -ENOMEM;
	w->data = datas;
	datas[w->m.nfiles] = malloc(len ? len : 1);
	if (!datas[w->m.nfiles])
		return -ENOMEM;
	if (len)
		memcpy(datas[w->m.nfiles], data, len);
	f = &files[w->m.nfiles];
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	snprintf(f->ref, sizeof(f->ref), "%s", ref ? ref : "");
	f->size = len;
	sha256_hex(len ? data : "", len, f->sha256);
	w->m.nfiles++;
	w->total += len;
	return 0;
}

/* A whole regular file into memory, at most max bytes. */
static int file_slurp(const char *src, size_t max, uint8_t **data, size_t *len)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC), ret = 0;
	struct stat st;
	size_t got = 0;

	*data = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = -EFBIG;
		goto out;
	}
	*data = malloc((size_t)st.st_size + 1);
	if (!*data) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO; /* shrank while read */
			goto out;
		}
		got += (size_t)n;
	}
	*len = got;
out:
	if (ret) {
		free(*data);
		*data = NULL;
	}
	close(fd);
	return ret;
}

int bundle_writer_add_file(struct bundle_writer *w, const char *path, const char *kind,
			   const char *ref, const char *src, char *why, size_t wlen)
{
	uint8_t *data;
	size_t len = 0;
	int ret = file_slurp(src, BUNDLE_MAX_BYTES, &data, &len);

	if (ret < 0) {
		snprintf(why, wlen, "read %s: %s", src,
			 ret == -EINVAL ? "not a regular file" : strerror(-ret));
		return ret;
	}
	ret = bundle_writer_add(w, path, kind, ref, data, len, why, wlen);
	free(data);
	return ret;
}

int bundle_writer_save(struct bundle_writer *w, const char *out_file, char *why, size_t wlen)
{
	struct tar_buf tar = { 0 }, gz = { 0 };
	char tmp[PATH_MAX] = "";
	bool made = false;
	char *json = manifest_to_json(&w->m);
	long long now = (long long)time(NULL);
	int fd = -1, ret;
	size_t done = 0;

	if (!json) {
		ret = -ENOMEM;
		goto out;
	}
	/* the manifest first: a reader (or a person with tar tvf) sees what it holds at once */
	ret = tar_add_file(&tar, BUNDLE_MANIFEST, json, strlen(json), now);
	for (int i = 0; !ret && i < w->m.nfiles; i++)
		ret = tar_add_file(&tar, w->m.files[i].path, w->data[i], w->m.files[i].size, now);
	if (ret == -ENAMETOOLONG)
		snprintf(why, wlen, "a path in the bundle does not fit ustar (255 bytes, split at a "
			 "'/' into 155 and 100)");
	if (!ret)
		ret = tar_finish(&tar);
	if (!ret && tar.len > BUNDLE_MAX_BYTES) {
		snprintf(why, wlen, "the bundle would be larger than %zu MiB", BUNDLE_MAX_BYTES >> 20);
		ret = -EFBIG;
	}
	if (!ret)
		ret = gz_compress(tar.data, tar.len, &gz);
	if (ret)
		goto out;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out_file) >= sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		snprintf(why, wlen, "%s: path too long", out_file);
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, wlen, "create %s: %s", tmp, strerror(errno));
		goto out;
	}
	made = true;
	while (done < gz.len) {
		ssize_t n = write(fd, gz.data + done, gz.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(why, wlen, "write %s: %s", tmp, strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		ret = -errno;
		fd = -1;
		snprintf(why, wlen, "write %s: %s", tmp, strerror(-ret));
		goto out;
	}
	fd = -1;
	if (rename(tmp, out_file) < 0) {
		ret = -errno;
		snprintf(why, wlen, "rename %s to %s: %s", tmp, out_file, strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	if (ret && made)
		unlink(tmp);
	if (ret == -ENOMEM)
		snprintf(why, wlen, "out of memory");
	free(json);
	tar_buf_free(&tar);
	tar_buf_free(&gz);
	return ret;
}

void bundle_writer_free(struct bundle_writer *w)
{
	for (int i = 0; w->data && i < w->m.nfiles; i++)
		free(w->data[i]);
	free(w->data);
	w->data = NULL;
	manifest_free(&w->m);
}

/* --- reading ------------------------------------------------------------------------------- */

int bundle_read_buffer(const void *gz, size_t len, struct bundle *b, char *why, size_t wlen)
{
	const struct tar_entry *man;
	int ret, n;

	memset(b, 0, sizeof(*b));
	ret = gz_decompress(gz, len, BUNDLE_MAX_BYTES, &b->tar, why, wlen);
	if (ret)
		return ret;
	n = tar_parse(b->tar.data, b->tar.len, BUNDLE_MAX_ENTRIES, &b->entries, why, wlen);
	if (n < 0)
		return n;
	b->nentries = n;
	/* unsafe paths are refused whatever the manifest says (and before it is read) */
	for (int i = 0; i < n; i++)
		if (bundle_path_check(b->entries[i].path, why, wlen) < 0)
			return -EINVAL;
	man = bundle_entry(b, BUNDLE_MANIFEST);
	if (!man) {
		snprintf(why, wlen, "no %s in the archive: not a punchlab bundle", BUNDLE_MANIFEST);
		return -EINVAL;
	}
	ret = manifest_parse((const char *)man->data, man->size, &b->m, why, wlen);
	if (ret)
		return ret;
	return manifest_verify(&b->m, b->entries, b->nentries, why, wlen);
}

int bundle_read(const char *file, struct bundle *b, char *why, size_t wlen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	memset(b, 0, sizeof(*b));
	ret = file_slurp(file, BUNDLE_MAX_BYTES, &data, &len);
	if (ret < 0) {
		if (ret == -EFBIG)
			snprintf(why, wlen, "larger than %zu MiB, the most a bundle may be",
				 BUNDLE_MAX_BYTES >> 20);
		else if (ret == -EINVAL)
			snprintf(why, wlen, "not a regular file");
		else
			snprintf(why, wlen, "%s", strerror(-ret));
		return ret;
	}
	ret = bundle_read_buffer(data, len, b, why, wlen);
	free(data);
	return ret;
}

void bundle_free(struct bundle *b)
{
	if (!b)
		return;
	tar_buf_free(&b->tar);
	free(b->entries);
	b->entries = NULL;
	b->nentries = 0;
	manifest_free(&b->m);
}

const struct tar_entry *bundle_entry(const struct bundle *b, const char *path)
{
	for (int i = 0; i < b->nentries; i++)
		if (strcmp(b->entries[i].path, path) == 0)
			return &b->entries[i];
	return NULL;
}

/* Create one file below dirfd, its parent directories on the way, never following a link. */
static int extract_one(int dirfd, const struct tar_entry *e)
{
	char path[256], *save = NULL, *comp, *next;
	int fd = dup(dirfd), ret = 0;
	size_t done = 0;

	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s", e->path);
	comp = strtok_r(path, "/", &save);
	while (comp && (next = strtok_r(NULL, "/", &save))) {
		int sub;

		if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			goto out;
		}
		sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			ret = -errno;
			goto out;
		}
		close(fd);
		fd = sub;
		comp = next;
	}
	if (!comp) {
		ret = -EINVAL;
		goto out;
	}
	{
		int f = openat(fd, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

		if (f < 0) {
			ret = -errno;
			goto out;
		}
		while (done < e->size) {
			ssize_t n = write(f, e->data + done, e->size - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ret = -errno;
				break;
			}
			done += (size_t)n;
		}
		if (close(f) < 0 && !ret)
			ret = -errno;
	}
out:
	close(fd);
	return ret;
}

int bundle_extract(const struct bundle *b, const char *dir, char *why, size_t wlen)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (dirfd < 0) {
		snprintf(why, wlen, "open %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < b->nentries && !ret; i++) {
		/* checked when read; checked again because this is where it matters */
		if (bundle_path_check(b->entries[i].path, why, wlen) < 0) {
			ret = -EINVAL;
			break;
		}
		ret = extract_one(dirfd, &b->entries[i]);
		if (ret)
			snprintf(why, wlen, "extract %s into %s: %s", b->entries[i].path, dir,
				 strerror(-ret));
	}
	close(dirfd);
	return ret;
}

int bundle_rm_tree(const char *dir)
{
	struct stat st;
	int ret;

	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return remove(dir) < 0 && errno != ENOENT ? -errno : 0;
	ret = paths_empty_dir(dir);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return ret ? ret : -errno;
	return 0;
}
