/* Engine files (src/engine/): the shipped engine files parse into the right model; every kind of
 * bad input is rejected with FILE:LINE, what is wrong and what is expected, every mistake of a
 * file in one run (issue 11, "Bad input"); templating (optional groups, missing variables,
 * peers' self/other aliases) and value capture by regex and JSON member; outcomes read from a
 * peer's output. Each bad case is the small valid file below with one line changed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "config.h"
#include "engine/adapter.h"
#include "engine/engine_file.h"
#include "engine/template.h"
#include "lab/topo.h"
#include "matrix/theory.h"
#include "nft/profile.h"
#include "engine_bad.h"

#define NAME "bad.yaml"

#define L01 "engine: t\n"                                                           /*  1 */
#define L02 "program: tprog\n"                                                      /*  2 */
#define L03 "techniques:\n"                                                         /*  3 */
#define L04 "  udp: { transports: [udp], deadline: 2s }\n"                          /*  4 */
#define L05 "roles:\n"                                                              /*  5 */
#define L06 "  server:\n"                                                           /*  6 */
#define L07 "    command: [\"{{program}}\", serve, \"{{rendezvous.addr}}:{{port}}\"]\n" /* 7 */
#define L08 "    ready: { line: \"^listening\", deadline: 500ms }\n"                /*  8 */
#define L09 "    capture: { key: { regex: \"key=([a-z0-9]+)\" } }\n"                /*  9 */
#define L10 "  peers:\n"                                                            /* 10 */
#define L11 "    command: [\"{{program}}\", \"{{side}}\", \"{{capture.server.key}}\"]\n" /* 11 */
#define L12 "outcome:\n"                                                            /* 12 */
#define L13 "  line: \"^connected\"\n"                                              /* 13 */

#define BASE L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12 L13

struct bad_case {
	const char *what;
	const char *yaml;
	int line;
	const char *wrong;
	const char *expect;
};

