/* Unit tests of the matrix plan: cell enumeration and ids, shards, the theory, the expectations
 * file, and the rule that the checked-in expected outcomes equal the theory except on listed
 * cells (each with a reason, allowed outcomes and a minimum success rate). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "matrix/cell.h"
#include "matrix/claim.h"
#include "matrix/expect.h"
#include "matrix/rate.h"
#include "matrix/theory.h"

/* the six default profiles first, then the other non-CGN ones of nat-profiles/ */
static const char *const base_profiles[] = {
	"full-cone", "restricted-cone", "port-restricted-cone", "symmetric",
	"symmetric-sequential", "port-restricted-cone-rst", "full-cone-hairpin",
	"symmetric-port-range",
};
#define NBASE 6
#define NALL 8

static struct profile_header headers[NALL];

static int load_headers(void **state)
{
	(void)state;
	for (int i = 0; i < NALL; i++) {
		char path[1024];
		struct diag_list dl = { .count = 0 };
		snprintf(path, sizeof(path), "%s/nat-profiles/%s.nft", PUNCHLAB_SOURCE_DIR,
			 base_profiles[i]);
		if (profile_header_parse_file(&headers[i], path, &dl) < 0)
			return -1;
	}
	return 0;
}

static const struct profile_header *hdr(const char *name)
{
	for (int i = 0; i < NALL; i++)
		if (strcmp(base_profiles[i], name) == 0)
			return &headers[i];
	return NULL;
}

static struct matrix_dims default_dims(bool b_has_nat)
{
	struct matrix_dims d = { .b_has_nat = b_has_nat, .udp = true, .tcp = true };
	snprintf(d.topology, sizeof(d.topology), "two-nats");
	for (int i = 0; i < NBASE; i++)
		d.profiles[d.nprofiles++] = base_profiles[i];
	d.techniques[d.ntechniques++] = "plain";
	d.techniques[d.ntechniques++] = "auto";
	return d;
}

static void test_default_matrix_has_144_cells(void **state)
{
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells;
	int n = cells_enumerate(&d, &cells);

	(void)state;
	assert_int_equal(n, 144); /* 6 x 6 ordered pairs x 2 transports x 2 techniques */
	assert_string_equal(cells[0].id, "two-nats/udp/udp/full-cone~full-cone");
	assert_string_equal(cells[143].id,
			    "two-nats/tcp/auto/port-restricted-cone-rst~port-restricted-cone-rst");
	/* ordered pairs: A x B and B x A are both there */
	int ab = 0, ba = 0;
	for (int i = 0; i < n; i++) {
		ab += strcmp(cells[i].id, "two-nats/udp/udp/full-cone~symmetric") == 0;
		ba += strcmp(cells[i].id, "two-nats/udp/udp/symmetric~full-cone") == 0;
	}
	assert_int_equal(ab, 1);
	assert_int_equal(ba, 1);
	free(cells);
}

/* --outer: the shared outer NAT's profile is a dimension; the topology's own keeps bare ids
 * (baselines from before compare), another gains /outer=P (a path percent-encoded), and the
 * id parses back to the same cell. */
static void test_outer_dimension(void **state)
{
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells, back;
	int n;

	(void)state;
	snprintf(d.topology, sizeof(d.topology), "double-nat");
	d.outers[d.nouters++] = "cgn";
	d.outers[d.nouters++] = "/tmp/cgn-block8.nft";
	d.outer_default = "cgn";
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 2 * 144);
	assert_string_equal(cells[0].id, "double-nat/udp/udp/full-cone~full-cone");
	assert_string_equal(cells[0].outer, "");
	assert_string_equal(cells[144].id, "double-nat/udp/udp/full-cone~full-cone"
					   "/outer=%2Ftmp%2Fcgn-block8.nft");
	assert_int_equal(cell_id_parse(cells[144].id, &back), 0);
	assert_string_equal(back.outer, "/tmp/cgn-block8.nft");
	assert_string_equal(back.id, cells[144].id);
	assert_int_equal(cell_id_parse("double-nat/udp/udp/full-cone~full-cone/outer=symmetric",
				       &back), 0);
	assert_string_equal(back.outer, "symmetric");
	free(cells);
}

/* two-level: each home NAT composes with an outer NAT of its own. A full cone behind a
 * port-restricted outer NAT filters like the outer one, so against a symmetric NAT it fails
 * where two-nats connects; behind a full-cone outer NAT it connects again; no outer known:
 * as two-nats. */
static void test_theory_two_level(void **state)
{
	struct theory t;
	struct theory_input in = { .a = hdr("full-cone"), .b = hdr("symmetric"),
				   .layout = LAYOUT_TWO_LEVEL, .technique = "udp" };

	(void)state;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	in.outer_a = hdr("port-restricted-cone");
	in.outer_b = hdr("port-restricted-cone");
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	in.outer_a = hdr("full-cone");
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	/* a symmetric outer NAT makes a port-restricted home NAT's side unknown */
	in.a = hdr("port-restricted-cone");
	in.b = hdr("port-restricted-cone");
	in.outer_a = hdr("symmetric");
	in.outer_b = hdr("port-restricted-cone");
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	in.outer_a = hdr("port-restricted-cone");
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
}

static void test_no_b_nat_varies_a_only(void **state)
{
	struct matrix_dims d = default_dims(false);
	struct cell_spec *cells;
	int n = cells_enumerate(&d, &cells);

	(void)state;
	assert_int_equal(n, 6 * 2 * 2);
	assert_string_equal(cells[0].profile_b, "");
	assert_non_null(strstr(cells[0].id, "~-"));
	free(cells);
}

static void test_techniques_fit_transports(void **state)
{
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells;
	int n;

	(void)state;
	d.ntechniques = 0;
	d.techniques[d.ntechniques++] = "udp";
	d.techniques[d.ntechniques++] = "tcp-ttl";
	d.techniques[d.ntechniques++] = "birthday";
	d.techniques[d.ntechniques++] = "relay";
	n = cells_enumerate(&d, &cells);
	/* udp: udp, birthday, relay; tcp: tcp-ttl, relay */
	assert_int_equal(n, 36 * 5);
	for (int i = 0; i < n; i++)
		assert_true(technique_fits(cells[i].technique, cells[i].proto));
	free(cells);
}

