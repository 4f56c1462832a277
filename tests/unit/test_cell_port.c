/* The port= dimension of cell ids (issue 15 item 2): the rendezvous and relay port, last in
 * the table, absent at 3478 (ids from before it existed are the default port's cells), set on
 * every enumerated cell by --rendezvous-port, and parsed back so that a rerun line reproduces
 * the cell. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "matrix/cell.h"
#include "matrix/results.h"

static void test_port_parse(void **state)
{
	struct cell_spec c;

	(void)state;
	assert_int_equal(cell_id_parse("two-nats/udp/udp/web-only~web-only/engine=ice", &c), 0);
	assert_int_equal(c.port, 0); /* absent: the run's --rendezvous-port, else 3478 */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/web-only~web-only/engine=ice/port=443",
				       &c), 0);
	assert_int_equal(c.port, 443);
	assert_string_equal(c.id, "two-nats/udp/udp/web-only~web-only/engine=ice/port=443");
	/* 3478 written out is the default: kept as given (not "the run's"), left out of the id */
	assert_int_equal(cell_id_parse("two-nats/tcp/auto/web-only~full-cone/port=3478", &c), 0);
	assert_int_equal(c.port, 3478);
	assert_string_equal(c.id, "two-nats/tcp/auto/web-only~full-cone");
	/* leading zeros are spelling: canonical without them */
	assert_int_equal(cell_id_parse("two-nats/tcp/auto/a~b/port=0443", &c), 0);
	assert_string_equal(c.id, "two-nats/tcp/auto/a~b/port=443");
}

/* Written anywhere among the key=value parts, canonical at the end of the table (after every
 * older dimension, so older ids keep their form). */
static void test_port_last(void **state)
{
	struct cell_spec c;

	(void)state;
	assert_int_equal(cell_id_parse("two-nats/udp/udp/a~b/port=80/signal-delay=20ms/outer=cgn"
				       "/engine=ice/stagger=0", &c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/a~b/engine=ice/stagger=0ms/outer=cgn/"
				  "signal-delay=20ms/port=80");
	assert_int_equal(c.port, 80);
	/* and set by hand: the canonical id names it unless it is the default */
	c.port = 3478;
	assert_int_equal(cell_spec_set_id(&c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/a~b/engine=ice/stagger=0ms/outer=cgn/"
				  "signal-delay=20ms");
	c.port = 65535;
	assert_int_equal(cell_spec_set_id(&c), 0);
	assert_non_null(strstr(c.id, "/port=65535"));
}

static void test_port_bad(void **state)
{
	static const char *const bad[] = { "0", "65536", "99999999999", "-1", "443x", "", "x",
					   "4 43", "+443" };
	struct cell_spec c;
	char why[256], id[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(id, sizeof(id), "two-nats/udp/udp/a~b/port=%s", bad[i]);
		assert_int_equal(cell_id_parse_msg(id, &c, why, sizeof(why)), -EINVAL);
		if (bad[i][0]) /* an empty value is caught before the dimension's parser */
			assert_non_null(strstr(why, "expected a port, 1..65535"));
	}
	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/a~b/port=443/port=80", &c, why,
					   sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "port= given twice"));
}

/* --rendezvous-port: every enumerated cell carries it (its id names it unless 3478). */
static void test_port_enumerate(void **state)
{
	struct matrix_dims d = { .topology = "two-nats", .b_has_nat = true,
				 .profiles = { "web-only", "full-cone" }, .nprofiles = 2,
				 .udp = true, .techniques = { "udp" }, .ntechniques = 1,
				 .engine = "ice", .port = 443 };
	struct cell_spec *cells = NULL, back;
	int n;

	(void)state;
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		assert_int_equal(cells[i].port, 443);
		assert_non_null(strstr(cells[i].id, "/engine=ice/port=443"));
		/* the id is the rerun line: it parses back to the same cell */
		assert_int_equal(cell_id_parse(cells[i].id, &back), 0);
		assert_int_equal(back.port, 443);
		assert_string_equal(back.id, cells[i].id);
	}
	free(cells);
	d.port = 3478;
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++)
		assert_null(strstr(cells[i].id, "port="));
	free(cells);
	d.port = 0;
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 4);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/web-only~web-only/engine=ice");
	free(cells);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_parse),
		cmocka_unit_test(test_port_last),
		cmocka_unit_test(test_port_bad),
		cmocka_unit_test(test_port_enumerate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