static const struct bad_case bad_cases[] = {
	{ "YAML syntax error", L01 L02 L03 "  udp: { transports: [udp]\n" L05 L06 L07 L08 L09 L10
	  L11 L12 L13, 5, "YAML syntax", "expected" },
	{ "empty file", "", 0, "empty file", "expected an engine" },
	{ "unknown top key", L01 "programme: x\n" L03 L04 L05 L06 L07 L08 L09 L10 L11 L12 L13, 2,
	  "unknown key \"programme\"", "expected engine, description, program" },
	{ "bad engine name", "engine: Big Name\n" L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12 L13, 1,
	  "\"Big Name\"", "expected a name" },
	{ "deadline without unit", L01 L02 L03 "  udp: { transports: [udp], deadline: 2000 }\n" L05
	  L06 L07 L08 L09 L10 L11 L12 L13, 4, "no duration", "with their unit" },
	{ "unknown transport", L01 L02 L03 "  udp: { transports: [sctp], deadline: 2s }\n" L05 L06
	  L07 L08 L09 L10 L11 L12 L13, 4, "\"sctp\" is no transport", "expected udp or tcp" },
	{ "technique without deadline", L01 L02 L03 "  udp: { transports: [udp] }\n" L05 L06 L07 L08
	  L09 L10 L11 L12 L13, 4, "no deadline", "expected deadline:" },
	{ "unknown variable", L01 L02 L03 L04 L05 L06
	  "    command: [\"{{program}}\", \"{{rendezvous.adr}}\"]\n" L08 L09 L10 L11 L12 L13, 7,
	  "{{rendezvous.adr}}", "expected NODE.addr" },
	/* reach is a peer's (engine/reach.h): a NAT's public address is NAT.public */
	{ "reach of a NAT", L01 L02 L03 L04 L05 L06
	  "    command: [\"{{program}}\", \"{{nat-a.reach}}\"]\n" L08 L09 L10 L11 L12 L13, 7,
	  "{{nat-a.reach}}", "reach is a peer's address" },
	{ "unclosed variable", L01 L02 L03 L04 L05 L06 "    command: [\"{{program\"]\n" L08 L09 L10
	  L11 L12 L13, 7, "without a variable name", "\"}}\"" },
	{ "capture of a later role", L01 L02 L03 L04 L05 L06
	  "    command: [\"{{program}}\", \"{{capture.peer-a.id}}\"]\n" L08 L09 L10 L11 L12 L13, 7,
	  "{{capture.peer-a.id}}", "that role captures no such value" },
	{ "self outside a peer", L01 L02 L03 L04 L05 L06
	  "    command: [\"{{program}}\", \"{{self.addr}}\"]\n" L08 L09 L10 L11 L12 L13, 7,
	  "{{self.addr}}", "for peers' commands" },
	{ "ready without deadline", L01 L02 L03 L04 L05 L06 L07 "    ready: { line: \"^ok\" }\n" L09
	  L10 L11 L12 L13, 8, "no deadline", "expected deadline: DURATION" },
	{ "ready with two conditions", L01 L02 L03 L04 L05 L06 L07
	  "    ready: { line: \"^ok\", udp-port: 9, deadline: 1s }\n" L09 L10 L11 L12 L13, 8,
	  "one condition only", "expected line, json" },
	{ "bad regex", L01 L02 L03 L04 L05 L06 L07 "    ready: { line: \"(\", deadline: 1s }\n" L09
	  L10 L11 L12 L13, 8, "does not compile", "POSIX extended" },
	/* glibc's regcomp grows without bound on these (the fuzzer's "i++++...": over 2 GB) */
	{ "stacked repetition", L01 L02 L03 L04 L05 L06 L07
	  "    ready: { line: \"Nebula i+++nterface\", deadline: 1s }\n" L09 L10 L11 L12 L13, 8,
	  "follows another one", "plain POSIX extended" },
	{ "bounds that multiply", L01 L02 L03 L04 L05 L06 L07
	  "    ready: { line: \"((a{1,99}){99}){9}\", deadline: 1s }\n" L09 L10 L11 L12 L13, 8,
	  "more than 4096 copies", "plain POSIX extended" },
	{ "capture with regex and json", L01 L02 L03 L04 L05 L06 L07 L08
	  "    capture: { key: { regex: \"k\", json: k } }\n" L10 L11 L12 L13, 9,
	  "exactly one of regex", "json: MEMBER" },
	{ "unknown node", L01 L02 L03 L04 L05 L06 L07 L08 L09 "    node: moon\n" L10 L11 L12 L13,
	  10, "\"moon\" is no topology role", "expected peer-a, peer-b" },
	{ "no peers", L01 L02 L03 L04 L05 L06 L07 L08 L09 L12 L13, 5, "peer-a and peer-b",
	  "or peers" },
	{ "exit code out of range", BASE "  exit: { 300: failed }\n", 14, "\"300\" is no exit code",
	  "expected 0 to 255" },
	{ "exit outcome unknown", BASE "  exit: { 1: disputed }\n", 14, "exit 1",
	  "expected direct, relayed or failed" },
	{ "unknown capability", BASE "capabilities: [telepathy]\n", 14, "\"telepathy\" is unknown",
	  "expected rendezvous" },
	{ "package name", BASE "packages: [\"Net Cat\"]\n", 14, "\"Net Cat\"",
	  "Debian package names" },
	{ "file with a path", BASE "files: { ../x.conf: hi }\n", 14, "\"../x.conf\"",
	  "plain file name" },
	{ "technique plain", L01 L02 L03 "  plain: { transports: [udp], deadline: 2s }\n" L05 L06 L07
	  L08 L09 L10 L11 L12 L13, 4, "technique plain", "expected the technique itself" },
	{ "outcome with nothing", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 "outcome: {}\n", 12,
	  "nothing to read", "expected json:" },
	{ "version with a cell variable", BASE "version: [\"{{program}}\", \"{{session}}\"]\n", 14,
	  "version", "only variable known before a cell runs" },
	/* setup commands, vars, outcome by probe */
	{ "setup not a list", BASE "setup: { command: [x] }\n", 14, "setup",
	  "expected a list of { command" },
	{ "setup without deadline", BASE "setup:\n  - { command: [x] }\n", 15, "setup 1: no "
	  "deadline", "expected deadline: DURATION" },
	{ "setup in an unknown node", BASE "setup:\n  - { command: [x], node: moon, deadline: 1s }\n",
	  15, "\"moon\" is no topology role", "expected harness, peer-a" },
	{ "setup with a peer's variable", BASE "setup:\n  - { command: [\"{{self.addr}}\"], node: "
	  "harness, deadline: 1s }\n", 15, "setup 1: {{self.addr}}", "for peers' commands" },
	{ "setup unknown key", BASE "setup:\n  - { command: [x], deadline: 1s, where: here }\n", 15,
	  "unknown key \"where\"", "expected command, node or deadline" },
	{ "vars without a node", BASE "vars: { overlay: 10.42.0.1 }\n", 14, "\"overlay\"",
	  "expected NODE.NAME" },
	{ "vars of an unknown node", BASE "vars: { moon.overlay: 10.42.0.1 }\n", 14,
	  "\"moon\" is no topology role", "expected peer-a" },
	{ "vars shadowing the lab's", BASE "vars: { peer-a.public: 1.2.3.4 }\n", 14,
	  "the lab sets public", "expected another name" },
	{ "undeclared engine variable", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10
	  "    command: [\"{{program}}\", \"{{other.overlay}}\"]\n" L12 L13, 11,
	  "{{other.overlay}}", "a NODE.NAME of vars:" },
	{ "probe with line", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12 L13
	  "  probe: { command: [ping] }\n", 13, "probe and json or line together",
	  "expected one of json, line and probe" },
	{ "probe in a server's node", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12
	  "  probe: { command: [ping], node: rendezvous }\n", 13, "probe: node",
	  "expected peer-a or peer-b" },
	{ "probe without command", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12
	  "  probe: { interval: 1s }\n", 13, "probe: no command", "expected command:" },
	{ "probe with an exit map", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12
	  "  probe: { command: [ping] }\n  exit: { 0: failed }\n", 14, "outcome: exit",
	  "expected no exit map" },
	{ "probe with relayed and direct", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12
	  "  probe: { command: [ping], relayed: r, direct: d }\n", 13, "relayed and direct together",
	  "expected one of them" },
	{ "probe with an unknown variable", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11 L12
	  "  probe: { command: [ping, \"{{other.overlay}}\"] }\n", 13, "{{other.overlay}}",
	  "a NODE.NAME of vars:" },
	/* stdin: (the ICE engine's candidate trade) */
	{ "stdin without deadline", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11
	  "    stdin: { text: \"{{capture.server.key}}\" }\n" L12 L13, 12, "stdin: no deadline",
	  "expected deadline: DURATION" },
	{ "stdin without text", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11
	  "    stdin: { deadline: 1s }\n" L12 L13, 12, "stdin: no text", "expected text: TEMPLATE" },
	{ "stdin not a mapping", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11
	  "    stdin: hello\n" L12 L13, 12, "role peer-a: stdin",
	  "expected { text: TEMPLATE, deadline: DURATION }" },
	{ "stdin unknown key", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11
	  "    stdin: { txt: x, deadline: 1s }\n" L12 L13, 12, "unknown key \"txt\"",
	  "expected text or deadline" },
	{ "stdin naming a capture nobody makes", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11
	  "    stdin: { text: \"{{capture.server.nope}}\", deadline: 1s }\n" L12 L13, 12,
	  "stdin: {{capture.server.nope}}", "that role captures no such value" },
	{ "late capture in a command", L01 L02 L03 L04 L05 L06 L07 L08
	  "    capture: { key: { regex: \"key=([a-z0-9]+)\", late: true } }\n" L10 L11 L12 L13, 11,
	  "{{capture.server.key}}: a late capture", "only stdin: may name it" },
	{ "late not a boolean", L01 L02 L03 L04 L05 L06 L07 L08
	  "    capture: { key: { regex: \"key=([a-z0-9]+)\", late: maybe } }\n" L10 L11 L12 L13, 9,
	  "capture key: late", "expected true or false" },
	{ "stdin with a bad duration", L01 L02 L03 L04 L05 L06 L07 L08 L09 L10 L11
	  "    stdin: { text: x, deadline: soon }\n" L12 L13, 12, "\"soon\" is no duration",
	  "expected milliseconds or seconds" },
};

