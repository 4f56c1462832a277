/* Unit test of the theory of a NAT64 cell (src/matrix/theory.c nat64_why, docs/matrix.md
 * "NAT64"): peer A IPv6-only behind NAT64 against a peer on a public IPv4 address (the layout
 * of topologies/nat64.yaml). tayga is stateless, one for one, so the node's IPv4 profile
 * decides: every outcome is the one the profile gives a host with IPv4, egress filters
 * included, and the reasoning says why. */
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

static void predict(const struct profile_header *a, bool nat64, bool tcp, const char *tech,
		    struct theory *t)
{
	struct theory_input in = { .a = a, .layout = LAYOUT_PUBLIC_B, .tcp = tcp,
				   .technique = tech, .nat64_a = nat64 };

	theory_input_set_engines(&in, EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE |
				 EF_CAP_IGNORES_ICMP, EF_CAP_RENDEZVOUS | EF_CAP_PEER_REFLEXIVE |
				 EF_CAP_IGNORES_ICMP);
	theory_predict(&in, t);
}

static void test_profile_decides(void **state)
{
	static const char *const profiles[] = { "port-restricted-cone", "symmetric", "udp-blocked",
						"web-only", "full-cone" };
	static const char *const techs[] = { "udp", "tcp", "auto", "relay" };

	(void)state;
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		struct profile_header h;

		load(&h, profiles[i]);
		for (size_t k = 0; k < sizeof(techs) / sizeof(techs[0]); k++)
			for (int tcp = 0; tcp < 2; tcp++) {
				struct theory v4, v6;

				if ((!strcmp(techs[k], "udp") && tcp) ||
				    (!strcmp(techs[k], "tcp") && !tcp))
					continue;
				predict(&h, false, tcp, techs[k], &v4);
				predict(&h, true, tcp, techs[k], &v6);
				assert_int_equal(v6.outcome, v4.outcome);
				const char *rest = strstr(v6.why, "IPv4 profile): ");

				/* said once, first (auto's TCP fallback predicts again inside) */
				assert_ptr_equal(strstr(v6.why, "A IPv6-only behind NAT64"), v6.why);
				assert_null(strstr(v6.why + strlen("A IPv6-only behind NAT64"), "NAT64"));
				assert_non_null(rest);
				/* the same reasoning after it (cut where why is full) */
				rest += strlen("IPv4 profile): ");
				assert_int_equal(strncmp(rest, v4.why, strlen(rest)), 0);
				assert_null(strstr(v4.why, "NAT64"));
			}
	}
}

/* The cells tests/lab/matrix-nat64.sh runs */
static void test_lab_cells(void **state)
{
	struct profile_header prc, wo, ub;
	struct theory t;

	(void)state;
	load(&prc, "port-restricted-cone");
	load(&wo, "web-only");
	load(&ub, "udp-blocked");
	predict(&prc, true, false, "udp", &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	predict(&wo, true, false, "udp", &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	predict(&ub, true, true, "auto", &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_decides),
		cmocka_unit_test(test_lab_cells),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
