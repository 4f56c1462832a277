/* The run timeline (src/matrix/timeline.c, docs/run.md): entries from several sources, added out
 * of time order by several threads, merged in time order (arrival order among equal times); the
 * text and JSON line formats; bounds. Pure: no kernel, no files but a temporary directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "matrix/timeline.h"

/* Sources arrive out of order (a conntrack event read after an engine line stamped later):
 * the sorted timeline is by time, and equal times keep their arrival order. */
static void test_merge_order(void **state)
{
	struct timeline tl;

	(void)state;
	timeline_init(&tl, 1000.0, NULL, 0);
	assert_int_equal(timeline_add(&tl, 1163.0, TL_ENGINE, "peer-a", "line", "{\"event\":\"probe\"}"), 0);
	assert_int_equal(timeline_add(&tl, 1162.9, TL_CT_EVENT, "nat-a", "new", "udp a -> b"), 0);
	assert_int_equal(timeline_add(&tl, 1010.0, TL_LAB, "lab", "up", "built"), 0);
	assert_int_equal(timeline_add(&tl, 1187.3, TL_OUTCOME, "cell", "direct", "engine said direct"), 0);
	assert_int_equal(timeline_add(&tl, 1187.3, TL_ATTEST, "lab", "direct", "second at 187.3"), 0);
	assert_int_equal(timeline_add(&tl, 1162.9, TL_CT_EVENT, "nat-a", "update", "same time, later"), 0);
	timeline_sort(&tl);
	assert_int_equal(tl.n, 6);
	assert_string_equal(tl.v[0].what, "up");
	assert_true(tl.v[0].t_ms > 9.99 && tl.v[0].t_ms < 10.01); /* ms from the origin */
	assert_string_equal(tl.v[1].what, "new");
	assert_string_equal(tl.v[2].what, "update"); /* same time as "new": arrival order */
	assert_string_equal(tl.v[3].who, "peer-a");
	assert_int_equal(tl.v[4].src, TL_OUTCOME);   /* equal times: arrival, not source, order */
	assert_int_equal(tl.v[5].src, TL_ATTEST);
	for (size_t i = 1; i < tl.n; i++)
		assert_true(tl.v[i - 1].t_ms <= tl.v[i].t_ms);
	timeline_free(&tl);
}

static void test_text_format(void **state)
{
	struct tl_entry e = { .t_ms = 162.94, .src = TL_CT_EVENT };
	char buf[600];

	(void)state;
	snprintf(e.who, sizeof(e.who), "nat-b");
	snprintf(e.what, sizeof(e.what), "destroy");
	snprintf(e.text, sizeof(e.text), "udp 10.0.2.10:49490 -> 203.0.113.18:49490");
	assert_string_equal(timeline_format_text(&e, buf, sizeof(buf)),
			    "    162.9 ms  conntrack  nat-b    destroy  udp 10.0.2.10:49490 -> "
			    "203.0.113.18:49490");
	e.src = TL_CT_DUMP;
	snprintf(e.what, sizeof(e.what), "refresh");
	assert_non_null(strstr(timeline_format_text(&e, buf, sizeof(buf)), "  dump       nat-b    refresh  "));
	assert_string_equal(tl_source_name(TL_NAT_EVENT), "nat-event");
	assert_string_equal(tl_source_name(TL_SOURCES), "?");
}

/* An engine's JSON line inside the text: quotes, backslashes and control bytes escaped, and a
 * line cut by a small buffer stays one valid JSON object (the text is what is cut). */
static void test_json_format(void **state)
{
	struct tl_entry e = { .t_ms = 135.7, .src = TL_ENGINE };
	char buf[1024], small[120];

	(void)state;
	snprintf(e.who, sizeof(e.who), "peer-a");
	snprintf(e.what, sizeof(e.what), "line");
	snprintf(e.text, sizeof(e.text), "{\"event\":\"start\",\"path\":\"C:\\x\"}\x01");
	assert_string_equal(timeline_format_json(&e, buf, sizeof(buf)),
			    "{\"t_ms\":135.7,\"source\":\"engine\",\"who\":\"peer-a\",\"what\":\"line\","
			    "\"text\":\"{\\\"event\\\":\\\"start\\\",\\\"path\\\":\\\"C:\\\\x\\\"}"
			    "\\u0001\"}");
	timeline_format_json(&e, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(small[strlen(small) - 1], '}');
	assert_non_null(strstr(small, "\"text\":\""));
	/* no escape cut in half: the text part ends with a whole character before the quote */
	assert_true(small[strlen(small) - 3] != '\\' || small[strlen(small) - 4] == '\\');
}

/* Newlines in a text become spaces (one entry, one line); the bound counts what it drops. */
static void test_lines_and_bound(void **state)
{
	struct timeline tl;

	(void)state;
	timeline_init(&tl, 0, NULL, 2);
	assert_int_equal(timeline_add(&tl, 1, TL_ENGINE, "rendezvous", "line", "a\nb\tc"), 0);
	assert_string_equal(tl.v[0].text, "a b c");
	assert_int_equal(timeline_add(&tl, 2, TL_ENGINE, "rendezvous", "line", "two"), 0);
	assert_int_equal(timeline_add(&tl, 3, TL_ENGINE, "rendezvous", "line", "three"), -ENOSPC);
	assert_int_equal(tl.n, 2);
	assert_int_equal(tl.dropped, 1);
	timeline_free(&tl);
}

/* The files: a header, the entries sorted, the JSON lines one object each, the drop noted. */
static void test_write(void **state)
{
	char dir[] = "/tmp/unit-timeline.XXXXXX", path[300], line[1200];
	struct timeline tl;
	FILE *f;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	timeline_init(&tl, 0, NULL, 3);
	timeline_add(&tl, 20, TL_CT_DUMP, "nat-a", "final", "udp x");
	timeline_add(&tl, 10, TL_CT_EVENT, "nat-a", "new", "udp x");
	timeline_add(&tl, 30, TL_OUTCOME, "cell", "direct", "ok");
	timeline_add(&tl, 40, TL_LAB, "lab", "down", "dropped");
	assert_int_equal(timeline_write(&tl, dir, "cell two-nats/udp/udp/a~b"), 0);
	snprintf(path, sizeof(path), "%s/timeline.txt", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "# cell two-nats/udp/udp/a~b\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, " new "));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, " final "));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "1 later entries were not kept"));
	fclose(f);
	unlink(path);
	snprintf(path, sizeof(path), "%s/timeline.jsonl", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		assert_int_equal(line[0], '{');
		assert_non_null(strstr(line, "}\n"));
		n++;
	}
	assert_int_equal(n, 3);
	fclose(f);
	unlink(path);
	rmdir(dir);
	timeline_free(&tl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_order),
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_json_format),
		cmocka_unit_test(test_lines_and_bound),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
