/* The topology parser: every shipped topology parses into the right model, and every kind of
 * bad input is rejected with FILE:LINE, what is wrong and what is expected (issue 3, "Bad
 * input"). The bad-input cases are a table: each one is the small valid topology below with one
 * line changed (or added, or removed), so the line a case expects is easy to check by eye. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lab/topo.h"

#define TOPO_DIR PUNCHLAB_SOURCE_DIR "/topologies"
#define NAME "bad.yaml" /* the file name the diagnostics must carry */

/* The valid base, one macro per line (line numbers on the right). */
#define L01 "topology: t\n"                                                /*  1 */
#define L02 "nodes:\n"                                                     /*  2 */
#define L03 "  inet:   { kind: inet }\n"                                   /*  3 */
#define L04 "  server: { kind: server, gateway: inet }\n"                  /*  4 */
#define L05 "  nat-a:  { kind: nat, gateway: inet }\n"                     /*  5 */
#define L06 "  host-a: { kind: host, gateway: nat-a }\n"                   /*  6 */
#define L07 "links:\n"                                                     /*  7 */
#define L08 "  - ends: { inet: 198.51.100.1/24, server: 198.51.100.10/24 }\n" /* 8 */
#define L09 "  - ends: { inet: 203.0.113.1/28, nat-a: 203.0.113.2/28 }\n"  /*  9 */
#define L10 "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n"     /* 10 */
#define L11 "roles: { peer-a: host-a, nat-a: nat-a, rendezvous: server }\n" /* 11 */

#define NODES L02 L03 L04 L05 L06
#define LINKS L07 L08 L09 L10
#define BASE L01 NODES LINKS L11

/* A node line for the link `  - ends: { A: ADDR, B: ADDR }` with one address replaced. */
#define LAN_WITH(addr) "  - ends: { nat-a: 10.0.1.1/24, host-a: " addr " }\n"

struct bad_case {
	const char *what;   /* the case, for the failure message */
	const char *yaml;
	int line;           /* expected line (0: the whole file) */
	const char *wrong;  /* substring naming what is wrong */
	const char *expect; /* substring naming what is expected */
};