static void test_bad_input(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		engine_bad_expect(c->what, NAME, c->yaml, c->line, c->wrong, c->expect);
	}
}

/* Three mistakes in three places: three errors in one run. */
static void test_every_mistake_in_one_run(void **state)
{
	const char *y = L01 "program: tprog\nfoo: 1\n" L03
			"  udp: { transports: [udp], deadline: 2 }\n" L05 L06
			"    command: [\"{{nosuch}}\"]\n" L08 L09 L10 L11 L12 L13;
	struct engine_file e;
	struct diag_list dl = { 0 };

	(void)state;
	assert_int_equal(engine_file_parse_buffer(&e, NAME, y, strlen(y), &dl), -EINVAL);
	assert_int_equal(dl.count, 3);
	assert_int_equal(dl.items[0].line, 3);
	assert_int_equal(dl.items[1].line, 5);
	assert_int_equal(dl.items[2].line, 8);
}

static void test_base_model(void **state)
{
	struct engine_file e;
	struct diag_list dl = { 0 };

	(void)state;
	assert_int_equal(engine_file_parse_buffer(&e, NAME, BASE, strlen(BASE), &dl), 0);
	assert_int_equal(e.nroles, 3);
	/* servers first, then peer-a, peer-b: the start order */
	assert_string_equal(e.roles[0].name, "server");
	assert_string_equal(e.roles[1].name, "peer-a");
	assert_string_equal(e.roles[2].name, "peer-b");
	assert_int_equal(e.roles[2].node, ROLE_PEER_B);
	assert_int_equal(e.roles[0].ready.kind, EF_MATCH_LINE);
	assert_int_equal(e.roles[0].ready.deadline_ms, 500);
	assert_int_equal(e.techniques[0].deadline_ms, 2000);
	assert_int_equal(e.outcome.kind, EF_OUTCOME_LINE);
	assert_null(engine_file_technique(&e, "udp", true));
	assert_non_null(engine_file_technique(&e, "udp", false));
}

