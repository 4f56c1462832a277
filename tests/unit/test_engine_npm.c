/* An engine's npm packages (src/engine/engine_file_npm.c): the npm: key and its bad input at
 * FILE:LINE, {{npm.dir}} only where the file declares npm:, the absolute directory, whether
 * npm ci's install is there and no older than package-lock.json; the shipped libp2p engine; and
 * the theory rule of its capability fresh-port-dials. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "engine/engine_file.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "engine_bad.h"

#define NAME "npm.yaml"

/* A small valid engine; line 3 is the npm: line each case replaces. */
#define HEAD "engine: t\nprogram: node\n"                                  /* 1-2 */
#define TAIL "techniques:\n  tcp: { transports: [tcp], deadline: 2s }\n"  /* 4-5 */ \
	     "roles:\n  peers:\n"                                          /* 6-7 */ \
	     "    command: [\"{{program}}\", \"{{npm.dir}}/peer.mjs\"]\n"  /* 8 */   \
	     "outcome:\n  json: { event: result }\n"                       /* 9-10 */

struct bad_case {
	const char *what, *npm;
	int line;
	const char *wrong, *expect;
};

static const struct bad_case bad_cases[] = {
	{ "npm as a word", "npm: libp2p\n", 3, "npm: expected { dir: DIR }", "package-lock.json" },
	{ "unknown npm key", "npm: { path: libp2p }\n", 3, "unknown key \"path\"", "expected dir" },
	{ "absolute dir", "npm: { dir: /opt/x }\n", 3, "\"/opt/x\" is absolute",
	  "expected a directory next to the engine file" },
	{ "dir leaving the engines", "npm: { dir: a/../../x }\n", 3, "leaves the engine file's",
	  "expected a directory next to the engine file" },
	{ "dir with a space", "npm: { dir: \"a b\" }\n", 3, "has characters other than",
	  "expected a directory" },
	{ "empty npm", "npm: {}\n", 3, "npm: no dir", "expected { dir: DIR }" },
	{ "npm.dir without npm", "description: no npm\n", 8, "{{npm.dir}}",
	  "declares no npm: { dir: DIR }" },
	{ "jobs zero", "npm: { dir: js }\njobs: 0\n", 4, "\"0\" is no number of cells",
	  "expected 1 to 256" },
	{ "jobs a word", "npm: { dir: js }\njobs: few\n", 4, "\"few\" is no number of cells",
	  "expected 1 to 256" },
};

static void test_npm_bad_input(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char yaml[1024];

		snprintf(yaml, sizeof(yaml), HEAD "%s" TAIL, c->npm);
		engine_bad_expect(c->what, NAME, yaml, c->line, c->wrong, c->expect);
	}
}

static void touch_at(const char *path, time_t when)
{
	struct timespec ts[2] = { { .tv_sec = when }, { .tv_sec = when } };
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* The directory is next to the engine file, absolute; installed means npm ci's own record of
 * the install (node_modules/.package-lock.json) is there and no older than the lock. */
static void test_npm_dir_and_installed(void **state)
{
	char tmp[] = "/tmp/punchlab-npm-XXXXXX", path[512], dir[512], want[600];
	const char *yaml = HEAD "npm: { dir: eng/js }\n" TAIL;
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/eng", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/eng/js", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/t.yaml", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);

	assert_int_equal(engine_file_parse(e, path, &dl), 0);
	assert_string_equal(e->npm_dir, "eng/js");
	assert_int_equal(engine_npm_dir(e, dir, sizeof(dir)), 0);
	snprintf(want, sizeof(want), "%s/eng/js", tmp);
	assert_string_equal(dir, want);

	/* no lock, no install */
	assert_int_equal(engine_npm_installed(e), -ENOENT);
	snprintf(path, sizeof(path), "%s/eng/js/package-lock.json", tmp);
	touch_at(path, 1000);
	assert_int_equal(engine_npm_installed(e), -ENOENT);
	snprintf(path, sizeof(path), "%s/eng/js/node_modules", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/eng/js/node_modules/.package-lock.json", tmp);
	touch_at(path, 2000);
	assert_int_equal(engine_npm_installed(e), 0);
	/* the lock changed after the install (a git pull): stale until npm ci runs again */
	snprintf(path, sizeof(path), "%s/eng/js/package-lock.json", tmp);
	touch_at(path, 3000);
	assert_int_equal(engine_npm_installed(e), -ESTALE);

	/* an engine without npm: has nothing to install */
	assert_int_equal(engine_file_parse(e, PUNCHLAB_SOURCE_DIR "/engines/netcat.yaml", &dl), 0);
	assert_int_equal(engine_npm_dir(e, dir, sizeof(dir)), -ENOENT);
	assert_int_equal(engine_npm_installed(e), 0);

	snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
	assert_int_equal(system(path), 0);
	free(e);
}

static void test_shipped_libp2p(void **state)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };
	char dir[512];

	(void)state;
	assert_int_equal(engine_file_parse(e, PUNCHLAB_SOURCE_DIR "/engines/libp2p.yaml", &dl), 0);
	assert_string_equal(e->name, "libp2p");
	assert_string_equal(e->npm_dir, "libp2p");
	assert_int_equal(engine_npm_dir(e, dir, sizeof(dir)), 0);
	assert_non_null(strstr(dir, "/engines/libp2p"));
	assert_true(e->capabilities & EF_CAP_FRESH_PORT_DIALS);
	assert_true(e->capabilities & EF_CAP_RELAY_FALLBACK);
	assert_non_null(engine_file_technique(e, "tcp", true));
	assert_null(engine_file_technique(e, "udp", false));
	assert_string_equal(e->roles[0].name, "relay");
	assert_int_equal(e->jobs, 6);
	assert_int_equal(e->outcome.kind, EF_OUTCOME_JSON);
	assert_int_equal(engine_capability_parse("fresh-port-dials"), EF_CAP_FRESH_PORT_DIALS);
	free(e);
}

/* fresh-port-dials: the dials leave from fresh ports, so no NAT has a mapping for the port the
 * other side dials: two NATs never meet directly, whatever their profiles (even two full
 * cones, which punching joins); a peer without a NAT is dialed directly. */
static void test_theory_fresh_port_dials(void **state)
{
	struct profile_header fc, prc;
	struct diag_list dl = { 0 };
	struct theory t;
	struct theory_input in = { .a = &fc, .b = &fc, .layout = LAYOUT_TWO_NATS, .tcp = true,
				   .technique = "tcp" };

	(void)state;
	assert_int_equal(profile_header_parse_file(&fc, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/full-cone.nft", &dl), 0);
	assert_int_equal(profile_header_parse_file(&prc, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/port-restricted-cone.nft", &dl), 0);
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT); /* an engine that punches from its port */
	in.fresh_port_dials = true;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	assert_non_null(strstr(t.why, "dials from fresh ports"));
	in.relay_fallback = true;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_RELAYED);
	/* B without a NAT: A's dial to it passes A's NAT outbound */
	in.a = &prc;
	in.b = NULL;
	in.layout = LAYOUT_PUBLIC_B;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	assert_non_null(strstr(t.why, "has no NAT to pass"));
	/* the relay technique still relays */
	in.technique = "relay";
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_RELAYED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_npm_bad_input),
		cmocka_unit_test(test_npm_dir_and_installed),
		cmocka_unit_test(test_shipped_libp2p),
		cmocka_unit_test(test_theory_fresh_port_dials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
