/* Unit tests of profile parameters (src/nft/profile_params.c): parsing NAME=VALUE, the cell
 * id's spelling, and the per-cell copy of shipped profiles with every timeout written in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "matrix/cell.h"
#include "nft/profile.h"
#include "nft/profile_params.h"

#define SHIPPED PUNCHLAB_SOURCE_DIR "/nat-profiles/"
#define TESTDATA PUNCHLAB_SOURCE_DIR "/tests/data/profiles/"

static void test_param_set(void **state)
{
	struct profile_params p = { 0 };
	char why[256];

	(void)state;
	assert_true(profile_params_empty(&p));
	assert_int_equal(profile_param_set(&p, "udp-timeout=5", why, sizeof(why)), 0);
	assert_int_equal(p.udp_unreplied, 5);
	assert_int_equal(p.udp_replied, 5);
	assert_int_equal(profile_params_parse(&p, "udp-timeout-unreplied=3s,udp-timeout-replied=8",
					      why, sizeof(why)), 0);
	assert_int_equal(p.udp_unreplied, 3);
	assert_int_equal(p.udp_replied, 8);

	assert_int_equal(profile_param_set(&p, "tcp-timeout=5", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown parameter \"tcp-timeout\""));
	assert_non_null(strstr(why, "expected udp-timeout, udp-timeout-unreplied or "
				    "udp-timeout-replied"));
	assert_int_equal(profile_param_set(&p, "udp-timeout=five", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "\"five\" is not a number of seconds: expected whole seconds"));
	assert_int_equal(profile_param_set(&p, "udp-timeout=0", why, sizeof(why)), -EINVAL);
	assert_int_equal(profile_param_set(&p, "udp-timeout=86401", why, sizeof(why)), -EINVAL);
	assert_int_equal(profile_param_set(&p, "udp-timeout", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "expected NAME=SECONDS"));
	assert_int_equal(profile_params_parse(&p, "udp-timeout=4,", why, sizeof(why)), -EINVAL);
	/* a failed parse leaves what was set before */
	assert_int_equal(p.udp_unreplied, 4);
}

static void test_id_roundtrip(void **state)
{
	static const struct {
		struct profile_params p;
		const char *id, *cli;
	} cases[] = {
		{ { 0, 0 }, "", "" },
		{ { 5, 5 }, "5s", "udp-timeout=5" },
		{ { 3, 8 }, "3s~8s", "udp-timeout-unreplied=3,udp-timeout-replied=8" },
		{ { 3, 0 }, "3s~-", "udp-timeout-unreplied=3" },
		{ { 0, 8 }, "-~8s", "udp-timeout-replied=8" },
	};
	char buf[64], why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct profile_params back = { 0 };

		assert_int_equal(profile_params_id_format(&cases[i].p, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].id);
		assert_string_equal(profile_params_format(&cases[i].p, buf, sizeof(buf)),
				    cases[i].cli);
		if (!cases[i].id[0])
			continue;
		assert_int_equal(profile_params_id_parse(&back, cases[i].id, why, sizeof(why)), 0);
		assert_true(profile_params_equal(&back, &cases[i].p));
	}
	assert_int_equal(profile_params_id_parse(&(struct profile_params){ 0 }, "-~-", why,
						 sizeof(why)), -EINVAL);
	assert_int_equal(profile_params_id_parse(&(struct profile_params){ 0 }, "5x", why,
						 sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "expected seconds"));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int lines(const char *s)
{
	return count(s, "\n");
}

/* Every shipped profile takes udp-timeout=5: the header says 5, every ct timeout policy and
 * every UDP `timeout Ns` says 5, nothing says the old value, TCP timeouts stay, and the copy
 * has as many lines as the original (diagnostics keep their line numbers). */
static void test_instance_shipped(void **state)
{
	static const char *const names[] = { "full-cone", "restricted-cone",
		"port-restricted-cone", "port-restricted-cone-rst", "full-cone-hairpin", "symmetric",
		"symmetric-sequential", "symmetric-port-range", "cgn" };
	struct profile_params p = { 5, 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct diag_list dl = { .count = 0 };
		struct profile_header h, hc;
		char path[512], copy[4096], old[32], *a, *b;
		int tcp_before;

		snprintf(path, sizeof(path), SHIPPED "%s.nft", names[i]);
		assert_int_equal(profile_header_parse_file(&h, path, &dl), 0);
		assert_int_equal(profile_params_instance(path, &p, copy, sizeof(copy), &dl), 0);
		assert_string_not_equal(copy, path);
		assert_int_equal(profile_header_parse_file(&hc, copy, &dl), 0);
		assert_int_equal(hc.udp_timeout, 5);
		assert_int_equal(hc.udp_timeout_unreplied, 5);
		assert_string_equal(hc.name, h.name);
		a = slurp(path);
		b = slurp(copy);
		assert_int_equal(lines(a), lines(b));
		assert_int_equal(count(b, "unreplied : 5, replied : 5"), 1);
		snprintf(old, sizeof(old), "timeout %ds", h.udp_timeout);
		assert_int_equal(count(b, old), 0);
		assert_int_equal(count(b, "timeout 5s"), count(a, old));
		tcp_before = count(a, "timeout 7440s");
		assert_int_equal(count(b, "timeout 7440s"), tcp_before);
		free(a);
		free(b);
		profile_params_instance_remove(copy);
		assert_int_equal(access(copy, F_OK), -1);
		assert_int_equal(dl.count, 0);
	}
}

