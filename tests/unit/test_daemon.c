/* The confined daemons' shared pieces (src/lab/daemon.c) that need no lab: the per-node
 * directory's name, its removal, and the log line an error quotes. */
#include <errno.h>
#include <limits.h>
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

#include "lab/daemon.h"

static const char *const files[] = { "a.conf", "a.log" };
static const struct lab_daemon_kind kind = { "test", files, 2 };

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_dir_name(void **state)
{
	char buf[PATH_MAX], small[24];

	(void)state;
	setenv("TMPDIR", "/var/tmp", 1);
	assert_int_equal(lab_daemon_dir(&kind, "lab1", "nat-a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/tmp/punchlab-test-lab1-nat-a");
	setenv("TMPDIR", "", 1); /* empty: as unset */
	assert_int_equal(lab_daemon_dir(&kind, "lab1", "nat-a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/punchlab-test-lab1-nat-a");
	assert_int_equal(lab_daemon_dir(&kind, "lab1", "nat-a", small, sizeof(small)),
			 -ENAMETOOLONG);
	unsetenv("TMPDIR");
}

/* The kind's files and the directory go; a missing file is no error; a stranger's file keeps
 * the directory (rmdir, never a recursive removal). */
static void test_remove(void **state)
{
	char base[] = "/tmp/punchlab-test-daemon-XXXXXX", dir[PATH_MAX], path[PATH_MAX + 16];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(base));
	setenv("TMPDIR", base, 1);
	assert_int_equal(lab_daemon_dir(&kind, "l", "n", dir, sizeof(dir)), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/a.log", dir);
	write_file(path, "x\n");
	lab_daemon_remove(&kind, "l", "n");
	assert_int_equal(stat(dir, &st), -1);

	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/other", dir);
	write_file(path, "x\n");
	lab_daemon_remove(&kind, "l", "n");
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
	lab_daemon_remove(&kind, "l", "n");
	assert_int_equal(stat(dir, &st), -1);
	lab_daemon_remove(&kind, "l", "n"); /* nothing there: nothing happens */
	unsetenv("TMPDIR");
	assert_int_equal(rmdir(base), 0);
}

static void test_last_line(void **state)
{
	char path[] = "/tmp/punchlab-test-daemon-log-XXXXXX", buf[64];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	lab_daemon_last_line(path, buf, sizeof(buf));
	assert_string_equal(buf, "(no output)");
	write_file(path, "starting\nbind: Address already in use\n\n");
	lab_daemon_last_line(path, buf, sizeof(buf));
	assert_string_equal(buf, "bind: Address already in use");
	unlink(path);
	lab_daemon_last_line(path, buf, sizeof(buf));
	assert_string_equal(buf, "(no output)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_name),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_last_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
