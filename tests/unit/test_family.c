/* The address family dimension (issue 15 item 1, docs/matrix.md "Address families"): its part
 * of the cell ids, the dual theory (direct when either family's is), and the engine variables
 * of each family. */
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

#include "config.h"
#include "engine/adapter.h"
#include "matrix/cell.h"
#include "matrix/expect.h"
#include "matrix/results_json_read.h"
#include "matrix/results_merge.h"
#include "report/report.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "report_mem.h"
#include "shipped.h"

/* --- ids ---------------------------------------------------------------------------------- */

static void test_id_family(void **state)
{
	struct cell_spec c;
	char why[256];

	(void)state;
	/* IPv4 is the default: an id from before the dimension is an IPv4 cell's, unchanged */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/symmetric~symmetric", &c), 0);
	assert_int_equal(c.family, CELL_FAMILY_4);
	assert_string_equal(c.id, "two-nats/udp/udp/symmetric~symmetric");
	/* written at its default it is accepted and dropped from the canonical id */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/symmetric~symmetric/family=4", &c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/symmetric~symmetric");

	assert_int_equal(cell_id_parse("two-nats/udp/udp/nat66~ipv6-firewall/family=6", &c), 0);
	assert_int_equal(c.family, CELL_FAMILY_6);
	assert_string_equal(c.id, "two-nats/udp/udp/nat66~ipv6-firewall/family=6");

	/* dual: the default companion (ipv6-firewall) is absent, another one named */
	assert_int_equal(cell_id_parse("two-nats/tcp/auto/symmetric~symmetric/family=dual", &c), 0);
	assert_int_equal(c.family, CELL_FAMILY_DUAL);
	assert_string_equal(c.ipv6_profile, "");
	assert_int_equal(cell_id_parse("two-nats/udp/udp/symmetric~symmetric/family=dual/"
				       "ipv6-profile=ipv6-firewall", &c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/symmetric~symmetric/family=dual");
	assert_int_equal(cell_id_parse("two-nats/udp/udp/symmetric~symmetric/ipv6-profile=nat66/"
				       "family=dual", &c), 0);
	assert_string_equal(c.ipv6_profile, "nat66");
	assert_string_equal(c.id, "two-nats/udp/udp/symmetric~symmetric/family=dual/"
				  "ipv6-profile=nat66");
	/* a path as companion is percent-encoded like every reference */
	c.family = CELL_FAMILY_DUAL;
	snprintf(c.ipv6_profile, sizeof(c.ipv6_profile), "/tmp/fw6.nft");
	assert_int_equal(cell_spec_set_id(&c), 0);
	assert_non_null(strstr(c.id, "/family=dual/ipv6-profile=%2Ftmp%2Ffw6.nft"));

	/* after every older dimension */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/symmetric~symmetric/family=6/impair=lte", &c),
			 0);
	assert_string_equal(c.id, "two-nats/udp/udp/symmetric~symmetric/impair=lte/family=6");
	/* the family is appended after the rendezvous port (h-turn's port=, merged first) */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/symmetric~symmetric/family=dual/port=443",
				       &c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/symmetric~symmetric/port=443/family=dual");

	/* bad input */
	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/a~b/family=5", &c, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "expected 4, 6 or dual"));
	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/a~b/family=6/ipv6-profile=nat66", &c,
					   why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "expected family=dual"));
	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/a~b/ipv6-profile=nat66", &c, why,
					   sizeof(why)), -EINVAL);
	assert_int_equal(cell_id_parse_msg("two-nats/udp/udp/a~b/family=dual/family=6", &c, why,
					   sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "given twice"));
}

