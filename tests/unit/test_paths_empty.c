/* paths_empty_dir (src/base/paths.h): a directory emptied, and nothing outside it touched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/paths.h"

static void touch(const char *dir, const char *name)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
}

static int entries(const char *dir)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s' -mindepth 1 | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* files, dotfiles, nested directories and a symlink to a directory outside: the directory
 * stays and is empty; what the symlink pointed at is untouched */
static void test_empty(void **state)
{
	char top[] = "/tmp/punchlab-paths-XXXXXX", dir[300], sub[340], outside[300], link[340];

	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/run-1", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(outside, 0755), 0);
	touch(outside, "keep");
	touch(dir, "punch.secret");
	touch(dir, ".hidden");
	snprintf(sub, sizeof(sub), "%s/pcap", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	touch(sub, "nat-a.pcap");
	snprintf(sub, sizeof(sub), "%s/pcap/deeper", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	touch(sub, "x");
	snprintf(link, sizeof(link), "%s/to-outside", dir);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(entries(dir), 7);

	assert_int_equal(paths_empty_dir(dir), 0);
	assert_int_equal(entries(dir), 0);
	assert_int_equal(entries(outside), 1);
	/* an empty directory: nothing to do */
	assert_int_equal(paths_empty_dir(dir), 0);

	touch(dir, "again");
	assert_int_equal(entries(dir), 1);
	assert_int_equal(paths_empty_dir(dir), 0);
	assert_int_equal(entries(dir), 0);

	/* no such directory, or not a directory: an error, nothing removed */
	assert_int_equal(paths_empty_dir("/nonexistent/punchlab-paths"), -ENOENT);
	snprintf(sub, sizeof(sub), "%s/keep", outside);
	assert_int_equal(paths_empty_dir(sub), -ENOTDIR);
	/* a symlink to a directory is not followed */
	assert_int_equal(paths_empty_dir(link), -ENOENT); /* the link went with the first call */
	assert_int_equal(symlink(outside, link), 0);
	assert_true(paths_empty_dir(link) < 0); /* ENOTDIR or ELOOP: O_DIRECTORY | O_NOFOLLOW */
	assert_int_equal(entries(outside), 1);

	snprintf(sub, sizeof(sub), "rm -rf '%s'", top);
	assert_int_equal(system(sub), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