static void test_cell_id_round_trip(void **state)
{
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells, c;
	int n = cells_enumerate(&d, &cells);

	(void)state;
	for (int i = 0; i < n; i++) {
		assert_int_equal(cell_id_parse(cells[i].id, &c), 0);
		assert_memory_equal(&c, &cells[i], sizeof(c));
	}
	free(cells);
	assert_int_equal(cell_id_parse("same-nat/tcp/auto/full-cone~-", &c), 0);
	assert_string_equal(c.profile_b, "");
	const char *bad[] = { "", "two-nats", "two-nats/udp/udp/a", "two-nats/icmp/udp/a~b",
			      "two-nats/udp/tcp/a~b", "two-nats/tcp/birthday/a~b",
			      "two-nats/udp/udp/~b", "two-nats/udp/udp/a~", "a/b/c/d/e~f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cell_id_parse(bad[i], &c), -EINVAL);
}

/* One cell, every field given: the id must round-trip it exactly. */
struct id_case {
	const char *topology, *proto, *technique, *a, *b, *engine, *engine_b;
	const char *id; /* the canonical id */
};

static const struct id_case id_cases[] = {
	{ "two-nats", "udp", "udp", "full-cone", "symmetric", "punch", "",
	  "two-nats/udp/udp/full-cone~symmetric" },
	{ "same-nat", "tcp", "auto", "full-cone", "", "punch", "", "same-nat/tcp/auto/full-cone~-" },
	/* the path: '/' inside a reference */
	{ "two-nats", "tcp", "tcp", "/tmp/x/homebox.nft", "/tmp/x/homebox.nft", "punch", "",
	  "two-nats/tcp/tcp/%2Ftmp%2Fx%2Fhomebox.nft~%2Ftmp%2Fx%2Fhomebox.nft" },
	/* '~' (the pair separator), spaces, '%', '=' and a quote in paths */
	{ "two-nats", "udp", "predict", "./my nats/a~b.nft", "/x/100%=y'z.nft", "punch", "",
	  "two-nats/udp/predict/.%2Fmy%20nats%2Fa%7Eb.nft~%2Fx%2F100%25%3Dy%27z.nft" },
	/* a topology given as a path, a home directory's '~' at the start, non-ASCII bytes */
	{ "~/labs/t w.yaml", "udp", "birthday", "~/p.nft", "caf\xc3\xa9", "punch", "",
	  "%7E%2Flabs%2Ft%20w.yaml/udp/birthday/%7E%2Fp.nft~caf%C3%A9" },
	/* "-" as a reference is not "no profile" */
	{ "two-nats", "udp", "udp", "-", "-", "punch", "", "two-nats/udp/udp/%2D~%2D" },
	/* the engine dimension: absent at its default, a key=value part otherwise */
	{ "two-nats", "udp", "auto", "full-cone", "symmetric", "nebula", "",
	  "two-nats/udp/auto/full-cone~symmetric/engine=nebula" },
	{ "two-nats", "udp", "auto", "full-cone", "symmetric", "punch", "nebula",
	  "two-nats/udp/auto/full-cone~symmetric/engine=punch~nebula" },
	{ "two-nats", "tcp", "tcp-ttl", "a", "b", "/opt/my engines/x~y.yaml", "",
	  "two-nats/tcp/tcp-ttl/a~b/engine=%2Fopt%2Fmy%20engines%2Fx%7Ey.yaml" },
};

static void spec_of(const struct id_case *k, struct cell_spec *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->topology, sizeof(c->topology), "%s", k->topology);
	snprintf(c->proto, sizeof(c->proto), "%s", k->proto);
	snprintf(c->technique, sizeof(c->technique), "%s", k->technique);
	snprintf(c->profile_a, sizeof(c->profile_a), "%s", k->a);
	snprintf(c->profile_b, sizeof(c->profile_b), "%s", k->b);
	snprintf(c->engine, sizeof(c->engine), "%s", k->engine);
	snprintf(c->engine_b, sizeof(c->engine_b), "%s", k->engine_b);
}

static void test_cell_id_grammar_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		struct cell_spec want, got;
		char why[256];

		spec_of(&id_cases[i], &want);
		assert_int_equal(cell_spec_set_id(&want), 0);
		assert_string_equal(want.id, id_cases[i].id);
		/* formatting is canonical and parsing gives back every field */
		assert_int_equal(cell_id_parse_msg(want.id, &got, why, sizeof(why)), 0);
		assert_string_equal(why, "");
		assert_memory_equal(&got, &want, sizeof(got));
		/* no raw '/', '~' or '=' but the separators: 3 slashes and one more per key=value
		 * part, one '~' and one more for an engine pair */
		int slashes = 0, tildes = 0, equals = 0;
		for (const char *p = want.id; *p; p++) {
			slashes += *p == '/';
			tildes += *p == '~';
			equals += *p == '=';
		}
		assert_int_equal(slashes, 3 + equals);
		assert_int_equal(tildes, 1 + (want.engine_b[0] != '\0'));
	}
}

/* Spellings that name a cell but are not its canonical id: accepted, and c->id is canonical. */
static void test_cell_id_lenient_spellings(void **state)
{
	static const char *const cases[][2] = {
		{ "two-nats/udp/udp/%2ftmp%2fx.nft~full-cone", "two-nats/udp/udp/%2Ftmp%2Fx.nft~full-cone" },
		{ "two-nats/udp/udp/full%2Dcone~full-cone", "two-nats/udp/udp/full-cone~full-cone" },
		{ "two-nats/udp/udp/my+nat~full-cone", "two-nats/udp/udp/my%2Bnat~full-cone" },
		/* a dimension written at its default is the id without it (baselines compare) */
		{ "two-nats/udp/udp/a~b/engine=punch", "two-nats/udp/udp/a~b" },
		/* A~A is a pair (two binaries of one engine), not the engine alone */
		{ "two-nats/udp/udp/a~b/engine=x~x", "two-nats/udp/udp/a~b/engine=x~x" },
		{ "two-nats/udp/udp/a~b/engine=punch~punch", "two-nats/udp/udp/a~b/engine=punch~punch" },
	};
	struct cell_spec c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cell_id_parse(cases[i][0], &c), 0);
		assert_string_equal(c.id, cases[i][1]);
	}
	/* an id from before the engine dimension is the punch cell */
	assert_int_equal(cell_id_parse("two-nats/tcp/auto/symmetric~full-cone", &c), 0);
	assert_string_equal(c.engine, CELL_DEFAULT_ENGINE);
	assert_string_equal(c.engine_b, "");
}

