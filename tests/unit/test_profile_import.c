/* Unit tests of `punchlab profile import`'s parsers (src/cli/profile_import_parse.c): every
 * fixture under tests/data/probe/ is real output of Debian's stun-client or coturn's
 * turnutils_natdiscovery captured in a lab with one shipped profile (tools/probe-capture.sh
 * regenerates them), read against that profile's header; then malformed files, each refused
 * at its line with what was expected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/profile_import.h"
#include "config.h"

#define DATA PUNCHLAB_SOURCE_DIR "/tests/data/probe/"

#define M "measured"
#define A "assumed"
#define U "unknown"
#define EI "endpoint-independent"
#define AD "address-dependent"
#define APD "address-and-port-dependent"

struct good_case {
	const char *file;
	enum import_tool from;        /* AUTO: detection is tested too */
	uint32_t timers[2];
	int n_timers;
	/* value and how of mapping, filtering, ports, hairpin, udp-timeout */
	const char *v[IK_MAX];
	const char *how[IK_MAX];
	const char *args;             /* the profile new arguments, space separated (NULL: not
				       * checked); unknown fields take port-restricted-cone's */
};

static const struct good_case good[] = {
	{ "stun-client-full-cone.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, EI, "preserve", "no", U, U }, { M, M, M, M, U, U },
	  "--mapping " EI " --filtering " EI " --ports preserve --hairpin no --tcp-unsolicited drop "
	  "--udp-timeout 30" },
	{ "stun-client-full-cone-hairpin.txt", IMPORT_STUN_CLIENT, { 0 }, 0,
	  { EI, EI, "preserve", "yes", U, U }, { M, M, M, M, U, U }, NULL },
	{ "stun-client-restricted-cone.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, AD, "preserve", "no", U, U }, { M, M, M, M, U, U }, NULL },
	{ "stun-client-port-restricted-cone.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, APD, "preserve", "no", U, U }, { M, M, M, M, U, U }, NULL },
	{ "stun-client-port-restricted-cone-rst.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, APD, "preserve", "no", U, U }, { M, M, M, M, U, U }, NULL },
	{ "stun-client-cgn.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, APD, "preserve", "yes", U, U }, { M, M, M, M, U, U }, NULL },
	/* RFC 3489 cannot tell address-dependent mapping, filtering or sequential ports */
	{ "stun-client-symmetric.txt", IMPORT_AUTO, { 0 }, 0,
	  { APD, APD, "random", "no", U, U }, { A, A, A, M, U, U },
	  "--mapping " APD " --filtering " APD " --ports random --hairpin no --tcp-unsolicited drop "
	  "--udp-timeout 30" },
	{ "stun-client-symmetric-sequential.txt", IMPORT_AUTO, { 0 }, 0,
	  { APD, APD, "random", "no", U, U }, { A, A, A, M, U, U }, NULL },
	{ "stun-client-symmetric-port-range.txt", IMPORT_AUTO, { 0 }, 0,
	  { APD, APD, "random", "no", U, U }, { A, A, A, M, U, U }, NULL },
	{ "natdiscovery-full-cone.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, EI, U, "no", U, U }, { M, M, U, M, U, U },
	  "--mapping " EI " --filtering " EI " --ports preserve --hairpin no --tcp-unsolicited drop "
	  "--udp-timeout 30" },
	{ "natdiscovery-full-cone-hairpin.txt", IMPORT_NATDISCOVERY, { 0 }, 0,
	  { EI, EI, U, "yes", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-restricted-cone.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, AD, U, "no", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-port-restricted-cone.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, APD, U, "no", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-port-restricted-cone-rst.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, APD, U, "no", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-cgn.txt", IMPORT_AUTO, { 0 }, 0,
	  { EI, APD, U, "yes", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-symmetric.txt", IMPORT_AUTO, { 0 }, 0,
	  { APD, APD, U, "no", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-symmetric-sequential.txt", IMPORT_AUTO, { 0 }, 0,
	  { APD, APD, U, "no", U, U }, { M, M, U, M, U, U }, NULL },
	{ "natdiscovery-symmetric-port-range.txt", IMPORT_AUTO, { 0 }, 0,
	  { APD, APD, U, "no", U, U }, { M, M, U, M, U, U }, NULL },
	/* lifetime against a 4 s UDP timeout: alive after 2 s says only "longer than 2" */
	{ "natdiscovery-lifetime-alive-2.txt", IMPORT_AUTO, { 2 }, 1,
	  { U, U, U, U, U, U }, { U, U, U, U, U, U }, NULL },
	{ "natdiscovery-lifetime-gone-7.txt", IMPORT_AUTO, { 7 }, 1,
	  { U, U, U, U, U, "7" }, { U, U, U, U, U, A },
	  "--mapping " EI " --filtering " APD " --ports preserve --hairpin no --tcp-unsolicited drop "
	  "--udp-timeout 7" },
	/* without its -T the lifetime stays unknown */
	{ "natdiscovery-lifetime-gone-7.txt", IMPORT_AUTO, { 0 }, 0,
	  { U, U, U, U, U, U }, { U, U, U, U, U, U }, NULL },
};

static const char *how_s(enum import_how h)
{
	return h == IMPORT_MEASURED ? M : h == IMPORT_ASSUMED ? A : U;
}

static void test_good(void **state)
{
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *c = &good[i];
		struct import_result r;
		struct diag d = { 0 };
		const char *args[2 * IK_MAX];
		char joined[512] = "";
		char path[512];
		FILE *f;
		unsigned defaulted;
		int n, a;

		snprintf(path, sizeof(path), DATA "%s", c->file);
		f = fopen(path, "r");
		assert_non_null(f);
		if (import_parse(f, path, c->from, c->timers, c->n_timers, &r, &d)) {
			fclose(f);
			fail_msg("%s: %s:%d: %s", c->file, d.file, d.line, d.msg);
		}
		fclose(f);
		assert_true(r.reached);
		assert_false(r.no_nat);
		assert_int_equal(r.tool, strncmp(c->file, "stun", 4) == 0 ? IMPORT_STUN_CLIENT :
				 IMPORT_NATDISCOVERY);
		for (k = 0; k < IK_MAX; k++) {
			if (strcmp(r.f[k].value, c->v[k]) || strcmp(how_s(r.f[k].how), c->how[k]))
				fail_msg("%s: %s: %s (%s), expected %s (%s)", c->file,
					 import_key_name((enum import_key)k), r.f[k].value,
					 how_s(r.f[k].how), c->v[k], c->how[k]);
			/* every assumed or unknown field says why */
			if (r.f[k].how != IMPORT_MEASURED)
				assert_true(r.f[k].why[0] != '\0');
		}
		n = import_profile_args(&r, args, &defaulted);
		assert_int_equal(n, 2 * IK_MAX);
		for (k = 0; k < IK_MAX; k++)
			assert_int_equal(!!(defaulted & (1u << k)), r.f[k].how == IMPORT_UNKNOWN);
		for (a = 0; a < n; a++)
			snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
				 a ? " " : "", args[a]);
		if (c->args)
			assert_string_equal(joined, c->args);
	}
}

struct bad_case {
	const char *file;
	enum import_tool from;
	int line;
	const char *msg;              /* a substring of the diagnostic */
};

static const struct bad_case bad[] = {
	{ "bad-stun-first-line.txt", IMPORT_STUN_CLIENT, 1, "expected \"STUN client version" },
	{ "bad-stun-unknown-type.txt", IMPORT_AUTO, 2, "expected one of stun's NAT types" },
	{ "bad-stun-ports.txt", IMPORT_AUTO, 2, "expected \", preserves ports\"" },
	{ "bad-stun-truncated.txt", IMPORT_AUTO, 3, "no \"Primary: ...\" line" },
	{ "bad-stun-two-runs.txt", IMPORT_AUTO, 5, "a second \"Primary:\" verdict (the first at line 2)" },
	{ "bad-nd-section.txt", IMPORT_AUTO, 4, "expected a section of turnutils_natdiscovery" },
	{ "bad-nd-verdict.txt", IMPORT_AUTO, 34, "expected a verdict of turnutils_natdiscovery" },
	{ "bad-nd-wrong-section.txt", IMPORT_AUTO, 34, "outside its section" },
	{ "bad-nd-empty.txt", IMPORT_AUTO, 1, "neither stun-client's output" },
	{ "bad-nd-empty.txt", IMPORT_NATDISCOVERY, 2, "no \"-= ... Behavior Discovery =-\" section" },
	/* a natdiscovery file named as stun-client's */
	{ "natdiscovery-full-cone.txt", IMPORT_STUN_CLIENT, 2, "expected \"STUN client version" },
};

static void test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *c = &bad[i];
		struct import_result r;
		struct diag d = { 0 };
		char path[512];
		FILE *f;
		int ret;

		snprintf(path, sizeof(path), DATA "%s", c->file);
		f = fopen(path, "r");
		assert_non_null(f);
		ret = import_parse(f, path, c->from, NULL, 0, &r, &d);
		fclose(f);
		if (ret != -EINVAL)
			fail_msg("%s: accepted, expected a refusal at line %d", c->file, c->line);
		assert_string_equal(d.file, path);
		if (d.line != c->line || !strstr(d.msg, c->msg))
			fail_msg("%s: line %d: %s; expected line %d: ...%s...", c->file, d.line, d.msg,
				 c->line, c->msg);
	}
}

/* Outputs that measured nothing or saw no NAT parse, with nothing to rebuild. */
static void test_nothing(void **state)
{
	static const char *texts[] = {
		"STUN client version 0.97\nPrimary: Blocked or could not reach STUN server\t\n",
		"STUN client version 0.97\nPrimary: Open\t\nReturn value is 0x000000\n",
		"\n-= Mapping Behavior Discovery =-\nSTUN receive timeout..\n",
	};
	static const bool reached[] = { false, true, false }, no_nat[] = { false, true, false };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct import_result r;
		struct diag d = { 0 };
		FILE *f = fmemopen((void *)texts[i], strlen(texts[i]), "r");

		assert_non_null(f);
		assert_int_equal(import_parse(f, "mem", IMPORT_AUTO, NULL, 0, &r, &d), 0);
		fclose(f);
		assert_int_equal(r.reached, reached[i]);
		assert_int_equal(r.no_nat, no_nat[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
