/* Unit tests of port mapping's pure parts on the lab side (docs/portmap.md): the profile
 * header's portmap key, the STUN answer of punchlab-stunecho, and the theory's rule that a
 * router mapping ports on request turns a symmetric side into an open, known one. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "portmapd/stun_answer.h"

#define SYM "# name: sym\n# rfc3489: symmetric\n# mapping: address-and-port-dependent\n" \
	"# filtering: address-and-port-dependent\n# ports: random\n# hairpin: no\n" \
	"# tcp-unsolicited: drop\n# predictable: no\n# transports: udp, tcp\n" \
	"# udp-timeout: 30\n# description: d\n"

static int parse(struct profile_header *h, const char *text, struct diag_list *dl)
{
	memset(dl, 0, sizeof(*dl));
	return profile_header_parse_buffer(h, "t.nft", text, strlen(text), dl);
}

static void test_header_portmap(void **state)
{
	struct profile_header h;
	struct diag_list dl;
	char buf[64];

	(void)state;
	assert_int_equal(parse(&h, SYM "#\n", &dl), 0);
	assert_int_equal(h.portmap, 0); /* optional: none */
	assert_int_equal(parse(&h, SYM "# portmap: upnp, natpmp\n#\n", &dl), 0);
	assert_int_equal(h.portmap, PROFILE_PORTMAP_UPNP | PROFILE_PORTMAP_NATPMP);
	assert_int_equal(h.line[PROFILE_KEY_PORTMAP], 12);
	assert_string_equal(profile_portmap_format(h.portmap, buf, sizeof(buf)), "upnp, natpmp");
	assert_int_equal(parse(&h, SYM "# portmap: pcp,natpmp , upnp\n#\n", &dl), 0);
	assert_int_equal(h.portmap, 7u);
	assert_string_equal(profile_portmap_format(h.portmap, buf, sizeof(buf)),
			    "upnp, natpmp, pcp");
	assert_int_equal(parse(&h, SYM "# portmap: none\n#\n", &dl), 0);
	assert_int_equal(h.portmap, 0);
	assert_string_equal(profile_portmap_format(0, buf, sizeof(buf)), "none");
	assert_string_equal(profile_portmap_format(PROFILE_PORTMAP_PCP, buf, sizeof(buf)), "pcp");

	/* bad values: one error at the line, naming the key and what is expected */
	static const char *const bad[] = { "upnp, igd", "natpmp, natpmp", "", "none, upnp",
					   "upnp,", "UPNP" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];

		snprintf(text, sizeof(text), SYM "# portmap: %s\n#\n", bad[i]);
		if (parse(&h, text, &dl) != -EINVAL)
			fail_msg("portmap: \"%s\" accepted", bad[i]);
		assert_int_equal(dl.count, 1);
		assert_int_equal(dl.items[0].line, 12);
		assert_non_null(strstr(dl.items[0].msg, "portmap"));
		assert_non_null(strstr(dl.items[0].msg, "expected none, or one or more of upnp"));
	}
	assert_int_equal(parse(&h, SYM "# portmap: upnp\n# portmap: natpmp\n#\n", &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "duplicate"));
}