static void test_cell_id_errors_say_why(void **state)
{
	static const char *const cases[][2] = {
		{ "two-nats/tcp/tcp//tmp/x/homebox.nft~/tmp/x/homebox.nft", "%2F" },
		{ "two-nats/udp/udp//x.nft~a", "part 4 is empty" },
		{ "two-nats/udp/udp/a~b~c", "one '~'" },
		{ "two-nats/udp/udp/a", "one '~'" },
		{ "two-nats/udp/udp/-~b", "only B may lack" },
		{ "two-nats/udp/udp/a%2~b", "two hex digits" },
		{ "two-nats/udp/udp/a%zz~b", "two hex digits" },
		{ "two-nats/udp/udp/a%00~b", "NUL" },
		{ "two-nats/udp/udp/a~b/color=red", "KEY one of engine" },
		{ "two-nats/udp/udp/a~b/engine", "KEY=VALUE" },
		{ "two-nats/udp/udp/a~b/engine=x/engine=y", "given twice" },
		{ "two-nats/udp/udp/a~b/engine=x~y~z", "pair A~B" },
		{ "two-nats/udp/udp/a~b/engine=", "the engine is empty" },
		{ "two-nats/icmp/udp/a~b", "expected udp or tcp" },
		{ "two-nats/udp/tcp-ttl/a~b", "does not exist over udp" },
		{ "two-nats/udp/udp", "expected TOPOLOGY/PROTO/TECHNIQUE" },
	};
	struct cell_spec c;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cell_id_parse_msg(cases[i][0], &c, why, sizeof(why)), -EINVAL);
		if (!strstr(why, cases[i][1])) {
			print_error("%s: \"%s\" does not say \"%s\"\n", cases[i][0], why, cases[i][1]);
			fail();
		}
	}
}

/* The events dimension (docs/events.md): after engine, the canonical timeline percent-encoded,
 * absent when the cell has none; a spelling of the same timeline reads as the canonical one. */
static void test_cell_id_events(void **state)
{
	static const char *const bad[][2] = {
		{ "two-nats/udp/udp/a~b/events=nat-a%20explode%401s", "unknown event \"explode\"" },
		{ "two-nats/udp/udp/a~b/events=nat-a%20reboot", "no @TIME" },
		{ "two-nats/udp/udp/a~b/events=nat-a%20reboot%401s/events=nat-a%20rebind%401s",
		  "given twice" },
	};
	struct cell_spec c, back;
	char why[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.topology, sizeof(c.topology), "two-nats");
	snprintf(c.proto, sizeof(c.proto), "udp");
	snprintf(c.technique, sizeof(c.technique), "udp");
	snprintf(c.profile_a, sizeof(c.profile_a), "full-cone");
	snprintf(c.profile_b, sizeof(c.profile_b), "symmetric");
	snprintf(c.engine, sizeof(c.engine), "nebula");
	snprintf(c.events, sizeof(c.events), "nat-a reboot@2s for 2s, link inet:nat-b down@5s for 3s");
	assert_int_equal(cell_spec_set_id(&c), 0);
	assert_string_equal(c.id, "two-nats/udp/udp/full-cone~symmetric/engine=nebula/events="
			    "nat-a%20reboot%402s%20for%202s%2C%20link%20inet%3Anat-b%20down%405s"
			    "%20for%203s");
	assert_int_equal(cell_id_parse_msg(c.id, &back, why, sizeof(why)), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	/* another spelling of the same timeline: out of order, in ms */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~symmetric/events=link%20inet:"
				       "nat-b%20down@5000ms%20for%203s,nat-a%20reboot@2s%20for%202000ms"
				       "/engine=nebula", &back), 0);
	assert_string_equal(back.id, c.id);
	/* no events: no part (ids of runs without events keep comparing) */
	assert_int_equal(cell_id_parse("two-nats/udp/udp/full-cone~symmetric", &back), 0);
	assert_string_equal(back.events, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cell_id_parse_msg(bad[i][0], &back, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i][1])) {
			print_error("%s: \"%s\" does not say \"%s\"\n", bad[i][0], why, bad[i][1]);
			fail();
		}
	}
}

/* An id that would not fit is an error, never a truncated id that names another cell. */
static void test_cell_id_too_long(void **state)
{
	struct cell_spec c = { .proto = "udp", .technique = "udp" };

	(void)state;
	snprintf(c.topology, sizeof(c.topology), "two-nats");
	snprintf(c.engine, sizeof(c.engine), "punch");
	memset(c.profile_a, '/', sizeof(c.profile_a) - 1); /* 255 bytes, 765 encoded */
	memset(c.profile_b, '/', sizeof(c.profile_b) - 1);
	assert_int_equal(cell_spec_set_id(&c), -ENAMETOOLONG);
	assert_string_equal(c.id, "");
}

/* A profile listed twice is enumerated once; the engine dimension reaches every id. */
static void test_enumerate_once_per_profile(void **state)
{
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells;
	int n;

	(void)state;
	d.profiles[d.nprofiles++] = "full-cone";
	d.engine = "nebula";
	n = cells_enumerate(&d, &cells);
	assert_int_equal(n, 144);
	for (int i = 0; i < n; i++) {
		assert_non_null(strstr(cells[i].id, "/engine=nebula"));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(cells[i].id, cells[j].id);
	}
	free(cells);
}

static void test_shards_partition(void **state)
{
	(void)state;
	for (int n = 1; n <= 7; n++)
		for (int i = 0; i < 144; i++) {
			int owners = 0;
			for (int k = 1; k <= n; k++)
				owners += shard_has(i, k, n);
			assert_int_equal(owners, 1);
		}
	int k, n;
	assert_int_equal(shard_parse("2/3", &k, &n), 0);
	assert_int_equal(k, 2);
	assert_int_equal(n, 3);
	assert_int_equal(shard_parse("0/3", &k, &n), -EINVAL);
	assert_int_equal(shard_parse("4/3", &k, &n), -EINVAL);
	assert_int_equal(shard_parse("1", &k, &n), -EINVAL);
	assert_int_equal(shard_parse("1/x", &k, &n), -EINVAL);
}

static enum cell_outcome predict(const char *a, const char *b, enum theory_layout layout,
				 bool tcp, const char *technique, struct theory *t)
{
	struct theory_input in = { .a = hdr(a), .b = b ? hdr(b) : NULL, .layout = layout,
				   .tcp = tcp, .technique = technique };
	theory_predict(&in, t);
	return t->outcome;
}