static const struct bad_case bad_cases[] = {
	/* --- the file as a whole ------------------------------------------------------------ */
	{ "YAML syntax error (unclosed flow mapping)",
	  L01 L02 "  inet:   { kind: inet\n" L04 L05 L06 LINKS L11,
	  4, "YAML syntax", "expected" },
	{ "YAML syntax error (tab indentation)",
	  L01 L02 L03 "\tserver: { kind: server }\n" L05 L06 LINKS L11,
	  4, "YAML syntax", "expected" },
	{ "empty file", "", 0, "empty file", "expected a topology" },
	{ "top level is a list", "- nodes\n- links\n", 1, "must be a mapping", "key: value" },
	{ "unknown top key",
	  L01 "colour: blue\n" NODES LINKS L11,
	  2, "unknown key \"colour\"", "expected topology, description, nodes, links or roles" },
	{ "missing nodes:", L01 LINKS L11, 1, "missing nodes:", "expected nodes:, links: and roles:" },
	{ "missing links:", L01 NODES L11, 1, "missing links:", "expected nodes:, links: and roles:" },
	{ "missing roles:", L01 NODES LINKS, 1, "missing roles:", "expected nodes:, links: and roles:" },
	{ "duplicate top key",
	  L01 NODES LINKS L11 "roles: { peer-a: host-a }\n",
	  12, "\"roles\" appears twice", "expected each key once" },

	/* --- nodes --------------------------------------------------------------------------- */
	{ "nodes is a list",
	  L01 "nodes:\n  - inet\n" LINKS L11, 3, "nodes must be a mapping", "key: value" },
	{ "unknown node kind",
	  L01 L02 "  inet:   { kind: router }\n" L04 L05 L06 LINKS L11,
	  3, "unknown kind \"router\"", "expected host, nat, inet or server" },
	{ "node without kind",
	  L01 L02 L03 L04 L05 "  host-a: { gateway: nat-a }\n" LINKS L11,
	  6, "node \"host-a\" has no kind", "expected kind: host, nat, inet or server" },
	{ "unknown node key",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: nat-a, colour: red }\n" LINKS L11,
	  6, "unknown key \"colour\"", "expected kind, gateway or profile" },
	{ "node key without a value",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: [nat-a, inet] }\n" LINKS L11,
	  6, "gateway needs a single value", "expected gateway: " },
	{ "bad node name (capitals, underscore)",
	  L01 L02 L03 L04 L05 "  Host_A: { kind: host, gateway: nat-a }\n" LINKS L11,
	  6, "node name \"Host_A\" is not valid", "expected 1-9 characters of a-z, 0-9" },
	{ "bad node name (too long for <node>-eth<N>)",
	  L01 L02 L03 L04 L05 "  hostalpha1: { kind: host, gateway: nat-a }\n" LINKS L11,
	  6, "node name \"hostalpha1\" is not valid", "expected 1-9 characters" },
	{ "bad node name (trailing dash)",
	  L01 L02 L03 L04 L05 "  host-: { kind: host, gateway: nat-a }\n" LINKS L11,
	  6, "node name \"host-\" is not valid", "inner dashes" },
	{ "duplicate node name",
	  L01 NODES "  host-a: { kind: host, gateway: nat-a }\n" LINKS L11,
	  7, "\"host-a\" appears twice", "expected each key once" },
	{ "node on no link",
	  L01 NODES "  host-c: { kind: host, gateway: nat-a }\n" LINKS L11,
	  7, "node \"host-c\" is on no link", "expected it under some link's ends:" },
	{ "profile on a non-nat node",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: nat-a, profile: full-cone }\n"
	  LINKS L11,
	  6, "node \"host-a\" is a host", "expected profile: only on nat nodes" },

	/* --- links --------------------------------------------------------------------------- */
	{ "links is a mapping",
	  L01 NODES "links: { inet: server }\n" L11, 7, "links must be a list", "lines starting with -" },
	{ "link to a missing node",
	  L01 NODES L07 L08 L09 L10 "  - ends: { nat-a: 10.0.9.1/24, host-z: 10.0.9.10/24 }\n" L11,
	  11, "link to unknown node \"host-z\"", "expected a node declared under nodes:" },
	{ "link with one end",
	  L01 NODES L07 L08 L09 L10 "  - ends: { host-a: 10.0.9.10/24 }\n" L11,
	  11, "link has 1 end(s)", "expected at least two nodes under ends:" },
	{ "link without ends",
	  L01 NODES L07 L08 L09 L10 "  - { }\n" L11,
	  11, "link has 0 end(s)", "expected at least two nodes under ends:" },
	{ "unknown link key",
	  L01 NODES L07 L08 L09
	  "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n    delay: 5ms\n" L11,
	  11, "unknown key \"delay\"", "expected ends" },
	{ "node twice on one link",
	  L01 NODES L07 L08 L09 "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24, "
	  "nat-a: 10.0.1.2/24 }\n" L11,
	  10, "\"nat-a\" appears twice", "expected each key once" },
	{ "link end with a mapping for an address",
	  L01 NODES L07 L08 L09 "  - ends: { nat-a: 10.0.1.1/24, host-a: { ip: 10.0.1.10 } }\n" L11,
	  10, "link end \"host-a\"", "expected an address or a list of addresses" },

	/* --- addresses ----------------------------------------------------------------------- */
	{ "CIDR without prefix",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.10") L11,
	  10, "bad address \"10.0.1.10\" (missing /PREFIX)", "expected ADDR/PREFIX" },
	{ "CIDR with an octet out of range",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.300/24") L11,
	  10, "bad address \"10.0.1.300/24\" (not an IPv4 or IPv6 address)", "expected ADDR/PREFIX" },
	{ "CIDR with a word for a prefix",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.10/abc") L11,
	  10, "bad address \"10.0.1.10/abc\" (prefix must be 1..32)", "expected ADDR/PREFIX" },
	{ "CIDR without an address",
	  L01 NODES L07 L08 L09 LAN_WITH("/24") L11,
	  10, "bad address \"/24\" (not an address)", "expected ADDR/PREFIX" },
	{ "CIDR with an empty prefix",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.10/") L11,
	  10, "bad address \"10.0.1.10/\"", "expected ADDR/PREFIX" },
	{ "CIDR with a host name",
	  L01 NODES L07 L08 L09 LAN_WITH("host-a.lan/24") L11,
	  10, "bad address \"host-a.lan/24\" (not an IPv4 or IPv6 address)", "expected ADDR/PREFIX" },
	{ "IPv4 prefix out of range",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.10/33") L11,
	  10, "prefix must be 1..32", "expected ADDR/PREFIX" },
	{ "IPv4 prefix zero",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.10/0") L11,
	  10, "prefix must be 1..32", "expected ADDR/PREFIX" },
	{ "IPv6 prefix out of range",
	  L01 NODES L07 L08 L09 LAN_WITH("[10.0.1.10/24, 2001:db8::10/129]") L11,
	  10, "prefix must be 1..128", "expected ADDR/PREFIX" },
	{ "duplicate address",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.1/24") L11,
	  10, "duplicate address 10.0.1.1/24 (also on line 10)", "expected each address once" },
	{ "duplicate address across links",
	  L01 NODES L07 L08 "  - ends: { inet: 203.0.113.1/28, nat-a: 198.51.100.10/24 }\n" L10 L11,
	  9, "duplicate address 198.51.100.10/24 (also on line 8)", "expected each address once" },
	{ "192.0.2.0/24 is forbidden",
	  L01 NODES L07 "  - ends: { inet: 192.0.2.1/24, server: 198.51.100.10/24 }\n" L09 L10 L11,
	  8, "address 192.0.2.1/24 not allowed", "expected 198.51.100.0/24 or 203.0.113.0/24" },
	{ "loopback is forbidden",
	  L01 NODES L07 L08 L09 LAN_WITH("127.0.0.2/8") L11,
	  10, "address 127.0.0.2/8 not allowed", "loopback" },
	{ "network address",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.0/24") L11,
	  10, "10.0.1.0/24 is the network or broadcast address", "expected a host address" },
	{ "broadcast address",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.255/24") L11,
	  10, "10.0.1.255/24 is the network or broadcast address", "expected a host address" },

	/* --- gateways ------------------------------------------------------------------------ */
	{ "nat node without gateway (no WAN link)",
	  L01 L02 L03 L04 "  nat-a:  { kind: nat }\n" L06 LINKS L11,
	  5, "nat node \"nat-a\" has no WAN link", "expected gateway:" },
	{ "host without gateway",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host }\n" LINKS L11,
	  6, "host node \"host-a\" has no gateway", "expected gateway: naming its router" },
	{ "nat node without LAN link",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: inet }\n" L07 L08 L09
	  "  - ends: { inet: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n" L11,
	  5, "nat node \"nat-a\" has no LAN link", "expected a second link with an IPv4 address" },
	{ "gateway not a node",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: nat-z }\n" LINKS L11,
	  6, "gateway \"nat-z\" is not a node", "expected a declared node" },
	{ "gateway not adjacent",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: inet }\n" LINKS L11,
	  6, "gateway \"inet\" shares no link with it", "expected a directly linked router" },
	{ "gateway is a host",
	  L01 L02 L03 L04 L05 "  host-a: { kind: host, gateway: server }\n" LINKS L11,
	  6, "gateway \"server\" is a server", "expected a nat or inet node" },
	{ "gateway is the node itself",
	  L01 L02 L03 L04 "  nat-a:  { kind: nat, gateway: nat-a }\n" L06 LINKS L11,
	  5, "node \"nat-a\" is its own gateway", "expected its upstream router" },
	{ "cycle of gateways",
	  L01 L02 "  inet:   { kind: inet, gateway: nat-a }\n" L04 L05 L06 LINKS L11,
	  3, "gateways form a cycle", "expected a chain that ends at an inet node" },
	{ "gateway on a different subnet",
	  L01 NODES L07 L08 L09 "  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.2.10/24 }\n" L11,
	  10, "node \"host-a\" (10.0.2.10/24) and its gateway \"nat-a\" (10.0.1.1/24) are not on one "
	      "subnet", "expected the same network and prefix" },
	{ "gateway on a different prefix length",
	  L01 NODES L07 L08 L09 LAN_WITH("10.0.1.10/25") L11,
	  10, "are not on one subnet", "expected the same network and prefix" },
	{ "gateway link without IPv4",
	  L01 NODES L07 L08 L09 "  - ends: { nat-a: 10.0.1.1/24, host-a: 2001:db8::10/64 }\n" L11,
	  10, "needs an IPv4 address on both ends", "expected ADDR/PREFIX" },

	/* --- roles --------------------------------------------------------------------------- */
	{ "roles is a list",
	  L01 NODES LINKS "roles:\n  - host-a\n", 12, "roles must be a mapping", "key: value" },
	{ "role naming an unknown node",
	  L01 NODES LINKS "roles: { peer-a: host-z, nat-a: nat-a, rendezvous: server }\n",
	  11, "role peer-a names unknown node \"host-z\"", "expected" },
	{ "role of the wrong kind",
	  L01 NODES LINKS "roles: { peer-a: host-a, nat-a: inet, rendezvous: server }\n",
	  11, "role nat-a is node \"inet\" of kind inet", "expected a nat node" },
	{ "rendezvous of the wrong kind",
	  L01 NODES LINKS "roles: { peer-a: host-a, nat-a: nat-a, rendezvous: host-a }\n",
	  11, "role rendezvous is node \"host-a\" of kind host", "expected a server node" },
	{ "unknown role",
	  L01 NODES LINKS "roles: { peer-a: host-a, peer-c: host-a, rendezvous: server }\n",
	  11, "unknown role \"peer-c\"", "expected peer-a, peer-b, nat-a, nat-b or rendezvous" },
	{ "missing peer-a",
	  L01 NODES LINKS "roles: { nat-a: nat-a, rendezvous: server }\n",
	  11, "peer-a missing", "expected the host that runs peer A" },
	{ "missing rendezvous",
	  L01 NODES LINKS "roles: { peer-a: host-a, nat-a: nat-a }\n",
	  11, "rendezvous missing", "expected the server node" },
	{ "nat-a and nat-b one node",
	  L01 NODES LINKS "roles: { peer-a: host-a, nat-a: nat-a, nat-b: nat-a, rendezvous: server }\n",
	  11, "nat-a and nat-b are one node", "expected two NATs or no nat-b" },
};

