/* auto's race rule (src/punch/race.h): which techniques may run together, which step the
 * first round runs for every pair of NAT reports, and that a round never runs two
 * techniques that disturb each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "peer.h"
#include "race.h"

static const enum technique all[] = { TECH_UDP, TECH_TCP, TECH_TCP_TTL, TECH_PREDICT,
				      TECH_BIRTHDAY, TECH_RELAY };
#define NALL (int)(sizeof(all) / sizeof(all[0]))

static const uint8_t kinds[] = { NAT_UNKNOWN, NAT_NONE, NAT_CONE, NAT_SEQUENTIAL, NAT_RANDOM };
#define NKINDS (int)(sizeof(kinds) / sizeof(kinds[0]))

static struct wire_natinfo nat(uint8_t kind)
{
	struct wire_natinfo n = { .kind = kind, .stride = kind == NAT_SEQUENTIAL ? 1 : 0,
				  .first_port = 20000, .last_port = 20001 };
	return n;
}

static void test_compatible_rule(void **state)
{
	const char *why = NULL;

	(void)state;
	/* the relay disturbs nothing: it speaks to the rendezvous over registration's mapping */
	for (int i = 0; i < NALL; i++) {
		assert_true(race_compatible(all[i], TECH_RELAY, NULL));
		assert_true(race_compatible(all[i], all[i], NULL));
	}
	/* birthday's sockets take a sequential NAT's next ports: never with predict */
	assert_false(race_compatible(TECH_PREDICT, TECH_BIRTHDAY, &why));
	assert_non_null(why);
	assert_non_null(strstr(why, "birthday"));
	why = NULL;
	assert_false(race_compatible(TECH_BIRTHDAY, TECH_PREDICT, &why));
	assert_non_null(why);
	/* tcp-ttl's hop probes are new flows too */
	assert_false(race_compatible(TECH_PREDICT, TECH_TCP_TTL, &why));
	assert_non_null(strstr(why, "hop probes"));
	/* punching from another socket, too */
	assert_false(race_compatible(TECH_UDP, TECH_PREDICT, NULL));
	assert_false(race_compatible(TECH_TCP, TECH_PREDICT, NULL));
	/* tcp and tcp-ttl open the same 4-tuple */
	assert_false(race_compatible(TECH_TCP, TECH_TCP_TTL, &why));
	assert_non_null(strstr(why, "4-tuple"));
	/* udp and birthday may */
	assert_true(race_compatible(TECH_UDP, TECH_BIRTHDAY, NULL));
	assert_true(race_compatible(TECH_BIRTHDAY, TECH_UDP, NULL));
	/* auto is no technique to race */
	assert_false(race_compatible(TECH_AUTO, TECH_UDP, NULL));
	/* symmetric */
	for (int i = 0; i < NALL; i++)
		for (int j = 0; j < NALL; j++)
			assert_int_equal(race_compatible(all[i], all[j], NULL),
					 race_compatible(all[j], all[i], NULL));
}

static void test_covers(void **state)
{
	(void)state;
	assert_true(race_covers(PROTO_UDP, TECH_PREDICT, TECH_UDP));
	assert_true(race_covers(PROTO_UDP, TECH_BIRTHDAY, TECH_UDP));
	assert_true(race_covers(PROTO_TCP, TECH_PREDICT, TECH_TCP));
	assert_false(race_covers(PROTO_TCP, TECH_PREDICT, TECH_UDP));
	assert_false(race_covers(PROTO_UDP, TECH_PREDICT, TECH_TCP));
	assert_false(race_covers(PROTO_UDP, TECH_PREDICT, TECH_BIRTHDAY));
	assert_false(race_covers(PROTO_TCP, TECH_TCP, TECH_TCP_TTL));
	assert_false(race_covers(PROTO_UDP, TECH_UDP, TECH_BIRTHDAY));
}

/* What one round of auto runs: its step, the techniques it covers, and the relay. */
static int round_members(int proto, enum technique lead, enum technique *out)
{
	int n = 0;

	for (int i = 0; i < NALL; i++)
		if (race_covers(proto, lead, all[i]))
			out[n++] = all[i];
	if (race_relay_alongside(lead, true))
		out[n++] = TECH_RELAY;
	return n;
}

static int step_of(int proto, enum technique t)
{
	int n;
	const struct auto_step *s = auto_steps(proto, &n);

	for (int i = 0; i < n; i++)
		if (s[i].tech == t)
			return i;
	fail_msg("technique %d not in the step table", t);
	return -1;
}