static void test_theory_cases(void **state)
{
	struct theory t;

	(void)state;
	/* two endpoint-independent NATs: direct */
	assert_int_equal(predict("port-restricted-cone", "port-restricted-cone", LAYOUT_TWO_NATS,
				 false, "udp", &t), CELL_DIRECT);
	/* symmetric vs port-restricted: the filter drops the unannounced port */
	assert_int_equal(predict("symmetric", "port-restricted-cone", LAYOUT_TWO_NATS, false, "udp",
				 &t), CELL_FAILED);
	/* symmetric vs restricted cone: address-dependent filtering lets it in */
	assert_int_equal(predict("symmetric", "restricted-cone", LAYOUT_TWO_NATS, false, "udp", &t),
			 CELL_DIRECT);
	assert_int_equal(predict("full-cone", "symmetric", LAYOUT_TWO_NATS, true, "tcp", &t),
			 CELL_DIRECT);
	assert_int_equal(predict("symmetric", "symmetric", LAYOUT_TWO_NATS, false, "udp", &t),
			 CELL_FAILED);
	/* prediction beats a sequential NAT */
	assert_int_equal(predict("symmetric-sequential", "port-restricted-cone", LAYOUT_TWO_NATS,
				 false, "predict", &t), CELL_DIRECT);
	assert_int_equal(predict("symmetric-sequential", "port-restricted-cone", LAYOUT_TWO_NATS,
				 false, "udp", &t), CELL_FAILED);
	/* birthday: probabilistic */
	assert_int_equal(predict("symmetric", "port-restricted-cone", LAYOUT_TWO_NATS, false,
				 "birthday", &t), CELL_DIRECT);
	assert_true(t.probabilistic);
	/* RST NAT: plain TCP is a race, tcp-ttl is not */
	predict("port-restricted-cone-rst", "port-restricted-cone-rst", LAYOUT_TWO_NATS, true, "tcp",
		&t);
	assert_true(t.timing_dependent);
	predict("port-restricted-cone-rst", "port-restricted-cone-rst", LAYOUT_TWO_NATS, true,
		"tcp-ttl", &t);
	assert_false(t.timing_dependent);
	assert_int_equal(t.outcome, CELL_DIRECT);
	/* UDP does not care about the RST answer */
	predict("port-restricted-cone-rst", "port-restricted-cone", LAYOUT_TWO_NATS, false, "udp", &t);
	assert_false(t.timing_dependent);
	/* TCP auto runs tcp-ttl second (docs/punch.md): a lost RST race hands over to it, so the
	 * cell is determined direct, and the reason names tcp-ttl */
	assert_int_equal(predict("port-restricted-cone-rst", "port-restricted-cone-rst",
				 LAYOUT_TWO_NATS, true, "auto", &t), CELL_DIRECT);
	assert_false(t.timing_dependent);
	assert_non_null(strstr(t.why, "tcp-ttl"));
	/* predict over TCP against an RST NAT is a race; when lost auto ends at the relay */
	assert_int_equal(predict("symmetric-sequential", "port-restricted-cone-rst", LAYOUT_TWO_NATS,
				 true, "auto", &t), CELL_DIRECT);
	assert_true(t.timing_dependent);
	assert_int_equal(t.fallback, CELL_RELAYED);
	assert_string_equal(t.mechanism, "rst-race");
	/* auto: relayed when nothing direct applies */
	assert_int_equal(predict("symmetric", "symmetric", LAYOUT_TWO_NATS, false, "auto", &t),
			 CELL_RELAYED);
	assert_int_equal(predict("full-cone", "full-cone", LAYOUT_TWO_NATS, false,
				 "relay", &t), CELL_RELAYED);
	/* layouts */
	assert_int_equal(predict("symmetric", NULL, LAYOUT_PUBLIC_B, false, "udp", &t), CELL_DIRECT);
	/* same-nat: only a hairpin joins the peers (tests/unit/test_topo_layouts.c) */
	assert_int_equal(predict("symmetric", NULL, LAYOUT_SAME_LAN, true, "tcp", &t), CELL_FAILED);
	assert_non_null(strstr(t.why, "hairpin"));
	/* every verdict explains itself */
	assert_true(strlen(t.why) > 20);
}

static struct expectations *load_shipped(void)
{
	static struct expectations e;
	struct diag_list dl = { .count = 0 };
	char path[1024];

	snprintf(path, sizeof(path), "%s/ci/expectations.yaml", PUNCHLAB_SOURCE_DIR);
	if (expectations_load(&e, path, &dl) < 0) {
		for (int i = 0; i < dl.count; i++)
			fprintf(stderr, "%s:%d: %s\n", dl.items[i].file, dl.items[i].line,
				dl.items[i].msg);
		return NULL;
	}
	return &e;
}

static void test_expectations_shipped_file(void **state)
{
	struct expectations *e = load_shipped();

	(void)state;
	assert_non_null(e);
	assert_true(e->ndocs >= 4);
	assert_true(e->nclaims >= 8);
	for (int i = 0; i < e->nclaims; i++)
		assert_true(strlen(e->claims[i].quote) > 10); /* every claim rests on a quote */
}

/* The claims that speak of a cell, by id, in file order, joined by ','. */
static const char *claim_ids(const char *id, const char *pa, const char *pb,
			     enum theory_layout layout)
{
	static char buf[256];
	struct expectations *e = load_shipped();
	struct cell_spec c = { 0 };
	struct cell_refs r;

	assert_non_null(e);
	assert_int_equal(cell_id_parse(id, &c), 0);
	expectations_claim(e, &c, pa ? hdr(pa) : NULL, pb ? hdr(pb) : NULL, layout, &r);
	buf[0] = '\0';
	for (int i = 0; i < r.nclaims; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "," : "",
			 r.claims[i].id);
	assert_true(r.has_claim == (r.nclaims > 0));
	return buf;
}

/* Claims as the documents make them (issue 10): a pair's claim comes from what a document says of
 * it or from its per-type definitions by written reasoning, never from a "weaker side" rule;
 * claims apply only to the techniques and profiles that meet their preconditions; none where no
 * document speaks. */