static void print_diags(const struct diag_list *dl)
{
	for (int i = 0; i < dl->count; i++)
		print_message("    got %s:%d: %s\n", dl->items[i].file, dl->items[i].line,
			      dl->items[i].msg);
}

/* --- the valid base ------------------------------------------------------------------------ */

static void test_base_is_valid(void **state)
{
	static const char yaml[] = BASE;
	struct diag_list dl = { .count = 0 };
	struct topo t;
	int ret;

	(void)state;
	ret = topo_parse_buffer(&t, NAME, yaml, strlen(yaml), &dl);
	if (ret != 0 || dl.count != 0)
		print_diags(&dl);
	assert_int_equal(ret, 0);
	assert_int_equal(dl.count, 0);
	assert_int_equal(t.nnodes, 4);
	assert_int_equal(t.nlinks, 3);
	assert_string_equal(t.name, "t");
}

/* --- bad input ----------------------------------------------------------------------------- */

/* One case of the table: run as a test of its own (named after the case, see main()). */
static void test_bad_case(void **state)
{
	const struct bad_case *c = *state;
	struct diag_list dl = { .count = 0 };
	struct topo t;
	bool found = false;
	int ret = topo_parse_buffer(&t, NAME, c->yaml, strlen(c->yaml), &dl);

	for (int i = 0; i < dl.count && !found; i++) {
		const struct diag *d = &dl.items[i];
		found = strcmp(d->file, NAME) == 0 && d->line == c->line && strstr(d->msg, c->wrong) &&
			strstr(d->msg, c->expect);
	}
	if (ret != -EINVAL || !found) {
		print_message("want -EINVAL and %s:%d: ...%s...%s...\n", NAME, c->line, c->wrong,
			      c->expect);
		print_message("    returned %d\n", ret);
		print_diags(&dl);
	}
	assert_int_equal(ret, -EINVAL);
	assert_true(found);
	/* Every diagnostic of a bad file is located in that file and says what is expected
	 * (issue 3: "FILE:LINE: what is wrong, what is expected"). */
	for (int i = 0; i < dl.count; i++) {
		assert_string_equal(dl.items[i].file, NAME);
		if (!strstr(dl.items[i].msg, "expected"))
			fail_msg("diagnostic without what is expected: %s", dl.items[i].msg);
	}
}

