/* Unit tests of the profile generator (src/nft/profile_gen.c): every one of the 108 header
 * combinations round-trips through the header parser, each behaviour brings its building
 * block into the ruleset, refusals name their reason, and a cell's udp-timeout parameter can
 * rewrite every UDP lifetime of a generated profile. That the rulesets load and behave as
 * declared is tests/lab/profile-gen.sh's business (it needs root). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nft/profile.h"
#include "nft/profile_gen.h"
#include "nft/profile_params.h"

static const enum profile_dependency deps[] = { PROFILE_ENDPOINT_INDEPENDENT,
	PROFILE_ADDRESS_DEPENDENT, PROFILE_ADDRESS_AND_PORT_DEPENDENT };
static const enum profile_ports ports[] = { PROFILE_PORTS_PRESERVE, PROFILE_PORTS_SEQUENTIAL,
	PROFILE_PORTS_RANDOM };

/* The generated profile of *h, malloc'd (caller frees); NULL when refused. */
static char *generate(const struct profile_header *h, char *why, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	assert_non_null(f);
	r = profile_generate(h, f, why, len);
	fclose(f);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Every combination: generated, and its header parses back to the behaviour asked for, with
 * rfc3489 and predictable derived. 108 different names. */
static void test_all_combinations_round_trip(void **state)
{
	static char names[108][PROFILE_NAME_MAX + 1];
	int n = 0;

	(void)state;
	for (int m = 0; m < 3; m++)
		for (int f = 0; f < 3; f++)
			for (int p = 0; p < 3; p++)
				for (int hp = 0; hp < 2; hp++)
					for (int u = 0; u < 2; u++) {
		struct profile_header h, back;
		struct diag_list dl = { .count = 0 };
		char why[256], *text;

		profile_gen_header(&h, deps[m], deps[f], ports[p], hp, u, 30);
		assert_int_equal(profile_gen_check(&h, why, sizeof(why)), 0);
		text = generate(&h, why, sizeof(why));
		assert_non_null(text);
		assert_int_equal(profile_header_parse_buffer(&back, h.name, text, strlen(text),
							     &dl), 0);
		assert_int_equal(dl.count, 0);
		assert_string_equal(back.name, h.name);
		assert_int_equal(back.mapping, deps[m]);
		assert_int_equal(back.filtering, deps[f]);
		assert_int_equal(back.ports, ports[p]);
		assert_int_equal(back.hairpin, hp);
		assert_int_equal(back.hairpin_filtering, hp ? PROFILE_ENDPOINT_INDEPENDENT :
				 PROFILE_DEPENDENCY_UNDECLARED);
		assert_int_equal(back.tcp_unsolicited, u);
		assert_int_equal(back.rfc3489, profile_rfc3489_of(deps[m], deps[f]));
		assert_int_equal(back.predictable, profile_predictable_of(deps[m], ports[p]));
		assert_int_equal(back.transports, PROFILE_UDP | PROFILE_TCP);
		assert_int_equal(back.udp_timeout, 30);
		assert_int_equal(profile_udp_unreplied(&back), 30);
		assert_string_equal(back.description, h.description);
		/* the ruleset follows the header: one table, its variables, balanced braces */
		assert_int_equal(count(text, "table ip punchlab_nat {"), 1);
		assert_int_equal(count(text, "{"), count(text, "}"));
		assert_non_null(strstr(text, "policy = { unreplied : 30, replied : 30 }"));
		for (int i = 0; i < n; i++)
			assert_string_not_equal(names[i], h.name);
		snprintf(names[n++], sizeof(names[0]), "%s", h.name);
		free(text);
	}
	assert_int_equal(n, 108);
}

/* Each behaviour brings its own building block, and only it. */
static void test_building_blocks(void **state)
{
	struct profile_header h;
	char why[256], *t;

	(void)state;
	/* the classic port-restricted cone: reuse by internal endpoint, the internal port while
	 * no mapping holds it (no port overloading), conntrack's filtering */
	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ADDRESS_AND_PORT_DEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 30);
	assert_string_equal(h.name, "gen-ei-apd-preserve");
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "snat ip to $WAN_ADDR : meta l4proto . ip saddr . th sport "
				  "map @mapping\n"));
	assert_non_null(strstr(t, "meta l4proto . th sport != @used masquerade\n"
				  "\t\toifname $WAN_IF masquerade random\n"));
	assert_null(strstr(t, "@eim"));
	assert_null(strstr(t, "@peers"));
	assert_null(strstr(t, "reject"));
	assert_null(strstr(t, "ct status dnat"));
	free(t);

	/* address-dependent mapping: reuse per remote address; preserve: @used; AD filtering */
	profile_gen_header(&h, PROFILE_ADDRESS_DEPENDENT, PROFILE_ADDRESS_DEPENDENT,
			   PROFILE_PORTS_PRESERVE, true, PROFILE_UNSOLICITED_RST, 30);
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "snat ip to $WAN_ADDR : meta l4proto . ip saddr . th sport . "
				  "ip daddr map @mapping"));
	assert_non_null(strstr(t, "meta l4proto . th sport != @used masquerade\n"));
	assert_non_null(strstr(t, "meta l4proto . th dport . ip saddr @peers dnat"));
	assert_non_null(strstr(t, "iifname $LAN_IF ip daddr $WAN_ADDR meta l4proto { tcp, udp } "
				  "dnat ip to meta l4proto . th dport map @eim"));
	assert_non_null(strstr(t, "ct status dnat snat ip to $WAN_ADDR"));
	assert_non_null(strstr(t, "reject with tcp reset"));
	assert_non_null(strstr(t, "reject with icmp type port-unreachable"));
	assert_non_null(strstr(t, "# hairpin-filtering: endpoint-independent\n"));
	free(t);

	/* endpoint-independent mapping with random ports: reuse by internal endpoint only */
	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_RANDOM, false, PROFILE_UNSOLICITED_DROP, 30);
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "snat ip to $WAN_ADDR : meta l4proto . ip saddr . th sport "
				  "map @mapping"));
	assert_non_null(strstr(t, "\t\toifname $WAN_IF masquerade random\n"));
	assert_null(strstr(t, "@used"));
	assert_null(strstr(t, "!= @used"));
	assert_null(strstr(t, "@peers"));
	assert_non_null(strstr(t, "iifname $WAN_IF ct state new ct status dnat accept"));
	free(t);

	/* address-and-port-dependent, sequential: the counter map and nothing reused */
	profile_gen_header(&h, PROFILE_ADDRESS_AND_PORT_DEPENDENT,
			   PROFILE_ADDRESS_AND_PORT_DEPENDENT, PROFILE_PORTS_SEQUENTIAL, false,
			   PROFILE_UNSOLICITED_DROP, 30);
	t = generate(&h, why, sizeof(why));
	assert_null(strstr(t, "@mapping"));
	assert_non_null(strstr(t, "numgen inc mod 1024 map @seq_ports"));
	assert_non_null(strstr(t, "0 : 20000, 1 : 20001,"));
	assert_non_null(strstr(t, "1023 : 21023\n"));
	free(t);
}

