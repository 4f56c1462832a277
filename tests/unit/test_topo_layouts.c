/* Topologies whose peers meet by hairpinning (issue 9): the "isolate: yes" LAN of same-nat
 * (parsing, its checks, the reachability the lab check expects) and the theory of the two
 * hairpin layouts, computed from the shipped profiles' real headers:
 *   - same-nat follows the profile's hairpin declaration (not "always direct");
 *   - double-nat composes each home NAT with the CGN's declared hairpin-filtering, two home
 *     NATs of one sequential profile collide on the CGN's preserved ports, and two predicted
 *     sides cannot meet through a hairpin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/topo.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "shipped.h"

/* Parse a topology from text; returns the first diagnostic's message ("" when it parsed). */
static const char *parse_text(const char *text, struct topo *t, struct diag_list *dl)
{
	memset(dl, 0, sizeof(*dl));
	if (topo_parse_buffer(t, "t.yaml", text, strlen(text), dl) == 0)
		return "";
	return dl->count ? dl->items[0].msg : "?";
}

/* --- same-nat's isolated LAN ---------------------------------------------------------------- */

static void test_same_nat_lan_is_isolated(void **state)
{
	struct topo t;
	int nat, ha, hb, lan;

	(void)state;
	shipped_topo_load("same-nat", &t);
	nat = topo_node_find(&t, "nat-a");
	ha = topo_node_find(&t, "host-a");
	hb = topo_node_find(&t, "host-b");
	lan = t.nodes[nat].lan_link;
	assert_true(lan >= 0);
	assert_true(t.links[lan].isolate);
	assert_int_equal(t.links[lan].nends, 3);
	/* host-a reaches the NAT's LAN address, never host-b's (and the other way round) */
	assert_true(topo_expect_reachable_end(&t, ha, lan, 0));
	assert_false(topo_expect_reachable_end(&t, ha, lan, topo_link_end_of(&t.links[lan], hb)));
	assert_false(topo_expect_reachable_end(&t, hb, lan, topo_link_end_of(&t.links[lan], ha)));
	assert_true(topo_expect_reachable_end(&t, ha, lan, topo_link_end_of(&t.links[lan], ha)));
	/* the rest of the model is unchanged: the server is reached */
	for (int li = 0; li < t.nlinks; li++)
		if (topo_link_end_of(&t.links[li], t.roles[ROLE_RENDEZVOUS]) >= 0)
			assert_true(topo_expect_reachable_end(&t, ha, li, 1));
	/* the other shipped topologies isolate nothing */
	shipped_topo_load("two-nats", &t);
	for (int li = 0; li < t.nlinks; li++)
		assert_false(t.links[li].isolate);
}

#define HEAD "topology: x\nnodes:\n  inet: { kind: inet }\n" \
	"  server: { kind: server, gateway: inet }\n" \
	"  nat-a: { kind: nat, gateway: inet, profile: full-cone-hairpin }\n" \
	"  host-a: { kind: host, gateway: nat-a }\n  host-b: { kind: host, gateway: nat-a }\n" \
	"links:\n  - ends: { inet: 198.51.100.1/24, server: 198.51.100.10/24 }\n" \
	"  - ends: { inet: 203.0.113.1/28, nat-a: 203.0.113.2/28 }\n"
#define ROLES "roles: { peer-a: host-a, peer-b: host-b, nat-a: nat-a, rendezvous: server }\n"

