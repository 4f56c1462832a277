/* Unit tests of the theory of networks that force a fallback (src/matrix/theory_outbound.c):
 * the shipped udp-blocked and web-only profiles against the classic ones, for punch (an
 * engine with a rendezvous server and a relay over the cell's transport). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "engine/engine_file.h"
#include "matrix/theory.h"
#include "nft/profile.h"

static void load(struct profile_header *h, const char *name)
{
	char path[512];
	struct diag_list dl = { .count = 0 };

	snprintf(path, sizeof(path), "%s/nat-profiles/%s.nft", PUNCHLAB_SOURCE_DIR, name);
	assert_int_equal(profile_header_parse_file(h, path, &dl), 0);
}

static enum cell_outcome cell(const struct profile_header *a, const struct profile_header *b,
			      bool tcp, const char *tech, int port, struct theory *t)
{
	struct theory_input in = { .a = a, .b = b, .layout = LAYOUT_TWO_NATS, .tcp = tcp,
				   .technique = tech, .rendezvous_port = port };

	/* punch: rendezvous, peer-reflexive, ignores ICMP errors */
	theory_input_set_engines(&in, EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE |
				 EF_CAP_IGNORES_ICMP, EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE |
				 EF_CAP_IGNORES_ICMP);
	theory_predict(&in, t);
	return t->outcome;
}

/* UDP blocked: a UDP cell fails (registration never leaves) except auto, which falls back to
 * TCP; TCP cells are the plain punching reasoning (as the port-restricted cone it is built
 * on). */
static void test_udp_blocked(void **state)
{
	struct profile_header ub, fc, prc;
	struct theory t, plain;

	(void)state;
	load(&ub, "udp-blocked");
	load(&fc, "full-cone");
	load(&prc, "port-restricted-cone");
	assert_true(ub.outbound_no_udp);
	for (int i = 0; i < 2; i++) {
		const struct profile_header *a = i ? &fc : &ub, *b = i ? &ub : &fc;

		assert_int_equal(cell(a, b, false, "udp", 0, &t), CELL_FAILED);
		assert_non_null(strstr(t.why, "udp-blocked lets out only no-udp"));
		/* auto falls back to TCP: its TCP twin's outcome */
		assert_int_equal(cell(a, b, false, "auto", 0, &t), CELL_DIRECT);
		assert_non_null(strstr(t.why, "auto falls back to TCP"));
		assert_int_equal(cell(a, b, false, "relay", 0, &t), CELL_FAILED);
		assert_int_equal(cell(a, b, true, "tcp", 0, &t), cell(i ? &fc : &prc,
								       i ? &prc : &fc, true,
								       "tcp", 0, &plain));
		assert_int_equal(cell(a, b, true, "auto", 0, &t), CELL_DIRECT);
		assert_int_equal(cell(a, b, true, "relay", 0, &t), CELL_RELAYED);
	}
	/* against a symmetric NAT TCP punching fails too: auto ends at the relay over TCP */
	{
		struct profile_header sym;

		load(&sym, "symmetric");
		assert_int_equal(cell(&ub, &sym, false, "auto", 0, &t), CELL_RELAYED);
	}
}

/* Web-only: nothing works on 3478; on 443 the relay does and nothing direct. */
static void test_web_only(void **state)
{
	struct profile_header wo, fc;
	struct theory t;

	(void)state;
	load(&wo, "web-only");
	load(&fc, "full-cone");
	assert_int_equal(wo.outbound_nports, 2);
	assert_int_equal(cell(&wo, &fc, true, "auto", 0, &t), CELL_FAILED);
	assert_non_null(strstr(t.why, "rendezvous port 3478"));
	assert_int_equal(cell(&fc, &wo, true, "relay", 3478, &t), CELL_FAILED);
	/* UDP auto falls back to TCP, which reaches the relay on 443 only */
	assert_int_equal(cell(&wo, &fc, false, "auto", 443, &t), CELL_RELAYED);
	assert_int_equal(cell(&wo, &fc, false, "auto", 3478, &t), CELL_FAILED);
	assert_int_equal(cell(&wo, &fc, false, "udp", 443, &t), CELL_FAILED);
	assert_int_equal(cell(&wo, &fc, true, "auto", 443, &t), CELL_RELAYED);
	assert_non_null(strstr(t.why, "relay on port 443 is reachable"));
	assert_int_equal(cell(&fc, &wo, true, "relay", 443, &t), CELL_RELAYED);
	assert_int_equal(cell(&fc, &wo, true, "tcp", 443, &t), CELL_FAILED);
	assert_int_equal(cell(&wo, &fc, true, "tcp-ttl", 80, &t), CELL_FAILED);
	/* a network without an outbound line is unaffected by the port */
	assert_int_equal(cell(&fc, &fc, true, "tcp", 443, &t), CELL_DIRECT);
	assert_int_equal(cell(&fc, &fc, false, "udp", 443, &t), CELL_DIRECT);
}