/* Errors are collected, not stopped at the first: a file with three independent mistakes
 * yields three diagnostics, each on its own line. */
static void test_bad_input_all_reported(void **state)
{
	static const char yaml[] =
		L01 L02 "  inet:   { kind: router }\n" L04 L05 "  host-a: { kind: host, colour: red }\n"
		L07 L08 L09 LAN_WITH("10.0.1.300/24") L11;
	struct diag_list dl = { .count = 0 };
	struct topo t;
	int lines[3] = { 0 };

	(void)state;
	assert_int_equal(topo_parse_buffer(&t, NAME, yaml, strlen(yaml), &dl), -EINVAL);
	if (dl.count != 3)
		print_diags(&dl);
	assert_int_equal(dl.count, 3);
	for (int i = 0; i < 3; i++)
		lines[i] = dl.items[i].line;
	assert_int_equal(lines[0], 3);
	assert_int_equal(lines[1], 6);
	assert_int_equal(lines[2], 10);
}

/* diag_print gives exactly "FILE:LINE: message" per error (what the CLI shows on stderr). */
static void test_bad_input_printed(void **state)
{
	static const char yaml[] = L01 L02 "  inet:   { kind: router }\n" L04 L05 L06 LINKS L11;
	struct diag_list dl = { .count = 0 };
	struct topo t;
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	struct out o = { .out = f, .err = f };

	(void)state;
	assert_non_null(f);
	assert_int_equal(topo_parse_buffer(&t, NAME, yaml, strlen(yaml), &dl), -EINVAL);
	diag_print(&dl, &o);
	fclose(f);
	assert_string_equal(buf, NAME ":3: node \"inet\": unknown kind \"router\", expected host, "
				 "nat, inet or server\n");
}