static void test_isolate_checked(void **state)
{
	struct topo t;
	struct diag_list dl;
	const char *msg;

	(void)state;
	msg = parse_text(HEAD "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24, "
			 "host-b: 10.0.1.11/24 }\n    isolate: no\n" ROLES, &t, &dl);
	assert_string_equal(msg, "");
	assert_false(t.links[2].isolate);

	/* isolation needs a bridge: a LAN of three or more ends */
	msg = parse_text(HEAD "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n"
			 "    isolate: yes\n  - ends: { nat-a: 10.0.2.1/24, host-b: 10.0.2.10/24 }\n"
			 ROLES, &t, &dl);
	assert_non_null(strstr(msg, "expected a LAN"));
	assert_int_equal(dl.items[0].line, 12);

	/* and a NAT listed first (the hub that translates) */
	msg = parse_text(HEAD "  - ends: { host-a: 10.0.1.10/24, nat-a: 10.0.1.1/24, "
			 "host-b: 10.0.1.11/24 }\n    isolate: yes\n" ROLES, &t, &dl);
	assert_non_null(strstr(msg, "expected the NAT listed first"));

	msg = parse_text(HEAD "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24, "
			 "host-b: 10.0.1.11/24 }\n    isolate: maybe\n" ROLES, &t, &dl);
	assert_non_null(strstr(msg, "isolate: unknown value \"maybe\", expected yes or no"));
	assert_int_equal(dl.items[0].line, 12);

	msg = parse_text(HEAD "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24, "
			 "host-b: 10.0.1.11/24 }\n    isolated: yes\n" ROLES, &t, &dl);
	assert_non_null(strstr(msg, "expected ends, isolate or impair"));
}

/* --- the theory of the hairpin layouts ------------------------------------------------------ */

static enum cell_outcome same_nat(const struct profile_header *a, bool tcp, const char *tech,
				  struct theory *t)
{
	struct theory_input in = { .a = a, .layout = LAYOUT_SAME_LAN, .tcp = tcp,
				   .technique = tech };

	theory_predict(&in, t);
	return t->outcome;
}

static void test_same_nat_follows_hairpin(void **state)
{
	struct profile_header fch, prc, sym;
	struct theory t;

	(void)state;
	shipped_profile_load("full-cone-hairpin", &fch);
	shipped_profile_load("port-restricted-cone", &prc);
	shipped_profile_load("symmetric", &sym);
	assert_true(fch.hairpin);
	assert_int_equal(fch.hairpin_filtering, PROFILE_ENDPOINT_INDEPENDENT);
	assert_false(prc.hairpin);

	for (int tcp = 0; tcp < 2; tcp++) {
		assert_int_equal(same_nat(&fch, tcp, tcp ? "tcp" : "udp", &t), CELL_DIRECT);
		assert_false(t.timing_dependent || t.probabilistic);
		assert_int_equal(same_nat(&fch, tcp, "auto", &t), CELL_DIRECT);
		assert_int_equal(same_nat(&prc, tcp, tcp ? "tcp" : "udp", &t), CELL_FAILED);
		assert_non_null(strstr(t.why, "does not hairpin"));
		assert_int_equal(same_nat(&prc, tcp, "auto", &t), CELL_RELAYED);
		assert_int_equal(same_nat(&sym, tcp, "predict", &t), CELL_FAILED);
		assert_int_equal(same_nat(&fch, tcp, "relay", &t), CELL_RELAYED);
		assert_int_equal(same_nat(&prc, tcp, "relay", &t), CELL_RELAYED);
	}

	/* a hairpin that filters like the outside: a per-destination mapping behind it... */
	fch.hairpin_filtering = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	assert_int_equal(same_nat(&fch, false, "udp", &t), CELL_DIRECT); /* EIM both: still */
	fch.mapping = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	fch.ports = PROFILE_PORTS_RANDOM;
	assert_int_equal(same_nat(&fch, false, "udp", &t), CELL_FAILED);
}

static enum cell_outcome double_nat(const struct profile_header *a,
				    const struct profile_header *b,
				    const struct profile_header *outer, bool tcp, const char *tech,
				    struct theory *t)
{
	struct theory_input in = { .a = a, .b = b, .outer = outer, .layout = LAYOUT_SHARED_OUTER,
				   .tcp = tcp, .technique = tech };

	theory_predict(&in, t);
	return t->outcome;
}

