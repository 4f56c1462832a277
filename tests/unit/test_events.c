/* The NAT event timeline grammar (src/lab/events.c): parsing, canonical form, ordering, errors
 * that name the event as typed, and the checks against a topology. Pure: no lab is built. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/events.h"
#include "lab/topo.h"
#include "matrix/cell.h"
#include "matrix/cell_events.h"

struct ok_case {
	const char *in;
	const char *canonical;
};

static const struct ok_case ok_cases[] = {
	{ "nat-a reboot@3s", "nat-a reboot@3s" },
	{ "nat-a reboot@2s for 3s", "nat-a reboot@2s for 3s" },
	{ "nat-a rebind@2500ms", "nat-a rebind@2500ms" },
	{ "nat-b wan-address@1.5s", "nat-b wan-address@1500ms" },
	{ "  nat-a reboot@3000ms  ", "nat-a reboot@3s" },
	{ "link inet:nat-a down@5s for 3s", "link inet:nat-a down@5s for 3s" },
	{ "link nat-a:inet down@0ms for 250ms", "link nat-a:inet down@0s for 250ms" },
	/* sorted by time, equal times in the written order */
	{ "nat-a reboot@3s,link inet:nat-a down@5s for 3s, nat-b rebind@1s, nat-a rebind@3s",
	  "nat-b rebind@1s, nat-a reboot@3s, nat-a rebind@3s, link inet:nat-a down@5s for 3s" },
	{ "", "" },
	{ "   ", "" },
};

static void test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		struct lab_timeline tl, again;
		char why[300], buf[1024], buf2[1024];

		print_message("%s\n", ok_cases[i].in);
		assert_int_equal(lab_timeline_parse(ok_cases[i].in, &tl, why, sizeof(why)), 0);
		assert_string_equal(why, "");
		assert_int_equal(lab_timeline_format(&tl, buf, sizeof(buf)), 0);
		assert_string_equal(buf, ok_cases[i].canonical);
		/* the canonical form parses to the same timeline */
		assert_int_equal(lab_timeline_parse(buf, &again, why, sizeof(why)), 0);
		assert_int_equal(lab_timeline_format(&again, buf2, sizeof(buf2)), 0);
		assert_string_equal(buf, buf2);
	}
}

static void test_fields(void **state)
{
	struct lab_timeline tl;
	char why[300];

	(void)state;
	assert_int_equal(lab_timeline_parse("link inet:nat-a down@5s for 3s, nat-b rebind@1s",
					     &tl, why, sizeof(why)), 0);
	assert_int_equal(tl.n, 2);
	assert_int_equal(tl.ev[0].kind, LAB_EV_REBIND);
	assert_string_equal(tl.ev[0].node, "nat-b");
	assert_int_equal(tl.ev[0].at_ms, 1000);
	assert_int_equal(tl.ev[0].for_ms, 0);
	assert_int_equal(tl.ev[1].kind, LAB_EV_LINK_DOWN);
	assert_string_equal(tl.ev[1].node, "inet");
	assert_string_equal(tl.ev[1].node2, "nat-a");
	assert_int_equal(tl.ev[1].at_ms, 5000);
	assert_int_equal(tl.ev[1].for_ms, 3000);
	assert_string_equal(lab_event_kind_name(LAB_EV_WAN_ADDRESS), "wan-address");
}

struct bad_case {
	const char *in;
	const char *why; /* a piece the message must hold */
};

static const struct bad_case bad_cases[] = {
	{ "nat-a reboot", "no @TIME" },
	{ "nat-a explode@3s", "unknown event \"explode\"" },
	{ "nat-a reboot@3", "time \"3\" is not valid" },
	{ "nat-a reboot@3h", "time \"3h\" is not valid" },
	{ "nat-a reboot@-1s", "time \"-1s\" is not valid" },
	{ "nat-a reboot@0.0005s", "time \"0.0005s\" is not valid" },
	{ "nat-a reboot@7200s", "at most an hour" },
	{ "nat-a rebind@1s for 2s", "only a reboot" },
	{ "nat-a reboot@1s for 0s", "duration \"0s\" is not valid" },
	{ "nat-a reboot@1s, ,nat-b reboot@2s", "empty event between commas" },
	{ "nat-a reboot@1s,", "empty event between commas" },
	{ "link inet:nat-a down@5s", "needs \"for DURATION\"" },
	{ "link inet:nat-a down@5s for", "needs \"for DURATION\"" },
	{ "link inet-nat-a down@5s for 3s", "expected \"NODE reboot@TIME" },
	{ "link inet:nat-a up@5s for 3s", "expected \"NODE reboot@TIME" },
	{ "link inet:nat-a down@5s for 3x", "duration \"3x\" is not valid" },
	{ "nat/a reboot@1s", "not a node name" },
	{ "nat-a reboot@1s now please", "\"now please\" after the time, expected \"for DURATION\"" },
	{ "link inet:nat-a down@1s for 2s please", "too many words" },
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct lab_timeline tl;
		char why[300] = "";

		print_message("%s\n", bad_cases[i].in);
		assert_int_equal(lab_timeline_parse(bad_cases[i].in, &tl, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad_cases[i].why))
			fail_msg("\"%s\": got \"%s\", expected it to say \"%s\"", bad_cases[i].in, why,
				 bad_cases[i].why);
	}
}

static void test_too_many(void **state)
{
	char text[2048] = "", why[300];
	struct lab_timeline tl;

	(void)state;
	for (int i = 0; i <= LAB_EVENTS_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%snat-a reboot@%ds",
			 i ? "," : "", i);
	assert_int_equal(lab_timeline_parse(text, &tl, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "more than 16 events"));
}