static void test_shipped_engines(void **state)
{
	struct engine_file e;
	struct diag_list dl = { 0 };

	(void)state;
	assert_int_equal(engine_file_parse(&e, PUNCHLAB_SOURCE_DIR "/engines/punch.yaml", &dl), 0);
	assert_string_equal(e.name, "punch");
	assert_int_equal(e.outcome.kind, EF_OUTCOME_JSON);
	assert_true(e.capabilities & EF_CAP_PEER_REFLEXIVE);
	assert_int_equal(engine_file_technique(&e, "auto", true)->deadline_ms, 9000);
	assert_int_equal(engine_file_parse(&e, PUNCHLAB_SOURCE_DIR "/engines/netcat.yaml", &dl), 0);
	/* nc speaks IPv6 (tests/lab/engines-netcat-ipv6.sh), and has no other capability */
	assert_int_equal(e.capabilities, EF_CAP_IPV6);
	assert_string_equal(e.packages[0], "netcat-openbsd");
	assert_int_equal(e.outcome.exit_map[0], CELL_FAILED);
	/* nebula: certificates made on the host in setup, a config per role, outcome by probe */
	assert_int_equal(engine_file_parse(&e, PUNCHLAB_SOURCE_DIR "/engines/nebula.yaml", &dl), 0);
	assert_int_equal(e.nsetup, 4);
	assert_true(e.setup[0].harness);
	assert_int_equal(e.setup[0].deadline_ms, 10000);
	assert_int_equal(e.nfiles, 3);
	assert_int_equal(e.nvars, 3);
	assert_int_equal(e.outcome.kind, EF_OUTCOME_PROBE);
	assert_int_equal(e.outcome.probe.node, ROLE_PEER_A);
	assert_int_equal(e.outcome.probe.interval_ms, 200);
	assert_string_equal(e.roles[0].name, "lighthouse");
	assert_int_equal(e.roles[0].node, ROLE_RENDEZVOUS);
	/* n2n: relayed through its supernode unless an edge says the path is direct */
	assert_int_equal(engine_file_parse(&e, PUNCHLAB_SOURCE_DIR "/engines/n2n.yaml", &dl), 0);
	assert_int_equal(e.outcome.kind, EF_OUTCOME_PROBE);
	assert_int_equal(e.outcome.probe.direct.kind, EF_MATCH_LINE);
	assert_int_equal(e.outcome.probe.relayed.kind, EF_MATCH_NONE);
	assert_true(e.capabilities & EF_CAP_RELAY_FALLBACK);
	assert_string_equal(e.roles[0].name, "supernode");
	/* ice: coturn first; A gets B's offer, B gets A's once A is checking (a late capture) */
	assert_int_equal(engine_file_parse(&e, PUNCHLAB_SOURCE_DIR "/engines/ice.yaml", &dl), 0);
	assert_string_equal(e.roles[0].name, "turn");
	assert_string_equal(e.roles[1].input.text, "{{capture.peer-b.offer}}\n");
	assert_string_equal(e.roles[2].input.text, "{{capture.peer-a.checking}}\n");
	assert_true(e.roles[1].captures[1].late);
	assert_false(e.roles[1].captures[0].late);
	assert_string_equal(e.roles[2].captures[0].json, "offer");
	assert_true(e.capabilities & EF_CAP_RELAY_FALLBACK);
	assert_false(e.capabilities & EF_CAP_SINGLE_PROBE);
	assert_string_equal(e.packages[0], "libnice-dev");
	assert_int_equal(dl.count, 0);
}

/* stdin: may name a capture of a role that starts later (a command may not): the harness
 * writes it once that role has captured it. */
static void test_stdin_later_capture(void **state)
{
	const char *y = L01 L02 L03 L04 L05 L06 L07 L08 L09
			"    stdin: { text: \"{{capture.peer-b.id}}\\n\", deadline: 3s }\n" L10 L11
			"    capture: { id: { json: id } }\n"
			"    stdin: { text: \"{{capture.peer-a.id}} {{capture.peer-b.id}} {{side}}\","
			" deadline: 700ms }\n" L12 L13;
	const char *in_cmd = L01 L02 L03 L04 L05 L06
			     "    command: [\"{{program}}\", \"{{capture.peer-b.id}}\"]\n" L08 L09
			     L10 L11 "    capture: { id: { json: id } }\n" L12 L13;
	struct engine_file e;
	struct diag_list dl = { 0 };

	(void)state;
	assert_int_equal(engine_file_parse_buffer(&e, NAME, y, strlen(y), &dl), 0);
	assert_string_equal(e.roles[0].input.text, "{{capture.peer-b.id}}\n");
	assert_int_equal(e.roles[0].input.deadline_ms, 3000);
	assert_int_equal(e.roles[0].input.line, 10);
	assert_int_equal(e.roles[1].input.deadline_ms, 700);
	assert_string_equal(e.roles[2].input.text, "{{capture.peer-a.id}} {{capture.peer-b.id}} "
			    "{{side}}");
	assert_string_equal(e.roles[2].name, "peer-b");
	/* the same capture in the server's command line is a mistake */
	assert_int_equal(engine_file_parse_buffer(&e, NAME, in_cmd, strlen(in_cmd), &dl), -EINVAL);
	assert_non_null(strstr(dl.items[0].msg, "a capture of a role that starts later"));
	assert_int_equal(dl.items[0].line, 7);
}