static void test_claims_scoped_as_written(void **state)
{
	(void)state;
	/* the full cone's "any host" and the restricted cone's "any port" admit a symmetric NAT */
	assert_string_equal(claim_ids("two-nats/udp/udp/full-cone~symmetric", "full-cone",
				      "symmetric", LAYOUT_TWO_NATS), "art-full-cone");
	assert_string_equal(claim_ids("two-nats/udp/udp/symmetric~restricted-cone", "symmetric",
				      "restricted-cone", LAYOUT_TWO_NATS), "art-restricted-cone");
	assert_string_equal(claim_ids("two-nats/udp/udp/port-restricted-cone~symmetric-sequential",
				      "port-restricted-cone", "symmetric-sequential", LAYOUT_TWO_NATS),
			    "art-symmetric");
	/* Wikipedia's matrix needs prediction done: not for a sequential NAT under plain tcp ... */
	assert_string_equal(claim_ids("two-nats/tcp/tcp/port-restricted-cone~symmetric-sequential",
				      "port-restricted-cone", "symmetric-sequential", LAYOUT_TWO_NATS),
			    "art-symmetric");
	/* ... but under predict; and the article knows no prediction */
	assert_string_equal(claim_ids("two-nats/tcp/predict/port-restricted-cone~symmetric-sequential",
				      "port-restricted-cone", "symmetric-sequential", LAYOUT_TWO_NATS),
			    "wiki-predictable-pair");
	/* the article and Wikipedia conflict on port-restricted x symmetric over tcp: both kept */
	assert_string_equal(claim_ids("two-nats/tcp/tcp/symmetric~port-restricted-cone", "symmetric",
				      "port-restricted-cone", LAYOUT_TWO_NATS),
			    "art-symmetric,wiki-one-predictable");
	assert_string_equal(claim_ids("two-nats/tcp/tcp/symmetric~symmetric", "symmetric",
				      "symmetric", LAYOUT_TWO_NATS), "art-symmetric,wiki-none-predictable");
	/* an RST NAT breaks Wikipedia's requirement: its matrix's YES does not apply */
	assert_string_equal(claim_ids("two-nats/tcp/tcp/port-restricted-cone-rst~port-restricted-cone-rst",
				      "port-restricted-cone-rst", "port-restricted-cone-rst",
				      LAYOUT_TWO_NATS), "art-port-restricted-cone,wiki-no-rst");
	assert_string_equal(claim_ids("two-nats/tcp/tcp/full-cone~port-restricted-cone-rst",
				      "full-cone", "port-restricted-cone-rst", LAYOUT_TWO_NATS),
			    "art-full-cone,wiki-no-rst");
	/* hole-punching claims say nothing of auto (an engine's fallback chain) or birthday */
	assert_string_equal(claim_ids("two-nats/udp/auto/symmetric~symmetric", "symmetric",
				      "symmetric", LAYOUT_TWO_NATS), "");
	assert_string_equal(claim_ids("two-nats/udp/birthday/symmetric~full-cone", "symmetric",
				      "full-cone", LAYOUT_TWO_NATS), "");
	/* the relay is the article's option 1, whatever the NATs */
	assert_string_equal(claim_ids("two-nats/udp/relay/symmetric~symmetric", "symmetric",
				      "symmetric", LAYOUT_TWO_NATS), "art-relay");
	assert_string_equal(claim_ids("same-nat/udp/relay/symmetric~-", "symmetric", NULL,
				      LAYOUT_SAME_LAN), "art-relay");
	/* seed 003's TTL trick keeps its conditions: both NATs predictable, prediction done */
	assert_string_equal(claim_ids("two-nats/tcp/tcp-ttl/port-restricted-cone~port-restricted-cone",
				      "port-restricted-cone", "port-restricted-cone", LAYOUT_TWO_NATS),
			    "cooke-ttl");
	assert_string_equal(claim_ids("two-nats/tcp/tcp-ttl/symmetric~symmetric", "symmetric",
				      "symmetric", LAYOUT_TWO_NATS), "");
	assert_string_equal(claim_ids("two-nats/tcp/tcp-ttl/full-cone~symmetric-sequential",
				      "full-cone", "symmetric-sequential", LAYOUT_TWO_NATS), "");
	/* the article speaks of clients behind NATs: a symmetric NAT facing a public peer has no
	 * claim; a full cone does ("any host on the Internet") */
	assert_string_equal(claim_ids("public-peer/udp/udp/symmetric~-", "symmetric", NULL,
				      LAYOUT_PUBLIC_B), "");
	assert_string_equal(claim_ids("public-peer/udp/udp/full-cone~-", "full-cone", NULL,
				      LAYOUT_PUBLIC_B), "art-full-cone");
	/* no document speaks of two peers on one LAN */
	assert_string_equal(claim_ids("same-nat/udp/udp/symmetric~-", "symmetric", NULL,
				      LAYOUT_SAME_LAN), "");
	/* double NAT: Wikipedia's "works fine within a CGN" and Linux Journal's caveat, both shown */
	assert_string_equal(claim_ids("double-nat/tcp/tcp/port-restricted-cone~full-cone",
				      "port-restricted-cone", "full-cone", LAYOUT_SHARED_OUTER),
			    "wiki-cgn,lj-two-levels");
	assert_string_equal(claim_ids("double-nat/udp/udp/symmetric~symmetric", "symmetric",
				      "symmetric", LAYOUT_SHARED_OUTER), "lj-two-levels");
}

/* A claim that no cell here judges still rests on a quote and says what would test it. */
static void test_claims_not_judged_here_say_so(void **state)
{
	struct expectations *e = load_shipped();
	int later = 0, judged = 0;

	(void)state;
	assert_non_null(e);
	for (int i = 0; i < e->nclaims; i++) {
		const struct expect_claim *c = &e->claims[i];
		if (c->applies == CLAIM_CELLS) {
			judged++;
			assert_true(c->has_outcome && c->strength[0] && c->ntechniques > 0);
		} else {
			later++;
			assert_true(strlen(c->test) > 20 && c->says[0]);
		}
	}
	assert_true(judged >= 10 && later >= 10);
}

/* Hedges (src/matrix/claim.c): "always" falls to one run against it; "in the most cases" and
 * "almost never" only to a share of runs that contradicts them, never to one outcome. */
