/* The ICE driver's offer line (src/ice/offer.c): what one peer prints and the other reads back
 * through the harness; formatting and parsing round-trip, the line fits a captured value, and
 * every kind of bad line is refused with what is wrong and what is expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "offer.h"

static void test_round_trip(void **state)
{
	struct offer o = { .ufrag = "A1b+", .pwd = "P/o9XyzHIG5PW4o9iQl6F5", .n = 3 }, back;
	char line[512], why[200];

	(void)state;
	o.c[0] = (struct offer_candidate){ 'h', "1", 2015363327UL, "10.0.1.10", 50931 };
	o.c[1] = (struct offer_candidate){ 's', "2", 1679819007UL, "203.0.113.2", 50931 };
	o.c[2] = (struct offer_candidate){ 'r', "3", 505413887UL, "198.51.100.10", 49184 };
	assert_true(offer_format(&o, line, sizeof(line)) > 0);
	assert_string_equal(line, "A1b+ P/o9XyzHIG5PW4o9iQl6F5 h,1,2015363327,10.0.1.10,50931 "
			    "s,2,1679819007,203.0.113.2,50931 r,3,505413887,198.51.100.10,49184");
	/* three candidates fit a captured value (at most 255 characters) */
	assert_true(strlen(line) < 256);
	assert_int_equal(offer_parse(line, &back, why, sizeof(why)), 0);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.ufrag, "A1b+");
	assert_int_equal(back.c[2].type, 'r');
	assert_int_equal(back.c[2].port, 49184);
	assert_int_equal(back.c[0].priority, 2015363327UL);
	assert_string_equal(back.c[1].addr, "203.0.113.2");
	/* a trailing newline (a line from standard input) is fine */
	strcat(line, "\n");
	assert_int_equal(offer_parse(line, &back, why, sizeof(why)), 0);
	/* too small a buffer is refused, never cut */
	assert_int_equal(offer_format(&o, line, 40), -1);
}

static void test_bad_lines(void **state)
{
	static const struct { const char *line, *wrong, *expect; } bad[] = {
		{ "", "got 0 words", "expected \"UFRAG PWD CANDIDATE...\"" },
		{ "ufrag", "got 1 word", "expected" },
		{ "uf pw", "no candidates", "expected at least one" },
		{ "u-f pw h,1,1,10.0.0.1,1", "ufrag \"u-f\"", "ice-chars" },
		{ "uf pw x,1,1,10.0.0.1,1", "candidate type \"x\"", "expected h, s, p or r" },
		{ "uf pw h,1,1,10.0.0.1", "too few fields", "expected 5" },
		{ "uf pw h,1,1,10.0.0.1,1,9", "too many fields", "expected 5" },
		{ "uf pw h,1,-3,10.0.0.1,1", "priority \"-3\"", "expected a number" },
		{ "uf pw h,1,4294967296,10.0.0.1,1", "priority", "up to 4294967295" },
		{ "uf pw h,1,1,10.0.0.1,0", "port \"0\"", "expected 1 to 65535" },
		{ "uf pw h,1,1,10.0.0.1,70000", "port \"70000\"", "expected 1 to 65535" },
		{ "uf pw h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1 "
		  "h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1 h,1,1,10.0.0.1,1",
		  "more than 8 candidates", "" },
	};
	struct offer o;
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (offer_parse(bad[i].line, &o, why, sizeof(why)) == 0)
			fail_msg("accepted \"%s\"", bad[i].line);
		if (!strstr(why, bad[i].wrong) || !strstr(why, bad[i].expect))
			fail_msg("\"%s\": got \"%s\", expected \"%s\" and \"%s\"", bad[i].line, why,
				 bad[i].wrong, bad[i].expect);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