/* --- templating ------------------------------------------------------------------------- */

static void test_render(void **state)
{
	struct tpl_vars v = { 0 };
	char buf[64], missing[TPL_NAME_MAX] = "";

	(void)state;
	assert_int_equal(tpl_set(&v, "a", "%s", "x"), 0);
	assert_int_equal(tpl_set(&v, "port", "%d", 3478), 0);
	assert_int_equal(tpl_render("{{a}}:{{ port }}!", &v, buf, sizeof(buf), NULL, 0), 0);
	assert_string_equal(buf, "x:3478!");
	assert_int_equal(tpl_render("{{b}}", &v, buf, sizeof(buf), missing, sizeof(missing)),
			 -ENOENT);
	assert_string_equal(missing, "b");
	assert_int_equal(tpl_render("{{a", &v, buf, sizeof(buf), NULL, 0), -EINVAL);
	assert_int_equal(tpl_render("0123456789{{port}}", &v, buf, 12, NULL, 0), -E2BIG);
	assert_int_equal(tpl_set(&v, "a", "%s", "y"), 0); /* replaced, not added */
	assert_int_equal(v.n, 2);
}

/* The two-nats layout, as the lab gives it: addresses, NATs' public addresses, peers' views. */
static const char topo_yaml[] =
	"topology: t\n"
	"nodes:\n"
	"  inet:   { kind: inet }\n"
	"  server: { kind: server, gateway: inet }\n"
	"  nat-a:  { kind: nat, gateway: inet }\n"
	"  nat-b:  { kind: nat, gateway: inet }\n"
	"  host-a: { kind: host, gateway: nat-a }\n"
	"  host-b: { kind: host, gateway: nat-b }\n"
	"links:\n"
	"  - ends: { inet: 198.51.100.1/24, server: [198.51.100.10/24, 198.51.100.11/24] }\n"
	"  - ends: { inet: 203.0.113.1/28, nat-a: 203.0.113.2/28 }\n"
	"  - ends: { inet: 203.0.113.17/28, nat-b: 203.0.113.18/28 }\n"
	"  - ends: { nat-a: 10.0.1.1/24, host-a: 10.0.1.10/24 }\n"
	"  - ends: { nat-b: 10.0.2.1/24, host-b: 10.0.2.10/24 }\n"
	"roles: { peer-a: host-a, peer-b: host-b, nat-a: nat-a, nat-b: nat-b, rendezvous: server }\n";

static void test_cell_vars_and_groups(void **state)
{
	static const char y[] =
		L01 L02 L03 L04 L05
		"  peers:\n"
		"    command: [\"{{program}}\", \"{{other-nat.public}}\", [--r2, \"{{rendezvous.addr.1}}\"],"
		" [--r3, \"{{rendezvous.addr.2}}\"], \"{{self.addr}}\", \"{{side}}\"]\n"
		L12 L13;
	struct topo *t = calloc(1, sizeof(*t));
	struct tpl_vars *v = calloc(1, sizeof(*v));
	struct engine_argv *a = calloc(1, sizeof(*a));
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };
	struct engine_cell c = { .program = "/bin/p", .session = "s1", .dir = "/d",
				 .transport = "udp", .technique = "udp", .deadline_ms = 2000,
				 .port = 3478 };
	char why[128];

	(void)state;
	assert_int_equal(topo_parse_buffer(t, "t.yaml", topo_yaml, strlen(topo_yaml), &dl), 0);
	assert_int_equal(engine_file_parse_buffer(e, NAME, y, strlen(y), &dl), 0);
	assert_int_equal(engine_vars_cell(&c, t, v), 0);
	assert_string_equal(tpl_get(v, "nat-a.public"), "203.0.113.2");
	assert_string_equal(tpl_get(v, "nat-b.public"), "203.0.113.18");
	assert_string_equal(tpl_get(v, "rendezvous.addr.1"), "198.51.100.11");
	assert_null(tpl_get(v, "rendezvous.addr.2"));
	assert_int_equal(engine_vars_role(&e->roles[1], v), 0); /* peer-b */
	assert_int_equal(engine_argv_render(e->roles[1].args, e->roles[1].nargs, v, a, why,
					    sizeof(why)), 0);
	/* the group with addr.2 is left out whole; the one with addr.1 stays */
	assert_string_equal(a->argv[0], "/bin/p");
	assert_string_equal(a->argv[1], "203.0.113.2");
	assert_string_equal(a->argv[2], "--r2");
	assert_string_equal(a->argv[3], "198.51.100.11");
	assert_string_equal(a->argv[4], "10.0.2.10");
	assert_string_equal(a->argv[5], "b");
	assert_null(a->argv[6]);
	free(t);
	free(v);
	free(a);
	free(e);
}

/* An engine's own values (vars:) render from the cell's and reach a peer as self/other.NAME;
 * setup commands default to the server's node; a probe renders from its peer's view. */