static void test_claims_hedged_verdict(void **state)
{
	struct cell_refs r = { .nclaims = 1, .has_claim = true };
	int count[CELL_OUTCOME_COUNT] = { 0 };
	double bound;

	(void)state;
	assert_int_equal(claim_strength_bound("sometimes", &bound), 0);
	assert_int_equal(claim_strength_bound("mostly", &bound), -EINVAL);
	/* "In the most cases not possible" (failed, in-most-cases) against direct runs */
	r.claims[0] = (struct cell_claim){ .outcome = CELL_FAILED, .strength = "in-most-cases",
					   .bound = 0.5 };
	count[CELL_DIRECT] = 1;
	assert_false(claims_judge(&r, count, CELL_DIRECT)); /* one outcome: no contradiction */
	count[CELL_DIRECT] = 6;
	assert_false(claims_judge(&r, count, CELL_DIRECT)); /* P = 1/64 > 0.01 */
	count[CELL_DIRECT] = 7;
	assert_true(claims_judge(&r, count, CELL_DIRECT)); /* P = 1/128 */
	assert_true(r.claims[0].disagrees && r.claims[0].p_value < 0.01);
	count[CELL_DIRECT] = 7;
	count[CELL_FAILED] = 3;
	assert_false(claims_judge(&r, count, CELL_DIRECT)); /* 3 of 10 failed: not contradicted */
	/* "will work all the time" (direct, always): one failed run contradicts it */
	r.claims[0] = (struct cell_claim){ .outcome = CELL_DIRECT, .strength = "always", .bound = 1 };
	memset(count, 0, sizeof(count));
	count[CELL_DIRECT] = 29;
	count[CELL_FAILED] = 1;
	assert_true(claims_judge(&r, count, CELL_DIRECT));
	count[CELL_FAILED] = 0;
	assert_false(claims_judge(&r, count, CELL_DIRECT));
	/* error and skipped runs are no NAT result: they contradict nothing */
	count[CELL_ERROR] = 3;
	assert_false(claims_judge(&r, count, CELL_DIRECT));
	/* "almost never work" (failed, almost-always): two direct runs in two contradict it */
	r.claims[0] = (struct cell_claim){ .outcome = CELL_FAILED, .strength = "almost-always",
					   .bound = 0.9 };
	memset(count, 0, sizeof(count));
	count[CELL_DIRECT] = 1;
	assert_false(claims_judge(&r, count, CELL_DIRECT));
	count[CELL_DIRECT] = 2;
	assert_true(claims_judge(&r, count, CELL_DIRECT));
	/* a claim from an old matrix.json (no strength): its one outcome, as then */
	r.nclaims = 0;
	r.claim = CELL_FAILED;
	assert_true(claims_judge(&r, count, CELL_DIRECT));
	assert_false(claims_judge(&r, count, CELL_FAILED));
}

/* Every disagreement the default run can show is explained (issue 10): for every cell of the
 * default matrix and every outcome the theory allows it (its outcome; for a timing-dependent or
 * probabilistic cell also its fallback), in one run and in RATE_MAX_RUNS runs alike (a rate
 * cell's test, or --repeat), every claim that disagrees has an explanation in the file. The lab
 * test claims-explained does the same over a real run's matrix.json. */
static void test_default_disagreements_explained(void **state)
{
	struct expectations *e = load_shipped();
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells;
	int n, unexplained = 0, disagreements = 0;

	(void)state;
	assert_non_null(e);
	n = cells_enumerate(&d, &cells);
	for (int i = 0; i < n; i++) {
		struct theory t;
		struct cell_result c = { .spec = cells[i] };
		struct theory_input in = { .a = hdr(cells[i].profile_a), .b = hdr(cells[i].profile_b),
					   .layout = LAYOUT_TWO_NATS,
					   .tcp = strcmp(cells[i].proto, "tcp") == 0,
					   .technique = cells[i].technique };
		outcome_set allowed;

		theory_predict(&in, &t);
		allowed = 1u << t.outcome;
		if (theory_class(&t) != CLASS_DETERMINED)
			allowed |= 1u << t.fallback;
		expectations_claim(e, &cells[i], in.a, in.b, LAYOUT_TWO_NATS, &c.refs);
		for (int o = CELL_DIRECT; o <= CELL_FAILED; o++) {
			static const int runs[] = { 1, RATE_MAX_RUNS };

			if (!(allowed & 1u << o))
				continue;
			for (int r = 0; r < 2; r++) {
				int count[CELL_OUTCOME_COUNT] = { 0 };

				count[o] = runs[r];
				if (!claims_judge(&c.refs, count, (enum cell_outcome)o))
					continue;
				for (int j = 0; j < c.refs.nclaims; j++) {
					if (!c.refs.claims[j].disagrees)
						continue;
					disagreements++;
					if (c.refs.claims[j].explanation[0])
						continue;
					unexplained++;
					fprintf(stderr, "%s measured %s (%d run(s)): claim %s has no "
						"explanation in ci/expectations.yaml\n", cells[i].id,
						cell_outcome_name(o), runs[r], c.refs.claims[j].id);
				}
			}
		}
	}
	assert_true(disagreements > 0); /* the test can see one */
	assert_int_equal(unexplained, 0);
	free(cells);
}

/* rates: entries carry an impairment (issue 12): an entry without impair: serves unimpaired
 * cells only, one with impair: lte the impair=lte cells only; an impaired rate cell whose
 * impairment has no entry is judged by its allowed outcomes only, and its reason says so. */
static void test_rates_by_impairment(void **state)
{
	static const char yaml[] =
		"documents:\n  d: { title: T, file: docs/sources/d.md }\nclaims: []\nrates:\n"
		"  - { mechanism: rst-race, technique: tcp, runs: 30, direct: 30, date: d, command: c }\n"
		"  - { mechanism: rst-race, technique: tcp, impair: lte, runs: 30, direct: 26, "
		"date: d, command: c }\n"
		"  - { mechanism: rst-race, technique: predict, impair: none, runs: 30, direct: 29, "
		"date: d, command: c }\n";
	static const char bad[] =
		"documents:\n  d: { title: T, file: docs/sources/d.md }\nclaims: []\nrates:\n"
		"  - { mechanism: rst-race, impair: \"\", runs: 30, direct: 20, date: d, command: c }\n";
	struct expectations *e = calloc(1, sizeof(*e));
	struct diag_list dl = { .count = 0 };
	struct cell_spec c = { .proto = "tcp", .technique = "tcp" };
	struct cell_refs r = { 0 };
	struct theory t;
	char why[512] = "";

	(void)state;
	assert_int_equal(expectations_load_buffer(e, "x.yaml", yaml, strlen(yaml), &dl), 0);
	predict("port-restricted-cone-rst", "full-cone", LAYOUT_TWO_NATS, true, "tcp", &t);
	assert_string_equal(t.mechanism, "rst-race");
	snprintf(c.id, sizeof(c.id), "two-nats/tcp/tcp/port-restricted-cone-rst~full-cone");
	assert_ptr_equal(expectations_rate(e, "rst-race", &c), &e->rates[0]);
	assert_int_equal(expectations_expected(e, &c, &t, &r, why, sizeof(why)), 0);
	assert_true(r.expected_rate > 0.9);
	double unimpaired = r.expected_rate;
	/* the same cell under lte: the lte entry, not the unimpaired one */
	strcat(c.id, "/impair=lte");
	snprintf(c.impair, sizeof(c.impair), "lte");
	assert_ptr_equal(expectations_rate(e, "rst-race", &c), &e->rates[1]);
	assert_int_equal(expectations_expected(e, &c, &t, &r, why, sizeof(why)), 0);
	assert_true(r.expected_rate > 0 && r.expected_rate < unimpaired);
	assert_non_null(strstr(r.expected_reason, "26 of 30"));
	/* under dsl: no entry; allowed outcomes only, said in the reason */
	snprintf(c.impair, sizeof(c.impair), "dsl");
	assert_null(expectations_rate(e, "rst-race", &c));
	assert_int_equal(expectations_expected(e, &c, &t, &r, why, sizeof(why)), 0);
	assert_true(r.expected_rate == 0);
	assert_true(r.expected_allowed & (1u << CELL_DIRECT));
	assert_true(r.expected_allowed & (1u << t.fallback));
	assert_non_null(strstr(r.expected_reason, "no rate measured under impair=dsl"));
	assert_non_null(strstr(r.expected_reason, "allowed outcomes only"));
	/* impair: none is an entry for unimpaired cells; an lte cell of predict has none */
	snprintf(c.technique, sizeof(c.technique), "predict");
	c.impair[0] = '\0';
	assert_ptr_equal(expectations_rate(e, "rst-race", &c), &e->rates[2]);
	snprintf(c.impair, sizeof(c.impair), "lte");
	assert_null(expectations_rate(e, "rst-race", &c));
	/* an unimpaired rate cell without an entry stays an error */
	snprintf(c.technique, sizeof(c.technique), "birthday");
	c.impair[0] = '\0';
	assert_int_equal(expectations_expected(e, &c, &t, &r, why, sizeof(why)), -ENOENT);
	/* impair: needs a value */
	assert_int_equal(expectations_load_buffer(e, "x.yaml", bad, strlen(bad), &dl), -EINVAL);
	assert_int_equal(dl.items[0].line, 5);
	assert_non_null(strstr(dl.items[0].msg, "expected a preset (lte) or none"));
	free(e);
}