static void test_family_names(void **state)
{
	enum cell_family f;

	(void)state;
	assert_string_equal(cell_family_name(CELL_FAMILY_4), "4");
	assert_string_equal(cell_family_name(CELL_FAMILY_6), "6");
	assert_string_equal(cell_family_name(CELL_FAMILY_DUAL), "dual");
	assert_int_equal(cell_family_parse("dual", &f), 0);
	assert_int_equal(f, CELL_FAMILY_DUAL);
	assert_int_equal(cell_family_parse("6", &f), 0);
	assert_int_equal(f, CELL_FAMILY_6);
	assert_int_equal(cell_family_parse("ipv6", &f), -EINVAL);
	assert_int_equal(cell_family_parse("", &f), -EINVAL);
}

static void test_enumerate_family(void **state)
{
	struct matrix_dims d = { .b_has_nat = true, .udp = true, .nprofiles = 2,
				 .profiles = { "symmetric", "full-cone" }, .ntechniques = 1,
				 .techniques = { "plain" } };
	struct cell_spec *cells;
	int n;

	(void)state;
	snprintf(d.topology, sizeof(d.topology), "two-nats");
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 4);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/symmetric~symmetric");
	free(cells);
	d.family = CELL_FAMILY_DUAL;
	d.ipv6_profile = "nat66";
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 4);
	assert_string_equal(cells[3].id, "two-nats/udp/udp/full-cone~full-cone/family=dual/"
					 "ipv6-profile=nat66");
	assert_int_equal(cells[3].family, CELL_FAMILY_DUAL);
	free(cells);
	/* only dual cells carry a companion */
	d.family = CELL_FAMILY_6;
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 4);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/symmetric~symmetric/family=6");
	assert_string_equal(cells[0].ipv6_profile, "");
	free(cells);
}

/* --- the dual theory ------------------------------------------------------------------------ */

#define PUNCH_CAPS                                                                          \
	(EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE | EF_CAP_SIMULTANEOUS_OPEN |                    \
	 EF_CAP_PORT_PREDICTION | EF_CAP_BIRTHDAY | EF_CAP_RELAY | EF_CAP_IGNORES_ICMP | EF_CAP_IPV6)

static void dual(const char *a4, const char *b4, const char *six, bool tcp, const char *technique,
		 struct theory *t4, struct theory *t6, struct theory *td)
{
	static struct profile_header ha, hb, h6;
	struct theory_input in4 = { .layout = LAYOUT_TWO_NATS, .tcp = tcp, .technique = technique };
	struct theory_input in6;

	shipped_profile_load(a4, &ha);
	shipped_profile_load(b4, &hb);
	shipped_profile_load(six, &h6);
	in4.a = &ha;
	in4.b = &hb;
	/* punch's own capabilities that bear on these cells (engines/punch.yaml) */
	theory_input_set_engines(&in4, PUNCH_CAPS, PUNCH_CAPS);
	in6 = in4;
	in6.a = in6.b = &h6;
	theory_predict(&in4, t4);
	theory_predict(&in6, t6);
	theory_predict_dual(&in4, &in6, td);
}

static void test_dual_theory(void **state)
{
	struct theory t4, t6, td;

	(void)state;
	/* the interesting grid: symmetric x symmetric fails over IPv4, goes direct over IPv6 */
	dual("symmetric", "symmetric", "ipv6-firewall", false, "udp", &t4, &t6, &td);
	assert_int_equal(t4.outcome, CELL_FAILED);
	assert_int_equal(t6.outcome, CELL_DIRECT);
	assert_int_equal(td.outcome, CELL_DIRECT);
	assert_string_equal(td.family, "6");
	assert_int_equal(theory_class(&td), CLASS_DETERMINED);
	assert_non_null(strstr(td.why, "dual: direct over IPv6"));
	assert_non_null(strstr(td.why, "IPv4: failed"));
	dual("symmetric", "symmetric", "ipv6-firewall", true, "tcp", &t4, &t6, &td);
	assert_int_equal(td.outcome, CELL_DIRECT);
	assert_string_equal(td.family, "6");

	/* both direct and certain: either family may win the race */
	dual("full-cone", "full-cone", "ipv6-firewall", false, "udp", &t4, &t6, &td);
	assert_int_equal(t4.outcome, CELL_DIRECT);
	assert_int_equal(td.outcome, CELL_DIRECT);
	assert_string_equal(td.family, "4 or 6");

	/* relay: relayed whatever the family */
	dual("symmetric", "symmetric", "nat66", false, "relay", &t4, &t6, &td);
	assert_int_equal(td.outcome, CELL_RELAYED);

	/* a race on IPv4 (RST NATs, tcp) against a certain IPv6 path: the certain one decides */
	dual("port-restricted-cone-rst", "port-restricted-cone-rst", "ipv6-firewall-ad", true, "tcp",
	     &t4, &t6, &td);
	assert_int_equal(theory_class(&t4), CLASS_TIMING);
	assert_int_equal(td.outcome, CELL_DIRECT);
	assert_int_equal(theory_class(&td), CLASS_DETERMINED);
	assert_null(td.mechanism);
	assert_string_equal(td.family, "4 or 6"); /* IPv4 wins its race now and then */
	/* the outcome is never worse than either family's */
	dual("full-cone", "symmetric", "nat66", false, "udp", &t4, &t6, &td);
	assert_false(cell_outcome_worse(td.outcome, t4.outcome));
	assert_false(cell_outcome_worse(td.outcome, t6.outcome));
}