static void test_parse_file_missing(void **state)
{
	struct diag_list dl = { .count = 0 };
	struct topo t;

	(void)state;
	assert_int_equal(topo_parse_file(&t, TOPO_DIR "/no-such-topology.yaml", &dl), -ENOENT);
	assert_int_equal(dl.count, 1);
	assert_string_equal(dl.items[0].file, TOPO_DIR "/no-such-topology.yaml");
	assert_non_null(strstr(dl.items[0].msg, "cannot open topology"));
}

/* The files the lab suite feeds to `punchlab lab up` fail here too, on the line they claim in
 * their "# expect: LINE: TEXT" header. */
static void test_bad_data_files(void **state)
{
	DIR *d = opendir(PUNCHLAB_SOURCE_DIR "/tests/data");
	struct dirent *de;
	int seen = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[768], head[256] = "", want[256] = "";
		struct diag_list dl = { .count = 0 };
		struct topo t;
		bool found = false;
		int line = -1;
		FILE *f;

		if (strncmp(de->d_name, "bad-", 4) != 0 || !strstr(de->d_name, ".yaml"))
			continue;
		snprintf(path, sizeof(path), PUNCHLAB_SOURCE_DIR "/tests/data/%s", de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(head, sizeof(head), f))
			if (sscanf(head, "# expect: %d: %255[^\n]", &line, want) == 2)
				break;
		fclose(f);
		if (line < 0)
			print_message("%s: no \"# expect: LINE: TEXT\" line\n", path);
		assert_true(line >= 0);
		assert_int_equal(topo_parse_file(&t, path, &dl), -EINVAL);
		for (int i = 0; i < dl.count && !found; i++)
			found = dl.items[i].line == line && strstr(dl.items[i].msg, want) &&
				strcmp(dl.items[i].file, path) == 0;
		if (!found) {
			print_message("%s: want line %d with \"%s\"\n", path, line, want);
			print_diags(&dl);
		}
		assert_true(found);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 3);
}

/* Issue 9: a file with seven different mistakes, in every part that used to stop the parser
 * (top level, nodes, links, roles, then the checks across them), gets all seven reported in one
 * run, each on the line its "# expect: LINE: TEXT" header names, and nothing else: a mistake
 * does not hide the others, nor cause errors of its own elsewhere. */
static void test_seven_mistakes_in_one_run(void **state)
{
	static const char path[] = PUNCHLAB_SOURCE_DIR "/tests/data/bad-seven-mistakes.yaml";
	char head[256], want[8][256];
	int line[8], nwant = 0;
	struct diag_list dl = { .count = 0 };
	struct topo t;
	FILE *f = fopen(path, "r");

	(void)state;
	assert_non_null(f);
	while (fgets(head, sizeof(head), f) && nwant < 8)
		if (sscanf(head, "# expect: %d: %255[^\n]", &line[nwant], want[nwant]) == 2)
			nwant++;
	fclose(f);
	assert_int_equal(nwant, 7);
	assert_int_equal(topo_parse_file(&t, path, &dl), -EINVAL);
	if (dl.count != nwant)
		print_diags(&dl);
	for (int w = 0; w < nwant; w++) {
		bool found = false;
		for (int i = 0; i < dl.count && !found; i++)
			found = dl.items[i].line == line[w] && strstr(dl.items[i].msg, want[w]) &&
				strstr(dl.items[i].msg, "expected");
		if (!found)
			fail_msg("no diagnostic %d: ...%s...expected...", line[w], want[w]);
	}
	assert_int_equal(dl.count, nwant);
}

/* A node whose name is refused is not declared: the links, gateway and role that name it are
 * not mistakes of their own, so the file gets exactly one error (issue 9: one mistake, one
 * error, and no cascade). */
static void test_refused_name_one_error(void **state)
{
	static const char yaml[] =
		L01 L02 L03 L04 "  NAT_A:  { kind: nat, gateway: inet }\n"
		"  host-a: { kind: host, gateway: NAT_A }\n" L07 L08
		"  - ends: { inet: 203.0.113.1/28, NAT_A: 203.0.113.2/28 }\n"
		"  - ends: { NAT_A: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n"
		"roles: { peer-a: host-a, nat-a: NAT_A, rendezvous: server }\n";
	struct diag_list dl = { .count = 0 };
	struct topo t;

	(void)state;
	assert_int_equal(topo_parse_buffer(&t, NAME, yaml, strlen(yaml), &dl), -EINVAL);
	if (dl.count != 1)
		print_diags(&dl);
	assert_int_equal(dl.count, 1);
	assert_int_equal(dl.items[0].line, 5);
	assert_non_null(strstr(dl.items[0].msg, "node name \"NAT_A\" is not valid"));
}

/* --- shipped topologies -------------------------------------------------------------------- */