static void test_expectations_bad_input(void **state)
{
	static const struct {
		const char *yaml;
		int line;
		const char *needle;
	} cases[] = {
		{ "documents: {}\nclaims: []\n", 1, "missing section" },
		{ "documents: {}\nclaims: []\nrates: []\nextra: 1\n", 4, "unknown key" },
#define DOC "documents:\n  d: { title: T, file: docs/sources/d.md }\nclaims:\n"
#define CLAIM "  - { id: c, document: d, quote: qqqqqqqqqqqq, techniques: [udp], "
		{ DOC CLAIM "strength: always, outcome: maybe }\nrates: []\n", 4, "outcome" },
		{ DOC "  - { id: c, document: x, quote: qqqq, outcome: direct, strength: always, "
		  "techniques: [udp] }\nrates: []\n", 4, "not listed" },
		{ DOC "  - { id: c, document: d, outcome: direct, strength: always, techniques: [udp] }"
		  "\nrates: []\n", 4, "quote" },
		{ DOC CLAIM "outcome: direct, strength: mostly }\nrates: []\n", 4, "strength" },
		{ DOC CLAIM "outcome: direct }\nrates: []\n", 4, "strength" },
		{ DOC CLAIM "outcome: direct, strength: always, layouts: [moon] }\nrates: []\n", 4,
		  "layouts" },
		{ DOC CLAIM "outcome: direct, strength: always, a: { rfc3489: [cone] } }\nrates: []\n",
		  4, "rfc3489" },
		{ DOC CLAIM "outcome: direct, strength: always, requires: [luck] }\nrates: []\n", 4,
		  "requires" },
		{ DOC "  - { id: c, document: d, quote: qqqq, applies: later }\nrates: []\n", 4,
		  "test:" },
		{ DOC CLAIM "outcome: direct, strength: always, conflicts: [nope] }\nrates: []\n", 4,
		  "conflicts" },
		{ DOC CLAIM "outcome: direct, strength: always }\nexplanations:\n  - { claim: zz, why: w }"
		  "\nrates: []\n", 6, "not under claims" },
		{ "documents:\n  d: { title: T }\nclaims: []\nrates: []\n", 2, "file" },
		{ "documents:\n  d: { title: T, file: f }\nclaims: []\nrates:\n  - { mechanism: rst-race, "
		  "runs: 30, direct: 29 }\n", 5, "incomplete" },
		{ "documents:\n  d: { title: T, file: f }\nclaims: []\nrates:\n  - { mechanism: rst-race, "
		  "runs: 10, direct: 9, date: d, command: c }\n", 5, "at least 30" },
		{ "documents:\n  d: { title: T, file: f }\nclaims: []\nrates:\n  - { mechanism: rst-race, "
		  "runs: 30, direct: 0, date: d, command: c }\n", 5, "cannot fail" },
		{ "documents:\n  d: { title: T, file: f }\nclaims: []\nrates:\n  - { mechanism: luck, "
		  "runs: 30, direct: 3, date: d, command: c }\n", 5, "mechanism" },
#undef DOC
#undef CLAIM
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expectations e;
		struct diag_list dl = { .count = 0 };
		int ret = expectations_load_buffer(&e, "x.yaml", cases[i].yaml, strlen(cases[i].yaml),
						   &dl);
		if (ret != -EINVAL || dl.count < 1 || dl.items[0].line != cases[i].line ||
		    !strstr(dl.items[0].msg, cases[i].needle))
			fail_msg("case %zu: ret %d, got %s:%d: %s", i, ret, dl.items[0].file,
				 dl.items[0].line, dl.items[0].msg);
	}
}

/* The rule of issue 9: a determined cell expects exactly the theory; a timing-dependent or
 * probabilistic cell (by the theory, from the headers: never by profile name) has a measured
 * rate that its binomial test can use within RATE_MAX_RUNS runs; every rate entry serves some
 * cell (no stale entries). Over every profile of the lab (the eight non-CGN ones) and every
 * technique, in two-nats and in double-nat. */