static void test_check(void **state)
{
	static const struct bad_case cases[] = {
		{ "nat-c reboot@1s", "no node \"nat-c\"" },
		{ "host-a reboot@1s", "is a host node, expected a nat node" },
		{ "link host-a:inet down@1s for 1s", "no two-ended link joins host-a and inet" },
		{ "link inet:nosuch down@1s for 1s", "no node \"nosuch\"" },
	};
	char path[512], why[300];
	struct diag_list dl = { 0 };
	struct topo t;
	struct lab_timeline tl;

	(void)state;
	snprintf(path, sizeof(path), "%s/topologies/two-nats.yaml", PUNCHLAB_SOURCE_DIR);
	if (topo_parse_file(&t, path, &dl) < 0)
		fail_msg("%s: %s", path, dl.count ? dl.items[0].msg : "?");
	assert_int_equal(lab_timeline_parse("nat-a reboot@1s, nat-b rebind@2s, nat-a wan-address@3s,"
					    " link nat-a:inet down@4s for 1s, link host-b:nat-b "
					    "down@5s for 1s", &tl, why, sizeof(why)), 0);
	assert_int_equal(lab_timeline_check(&tl, &t, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(lab_timeline_parse(cases[i].in, &tl, why, sizeof(why)), 0);
		assert_int_equal(lab_timeline_check(&tl, &t, why, sizeof(why)), -EINVAL);
		if (!strstr(why, cases[i].why))
			fail_msg("\"%s\": got \"%s\", expected \"%s\"", cases[i].in, why, cases[i].why);
	}
}

/* The steps a timeline runs: an event with a duration is two, all in time order. */
/* Which events a family 6 or dual cell takes (cell_events_family_check()): reboot and link down
 * in every family, rebind and wan-address in family 4 only, refused naming cell and event. */
static void test_family_check(void **state)
{
	static const struct {
		enum cell_family family;
		const char *events;
		const char *refusal; /* NULL: accepted */
	} cases[] = {
		{ CELL_FAMILY_4, "nat-a rebind@1s, nat-b wan-address@2s", NULL },
		{ CELL_FAMILY_6, "", NULL },
		{ CELL_FAMILY_6, "nat-a reboot@1s for 1s, link inet:nat-b down@2s for 1s", NULL },
		{ CELL_FAMILY_DUAL, "nat-b reboot@1s", NULL },
		{ CELL_FAMILY_6, "nat-a reboot@1s, nat-a rebind@2s",
		  "nat-a rebind is an IPv4 event (family 4 only): in family 6 cells, expected reboot "
		  "or link down" },
		{ CELL_FAMILY_DUAL, "nat-b wan-address@1s",
		  "nat-b wan-address is an IPv4 event (family 4 only): in family dual cells" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cell_spec c;
		char why[600] = "";
		int ret;

		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "cell-%zu", i);
		snprintf(c.events, sizeof(c.events), "%s", cases[i].events);
		c.family = cases[i].family;
		ret = cell_events_family_check(&c, why, sizeof(why));
		if (!cases[i].refusal) {
			if (ret != 0)
				fail_msg("case %zu (%s): refused: %s", i, cases[i].events, why);
			continue;
		}
		assert_int_equal(ret, -EINVAL);
		if (!strstr(why, cases[i].refusal) || !strstr(why, c.id))
			fail_msg("case %zu: \"%s\" lacks \"%s\" or the cell id", i, why,
				 cases[i].refusal);
	}
}

static void test_steps(void **state)
{
	struct lab_event_record rec[LAB_EVENT_RECORDS_MAX];
	struct lab_timeline tl;
	char why[300];
	int n;

	(void)state;
	assert_int_equal(lab_timeline_parse("link inet:nat-a down@1s for 3s, nat-a rebind@2s, "
					    "nat-b reboot@3s for 500ms", &tl, why, sizeof(why)), 0);
	n = lab_timeline_steps(&tl, rec);
	assert_int_equal(n, 5);
	assert_int_equal(rec[0].ev.kind, LAB_EV_LINK_DOWN);
	assert_false(rec[0].up);
	assert_int_equal(rec[0].planned_ms, 1000);
	assert_int_equal(rec[1].ev.kind, LAB_EV_REBIND);
	assert_int_equal(rec[1].planned_ms, 2000);
	assert_int_equal(rec[2].ev.kind, LAB_EV_REBOOT);
	assert_false(rec[2].up);
	assert_int_equal(rec[2].planned_ms, 3000);
	assert_int_equal(rec[3].ev.kind, LAB_EV_REBOOT);
	assert_true(rec[3].up);
	assert_int_equal(rec[3].planned_ms, 3500);
	assert_int_equal(rec[4].ev.kind, LAB_EV_LINK_DOWN);
	assert_true(rec[4].up);
	assert_int_equal(rec[4].planned_ms, 4000);
	for (int i = 0; i < n; i++)
		assert_int_equal(rec[i].ret, -ECANCELED); /* nothing applied yet */
	/* an instant reboot is one step */
	assert_int_equal(lab_timeline_parse("nat-a reboot@1s", &tl, why, sizeof(why)), 0);
	assert_int_equal(lab_timeline_steps(&tl, rec), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),   cmocka_unit_test(test_fields),
		cmocka_unit_test(test_parse_bad),  cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_check),      cmocka_unit_test(test_steps),
		cmocka_unit_test(test_family_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
