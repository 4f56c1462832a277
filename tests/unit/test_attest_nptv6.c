/* Unit test of attest_nptv6_addrs() (src/matrix/attest_lab.c): the external address the lab's
 * attestation accepts for a host behind an NPTv6 router, from the shipped topologies. Before
 * it, a cell with nptv6 on either side was "disputed" (the flow went to the other host's
 * external address, which no node has). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/topo.h"
#include "matrix/attest.h"

static int addrs_of(const char *topology, const char *host, const char *nat, char *out,
		    size_t len)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list dl = { .count = 0 };
	struct net_addr set[ATTEST_MAX_ADDRS];
	char path[512];
	size_t used = 0;
	int n = 0;

	assert_non_null(t);
	snprintf(path, sizeof(path), "%s/topologies/%s.yaml", PUNCHLAB_SOURCE_DIR, topology);
	assert_int_equal(topo_parse_file(t, path, &dl), 0);
	attest_nptv6_addrs(t, topo_node_find(t, host), topo_node_find(t, nat), set, &n);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char a[64];

		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "",
					 net_addr_format(&set[i], false, a, sizeof(a)));
	}
	free(t);
	return n;
}

static void test_external(void **state)
{
	char got[512];

	(void)state;
	assert_int_equal(addrs_of("two-nats-dual", "host-b", "nat-b", got, sizeof(got)), 1);
	assert_string_equal(got, "2001:db8:1002:efff::10");
	assert_int_equal(addrs_of("two-nats-dual", "host-a", "nat-a", got, sizeof(got)), 1);
	assert_string_equal(got, "2001:db8:1001:efff::10");
	/* no second IPv6 prefix on the router's LAN: nothing */
	assert_int_equal(addrs_of("nat64", "host-a", "nat-a", got, sizeof(got)), 0);
	assert_int_equal(addrs_of("two-nats", "host-b", "nat-b", got, sizeof(got)), 0);
	/* not a NAT node: nothing */
	assert_int_equal(addrs_of("two-nats-dual", "host-b", "inet", got, sizeof(got)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_external),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