static void parse_shipped(const char *name, struct topo *t)
{
	struct diag_list dl = { .count = 0 };
	char path[512];
	int ret;

	snprintf(path, sizeof(path), TOPO_DIR "/%s.yaml", name);
	ret = topo_parse_file(t, path, &dl);
	if (ret != 0)
		print_diags(&dl);
	assert_int_equal(ret, 0);
	assert_int_equal(dl.count, 0);
	assert_string_equal(t->name, name);
}

static int node(const struct topo *t, const char *name)
{
	int n = topo_node_find(t, name);

	if (n < 0)
		print_message("no node \"%s\" in %s\n", name, t->name);
	assert_true(n >= 0);
	return n;
}

static void assert_gateway(const struct topo *t, const char *n, const char *gw)
{
	int g = t->nodes[node(t, n)].gateway;

	if (!gw) {
		assert_int_equal(g, -1);
		return;
	}
	assert_true(g >= 0);
	assert_string_equal(t->nodes[g].name, gw);
}

/* The interface node n has on the link it shares with node m. */
static const char *ifname_between(const struct topo *t, const char *n, const char *m)
{
	int a = node(t, n), b = node(t, m);

	for (int li = 0; li < t->nlinks; li++) {
		int ea = topo_link_end_of(&t->links[li], a), eb = topo_link_end_of(&t->links[li], b);
		if (ea >= 0 && eb >= 0)
			return topo_end_ifname(&t->links[li], ea);
	}
	fail_msg("%s and %s share no link", n, m);
	return NULL;
}

static void assert_nat_ifs(const struct topo *t, const char *nat, const char *wan_if,
			   const char *lan_if)
{
	const struct topo_node *n = &t->nodes[node(t, nat)];

	assert_int_equal(n->kind, NODE_NAT);
	assert_true(n->wan_link >= 0 && n->lan_link >= 0);
	assert_int_not_equal(n->wan_link, n->lan_link);
	assert_string_equal(topo_end_ifname(&t->links[n->wan_link], n->wan_end), wan_if);
	assert_string_equal(topo_end_ifname(&t->links[n->lan_link], n->lan_end), lan_if);
	/* the WAN link is the one shared with the gateway */
	assert_true(topo_link_end_of(&t->links[n->wan_link], n->gateway) >= 0);
}

static void assert_role(const struct topo *t, enum topo_role r, const char *name)
{
	if (!name) {
		assert_int_equal(t->roles[r], -1);
		return;
	}
	assert_true(t->roles[r] >= 0);
	assert_string_equal(t->nodes[t->roles[r]].name, name);
}

static void assert_addr(const struct topo *t, const char *n, const char *m, const char *want)
{
	int a = node(t, n), b = node(t, m);
	char buf[64];

	for (int li = 0; li < t->nlinks; li++) {
		int ea = topo_link_end_of(&t->links[li], a);
		if (ea >= 0 && topo_link_end_of(&t->links[li], b) >= 0) {
			const struct net_addr *x = topo_end_addr(&t->links[li].ends[ea], AF_INET);
			assert_non_null(x);
			assert_string_equal(net_addr_format(x, true, buf, sizeof(buf)), want);
			return;
		}
	}
	fail_msg("%s and %s share no link", n, m);
}

/* Invariants every shipped topology keeps, whatever it is. */
static void check_invariants(const struct topo *t)
{
	assert_true(t->roles[ROLE_PEER_A] >= 0);
	assert_true(t->roles[ROLE_RENDEZVOUS] >= 0);
	assert_int_equal(t->nodes[t->roles[ROLE_PEER_A]].kind, NODE_HOST);
	assert_int_equal(t->nodes[t->roles[ROLE_RENDEZVOUS]].kind, NODE_SERVER);
	if (t->roles[ROLE_NAT_A] >= 0)
		assert_int_equal(t->nodes[t->roles[ROLE_NAT_A]].kind, NODE_NAT);
	for (int n = 0; n < t->nnodes; n++) {
		const struct topo_node *node = &t->nodes[n];

		if (node->kind != NODE_INET)
			assert_true(node->gateway >= 0);
		if (node->kind == NODE_NAT) {
			assert_true(node->wan_link >= 0);
			assert_true(node->lan_link >= 0);
		}
	}
	for (int li = 0; li < t->nlinks; li++) {
		const struct topo_link *l = &t->links[li];

		assert_true(l->nends >= 2);
		for (int e = 0; e < l->nends; e++) {
			const char *nm = t->nodes[l->ends[e].node].name;
			const char *ifn = topo_end_ifname(l, e);
			/* "<node>-eth<N>" or "<node>-br<N>", within IFNAMSIZ */
			assert_true(strlen(ifn) < 16);
			assert_memory_equal(ifn, nm, strlen(nm));
			assert_int_equal(ifn[strlen(nm)], '-');
			assert_true(strlen(l->ends[e].ifname) < 16);
		}
		assert_int_equal(l->bridge[0] != '\0', l->nends > 2);
	}
	/* The interface names of one node are distinct (the kernel would refuse the second). */
	for (int n = 0; n < t->nnodes; n++) {
		const char *names[TOPO_MAX_LINKS * TOPO_MAX_ENDS];
		int k = 0;

		for (int li = 0; li < t->nlinks; li++) {
			const struct topo_link *l = &t->links[li];
			for (int e = 0; e < l->nends; e++) {
				if (l->ends[e].node == n)
					names[k++] = topo_end_ifname(l, e);
				if (e > 0 && l->nends > 2 && l->ends[0].node == n)
					names[k++] = l->ends[e].hub_ifname;
			}
		}
		for (int i = 0; i < k; i++)
			for (int j = 0; j < i; j++)
				if (strcmp(names[i], names[j]) == 0)
					fail_msg("%s: node %s has interface %s twice", t->name,
						 t->nodes[n].name, names[i]);
	}
}