/* Sequential strides: the ports stay below 65536, the header says the stride. */
static void test_stride(void **state)
{
	struct profile_header h, back;
	struct diag_list dl = { .count = 0 };
	char why[256], *t;

	(void)state;
	profile_gen_header(&h, PROFILE_ADDRESS_AND_PORT_DEPENDENT,
			   PROFILE_ADDRESS_AND_PORT_DEPENDENT, PROFILE_PORTS_SEQUENTIAL, false,
			   PROFILE_UNSOLICITED_DROP, 30);
	h.stride = 3;
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "1 : 20003, 2 : 20006,"));
	assert_int_equal(profile_header_parse_buffer(&back, "x", t, strlen(t), &dl), 0);
	assert_int_equal(back.stride, 3);
	free(t);
	h.stride = 1024;
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "numgen inc mod 45 map"));
	assert_non_null(strstr(t, "44 : 65056\n"));
	free(t);
}

/* What the generator refuses, each with its reason. */
static void test_refusals(void **state)
{
	struct profile_header h;
	char why[256];

	(void)state;
	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_PRESERVE, true, PROFILE_UNSOLICITED_DROP, 30);
	h.hairpin_filtering = PROFILE_ADDRESS_DEPENDENT;
	assert_int_equal(profile_generate(&h, stdout, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "hairpin-filtering: "));
	assert_non_null(strstr(why, "expected endpoint-independent"));

	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 30);
	h.transports = PROFILE_UDP;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "transports: "));

	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 7440);
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "udp-timeout: 7440 is the TCP lifetime"));

	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 30);
	h.stride = 2;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "stride: only with sequential ports"));

	profile_gen_header(&h, PROFILE_DEPENDENCY_NONE, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 30);
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "mapping: expected"));

	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ENDPOINT_INDEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 0);
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "udp-timeout: expected whole seconds"));
}

/* A cell's udp-timeout parameter rewrites every UDP lifetime of a generated profile (the
 * policy, the dynamic maps and sets, their updates) and leaves TCP's; split lifetimes too. */