/* An engine that reaches its TURN relay over TCP/TLS too (relay-tcp, ice): a UDP cell on a
 * network that blocks UDP is relayed where TCP to the relay's port leaves, and fails where it
 * does not (web-only with the relay on 3478); without the capability it fails everywhere. */
static enum cell_outcome ice_cell(const struct profile_header *a,
				  const struct profile_header *b, int port, unsigned extra,
				  struct theory *t)
{
	unsigned caps = EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE | EF_CAP_IGNORES_ICMP |
			EF_CAP_RELAY | EF_CAP_RELAY_FALLBACK | extra;
	struct theory_input in = { .a = a, .b = b, .layout = LAYOUT_TWO_NATS, .tcp = false,
				   .technique = "udp", .rendezvous_port = port };

	theory_input_set_engines(&in, caps, caps);
	theory_predict(&in, t);
	return t->outcome;
}

static void test_relay_tcp(void **state)
{
	struct profile_header wo, ub, fc, prc;
	struct theory t;

	(void)state;
	load(&wo, "web-only");
	load(&ub, "udp-blocked");
	load(&fc, "full-cone");
	load(&prc, "port-restricted-cone");
	assert_int_equal(engine_capability_parse("relay-tcp"), EF_CAP_RELAY_TCP);
	assert_int_equal(ice_cell(&wo, &wo, 443, EF_CAP_RELAY_TCP, &t), CELL_RELAYED);
	assert_non_null(strstr(t.why, "relay does over TCP"));
	assert_non_null(strstr(t.why, "rendezvous port 443"));
	assert_int_equal(ice_cell(&wo, &fc, 80, EF_CAP_RELAY_TCP, &t), CELL_RELAYED);
	/* the relay on 3478: web-only lets no TCP out to it either */
	assert_int_equal(ice_cell(&wo, &wo, 3478, EF_CAP_RELAY_TCP, &t), CELL_FAILED);
	assert_int_equal(ice_cell(&fc, &wo, 0, EF_CAP_RELAY_TCP, &t), CELL_FAILED);
	assert_non_null(strstr(t.why, "rendezvous port 3478"));
	/* udp-blocked lets TCP out to any port */
	assert_int_equal(ice_cell(&ub, &ub, 0, EF_CAP_RELAY_TCP, &t), CELL_RELAYED);
	assert_int_equal(ice_cell(&prc, &ub, 443, EF_CAP_RELAY_TCP, &t), CELL_RELAYED);
	/* without the capability: a UDP-only relay never leaves */
	assert_int_equal(ice_cell(&wo, &wo, 443, 0, &t), CELL_FAILED);
	assert_int_equal(ice_cell(&ub, &ub, 0, 0, &t), CELL_FAILED);
	/* the capability counts only when both engines of a pair have it */
	{
		unsigned caps = EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE | EF_CAP_IGNORES_ICMP |
				EF_CAP_RELAY_FALLBACK;
		struct theory_input in = { .a = &ub, .b = &ub, .layout = LAYOUT_TWO_NATS,
					   .technique = "udp" };

		theory_input_set_engines(&in, caps | EF_CAP_RELAY_TCP, caps);
		theory_predict(&in, &t);
		assert_int_equal(t.outcome, CELL_FAILED);
	}
	/* networks with no outbound line: the punching reasoning, untouched */
	assert_int_equal(ice_cell(&prc, &prc, 443, EF_CAP_RELAY_TCP, &t), CELL_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_blocked),
		cmocka_unit_test(test_web_only),
		cmocka_unit_test(test_relay_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