static void test_every_shipped_topology(void **state)
{
	DIR *d = opendir(TOPO_DIR);
	struct dirent *de;
	int seen = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char name[256];
		struct topo t;

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
		print_message("topology %s\n", name);
		parse_shipped(name, &t);
		check_invariants(&t);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 4); /* two-nats, same-nat, double-nat, public-peer at least */
}

static void test_two_nats(void **state)
{
	struct topo t;

	(void)state;
	parse_shipped("two-nats", &t);
	assert_int_equal(t.nnodes, 6);
	assert_int_equal(t.nlinks, 5);
	assert_int_equal(t.nodes[node(&t, "inet")].kind, NODE_INET);
	assert_int_equal(t.nodes[node(&t, "server")].kind, NODE_SERVER);
	assert_int_equal(t.nodes[node(&t, "host-a")].kind, NODE_HOST);
	assert_role(&t, ROLE_PEER_A, "host-a");
	assert_role(&t, ROLE_PEER_B, "host-b");
	assert_role(&t, ROLE_NAT_A, "nat-a");
	assert_role(&t, ROLE_NAT_B, "nat-b");
	assert_role(&t, ROLE_RENDEZVOUS, "server");
	assert_gateway(&t, "inet", NULL);
	assert_gateway(&t, "server", "inet");
	assert_gateway(&t, "nat-a", "inet");
	assert_gateway(&t, "nat-b", "inet");
	assert_gateway(&t, "host-a", "nat-a");
	assert_gateway(&t, "host-b", "nat-b");
	assert_string_equal(t.nodes[node(&t, "nat-a")].profile, "port-restricted-cone");
	assert_string_equal(t.nodes[node(&t, "host-a")].profile, "");
	assert_nat_ifs(&t, "nat-a", "nat-a-eth0", "nat-a-eth1");
	assert_nat_ifs(&t, "nat-b", "nat-b-eth0", "nat-b-eth1");
	assert_string_equal(ifname_between(&t, "inet", "server"), "inet-eth0");
	assert_string_equal(ifname_between(&t, "inet", "nat-a"), "inet-eth1");
	assert_string_equal(ifname_between(&t, "inet", "nat-b"), "inet-eth2");
	assert_string_equal(ifname_between(&t, "host-a", "nat-a"), "host-a-eth0");
	assert_addr(&t, "host-a", "nat-a", "10.0.1.10/24");
	assert_addr(&t, "nat-a", "inet", "203.0.113.2/28");
	assert_addr(&t, "nat-b", "inet", "203.0.113.18/28");
	/* the server has two public addresses on one link (port prediction needs two) */
	{
		const struct topo_link *l = &t.links[0];
		int e = topo_link_end_of(l, node(&t, "server"));
		char a[64], b[64];
		assert_int_equal(l->ends[e].naddrs, 2);
		assert_string_equal(net_addr_format(&l->ends[e].addrs[0], false, a, sizeof(a)),
				    "198.51.100.10");
		assert_string_equal(net_addr_format(&l->ends[e].addrs[1], false, b, sizeof(b)),
				    "198.51.100.11");
	}
	for (int li = 0; li < t.nlinks; li++)
		assert_string_equal(t.links[li].bridge, "");
}