/* --- claims ------------------------------------------------------------------------------- */

/* The documents speak of IPv4 NATs: an IPv6 or dual cell has no claim, also where an IPv6
 * header's rfc3489 name (ipv6-firewall says full-cone) falls in a claim's scope. */
static void test_no_claims_beyond_ipv4(void **state)
{
	struct expectations *e = calloc(1, sizeof(*e));
	struct cell_refs *refs = calloc(1, sizeof(*refs));
	struct profile_header fc, fw;
	struct diag_list dl = { 0 };
	struct cell_spec c;
	char path[512];

	(void)state;
	assert_non_null(e);
	assert_non_null(refs);
	snprintf(path, sizeof(path), "%s/ci/expectations.yaml", PUNCHLAB_SOURCE_DIR);
	if (expectations_load(e, path, &dl) < 0)
		fail_msg("%s: %s", path, dl.count ? dl.items[0].msg : "?");
	shipped_profile_load("full-cone", &fc);
	shipped_profile_load("ipv6-firewall", &fw);

	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~full-cone", &c), 0);
	expectations_claim(e, &c, &fc, &fc, LAYOUT_TWO_NATS, refs);
	assert_true(refs->has_claim); /* the article's full cone: the rule below is not vacuous */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~full-cone/family=dual", &c), 0);
	expectations_claim(e, &c, &fc, &fc, LAYOUT_TWO_NATS, refs);
	assert_false(refs->has_claim);
	assert_int_equal(refs->nclaims, 0);

	assert_int_equal(cell_id_parse("two-nats/udp/udp/ipv6-firewall~ipv6-firewall", &c), 0);
	expectations_claim(e, &c, &fw, &fw, LAYOUT_TWO_NATS, refs);
	assert_true(refs->has_claim); /* what an IPv6 header alone would match */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/ipv6-firewall~ipv6-firewall/family=6", &c),
			 0);
	expectations_claim(e, &c, &fw, &fw, LAYOUT_TWO_NATS, refs);
	assert_false(refs->has_claim);
	assert_int_equal(refs->nclaims, 0);
	free(refs);
	free(e);
}

/* --- engine variables ------------------------------------------------------------------------ */

static void vars_of(const char *family, struct tpl_vars *v)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list dl = { 0 };
	char path[512];
	struct engine_cell ec = { .program = "punch", .session = "s", .dir = "/tmp", .transport = "udp",
				  .technique = "udp", .deadline_ms = 2000, .port = 3478,
				  .family = family };

	snprintf(path, sizeof(path), "%s/topologies/two-nats-dual.yaml", PUNCHLAB_SOURCE_DIR);
	assert_non_null(t);
	if (topo_parse_file(t, path, &dl) < 0)
		fail_msg("%s: %s", path, dl.count ? dl.items[0].msg : "?");
	assert_int_equal(engine_vars_cell(&ec, t, v), 0);
	free(t);
}