static void test_engine_vars_setup_probe(void **state)
{
	static const char y[] =
		L01 L02 L03 L04
		"vars:\n"
		"  peer-a.overlay: 10.42.0.1\n"
		"  peer-b.overlay: 10.42.0.2\n"
		"  rendezvous.tunnel: \"{{rendezvous.addr}}:4242\"\n"
		"setup:\n"
		"  - { command: [gen, \"{{dir}}/k\", \"{{peer-b.overlay}}\"], deadline: 3s }\n"
		"  - { command: [gen2], node: harness, deadline: 200ms }\n"
		L05
		"  peers:\n"
		"    command: [\"{{program}}\", \"{{rendezvous.tunnel}}\", \"{{self.overlay}}\"]\n"
		"outcome:\n"
		"  probe: { command: [ping, \"{{other.overlay}}\"], node: peer-b, interval: 1s,"
		" relayed: \"via relay\" }\n";
	struct topo *t = calloc(1, sizeof(*t));
	struct tpl_vars *v = calloc(1, sizeof(*v));
	struct engine_argv *a = calloc(1, sizeof(*a));
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };
	struct engine_cell c = { .program = "/bin/p", .session = "s1", .dir = "/d",
				 .transport = "udp", .technique = "udp", .deadline_ms = 2000,
				 .port = 3478 };
	char why[128];

	(void)state;
	assert_int_equal(topo_parse_buffer(t, "t.yaml", topo_yaml, strlen(topo_yaml), &dl), 0);
	assert_int_equal(engine_file_parse_buffer(e, NAME, y, strlen(y), &dl), 0);
	assert_int_equal(e->nsetup, 2);
	assert_false(e->setup[0].harness);
	assert_int_equal(e->setup[0].node, ROLE_RENDEZVOUS);
	assert_int_equal(e->setup[0].deadline_ms, 3000);
	assert_true(e->setup[1].harness);
	assert_int_equal(e->outcome.kind, EF_OUTCOME_PROBE);
	assert_int_equal(e->outcome.probe.node, ROLE_PEER_B);
	assert_int_equal(e->outcome.probe.interval_ms, 1000);
	assert_int_equal(e->outcome.probe.relayed.kind, EF_MATCH_LINE);
	assert_int_equal(engine_vars_cell(&c, t, v), 0);
	assert_int_equal(engine_vars_engine(e, v, why, sizeof(why)), 0);
	assert_string_equal(tpl_get(v, "rendezvous.tunnel"), "198.51.100.10:4242");
	assert_int_equal(engine_argv_render(e->setup[0].args, e->setup[0].nargs, v, a, why,
					    sizeof(why)), 0);
	assert_string_equal(a->argv[1], "/d/k");
	assert_string_equal(a->argv[2], "10.42.0.2");
	assert_int_equal(engine_vars_role(&e->roles[1], v), 0); /* peer-b */
	assert_int_equal(engine_argv_render(e->roles[1].args, e->roles[1].nargs, v, a, why,
					    sizeof(why)), 0);
	assert_string_equal(a->argv[1], "198.51.100.10:4242");
	assert_string_equal(a->argv[2], "10.42.0.2");
	assert_int_equal(engine_argv_render(e->outcome.probe.args, e->outcome.probe.nargs, v, a,
					    why, sizeof(why)), 0);
	assert_string_equal(a->argv[1], "10.42.0.1"); /* peer-b's other is peer-a */
	free(t);
	free(v);
	free(a);
	free(e);
}

/* A var that names a variable without a value in this cell is an error naming it. */
static void test_engine_vars_missing(void **state)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct tpl_vars *v = calloc(1, sizeof(*v));
	char why[128];

	(void)state;
	e->nvars = 1;
	snprintf(e->vars[0].name, sizeof(e->vars[0].name), "peer-a.x");
	snprintf(e->vars[0].text, sizeof(e->vars[0].text), "{{nat-a.public}}");
	assert_int_equal(engine_vars_engine(e, v, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "peer-a.x: {{nat-a.public}} has no value"));
	free(e);
	free(v);
}

static void test_missing_variable_outside_group(void **state)
{
	struct ef_arg args[2] = { { .text = "x" }, { .text = "{{capture.server.key}}" } };
	struct tpl_vars v = { 0 };
	struct engine_argv a;
	char why[128];

	(void)state;
	assert_int_equal(engine_argv_render(args, 2, &v, &a, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "{{capture.server.key}} has no value"));
}

/* --- capture and outcomes ------------------------------------------------------------------ */