static void test_double_nat_uses_cgn_hairpin_filtering(void **state)
{
	struct profile_header cgn, fc, sym;
	struct theory t;

	(void)state;
	shipped_profile_load("cgn", &cgn);
	shipped_profile_load("full-cone", &fc);
	shipped_profile_load("symmetric", &sym);
	/* the CGN declares it: its hairpin DNATs any subscriber's packet to a mapped port */
	assert_true(cgn.line[PROFILE_KEY_HAIRPIN_FILTERING] > 0);
	assert_int_equal(cgn.hairpin_filtering, PROFILE_ENDPOINT_INDEPENDENT);

	/* symmetric's probes from unannounced ports reach the full cone through that hairpin */
	assert_int_equal(double_nat(&fc, &sym, &cgn, false, "udp", &t), CELL_DIRECT);
	/* the same CGN declaring an address-and-port-dependent hairpin: they would not */
	cgn.hairpin_filtering = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	assert_int_equal(double_nat(&fc, &sym, &cgn, false, "udp", &t), CELL_FAILED);
	/* undeclared, it is taken to be the CGN's filtering (address and port): the same */
	cgn.hairpin_filtering = PROFILE_ENDPOINT_INDEPENDENT;
	cgn.line[PROFILE_KEY_HAIRPIN_FILTERING] = 0;
	assert_int_equal(double_nat(&fc, &sym, &cgn, false, "udp", &t), CELL_FAILED);
	/* and without a hairpin at all, nothing but the relay */
	cgn.hairpin = false;
	assert_int_equal(double_nat(&fc, &fc, &cgn, false, "udp", &t), CELL_FAILED);
	assert_int_equal(double_nat(&fc, &fc, &cgn, false, "auto", &t), CELL_RELAYED);
}

static void test_double_nat_sequential(void **state)
{
	struct profile_header cgn, prc, ss, ss2;
	struct theory t;

	(void)state;
	shipped_profile_load("cgn", &cgn);
	shipped_profile_load("port-restricted-cone", &prc);
	shipped_profile_load("symmetric-sequential", &ss);

	/* one sequential home NAT against a cone one: predict meets (measured, see cgn.nft) */
	for (int tcp = 0; tcp < 2; tcp++) {
		assert_int_equal(double_nat(&prc, &ss, &cgn, tcp, "predict", &t), CELL_DIRECT);
		assert_int_equal(double_nat(&ss, &prc, &cgn, tcp, "auto", &t), CELL_DIRECT);
		assert_non_null(strstr(t.why, "predict"));
	}
	/* two home NATs of one sequential profile: the CGN preserves only one side's ports */
	for (int tcp = 0; tcp < 2; tcp++) {
		assert_int_equal(double_nat(&ss, &ss, &cgn, tcp, "predict", &t), CELL_FAILED);
		assert_non_null(strstr(t.why, "same sequential ports"));
		assert_int_equal(double_nat(&ss, &ss, &cgn, tcp, "auto", &t), CELL_RELAYED);
		assert_false(t.timing_dependent || t.probabilistic);
	}
	/* two different sequential profiles do not collide, but still cannot meet: each side's
	 * predicted mapping exists only after its packet to the other passed the hairpin */
	ss2 = ss;
	snprintf(ss2.name, sizeof(ss2.name), "symmetric-sequential-2");
	assert_int_equal(double_nat(&ss, &ss2, &cgn, false, "predict", &t), CELL_FAILED);
	assert_non_null(strstr(t.why, "only predicted"));
	/* ...while in two-nats the same pairing meets (each NAT filters until its own flow) */
	{
		struct theory_input in = { .a = &ss, .b = &ss2, .layout = LAYOUT_TWO_NATS,
					   .technique = "predict" };
		theory_predict(&in, &t);
		assert_int_equal(t.outcome, CELL_DIRECT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_nat_lan_is_isolated),
		cmocka_unit_test(test_isolate_checked),
		cmocka_unit_test(test_same_nat_follows_hairpin),
		cmocka_unit_test(test_double_nat_uses_cgn_hairpin_filtering),
		cmocka_unit_test(test_double_nat_sequential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