static void test_instance_split(void **state)
{
	struct diag_list dl = { .count = 0 };
	struct profile_params p = { .udp_unreplied = 4 };
	struct profile_header h;
	char copy[4096], *b, ut[64];

	(void)state;
	assert_int_equal(profile_header_parse_file(&h, TESTDATA "split-timeout.nft", &dl), 0);
	assert_int_equal(h.udp_timeout_unreplied, 30);
	assert_int_equal(h.udp_timeout, 120);
	assert_string_equal(profile_udp_timeout_format(&h, ut, sizeof(ut)),
			    "unreplied 30, replied 120");
	assert_int_equal(profile_params_instance(TESTDATA "split-timeout.nft", &p, copy,
						 sizeof(copy), &dl), 0);
	b = slurp(copy);
	assert_non_null(strstr(b, "# udp-timeout: unreplied 4, replied 120\n"));
	assert_non_null(strstr(b, "unreplied : 4, replied : 120"));
	free(b);
	profile_params_instance_remove(copy);
}

/* A ruleset without a udp ct timeout policy can not take the parameter: FILE:LINE, exit 2's
 * message names what is expected. No parameters: the original path, nothing written. */
static void test_instance_refused(void **state)
{
	struct diag_list dl = { .count = 0 };
	struct profile_params p = { 5, 5 }, none = { 0 };
	char tmpl[] = "/tmp/punchlab-test-XXXXXX.nft", copy[4096];
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemps(tmpl, 4);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# name: no-policy\n# rfc3489: port-restricted-cone\n"
	      "# mapping: endpoint-independent\n# filtering: address-and-port-dependent\n"
	      "# ports: preserve\n# hairpin: no\n# tcp-unsolicited: drop\n# predictable: yes\n"
	      "# transports: udp, tcp\n# udp-timeout: 30\n# description: no policy\n#\n\n"
	      "table ip punchlab_nat {\n}\n", f);
	fclose(f);
	assert_int_equal(profile_params_instance(tmpl, &p, copy, sizeof(copy), &dl), -EINVAL);
	assert_int_equal(dl.count, 1);
	assert_string_equal(dl.items[0].file, tmpl);
	assert_int_equal(dl.items[0].line, 12); /* where the header ends */
	assert_non_null(strstr(dl.items[0].msg, "udp-timeout can not be set"));
	assert_non_null(strstr(dl.items[0].msg, "expected one"));
	assert_string_equal(copy, "");
	assert_int_equal(profile_params_instance(tmpl, &none, copy, sizeof(copy), &dl), 0);
	assert_string_equal(copy, tmpl);
	profile_params_instance_remove(copy); /* not a copy: left alone */
	assert_int_equal(access(tmpl, F_OK), 0);
	unlink(tmpl);
}

/* The cell id's udp-timeout dimension: absent at the profiles' own, written by enumeration,
 * parsed back, refused when malformed. */
static void test_cell_ids(void **state)
{
	struct matrix_dims d = { .topology = "two-nats", .b_has_nat = true, .nprofiles = 1,
				 .profiles = { "full-cone" }, .udp = true, .ntechniques = 1,
				 .techniques = { "plain" } };
	struct cell_spec *cells = NULL, c;
	char why[256];

	(void)state;
	assert_int_equal(cells_enumerate(&d, &cells), 1);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/full-cone~full-cone");
	free(cells);
	d.params = (struct profile_params){ 5, 5 };
	assert_int_equal(cells_enumerate(&d, &cells), 1);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/full-cone~full-cone/udp-timeout=5s");
	free(cells);
	d.params = (struct profile_params){ 3, 0 };
	assert_int_equal(cells_enumerate(&d, &cells), 1);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/full-cone~full-cone/udp-timeout=3s~-");
	free(cells);

	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/full-cone~full-cone/udp-timeout=3s~8s"
					   "/engine=punch", &c, why, sizeof(why)), 0);
	assert_int_equal(c.udp_timeout_unreplied, 3);
	assert_int_equal(c.udp_timeout_replied, 8);
	assert_string_equal(c.id, "two-nats/udp/udp/full-cone~full-cone/udp-timeout=3s~8s");
	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/full-cone~full-cone/udp-timeout=0s", &c,
					   why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "expected seconds"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_set),
		cmocka_unit_test(test_id_roundtrip),
		cmocka_unit_test(test_instance_shipped),
		cmocka_unit_test(test_instance_split),
		cmocka_unit_test(test_instance_refused),
		cmocka_unit_test(test_cell_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