static void test_expected_is_theory_or_a_testable_rate(void **state)
{
	struct expectations *e = load_shipped();
	struct matrix_dims d = default_dims(true);
	struct cell_spec *cells;
	int n, used[EXPECT_MAX_RATES] = { 0 }, rate_cells = 0;

	(void)state;
	assert_non_null(e);
	d.ntechniques = 0;
	const char *all[] = { "plain", "auto", "tcp-ttl", "predict", "birthday", "relay" };
	for (int i = 0; i < 6; i++)
		d.techniques[d.ntechniques++] = all[i];
	d.nprofiles = 0;
	for (int i = 0; i < NALL; i++)
		d.profiles[d.nprofiles++] = base_profiles[i];
	/* unimpaired and under lte: the rates of each (an lte entry serves lte cells only) */
	d.impairments[0] = "none";
	d.impairments[1] = "lte";
	d.nimpairments = 2;
	/* two layouts with rate cells of their own: two-nats, and double-nat behind the cgn */
	struct profile_header cgn;
	struct diag_list cdl = { .count = 0 };
	char cgn_path[1024];
	snprintf(cgn_path, sizeof(cgn_path), "%s/nat-profiles/cgn.nft", PUNCHLAB_SOURCE_DIR);
	assert_int_equal(profile_header_parse_file(&cgn, cgn_path, &cdl), 0);
	n = cells_enumerate(&d, &cells);
	for (int i = 0; i < 2 * n; i++) {
		struct theory t;
		struct cell_refs r = { 0 };
		char why[512] = "";
		const struct expect_rate *rate;
		bool outer = i >= n;
		struct cell_spec *c = &cells[i % n];
		struct theory_input in = { .a = hdr(c->profile_a), .b = hdr(c->profile_b),
					   .layout = outer ? LAYOUT_SHARED_OUTER : LAYOUT_TWO_NATS,
					   .outer = outer ? &cgn : NULL,
					   .tcp = strcmp(c->proto, "tcp") == 0,
					   .technique = c->technique };
		theory_predict(&in, &t);
		if (expectations_expected(e, c, &t, &r, why, sizeof(why)) < 0)
			fail_msg("%s (%s)", why, outer ? "double-nat" : "two-nats");
		if (r.cell_class == CLASS_DETERMINED) {
			assert_int_equal(r.expected_allowed, 1u << t.outcome);
			assert_true(r.expected_rate == 0);
			continue;
		}
		rate_cells++;
		assert_true(r.expected_allowed & (1u << CELL_DIRECT));
		if (c->impair[0] && r.expected_rate == 0) {
			/* no rate measured under it: allowed outcomes only, and said */
			assert_non_null(strstr(r.expected_reason, "allowed outcomes only"));
			assert_null(expectations_rate(e, t.mechanism, c));
			continue;
		}
		assert_true(r.expected_rate > 0 && r.expected_rate < 1);
		assert_true(r.expected_runs >= 1 && r.expected_runs <= RATE_MAX_RUNS);
		rate = expectations_rate(e, t.mechanism, c);
		used[rate - e->rates]++;
	}
	assert_true(rate_cells > 0);
	for (int i = 0; i < e->nrates; i++)
		if (!used[i])
			fail_msg("ci/expectations.yaml:%d: the %s rate (technique %s, cells %s, impair "
				 "%s) serves no cell", e->rates[i].line, e->rates[i].mechanism,
				 e->rates[i].technique[0] ? e->rates[i].technique : "any",
				 e->rates[i].cells[0] ? e->rates[i].cells : "any",
				 e->rates[i].impair[0] ? e->rates[i].impair : "none");
	free(cells);
}

/* The binomial test of src/matrix/rate.c: numbers checked by hand (and by scipy's binom.cdf). */
static void test_rate_arithmetic(void **state)
{
	double pv;

	(void)state;
	assert_true(fabs(rate_binom_cdf(0, 10, 0.5) - 1.0 / 1024) < 1e-9);
	assert_true(fabs(rate_binom_cdf(5, 10, 0.5) - 638.0 / 1024) < 1e-9);
	assert_true(rate_binom_cdf(10, 10, 0.3) == 1);
	assert_true(rate_binom_cdf(-1, 10, 0.3) == 0);
	/* the 95% one-sided Clopper-Pearson lower bound: n of n gives 0.05^(1/n) */
	assert_true(fabs(rate_expected(30, 30) - pow(0.05, 1.0 / 30)) < 1e-9);
	assert_true(fabs(rate_expected(480, 480) - pow(0.05, 1.0 / 480)) < 1e-9);
	/* and in general P(X >= k | n, bound) = 5%: 27 of 30 gives 0.7615 */
	assert_true(fabs(1 - rate_binom_cdf(26, 30, rate_expected(27, 30)) - 0.05) < 1e-6);
	assert_true(fabs(rate_expected(27, 30) - 0.7615) < 1e-3);
	assert_true(rate_expected(0, 30) == 0);
	/* 480/480 -> p = 0.9938: 7 runs, failing at <= 5 direct (two failures) */
	assert_int_equal(rate_runs_needed(rate_expected(480, 480), RATE_MAX_RUNS), 7);
	assert_true(rate_too_low(5, 7, rate_expected(480, 480), &pv));
	assert_false(rate_too_low(6, 7, rate_expected(480, 480), &pv));
	/* the power promise: at half the rate, the test fails at least 9 times in 10 */
	for (int direct = 22; direct <= 30; direct++) {
		double p = rate_expected(direct, 30);
		int runs = rate_runs_needed(p, RATE_MAX_RUNS), k = -1;
		assert_true(runs > 0);
		while (rate_too_low(k + 1, runs, p, NULL))
			k++;
		assert_true(k >= 0);
		assert_true(rate_binom_cdf(k, runs, p / 2) >= RATE_POWER);
		assert_true(rate_binom_cdf(k, runs, p) <= RATE_ALPHA);
	}
	/* a rate too low to test within the budget: the engine must be fixed, not the bar */
	assert_int_equal(rate_runs_needed(rate_expected(3, 30), RATE_MAX_RUNS), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_matrix_has_144_cells),
		cmocka_unit_test(test_no_b_nat_varies_a_only),
		cmocka_unit_test(test_techniques_fit_transports),
		cmocka_unit_test(test_cell_id_round_trip),
		cmocka_unit_test(test_cell_id_grammar_round_trip),
		cmocka_unit_test(test_cell_id_lenient_spellings),
		cmocka_unit_test(test_cell_id_errors_say_why),
		cmocka_unit_test(test_cell_id_too_long),
		cmocka_unit_test(test_enumerate_once_per_profile),
		cmocka_unit_test(test_outer_dimension),
		cmocka_unit_test(test_theory_two_level),
		cmocka_unit_test(test_shards_partition),
		cmocka_unit_test(test_theory_cases),
		cmocka_unit_test(test_expectations_shipped_file),
		cmocka_unit_test(test_claims_scoped_as_written),
		cmocka_unit_test(test_claims_not_judged_here_say_so),
		cmocka_unit_test(test_claims_hedged_verdict),
		cmocka_unit_test(test_default_disagreements_explained),
		cmocka_unit_test(test_expectations_bad_input),
		cmocka_unit_test(test_rates_by_impairment),
		cmocka_unit_test(test_expected_is_theory_or_a_testable_rate),
		cmocka_unit_test(test_rate_arithmetic),
		cmocka_unit_test(test_cell_id_events),
	};
	return cmocka_run_group_tests(tests, load_headers, NULL);
}