/* The shipped symmetric-upnp profile declares what its router offers. */
static void test_shipped_profile(void **state)
{
	struct profile_header h;
	struct diag_list dl = { .count = 0 };
	char path[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/nat-profiles/symmetric-upnp.nft", PUNCHLAB_SOURCE_DIR);
	assert_int_equal(profile_header_parse_file(&h, path, &dl), 0);
	assert_int_equal(h.rfc3489, PROFILE_SYMMETRIC);
	assert_int_equal(h.portmap,
			 PROFILE_PORTMAP_UPNP | PROFILE_PORTMAP_NATPMP | PROFILE_PORTMAP_PCP);
}

/* A request as miniupnpd sends it (upnpstun.c: Binding, one CHANGE-REQUEST attribute). */
static void request(uint8_t req[28])
{
	static const uint8_t r[28] = { 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42,
				       1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				       0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x06 };
	memcpy(req, r, sizeof(r));
}

static void test_stun_answer(void **state)
{
	uint8_t req[28], out[STUN_ANSWER_LEN];
	uint32_t addr = 0xcb007102; /* 203.0.113.2 */
	uint16_t port = 52337;

	(void)state;
	request(req);
	assert_int_equal(stun_answer(req, sizeof(req), addr, port, out), STUN_ANSWER_LEN);
	assert_int_equal(out[0], 0x01); /* Binding success */
	assert_int_equal(out[1], 0x01);
	assert_int_equal(out[2] << 8 | out[3], 12);
	assert_memory_equal(out + 4, req + 4, 16); /* cookie and transaction id */
	assert_int_equal(out[20] << 8 | out[21], 0x0020); /* XOR-MAPPED-ADDRESS */
	assert_int_equal(out[22] << 8 | out[23], 8);
	assert_int_equal(out[25], 0x01);
	/* undo the XOR as miniupnpd's parse_stun_response does */
	assert_int_equal((uint16_t)((out[26] ^ 0x21) << 8 | (out[27] ^ 0x12)), port);
	assert_int_equal((uint32_t)(out[28] ^ 0x21) << 24 | (uint32_t)(out[29] ^ 0x12) << 16 |
			 (uint32_t)(out[30] ^ 0xa4) << 8 | (uint32_t)(out[31] ^ 0x42), addr);

	/* no Binding request: no answer */
	assert_int_equal(stun_answer(req, 19, addr, port, out), -1);      /* short */
	assert_int_equal(stun_answer(req, 27, addr, port, out), -1);      /* length lies */
	req[7] = 0x43;
	assert_int_equal(stun_answer(req, sizeof(req), addr, port, out), -1); /* cookie */
	request(req);
	req[1] = 0x11; /* a Binding indication */
	assert_int_equal(stun_answer(req, sizeof(req), addr, port, out), -1);
	request(req);
	req[3] = 0x06; /* not a multiple of 4 */
	assert_int_equal(stun_answer(req, 26, addr, port, out), -1);
}

static struct profile_header sym, sym_upnp_only, sym_natpmp, prc;

static void headers(void)
{
	struct diag_list dl;

	assert_int_equal(parse(&sym, SYM "#\n", &dl), 0);
	assert_int_equal(parse(&sym_upnp_only, SYM "# portmap: upnp\n#\n", &dl), 0);
	assert_int_equal(parse(&sym_natpmp, SYM "# portmap: natpmp, upnp\n#\n", &dl), 0);
	assert_int_equal(parse(&prc, "# name: prc\n# rfc3489: port-restricted-cone\n"
			       "# mapping: endpoint-independent\n"
			       "# filtering: address-and-port-dependent\n# ports: preserve\n"
			       "# hairpin: no\n# tcp-unsolicited: drop\n# predictable: yes\n"
			       "# transports: udp, tcp\n# udp-timeout: 30\n# description: d\n#\n",
			       &dl), 0);
}

static enum cell_outcome theory(const struct profile_header *a, const struct profile_header *b,
				enum theory_layout layout, bool tcp, const char *technique,
				bool port_mapping, struct theory *t)
{
	struct theory_input in = { .a = a, .b = b, .layout = layout, .tcp = tcp,
				   .technique = technique, .outer = &prc };

	in.port_mapping = port_mapping;
	theory_predict(&in, t);
	return t->outcome;
}

static void test_theory_portmap(void **state)
{
	struct theory t;

	(void)state;
	headers();
	/* symmetric x symmetric: no punching meets, auto relays */
	assert_int_equal(theory(&sym, &sym, LAYOUT_TWO_NATS, false, "udp", true, &t), CELL_FAILED);
	assert_int_equal(theory(&sym, &sym, LAYOUT_TWO_NATS, false, "auto", true, &t),
			 CELL_RELAYED);
	/* with a router that maps on request: direct in portmap and auto, not in plain udp */
	assert_int_equal(theory(&sym_natpmp, &sym_natpmp, LAYOUT_TWO_NATS, false, "portmap", true,
				&t), CELL_DIRECT);
	assert_non_null(strstr(t.why, "sym and sym map the peer's port on request"));
	assert_int_equal(theory(&sym_natpmp, &sym_natpmp, LAYOUT_TWO_NATS, false, "auto", true,
				&t), CELL_DIRECT);
	assert_int_equal(theory(&sym_natpmp, &sym_natpmp, LAYOUT_TWO_NATS, false, "udp", true, &t),
			 CELL_FAILED);
	/* one mapped side is enough: its mapping lets the other's unannounced port in */
	assert_int_equal(theory(&sym_natpmp, &sym, LAYOUT_TWO_NATS, false, "portmap", true, &t),
			 CELL_DIRECT);
	assert_non_null(strstr(t.why, "sym maps the peer's port on request"));
	assert_int_equal(theory(&sym, &sym_natpmp, LAYOUT_TWO_NATS, false, "auto", true, &t),
			 CELL_DIRECT);
	/* an engine that does not ask; TCP (not mapped); auto does not discover UPnP */
	assert_int_equal(theory(&sym_natpmp, &sym_natpmp, LAYOUT_TWO_NATS, false, "auto", false,
				&t), CELL_RELAYED);
	assert_int_equal(theory(&sym_natpmp, &sym_natpmp, LAYOUT_TWO_NATS, true, "tcp", true, &t),
			 CELL_FAILED);
	assert_int_equal(theory(&sym_upnp_only, &sym_upnp_only, LAYOUT_TWO_NATS, false, "auto",
				true, &t), CELL_RELAYED);
	assert_int_equal(theory(&sym_upnp_only, &sym_upnp_only, LAYOUT_TWO_NATS, false, "portmap",
				true, &t), CELL_DIRECT);
	/* behind a shared outer NAT the mapped endpoint is not public: no effect */
	assert_int_equal(theory(&sym_natpmp, &sym_natpmp, LAYOUT_SHARED_OUTER, false, "portmap",
				true, &t),
			 theory(&sym, &sym, LAYOUT_SHARED_OUTER, false, "portmap", true, &t));
	/* a public peer B and a mapped A */
	assert_int_equal(theory(&sym_natpmp, NULL, LAYOUT_PUBLIC_B, false, "portmap", true, &t),
			 CELL_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_portmap),
		cmocka_unit_test(test_shipped_profile),
		cmocka_unit_test(test_stun_answer),
		cmocka_unit_test(test_theory_portmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