static void test_params_apply(void **state)
{
	struct profile_header h;
	struct profile_params p = { 5, 5 };
	struct diag_list dl = { .count = 0 };
	char tmpl[] = "/tmp/punchlab-gen-XXXXXX.nft", copy[4096], why[256], *t, *b;
	FILE *f;
	long size;
	int fd;

	(void)state;
	profile_gen_header(&h, PROFILE_ADDRESS_DEPENDENT, PROFILE_ADDRESS_DEPENDENT,
			   PROFILE_PORTS_PRESERVE, true, PROFILE_UNSOLICITED_DROP, 40);
	h.udp_timeout = 90; /* unreplied 40, replied 90 */
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "# udp-timeout: unreplied 40, replied 90\n"));
	assert_non_null(strstr(t, "--udp-timeout 'unreplied 40, replied 90'"));
	fd = mkstemps(tmpl, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	close(fd);
	assert_int_equal(profile_params_instance(tmpl, &p, copy, sizeof(copy), &dl), 0);
	f = fopen(copy, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	b = calloc(1, size + 1);
	assert_int_equal(fread(b, 1, size, f), (size_t)size);
	fclose(f);
	assert_non_null(strstr(b, "unreplied : 5, replied : 5"));
	assert_int_equal(count(b, "timeout 90s"), 0);
	assert_int_equal(count(b, "timeout 5s"), count(t, "timeout 90s"));
	assert_int_equal(count(b, "timeout 7440s"), count(t, "timeout 7440s"));
	assert_true(count(t, "timeout 7440s") >= 4);
	free(b);
	free(t);
	profile_params_instance_remove(copy);
	unlink(tmpl);
}

/* The command line printed in the file (and by punch probe / profile import) rebuilds it. */
static void test_command(void **state)
{
	struct profile_header h;
	char cmd[512];

	(void)state;
	profile_gen_header(&h, PROFILE_ADDRESS_AND_PORT_DEPENDENT, PROFILE_ADDRESS_DEPENDENT,
			   PROFILE_PORTS_SEQUENTIAL, true, PROFILE_UNSOLICITED_RST, 120);
	h.stride = 2;
	assert_string_equal(profile_gen_command(&h, cmd, sizeof(cmd)),
			    "punchlab profile new --mapping address-and-port-dependent "
			    "--filtering address-dependent --ports sequential --stride 2 "
			    "--hairpin yes --tcp-unsolicited rst --udp-timeout 120 "
			    "--name gen-apd-ad-sequential-hairpin-rst");
}

/* port-block and port-parity: in the header (parsed back), in the ruleset, in the name and
 * the command line; the combinations the generator refuses. */
static void test_extras(void **state)
{
	struct profile_header h, back;
	struct diag_list dl = { .count = 0 };
	char why[256], cmd[512], *t;

	(void)state;
	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ADDRESS_AND_PORT_DEPENDENT,
			   PROFILE_PORTS_RANDOM, true, PROFILE_UNSOLICITED_DROP, 120);
	h.port_block = 8;
	profile_gen_name(&h);
	assert_string_equal(h.name, "gen-ei-apd-random-hairpin-block8");
	t = generate(&h, why, sizeof(why));
	assert_non_null(t);
	assert_int_equal(profile_header_parse_buffer(&back, "x", t, strlen(t), &dl), 0);
	assert_int_equal(back.port_block, 8);
	assert_false(back.port_parity);
	assert_non_null(strstr(t, "snat ip to @nh,120,8 map {"));
	assert_non_null(strstr(t, "1 : $WAN_ADDR . 1024-1031,"));
	assert_non_null(strstr(t, "2 : $WAN_ADDR . 1032-1039,"));
	assert_non_null(strstr(t, "254 : $WAN_ADDR . 3048-3055\n"));
	assert_non_null(strstr(profile_gen_command(&h, cmd, sizeof(cmd)), " --port-block 8 "));
	free(t);

	/* the largest block still fits 254 subscribers below 65536 */
	h.port_block = 254;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "port-block: expected 0 (no blocks) to 253"));
	h.port_block = 253;
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "254 : $WAN_ADDR . 65033-65285\n"));
	free(t);
	h.ports = PROFILE_PORTS_PRESERVE;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ports can only be random (ports is preserve)"));

	profile_gen_header(&h, PROFILE_ADDRESS_DEPENDENT, PROFILE_ADDRESS_DEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 30);
	h.port_parity = true;
	profile_gen_name(&h);
	assert_string_equal(h.name, "gen-ad-ad-preserve-parity");
	t = generate(&h, why, sizeof(why));
	assert_int_equal(profile_header_parse_buffer(&back, "x", t, strlen(t), &dl), 0);
	assert_true(back.port_parity);
	assert_int_equal(back.port_block, 0);
	assert_non_null(strstr(t, "th sport & 0x1 == 0x0 snat ip to $WAN_ADDR : numgen random "
				  "mod 1024 map @parity_even"));
	assert_non_null(strstr(t, "0 : 50001, 1 : 50003,"));
	assert_non_null(strstr(t, "1023 : 52046\n"));
	assert_non_null(strstr(profile_gen_command(&h, cmd, sizeof(cmd)), " --port-parity yes "));
	free(t);
	h.ports = PROFILE_PORTS_RANDOM;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "port-parity: only with ports preserve"));
	assert_int_equal(dl.count, 0);

	/* the header parser takes both keys, and refuses bad values with what is expected */
	{
		static const char bad[] =
			"# name: x\n# rfc3489: full-cone\n# mapping: endpoint-independent\n"
			"# filtering: endpoint-independent\n# ports: random\n# hairpin: no\n"
			"# tcp-unsolicited: drop\n# predictable: yes\n# transports: udp, tcp\n"
			"# udp-timeout: 30\n# description: d\n# port-parity: maybe\n"
			"# port-block: 999\n";

		assert_int_equal(profile_header_parse_buffer(&back, "bad.nft", bad, strlen(bad),
							     &dl), -EINVAL);
		assert_int_equal(dl.count, 2);
		assert_int_equal(dl.items[0].line, 12);
		assert_non_null(strstr(dl.items[0].msg, "port-parity: unknown value \"maybe\": "
							"expected yes or no"));
		assert_int_equal(dl.items[1].line, 13);
		assert_non_null(strstr(dl.items[1].msg, "port-block: unknown value \"999\""));
	}
}

