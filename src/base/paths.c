#include "base/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/userns.h"
#include "config.h"

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *paths_data_dir(void)
{
	static char exe[PATH_MAX];
	const char *env = getenv("PUNCHLAB_DATA_DIR");
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (strncmp(exe, PUNCHLAB_BUILD_DIR "/", strlen(PUNCHLAB_BUILD_DIR) + 1) == 0)
			return PUNCHLAB_SOURCE_DIR;
	}
	if (access(PUNCHLAB_DATA_DIR "/topologies", R_OK) == 0)
		return PUNCHLAB_DATA_DIR;
	return PUNCHLAB_SOURCE_DIR;
}

int paths_resolve(const char *subdir, const char *ext, const char *arg, char *buf, size_t len)
{
	if (strchr(arg, '/') || is_file(arg)) {
		snprintf(buf, len, "%s", arg);
		return is_file(buf) ? 0 : -ENOENT;
	}
	snprintf(buf, len, "%s/%s/%s%s", paths_data_dir(), subdir, arg, ext);
	return is_file(buf) ? 0 : -ENOENT;
}

int paths_mkdir_p(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -ENAMETOOLONG;
	}
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* rootless: in a user namespace entered as a user, or a user still outside one (reading the
 * records before joining a keeper, docs/rootless.md) */
static bool rootless(void)
{
	return userns_rootless() || geteuid() != 0;
}

static const char *rootless_dir(const char *sub, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (!xdg || xdg[0] != '/') {
		errno = ENOENT;
		return NULL;
	}
	/* a cut path would name another directory: refuse (preflight_enter says so first) */
	if (strlen(xdg) > PATHS_RUNTIME_DIR_MAX ||
	    (size_t)snprintf(buf, len, "%s/punchlab%s", xdg, sub) >= len) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return buf;
}

const char *paths_state_dir(void)
{
	static char buf[PATH_MAX];

	return rootless() ? rootless_dir("", buf, sizeof(buf)) : "/run/punchlab";
}

const char *paths_netns_dir(void)
{
	static char buf[PATH_MAX];

	return rootless() ? rootless_dir("/netns", buf, sizeof(buf)) : "/run/netns";
}

/* Remove everything inside the directory open as dirfd (closed here), depth levels at most,
 * never following a symlink or crossing into another file system (dev). Keeps going after a
 * failure so what can go goes; the first error, or 0. */
static int empty_at(int dirfd, dev_t dev, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	int first = 0;

	if (!d) {
		close(dirfd);
		return -errno;
	}
	while ((e = readdir(d))) {
		struct stat st;
		int ret = 0;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = errno == ENOENT ? 0 : -errno;
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (st.st_dev != dev)
				ret = -EXDEV;
			else if (depth <= 0)
				ret = -ELOOP;
			else if ((sub = openat(dirfd, e->d_name,
					       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				ret = -errno;
			else if (!(ret = empty_at(sub, dev, depth - 1)) &&
				 unlinkat(dirfd, e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
				ret = -errno;
		} else if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT) {
			ret = -errno;
		}
		if (ret && !first)
			first = ret;
	}
	closedir(d);
	return first;
}

int paths_empty_dir(const char *dir)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return empty_at(fd, st.st_dev, 32);
}