static void test_capture(void **state)
{
	struct ef_capture re = { .regex = "key=([a-z0-9]+)" }, whole = { .regex = "id-[0-9]+" },
			  js = { .json = "peer_id" }, num = { .json = "port" };
	const char *out = "starting\nkey=abc123 more\n{\"event\":\"up\",\"peer_id\":\"12D3Ko\","
			  "\"port\":4001}\nid-77\n";
	char buf[64];

	(void)state;
	assert_int_equal(tpl_capture(&re, out, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc123");
	assert_int_equal(tpl_capture(&whole, out, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "id-77");
	assert_int_equal(tpl_capture(&js, out, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "12D3Ko");
	assert_int_equal(tpl_capture(&num, out, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "4001");
	assert_int_equal(tpl_capture(&re, "nothing yet\n", buf, sizeof(buf)), -ENOENT);
}

static void test_role_ready_sets_captures(void **state)
{
	struct engine_file e;
	struct diag_list dl = { 0 };
	struct tpl_vars v = { 0 };

	(void)state;
	assert_int_equal(engine_file_parse_buffer(&e, NAME, BASE, strlen(BASE), &dl), 0);
	/* ready line without the capture: not ready; with both: ready and captured */
	assert_false(engine_role_ready(&e.roles[0], "listening\n", -1, &v));
	assert_false(engine_role_ready(&e.roles[0], "key=k1\n", -1, &v));
	assert_true(engine_role_ready(&e.roles[0], "key=k1\nlistening\n", -1, &v));
	assert_string_equal(tpl_get(&v, "capture.server.key"), "k1");
}

/* A late capture does not hold readiness back; it is taken whenever the output has it. */
static void test_late_capture(void **state)
{
	const char *y = L01 L02 L03 L04 L05 L06 L07 L08
			"    capture: { key: { regex: \"key=([a-z0-9]+)\", late: true } }\n" L10
			"    command: [\"{{program}}\"]\n"
			"    stdin: { text: \"{{capture.server.key}}\", deadline: 1s }\n" L12 L13;
	struct engine_file e;
	struct diag_list dl = { 0 };
	struct tpl_vars v = { 0 };
	char why[200];

	(void)state;
	assert_int_equal(engine_file_parse_buffer(&e, NAME, y, strlen(y), &dl), 0);
	assert_true(e.roles[0].captures[0].late);
	assert_true(engine_role_ready(&e.roles[0], "listening\n", -1, &v));
	assert_null(tpl_get(&v, "capture.server.key"));
	engine_role_waiting_for(&e.roles[0], "", -1, &v, why, sizeof(why));
	assert_null(strstr(why, "capture"));
	assert_true(engine_role_capture(&e.roles[0], "listening\nkey=k2\n", &v));
	assert_string_equal(tpl_get(&v, "capture.server.key"), "k2");
}

static void test_outcomes(void **state)
{
	struct engine_file e;
	struct diag_list dl = { 0 };
	struct engine_peer_result r;
	const char *json_y = L01 L02 L03 L04 L05 L10 "    command: [\"{{program}}\"]\n"
			     "outcome: { json: { event: result } }\n";
	const char *line_y = BASE "  exit: { 3: relayed }\n";

	(void)state;
	/* LINE: matched -> direct; not matched when stopped -> failed; exited 0 unmapped -> none */
	assert_int_equal(engine_file_parse_buffer(&e, NAME, line_y, strlen(line_y), &dl), 0);
	engine_peer_result(&e, "^connected", "x\nconnected\n", true, 0, &r);
	assert_true(r.reported);
	assert_int_equal(r.outcome, CELL_DIRECT);
	engine_peer_result(&e, "^connected", "x\n", false, 0, &r);
	assert_true(r.reported);
	assert_int_equal(r.outcome, CELL_FAILED);
	engine_peer_result(&e, "^connected", "x\n", true, 0, &r);
	assert_false(r.reported);
	engine_peer_result(&e, "^connected", "x\n", true, 3 << 8, &r);
	assert_true(r.reported);
	assert_int_equal(r.outcome, CELL_RELAYED);
	assert_true(engine_peer_decided(&e, "^connected", "connected\n"));
	/* JSON: the last result line wins */
	assert_int_equal(engine_file_parse_buffer(&e, NAME, json_y, strlen(json_y), &dl), 0);
	engine_peer_result(&e, NULL, "{\"event\":\"result\",\"outcome\":\"failed\"}\n"
			   "{\"event\":\"result\",\"outcome\":\"direct\",\"technique\":\"udp\","
			   "\"attempts\":3}\n", true, 0, &r);
	assert_true(r.reported);
	assert_int_equal(r.outcome, CELL_DIRECT);
	assert_string_equal(r.technique, "udp");
	assert_int_equal(r.attempts, 3);
	engine_peer_result(&e, NULL, "{\"event\":\"hello\"}\n", true, 0, &r);
	assert_false(r.reported);
	assert_false(engine_peer_decided(&e, NULL, "{\"event\":\"result\"}\n"));
}

/* The theory for an engine without rendezvous and peer-reflexive answers (netcat.yaml): a side
 * is known only by port preservation, and one unknown side is never answered. */
static enum cell_outcome nc_theory(const char *a, const char *b, bool fixed, bool noref)
{
	struct profile_header ha, hb;
	struct diag_list dl = { 0 };
	char pa[512], pb[512];
	struct theory t;

	snprintf(pa, sizeof(pa), PUNCHLAB_SOURCE_DIR "/nat-profiles/%s.nft", a);
	snprintf(pb, sizeof(pb), PUNCHLAB_SOURCE_DIR "/nat-profiles/%s.nft", b);
	assert_int_equal(profile_header_parse_file(&ha, pa, &dl), 0);
	assert_int_equal(profile_header_parse_file(&hb, pb, &dl), 0);
	struct theory_input in = { .a = &ha, .b = &hb, .layout = LAYOUT_TWO_NATS,
				   .technique = "udp", .fixed_port = fixed, .no_reflexive = noref,
				   .quits_on_icmp = noref };
	theory_predict(&in, &t);
	return t.outcome;
}

/* relay-fallback (n2n): what punching cannot join is relayed through the server, what it can
 * stays direct; without the capability the same cell fails (an engine like nebula). */
static void test_theory_relay_fallback(void **state)
{
	struct profile_header ha, hb;
	struct diag_list dl = { 0 };
	struct theory t;
	struct theory_input in = { .a = &ha, .b = &hb, .layout = LAYOUT_TWO_NATS,
				   .technique = "udp" };

	(void)state;
	assert_int_equal(profile_header_parse_file(&ha, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/port-restricted-cone.nft", &dl), 0);
	assert_int_equal(profile_header_parse_file(&hb, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/symmetric.nft", &dl), 0);
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	in.relay_fallback = true;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_RELAYED);
	assert_non_null(strstr(t.why, "relays through its server meanwhile"));
	in.b = &ha; /* port-restricted on both sides: punching joins them */
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	assert_int_equal(engine_capability_parse("relay-fallback"), EF_CAP_RELAY_FALLBACK);
}

/* single-probe (n2n): A speaks first and nobody repeats, so an unknown A's one probe meets a
 * restricted cone B's filter before B opened it; the other way round (or a full cone B, whose
 * filter needs no opening) it gets through. */
static void test_theory_single_probe(void **state)
{
	struct profile_header sym, rc, fc;
	struct diag_list dl = { 0 };
	struct theory t;
	struct theory_input in = { .a = &sym, .b = &rc, .layout = LAYOUT_TWO_NATS,
				   .technique = "udp" };

	(void)state;
	assert_int_equal(profile_header_parse_file(&sym, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/symmetric.nft", &dl), 0);
	assert_int_equal(profile_header_parse_file(&rc, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/restricted-cone.nft", &dl), 0);
	assert_int_equal(profile_header_parse_file(&fc, PUNCHLAB_SOURCE_DIR
						   "/nat-profiles/full-cone.nft", &dl), 0);
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT); /* an engine that repeats its probes */
	in.single_probe = true;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_FAILED);
	assert_non_null(strstr(t.why, "never repeats it"));
	in.a = &rc;
	in.b = &sym;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	in.a = &sym;
	in.b = &fc;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_DIRECT);
	in.b = &rc;
	in.relay_fallback = true;
	theory_predict(&in, &t);
	assert_int_equal(t.outcome, CELL_RELAYED);
}

static void test_theory_capabilities(void **state)
{
	(void)state;
	assert_int_equal(nc_theory("full-cone", "full-cone", true, true), CELL_DIRECT);
	assert_int_equal(nc_theory("port-restricted-cone", "port-restricted-cone", true, true),
			 CELL_DIRECT);
	assert_int_equal(nc_theory("symmetric", "symmetric", true, true), CELL_FAILED);
	/* one side random: punch answers the peer-reflexive source, nc does not */
	assert_int_equal(nc_theory("full-cone", "symmetric", false, false), CELL_DIRECT);
	assert_int_equal(nc_theory("full-cone", "symmetric", true, true), CELL_FAILED);
	/* sequential ports are no preserved port: known to punch's predict, not to nc */
	assert_int_equal(nc_theory("full-cone", "symmetric-sequential", true, false), CELL_DIRECT);
	assert_int_equal(nc_theory("full-cone", "symmetric-sequential", true, true), CELL_FAILED);
	/* A speaks first: B's NAT answering with ICMP ends an engine that quits at it */
	assert_int_equal(nc_theory("full-cone", "port-restricted-cone-rst", true, true),
			 CELL_FAILED);
	assert_int_equal(nc_theory("port-restricted-cone-rst", "full-cone", true, true),
			 CELL_DIRECT);
	assert_int_equal(nc_theory("full-cone", "port-restricted-cone-rst", false, false),
			 CELL_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_every_mistake_in_one_run),
		cmocka_unit_test(test_base_model),
		cmocka_unit_test(test_shipped_engines),
		cmocka_unit_test(test_stdin_later_capture),
		cmocka_unit_test(test_engine_vars_setup_probe),
		cmocka_unit_test(test_engine_vars_missing),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_cell_vars_and_groups),
		cmocka_unit_test(test_missing_variable_outside_group),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_role_ready_sets_captures),
		cmocka_unit_test(test_late_capture),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_theory_capabilities),
		cmocka_unit_test(test_theory_relay_fallback),
		cmocka_unit_test(test_theory_single_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
