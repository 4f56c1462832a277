/* Engine against engine (issue 11 item 3): the cells of an engine pair and the capabilities the
 * theory judges a pair by. Pure code: the shipped engine files and profiles are parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "engine/engine_file.h"
#include "matrix/cell.h"
#include "matrix/theory.h"
#include "nft/profile.h"

static void load_engine(struct engine_file *e, const char *path)
{
	struct diag_list dl = { 0 };

	assert_int_equal(engine_file_parse(e, path, &dl), 0);
}

static void load_profile(struct profile_header *h, const char *name)
{
	struct diag_list dl = { 0 };
	char path[512];

	snprintf(path, sizeof(path), PUNCHLAB_SOURCE_DIR "/nat-profiles/%s.nft", name);
	assert_int_equal(profile_header_parse_file(h, path, &dl), 0);
}

/* Every cell of a pair names both engines; A~A (two binaries of one engine) stays a pair. */
static void test_pair_enumeration(void **state)
{
	static const char *const profiles[] = { "full-cone", "symmetric" };
	struct matrix_dims d = { .topology = "two-nats", .b_has_nat = true, .udp = true,
				 .tcp = true, .engine = "punch", .engine_b = "punch" };
	struct cell_spec *cells, back;
	int n;

	(void)state;
	for (int i = 0; i < 2; i++)
		d.profiles[d.nprofiles++] = profiles[i];
	d.techniques[d.ntechniques++] = "plain";
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 2 * 2 * 2);
	assert_string_equal(cells[0].id, "two-nats/udp/udp/full-cone~full-cone/engine=punch~punch");
	for (int i = 0; i < n; i++) {
		const char *tail = strstr(cells[i].id, "/engine=punch~punch");
		assert_non_null(tail);
		assert_string_equal(tail, "/engine=punch~punch");
		assert_int_equal(cell_id_parse(cells[i].id, &back), 0);
		assert_string_equal(back.engine, "punch");
		assert_string_equal(back.engine_b, "punch");
		assert_string_equal(back.id, cells[i].id);
	}
	free(cells);
	/* two engines, one a path: percent-encoded, and the pair parses back */
	d.engine = "netcat";
	d.engine_b = "/opt/x/nc-new.yaml";
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 8);
	assert_non_null(strstr(cells[0].id, "/engine=netcat~%2Fopt%2Fx%2Fnc-new.yaml"));
	assert_int_equal(cell_id_parse(cells[0].id, &back), 0);
	assert_string_equal(back.engine_b, "/opt/x/nc-new.yaml");
	free(cells);
	/* without engine_b: no pair */
	d.engine_b = NULL;
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 8);
	assert_string_equal(cells[0].engine_b, "");
	assert_null(strstr(cells[0].id, "~netcat"));
	free(cells);
}

/* A capability counts when both sides have it; a limitation when either has it. */
static void test_caps_shared(void **state)
{
	struct engine_file *punch = calloc(1, sizeof(*punch)), *nc = calloc(1, sizeof(*nc));
	struct engine_file *n2n = calloc(1, sizeof(*n2n));
	unsigned s;

	(void)state;
	load_engine(punch, PUNCHLAB_SOURCE_DIR "/engines/punch.yaml");
	load_engine(nc, PUNCHLAB_SOURCE_DIR "/engines/netcat.yaml");
	load_engine(n2n, PUNCHLAB_SOURCE_DIR "/engines/n2n.yaml");
	/* one engine: itself */
	assert_int_equal(theory_caps_shared(punch->capabilities, punch->capabilities),
			 punch->capabilities);
	/* netcat has none but ipv6: nothing else is shared, either order */
	assert_int_equal(theory_caps_shared(punch->capabilities, nc->capabilities), EF_CAP_IPV6);
	assert_int_equal(theory_caps_shared(nc->capabilities, punch->capabilities), EF_CAP_IPV6);
	/* punch x n2n: both rendezvous, peer-reflexive, ignore ICMP and relay; only n2n falls
	 * back to its relay (not shared), and n2n's single probe limits the pair */
	s = theory_caps_shared(punch->capabilities, n2n->capabilities);
	assert_true(s & EF_CAP_RENDEZVOUS);
	assert_true(s & EF_CAP_PEER_REFLEXIVE);
	assert_true(s & EF_CAP_IGNORES_ICMP);
	assert_true(s & EF_CAP_RELAY);
	assert_false(s & EF_CAP_RELAY_FALLBACK);
	assert_false(s & EF_CAP_BIRTHDAY);
	assert_true(s & EF_CAP_SINGLE_PROBE);
	assert_int_equal(s, theory_caps_shared(n2n->capabilities, punch->capabilities));
	free(punch);
	free(nc);
	free(n2n);
}

/* The theory of a pair uses the shared capabilities: netcat (gives up at ICMP) against a netcat
 * that starts again is judged as netcat where an RST NAT answers A's first datagram. */
static void test_pair_theory(void **state)
{
	struct engine_file *nc = calloc(1, sizeof(*nc)), *ncp = calloc(1, sizeof(*ncp));
	struct profile_header fc, rst, sym;
	struct theory_input in = { .a = &fc, .b = &rst, .layout = LAYOUT_TWO_NATS,
				   .technique = "udp" };
	struct theory t;

	(void)state;
	load_engine(nc, PUNCHLAB_SOURCE_DIR "/engines/netcat.yaml");
	load_engine(ncp, PUNCHLAB_SOURCE_DIR "/tests/data/engines/netcat-persistent.yaml");
	load_profile(&fc, "full-cone");
	load_profile(&rst, "port-restricted-cone-rst");
	load_profile(&sym, "symmetric");
	/* the persistent one alone keeps going after the ICMP error: direct */
	theory_input_set_engines(&in, ncp->capabilities, ncp->capabilities);
	assert_false(in.quits_on_icmp);
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	/* paired with netcat, in either order: the pair gives up at ICMP, failed */
	theory_input_set_engines(&in, nc->capabilities, ncp->capabilities);
	assert_true(in.quits_on_icmp);
	assert_true(in.fixed_port);
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	assert_non_null(strstr(t.why, "ICMP"));
	theory_input_set_engines(&in, ncp->capabilities, nc->capabilities);
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	/* what neither can do stays failed: a symmetric NAT breaks port preservation */
	in.b = &sym;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	free(nc);
	free(ncp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_enumeration),
		cmocka_unit_test(test_caps_shared),
		cmocka_unit_test(test_pair_theory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