static void test_engine_vars(void **state)
{
	struct tpl_vars *v = calloc(1, sizeof(*v));

	(void)state;
	assert_non_null(v);
	/* family 4 (NULL too): IPv4 addresses, host as the address itself, no IPv6 names */
	vars_of(NULL, v);
	assert_string_equal(tpl_get(v, "family"), "4");
	assert_string_equal(tpl_get(v, "rendezvous.addr.1"), "198.51.100.11");
	assert_string_equal(tpl_get(v, "rendezvous.host.0"), "198.51.100.10");
	assert_string_equal(tpl_get(v, "nat-a.public"), "203.0.113.2");
	assert_null(tpl_get(v, "rendezvous.addr6.0"));
	assert_null(tpl_get(v, "nat-a.public6"));

	/* family 6: the same names carry IPv6, host bracketed */
	vars_of("6", v);
	assert_string_equal(tpl_get(v, "family"), "6");
	assert_string_equal(tpl_get(v, "rendezvous.addr"), "2001:db8:100::10");
	assert_string_equal(tpl_get(v, "rendezvous.addr.1"), "2001:db8:100::11");
	assert_string_equal(tpl_get(v, "rendezvous.host.0"), "[2001:db8:100::10]");
	assert_string_equal(tpl_get(v, "peer-a.addr"), "2001:db8:1::10");
	assert_string_equal(tpl_get(v, "nat-b.public"), "2001:db8:b::2");
	assert_null(tpl_get(v, "rendezvous.host6.0"));

	/* dual: IPv4 under the plain names, IPv6 under the "6" names */
	vars_of("dual", v);
	assert_string_equal(tpl_get(v, "family"), "dual");
	assert_string_equal(tpl_get(v, "rendezvous.addr.0"), "198.51.100.10");
	assert_string_equal(tpl_get(v, "rendezvous.host.1"), "198.51.100.11");
	assert_string_equal(tpl_get(v, "rendezvous.addr6.1"), "2001:db8:100::11");
	assert_string_equal(tpl_get(v, "rendezvous.host6.0"), "[2001:db8:100::10]");
	assert_string_equal(tpl_get(v, "rendezvous.host6"), "[2001:db8:100::10]");
	assert_string_equal(tpl_get(v, "nat-a.public"), "203.0.113.2");
	assert_string_equal(tpl_get(v, "nat-a.public6"), "2001:db8:a::2");
	assert_string_equal(tpl_get(v, "peer-b.addr6"), "2001:db8:2::10");
	free(v);
}

/* An engine file names the family's variables (engine_file_check.c) and declares ipv6. */
static int parse_engine(const char *peer_cmd, struct engine_file *e, struct diag_list *dl)
{
	char y[1024];

	snprintf(y, sizeof(y), "engine: t\nprogram: tprog\ncapabilities: [rendezvous, ipv6]\n"
		 "techniques:\n  udp: { transports: [udp], deadline: 2s }\nroles:\n  peers:\n"
		 "    command: [\"{{program}}\", %s]\noutcome:\n  line: \"^connected\"\n", peer_cmd);
	memset(dl, 0, sizeof(*dl));
	return engine_file_parse_buffer(e, "t.yaml", y, strlen(y), dl);
}

static void test_engine_file_family(void **state)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl;

	(void)state;
	assert_non_null(e);
	assert_int_equal(parse_engine("\"{{rendezvous.host.0}}:{{port}}\", [\"{{rendezvous.host6.1}}\"], "
				      "[\"{{other-nat.public6}}\", \"{{self.addr6}}\", \"{{self.host6}}\"], "
				      "\"{{family}}\", \"{{peer-b.addr6.3}}\"", e, &dl), 0);
	assert_true(e->capabilities & EF_CAP_IPV6);
	assert_int_equal(parse_engine("\"{{rendezvous.addr6.4}}\"", e, &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "NODE.addr6"));
	assert_int_equal(parse_engine("\"{{peer-a.public6}}\"", e, &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "a NAT's address"));
	assert_int_equal(parse_engine("\"{{rendezvous.hosts}}\"", e, &dl), -EINVAL);
	free(e);
}