static void test_first_step(void **state)
{
	struct wire_natinfo cone = nat(NAT_CONE), seq = nat(NAT_SEQUENTIAL), rnd = nat(NAT_RANDOM);
	struct wire_natinfo none = nat(NAT_NONE), unk = nat(NAT_UNKNOWN);

	(void)state;
	/* a sequential NAT on either side: predict first, over both transports */
	assert_int_equal(race_first_step(PROTO_UDP, &seq, &cone), step_of(PROTO_UDP, TECH_PREDICT));
	assert_int_equal(race_first_step(PROTO_UDP, &cone, &seq), step_of(PROTO_UDP, TECH_PREDICT));
	assert_int_equal(race_first_step(PROTO_UDP, &seq, &rnd), step_of(PROTO_UDP, TECH_PREDICT));
	assert_int_equal(race_first_step(PROTO_TCP, &seq, &seq), step_of(PROTO_TCP, TECH_PREDICT));
	assert_int_equal(race_first_step(PROTO_TCP, &rnd, &seq), step_of(PROTO_TCP, TECH_PREDICT));
	/* random against a cone (or no NAT): birthday first over UDP; TCP has no birthday */
	assert_int_equal(race_first_step(PROTO_UDP, &rnd, &cone), step_of(PROTO_UDP, TECH_BIRTHDAY));
	assert_int_equal(race_first_step(PROTO_UDP, &none, &rnd), step_of(PROTO_UDP, TECH_BIRTHDAY));
	assert_int_equal(race_first_step(PROTO_TCP, &rnd, &cone), 0);
	/* otherwise the plain step: it is what connects cones, and the rest follow */
	assert_int_equal(race_first_step(PROTO_UDP, &cone, &cone), 0);
	assert_int_equal(race_first_step(PROTO_UDP, &rnd, &rnd), 0);
	assert_int_equal(race_first_step(PROTO_UDP, &unk, &cone), 0);
	assert_int_equal(race_first_step(PROTO_UDP, &unk, &rnd), 0);
	assert_int_equal(race_first_step(PROTO_TCP, &cone, &cone), 0);
}

/* For every pair of reports and both transports: both peers choose the same first step; every
 * step the table holds before it is one it covers or one that cannot apply to the pair; and
 * the round it runs holds no two techniques that disturb each other. */
static void test_first_round_is_safe(void **state)
{
	static const int protos[] = { PROTO_UDP, PROTO_TCP };

	(void)state;
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < NKINDS; i++)
			for (int j = 0; j < NKINDS; j++) {
				struct wire_natinfo a = nat(kinds[i]), b = nat(kinds[j]);
				int proto = protos[p], n, first = race_first_step(proto, &a, &b);
				const struct auto_step *s = auto_steps(proto, &n);
				enum technique m[TECH_MAX + 1];
				int nm;

				assert_int_equal(first, race_first_step(proto, &b, &a));
				assert_true(first >= 0 && first < n);
				assert_int_not_equal(s[first].tech, TECH_RELAY);
				for (int k = 0; k < first; k++)
					assert_true(race_covers(proto, s[first].tech, s[k].tech) ||
						    !auto_step_applies(s[k].tech, &a, &b, true) ||
						    /* aims at a registration port, which a
						     * sequential NAT filters */
						    (s[k].tech == TECH_TCP_TTL &&
						     (a.kind == NAT_SEQUENTIAL ||
						      b.kind == NAT_SEQUENTIAL)));
				nm = round_members(proto, s[first].tech, m);
				for (int x = 0; x < nm; x++)
					for (int y = 0; y < nm; y++)
						if (m[x] != m[y] && !race_covers(proto, s[first].tech, m[x]) &&
						    !race_covers(proto, s[first].tech, m[y]))
							fail_msg("round %d runs %d and %d", s[first].tech,
								 m[x], m[y]);
				/* every member is compatible with the lead, or rides on its socket */
				for (int x = 0; x < nm; x++)
					assert_true(race_compatible(s[first].tech, m[x], NULL) ||
						    race_covers(proto, s[first].tech, m[x]));
				/* a predict round never also holds birthday or tcp-ttl */
				if (s[first].tech == TECH_PREDICT)
					for (int x = 0; x < nm; x++)
						assert_true(m[x] != TECH_BIRTHDAY &&
							    m[x] != TECH_TCP_TTL);
			}
}

static void test_relay_alongside(void **state)
{
	(void)state;
	assert_true(race_relay_alongside(TECH_UDP, true));
	assert_true(race_relay_alongside(TECH_PREDICT, true));
	assert_true(race_relay_alongside(TECH_BIRTHDAY, true));
	assert_true(race_relay_alongside(TECH_TCP_TTL, true));
	assert_false(race_relay_alongside(TECH_UDP, false));   /* --no-relay server */
	assert_false(race_relay_alongside(TECH_RELAY, true));  /* the relay step verifies itself */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compatible_rule),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_first_step),
		cmocka_unit_test(test_first_round_is_safe),
		cmocka_unit_test(test_relay_alongside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
