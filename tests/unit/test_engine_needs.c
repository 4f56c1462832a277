/* An engine's needs: (src/engine/engine_file_needs.c): the key and its bad input at FILE:LINE,
 * the shipped engines that open /dev/net/tun (nebula, n2n) and those that do not, and the check
 * run before any cell: it agrees with opening the device, names engine, device and file when it
 * refuses, and its test seam refuses a device that opens. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "engine/engine_file.h"
#include "engine_bad.h"

#define NAME "needs.yaml"

/* A small valid engine; line 3 is the needs: line each case replaces. */
#define HEAD "engine: t\nprogram: nc\n"                                    /* 1-2 */
#define TAIL "techniques:\n  udp: { transports: [udp], deadline: 2s }\n"  /* 4-5 */ \
	     "roles:\n  peers:\n    command: [\"{{program}}\"]\n"         /* 6-8 */ \
	     "outcome:\n  line: connected\n"                                /* 9-10 */

struct bad_case {
	const char *what, *needs;
	int line;
	const char *wrong, *expect;
};

static const struct bad_case bad_cases[] = {
	{ "needs as a word", "needs: tun\n", 3, "needs: expected a list", "[tun]" },
	{ "unknown device", "needs: [tap]\n", 3, "needs: \"tap\" is unknown",
	  "expected tun (the program opens /dev/net/tun)" },
	{ "a map in the list", "needs: [{ tun: yes }]\n", 3, "needs: expected a word", "tun" },
};

static void test_needs_bad_input(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char yaml[1024];

		snprintf(yaml, sizeof(yaml), HEAD "%s" TAIL, c->needs);
		engine_bad_expect(c->what, NAME, yaml, c->line, c->wrong, c->expect);
	}
}

static void test_needs_parsed(void **state)
{
	const char *yaml = HEAD "needs: [tun]\n" TAIL;
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };

	(void)state;
	assert_int_equal(engine_file_parse_buffer(e, NAME, yaml, strlen(yaml), &dl), 0);
	assert_int_equal(e->needs, EF_NEED_TUN);
	assert_int_equal(e->needs_line, 3);
	assert_string_equal(engine_need_device(EF_NEED_TUN), "/dev/net/tun");
	free(e);
}

/* Exactly the shipped engines whose programs make a TUN/TAP device say so. */
static void test_shipped(void **state)
{
	static const struct { const char *name; unsigned needs; } shipped[] = {
		{ "nebula", EF_NEED_TUN }, { "n2n", EF_NEED_TUN }, { "punch", 0 },
		{ "netcat", 0 }, { "ice", 0 }, { "libp2p", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		struct engine_file *e = calloc(1, sizeof(*e));
		struct diag_list dl = { 0 };
		char path[512];

		snprintf(path, sizeof(path), "%s/engines/%s.yaml", PUNCHLAB_SOURCE_DIR,
			 shipped[i].name);
		if (engine_file_parse(e, path, &dl) != 0)
			fail_msg("%s does not parse", path);
		if (e->needs != shipped[i].needs)
			fail_msg("%s: needs %#x, expected %#x", shipped[i].name, e->needs,
				 shipped[i].needs);
		free(e);
	}
}

/* The check agrees with opening the device here; the seam makes it refuse, in one sentence
 * naming the engine, the device and the file; an engine that needs nothing passes regardless. */
static void test_check(void **state)
{
	const char *yaml = HEAD "needs: [tun]\n" TAIL, *plain = HEAD TAIL;
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };
	char why[1024];
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), opens = fd >= 0, err = errno;

	(void)state;
	if (fd >= 0)
		close(fd);
	unsetenv("PUNCHLAB_TEST_DENY_DEVICE");
	assert_int_equal(engine_file_parse_buffer(e, NAME, yaml, strlen(yaml), &dl), 0);
	assert_int_equal(engine_needs_check(e, why, sizeof(why)), opens ? 0 : -err);
	assert_true(opens ? why[0] == '\0' : strstr(why, "/dev/net/tun") != NULL);

	setenv("PUNCHLAB_TEST_DENY_DEVICE", "/dev/net/tun", 1);
	assert_int_equal(engine_needs_check(e, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "engine t needs /dev/net/tun (needs: [tun] in " NAME ")"));
	assert_non_null(strstr(why, "Permission denied"));
	assert_null(strchr(why, '\n'));
	/* another device named by the seam takes nothing away */
	setenv("PUNCHLAB_TEST_DENY_DEVICE", "/dev/null", 1);
	assert_int_equal(engine_needs_check(e, why, sizeof(why)), opens ? 0 : -err);

	setenv("PUNCHLAB_TEST_DENY_DEVICE", "/dev/net/tun", 1);
	assert_int_equal(engine_file_parse_buffer(e, NAME, plain, strlen(plain), &dl), 0);
	assert_int_equal(engine_needs_check(e, why, sizeof(why)), 0);
	unsetenv("PUNCHLAB_TEST_DENY_DEVICE");
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_bad_input),
		cmocka_unit_test(test_needs_parsed),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