/* --- reports ------------------------------------------------------------------------------ */

/* Two cells of one pairing: IPv4 and dual (companion nat66, its run over IPv6). */
static void two_families(struct results *r)
{
	static const char *const ids[] = { "two-nats/udp/udp/symmetric~symmetric",
					   "two-nats/udp/udp/symmetric~symmetric/family=dual/"
					   "ipv6-profile=nat66" };

	report_mem_results(r, 2);
	for (int i = 0; i < 2; i++) {
		struct cell_result *c = &r->cells[i];

		assert_int_equal(cell_id_parse(ids[i], &c->spec), 0);
		c->runs = calloc(1, sizeof(*c->runs));
		assert_non_null(c->runs);
		c->nruns = 1;
		c->runs[0].outcome = i ? CELL_DIRECT : CELL_FAILED;
		c->runs[0].family_used = i ? 6 : 0;
		c->runs[0].time_to_connect_ms = i ? 5 : -1;
		c->runs[0].ttfb_ms = c->runs[0].time_to_direct_ms = c->runs[0].time_to_connect_ms;
		c->refs.theory = c->runs[0].outcome;
		c->refs.expected_allowed = 1u << c->refs.theory;
		results_judge_cell(c);
	}
}

static void test_reports_family(void **state)
{
	struct results r, back;
	char *text;

	(void)state;
	two_families(&r);
	/* matrix.json: every cell says its family, the dual one its companion and the run's */
	report_mem_json_back(&r, &back);
	assert_int_equal(back.ncells, 2);
	assert_int_equal(back.cells[0].spec.family, CELL_FAMILY_4);
	assert_int_equal(back.cells[1].spec.family, CELL_FAMILY_DUAL);
	assert_string_equal(back.cells[1].spec.ipv6_profile, "nat66");
	assert_int_equal(back.cells[1].runs[0].family_used, 6);
	for (int i = 0; i < 2; i++)
		assert_true(results_cell_equal(&r.cells[i], &back.cells[i]));
	results_free(&back);
	text = report_mem(report_json_write, &r);
	assert_non_null(strstr(text, "\"family\": \"4\""));
	assert_non_null(strstr(text, "\"family\": \"dual\""));
	free(text);

	/* a grid per family, named with its id part */
	text = report_mem(report_mem_terminal_plain, &r);
	assert_non_null(strstr(text, "two-nats/udp/udp family=dual ipv6-profile=nat66"));
	assert_non_null(strstr(text, "A~B/family=dual/ipv6-profile=nat66:"));
	assert_non_null(strstr(text, "(cell id two-nats/udp/udp/A~B: "));
	free(text);
	text = report_mem(report_junit_write, &r);
	assert_non_null(strstr(text, "testsuite name=\"two-nats/udp/udp family=dual ipv6-profile=nat66\""));
	assert_non_null(strstr(text, "classname=\"two-nats.udp.udp.family-dual\""));
	assert_non_null(strstr(text, "classname=\"two-nats.udp.udp\""));
	assert_non_null(strstr(text, " over IPv6"));
	free(text);
	text = report_mem(report_markdown_write, &r);
	assert_non_null(strstr(text, "family=dual ipv6-profile=nat66"));
	free(text);
	text = report_mem(report_mem_html_nodir, &r);
	assert_non_null(strstr(text, "family=dual ipv6-profile=nat66"));
	free(text);
	results_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_family),
		cmocka_unit_test(test_family_names),
		cmocka_unit_test(test_enumerate_family),
		cmocka_unit_test(test_dual_theory),
		cmocka_unit_test(test_no_claims_beyond_ipv4),
		cmocka_unit_test(test_engine_vars),
		cmocka_unit_test(test_engine_file_family),
		cmocka_unit_test(test_reports_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