/* Address pooling: the header line round-trips, the ruleset draws addresses from the pool
 * (paired: a hash of the internal address; arbitrary: at random), the reuse map keeps the
 * address; what it is refused with. */
static void test_pooling(void **state)
{
	struct profile_header h, back;
	struct diag_list dl = { .count = 0 };
	char why[512], cmd[1024], *t;

	(void)state;
	profile_gen_header(&h, PROFILE_ENDPOINT_INDEPENDENT, PROFILE_ADDRESS_AND_PORT_DEPENDENT,
			   PROFILE_PORTS_PRESERVE, false, PROFILE_UNSOLICITED_DROP, 30);
	assert_int_equal(profile_pooling_parse("paired 203.0.113.2,203.0.113.3", &h), 0);
	profile_gen_name(&h);
	assert_string_equal(h.name, "gen-ei-apd-preserve-paired");
	t = generate(&h, why, sizeof(why));
	assert_non_null(t);
	assert_non_null(strstr(t, "# pooling: paired 203.0.113.2, 203.0.113.3\n"));
	assert_int_equal(profile_header_parse_buffer(&back, "x", t, strlen(t), &dl), 0);
	assert_int_equal(back.pooling, PROFILE_POOLING_PAIRED);
	assert_int_equal(back.npool, 2);
	assert_string_equal(back.pool[1], "203.0.113.3");
	assert_non_null(strstr(t, "!= @used snat ip to jhash ip saddr mod 2 map { 0 : 203.0.113.2, "
				  "1 : 203.0.113.3 }\n"));
	assert_non_null(strstr(t, "typeof meta l4proto . ip saddr . th sport : ip saddr . th sport"));
	assert_non_null(strstr(t, "snat ip to meta l4proto . ip saddr . th sport map @mapping\n"));
	assert_null(strstr(t, "masquerade"));
	assert_non_null(strstr(profile_gen_command(&h, cmd, sizeof(cmd)),
			       " --pooling paired --pool 203.0.113.2,203.0.113.3 "));
	free(t);

	h.pooling = PROFILE_POOLING_ARBITRARY;
	h.ports = PROFILE_PORTS_RANDOM;
	t = generate(&h, why, sizeof(why));
	assert_non_null(strstr(t, "snat ip to numgen random mod 2 map { 0 : 203.0.113.2, "
				  "1 : 203.0.113.3 } random\n"));
	free(t);
	h.filtering = PROFILE_ENDPOINT_INDEPENDENT;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "pooling: only with address-and-port-dependent filtering"));
	h.filtering = PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	h.ports = PROFILE_PORTS_SEQUENTIAL;
	assert_int_equal(profile_gen_check(&h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "pooling: only with ports preserve or random"));

	/* malformed pools */
	assert_int_equal(profile_pooling_parse("paired 203.0.113.2", &h), -1);
	assert_int_equal(profile_pooling_parse("paired 203.0.113.2, 203.0.113.2", &h), -1);
	assert_int_equal(profile_pooling_parse("sticky 203.0.113.2, 203.0.113.3", &h), -1);
	assert_int_equal(profile_pooling_parse("arbitrary 203.0.113.2, example", &h), -1);
	assert_int_equal(dl.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_combinations_round_trip),
		cmocka_unit_test(test_building_blocks),
		cmocka_unit_test(test_stride),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_params_apply),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_extras),
		cmocka_unit_test(test_pooling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