static void test_same_nat(void **state)
{
	struct topo t;
	const struct topo_link *lan;
	int na, ha, hb;

	(void)state;
	parse_shipped("same-nat", &t);
	na = node(&t, "nat-a");
	ha = node(&t, "host-a");
	hb = node(&t, "host-b");
	assert_role(&t, ROLE_PEER_A, "host-a");
	assert_role(&t, ROLE_PEER_B, "host-b");
	assert_role(&t, ROLE_NAT_A, "nat-a");
	assert_role(&t, ROLE_NAT_B, NULL);
	assert_gateway(&t, "host-a", "nat-a");
	assert_gateway(&t, "host-b", "nat-a");
	/* the LAN is one link with three ends: a bridge in nat-a, and $LAN_IF is the bridge */
	lan = &t.links[t.nodes[na].lan_link];
	assert_int_equal(lan->nends, 3);
	assert_string_equal(lan->bridge, "nat-a-br0");
	assert_nat_ifs(&t, "nat-a", "nat-a-eth0", "nat-a-br0");
	assert_int_equal(lan->ends[0].node, na);
	/* each member has its own veth, whose hub end is a port of the bridge in nat-a */
	assert_string_equal(lan->ends[topo_link_end_of(lan, ha)].ifname, "host-a-eth0");
	assert_string_equal(lan->ends[topo_link_end_of(lan, hb)].ifname, "host-b-eth0");
	assert_string_equal(lan->ends[topo_link_end_of(lan, ha)].hub_ifname, "nat-a-eth1");
	assert_string_equal(lan->ends[topo_link_end_of(lan, hb)].hub_ifname, "nat-a-eth2");
	assert_addr(&t, "host-a", "nat-a", "10.0.1.10/24");
	assert_addr(&t, "host-b", "nat-a", "10.0.1.11/24");
	assert_addr(&t, "nat-a", "host-a", "10.0.1.1/24");
}

static void test_double_nat(void **state)
{
	struct topo t;

	(void)state;
	parse_shipped("double-nat", &t);
	assert_int_equal(t.nodes[node(&t, "cgn")].kind, NODE_NAT);
	assert_string_equal(t.nodes[node(&t, "cgn")].profile, "cgn");
	assert_gateway(&t, "cgn", "inet");
	assert_gateway(&t, "nat-a", "cgn");
	assert_gateway(&t, "nat-b", "cgn");
	assert_gateway(&t, "host-a", "nat-a");
	assert_role(&t, ROLE_NAT_A, "nat-a");
	assert_role(&t, ROLE_NAT_B, "nat-b");
	assert_role(&t, ROLE_PEER_B, "host-b");
	/* the CGN's LAN (shared space) is a bridge; the home NATs' WAN sits on it */
	assert_nat_ifs(&t, "cgn", "cgn-eth0", "cgn-br0");
	assert_nat_ifs(&t, "nat-a", "nat-a-eth0", "nat-a-eth1");
	assert_nat_ifs(&t, "nat-b", "nat-b-eth0", "nat-b-eth1");
	assert_int_equal(t.nodes[node(&t, "nat-a")].wan_link, t.nodes[node(&t, "cgn")].lan_link);
	assert_addr(&t, "nat-a", "cgn", "100.64.0.2/24");
	assert_addr(&t, "cgn", "nat-b", "100.64.0.1/24");
	assert_addr(&t, "cgn", "inet", "203.0.113.2/28");
}

static void test_public_peer(void **state)
{
	struct topo t;

	(void)state;
	parse_shipped("public-peer", &t);
	assert_role(&t, ROLE_PEER_B, "host-b");
	assert_role(&t, ROLE_NAT_B, NULL);
	assert_gateway(&t, "host-b", "inet");
	assert_int_equal(t.nodes[node(&t, "host-b")].kind, NODE_HOST);
	assert_nat_ifs(&t, "nat-a", "nat-a-eth0", "nat-a-eth1");
	assert_addr(&t, "host-b", "inet", "203.0.113.18/28");
	assert_string_equal(ifname_between(&t, "host-b", "inet"), "host-b-eth0");
	assert_string_equal(ifname_between(&t, "inet", "host-b"), "inet-eth2");
}

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_base_is_valid),
		cmocka_unit_test(test_bad_input_all_reported),
		cmocka_unit_test(test_bad_input_printed),
		cmocka_unit_test(test_parse_file_missing),
		cmocka_unit_test(test_bad_data_files),
		cmocka_unit_test(test_seven_mistakes_in_one_run),
		cmocka_unit_test(test_refused_name_one_error),
		cmocka_unit_test(test_every_shipped_topology),
		cmocka_unit_test(test_two_nats),
		cmocka_unit_test(test_same_nat),
		cmocka_unit_test(test_double_nat),
		cmocka_unit_test(test_public_peer),
	};
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) + NBAD];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	/* one test per bad-input case, named after it */
	for (size_t i = 0; i < NBAD; i++)
		tests[n++] = (struct CMUnitTest){ .name = bad_cases[i].what,
						  .test_func = test_bad_case,
						  .initial_state = (void *)&bad_cases[i] };
	return _cmocka_run_group_tests("topo-parse", tests, n, NULL, NULL);
}
