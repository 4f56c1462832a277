/* Unit tests of the topology key nat64 and of IPv6-only hosts (src/lab/topo_yaml.c): the shipped
 * topologies/nat64.yaml, and each mistake one clear error at its line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/topo.h"

#define NODES(NAT_A, HOST_B)                                                                       \
	"topology: t\nnodes:\n  inet: { kind: inet }\n  server: { kind: server, gateway: inet }\n"   \
	"  nat-a: { kind: nat, gateway: inet" NAT_A " }\n"                                           \
	"  host-a: { kind: host, gateway: nat-a }\n  host-b: { kind: host, gateway: inet" HOST_B     \
	" }\n"
#define LINKS(LAN)                                                                                 \
	"links:\n  - ends: { inet: 198.51.100.1/24, server: 198.51.100.10/24 }\n"                   \
	"  - ends: { inet: 203.0.113.1/28, nat-a: 203.0.113.2/28 }\n"                               \
	"  - ends: { inet: 203.0.113.17/28, host-b: 203.0.113.18/28 }\n"                            \
	"  - ends: " LAN "\n"                                                                        \
	"roles: { peer-a: host-a, peer-b: host-b, nat-a: nat-a, rendezvous: server }\n"
#define LAN64 "{ nat-a: [10.0.1.1/24, 2001:db8:1::1/64], host-a: 2001:db8:1::10/64 }"

static int parse_text(const char *text, struct topo *t, struct diag_list *dl, char *first,
		      size_t len)
{
	int ret;

	memset(dl, 0, sizeof(*dl));
	ret = topo_parse_buffer(t, "t.yaml", text, strlen(text), dl);
	first[0] = '\0';
	if (dl->count)
		snprintf(first, len, "%d: %s", dl->items[0].line, dl->items[0].msg);
	return ret;
}

static void test_shipped(void **state)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list dl = { .count = 0 };
	char path[512], text[64];
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/topologies/nat64.yaml", PUNCHLAB_SOURCE_DIR);
	assert_int_equal(topo_parse_file(t, path, &dl), 0);
	n = topo_node_find(t, "nat-a");
	assert_int_equal(t->nodes[n].nat64.family, AF_INET6);
	assert_string_equal(net_addr_format(&t->nodes[n].nat64, true, text, sizeof(text)),
			    "2001:db8:64::/96");
	assert_int_equal(t->nodes[topo_node_find(t, "host-b")].nat64.family, 0);
	free(t);
}

static void test_cases(void **state)
{
	static const struct {
		const char *text;
		int ret;
		const char *msg;
	} cases[] = {
		{ NODES(", nat64: 2001:db8:64::/96", "") LINKS(LAN64), 0, "" },
		/* RFC 6052 lengths only */
		{ NODES(", nat64: 2001:db8:64::/80", "") LINKS(LAN64), -EINVAL,
		  "5: node \"nat-a\": nat64 \"2001:db8:64::/80\", expected an IPv6 prefix of length "
		  "32, 40, 48, 56, 64 or 96 (RFC 6052)" },
		{ NODES(", nat64: 10.64.0.0/16", "") LINKS(LAN64), -EINVAL,
		  "5: node \"nat-a\": nat64 \"10.64.0.0/16\", expected an IPv6 prefix" },
		{ NODES("", ", nat64: 2001:db8:64::/96") LINKS(LAN64), -EINVAL,
		  "node \"host-b\" is a host, expected nat64: only on nat nodes" },
		/* NAT64 serves IPv6 hosts */
		{ NODES(", nat64: 2001:db8:64::/96", "")
		  LINKS("{ nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24 }"), -EINVAL,
		  "5: nat node \"nat-a\" has nat64 but no IPv6 address on its LAN link, expected "
		  "one" },
		/* an IPv6-only host needs IPv6 on its gateway's end too */
		{ NODES("", "") LINKS("{ nat-a: 10.0.1.1/24, host-a: 2001:db8:1::10/64 }"), -EINVAL,
		  "needs an IPv4 address on both ends (an IPv6-only host: IPv6 on both)" },
	};
	struct topo *t = calloc(1, sizeof(*t));
	struct diag_list dl;
	char first[600];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = parse_text(cases[i].text, t, &dl, first, sizeof(first));

		if (ret != cases[i].ret || !strstr(first, cases[i].msg))
			fail_msg("case %zu: %d \"%s\", expected %d \"%s\"", i, ret, first,
				 cases[i].ret, cases[i].msg);
	}
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
