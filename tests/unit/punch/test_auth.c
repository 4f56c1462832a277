/* Authentication and abuse resistance of punch, pure (no sockets): the MAC over a sealed
 * message (every byte counts, keys differ per session), the anti-replay window, freshness,
 * the secret file's checks, the rate limiter's buckets under colliding sources, padding that
 * keeps every answer of the rendezvous smaller than its request, and rounds past 65535. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "endpoint.h"
#include "ratelimit.h"
#include "wire.h"

static const struct auth_key master = { { 1, 2, 3, 4, 5, 6, 7, 8 } };

/* A sealed REGISTER of session @sess; its length. */
static int sealed_register(const char *sess, uint8_t *buf, size_t cap, uint64_t ctr)
{
	struct auth_key k;
	struct wire_msg m;
	int n;

	wire_msg_init(&m, WIRE_REGISTER);
	m.nonce = 99;
	m.role = WIRE_ROLE_A;
	strcpy(m.session, sess);
	m.round = 1;
	m.proto = 17;
	m.ctr = ctr;
	m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_ROUND) | WA_BIT(WA_PROTO) | WA_BIT(WA_CTR);
	n = wire_encode(&m, buf, cap);
	assert_true(n > 0);
	auth_session_key(&master, sess, &k);
	return auth_seal(&k, buf, (size_t)n, cap);
}

static void test_mac_roundtrip_and_tamper(void **state)
{
	uint8_t buf[WIRE_MAX_LEN], copy[WIRE_MAX_LEN];
	struct auth_key k, other;
	struct wire_msg m;
	int n = sealed_register("alice-bob", buf, sizeof(buf), 12345), i;

	(void)state;
	auth_session_key(&master, "alice-bob", &k);
	auth_session_key(&master, "alice-bob2", &other);
	assert_int_equal(wire_decode(buf, (size_t)n, &m), 0);
	assert_true(m.mac_off > WIRE_HDR_LEN);
	assert_int_equal(m.ctr, 12345);
	assert_true(auth_check(&k, buf, (size_t)n, m.mac_off));
	/* the key of another session (same secret) does not verify it */
	assert_false(auth_check(&other, buf, (size_t)n, m.mac_off));
	/* every single bit matters, the header's included */
	for (i = 0; i < n * 8; i++) {
		memcpy(copy, buf, (size_t)n);
		copy[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (wire_decode(copy, (size_t)n, &m) == 0)
			assert_false(auth_check(&k, copy, (size_t)n, m.mac_off));
	}
	/* no MAC at all */
	assert_false(auth_check(&k, buf, (size_t)n, 0));
}

static void test_seal_too_big(void **state)
{
	uint8_t buf[WIRE_HDR_LEN + 10];
	struct auth_key k = { { 0 } };

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(auth_seal(&k, buf, WIRE_HDR_LEN, sizeof(buf)), -EMSGSIZE);
}

static void test_window(void **state)
{
	struct auth_window w = { 0 };

	(void)state;
	assert_true(auth_window_accept(&w, 1000));       /* empty: anything */
	assert_false(auth_window_accept(&w, 1000));      /* the same again: a replay */
	assert_true(auth_window_accept(&w, 1002));
	assert_true(auth_window_accept(&w, 1001));       /* reordered within the window */
	assert_false(auth_window_accept(&w, 1001));
	assert_false(auth_window_accept(&w, 1002));
	assert_true(auth_window_accept(&w, 1000 + 200)); /* a gap (messages to others) */
	assert_false(auth_window_accept(&w, 1002));      /* still remembered */
	assert_true(auth_window_accept(&w, 1003));       /* never seen, inside the window */
	assert_true(auth_window_accept(&w, 1000 + 200 + AUTH_WINDOW_BITS + 5));
	assert_false(auth_window_accept(&w, 1004));      /* fell out of the window */
	assert_false(auth_window_accept(&w, 1000 + 200));
	/* shifts by whole words and by bits across words keep what they should */
	auth_window_reset(&w, 5000);
	assert_true(auth_window_accept(&w, 5000 + 64));
	assert_true(auth_window_accept(&w, 5000 + 64 + 70));
	assert_false(auth_window_accept(&w, 5000));
	assert_false(auth_window_accept(&w, 5000 + 64));
	assert_true(auth_window_accept(&w, 5000 + 1));
}

static void test_fresh_and_counter(void **state)
{
	uint64_t now = 1800000000ULL * 1000000ULL, a, b;

	(void)state;
	assert_true(auth_fresh(now, now));
	assert_true(auth_fresh(now - AUTH_FRESH_US, now));
	assert_false(auth_fresh(now - AUTH_FRESH_US - 1, now));
	assert_false(auth_fresh(now + AUTH_FRESH_US + 1, now));
	assert_false(auth_fresh(0, now));
	a = auth_ctr_next();
	b = auth_ctr_next();
	assert_true(b > a);
	assert_true(auth_fresh(a, auth_now_us()));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_secret_load(void **state)
{
	char dir[] = "/tmp/punch-auth-XXXXXX", path[64], why[256];
	struct auth_key a, b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	unsetenv("PUNCH_SECRET_FILE");
	unsetenv("PUNCH_SECRET");
	/* nothing given: one sentence saying how to give it */
	assert_int_equal(auth_secret_load(NULL, &a, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "--secret-file"));
	/* keygen writes one (600, not twice), the loader takes it */
	assert_int_equal(auth_keygen(path, why, sizeof(why)), 0);
	assert_int_equal(auth_keygen(path, why, sizeof(why)), -EEXIST);
	assert_int_equal(auth_secret_load(path, &a, why, sizeof(why)), 0);
	/* the same secret in the environment gives the same key; a trailing newline is ignored */
	write_file(path, "0123456789abcdef0123\n", 0600);
	assert_int_equal(auth_secret_load(path, &a, why, sizeof(why)), 0);
	setenv("PUNCH_SECRET", "0123456789abcdef0123", 1);
	assert_int_equal(auth_secret_load(NULL, &b, why, sizeof(why)), 0);
	assert_memory_equal(a.k, b.k, AUTH_KEY_LEN);
	unsetenv("PUNCH_SECRET");
	setenv("PUNCH_SECRET_FILE", path, 1);
	assert_int_equal(auth_secret_load(NULL, &b, why, sizeof(why)), 0);
	assert_memory_equal(a.k, b.k, AUTH_KEY_LEN);
	unsetenv("PUNCH_SECRET_FILE");
	/* readable by others: refused, naming the file */
	write_file(path, "0123456789abcdef0123\n", 0644);
	assert_int_equal(auth_secret_load(path, &a, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, path));
	/* too short */
	write_file(path, "short\n", 0600);
	assert_int_equal(auth_secret_load(path, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "expected 16"));
	unlink(path);
	assert_int_equal(auth_secret_load(path, &a, why, sizeof(why)), -ENOENT);
	rmdir(dir);
}

/* Two sources whose hashes meet in one slot share its bucket: the second never gets a fresh
 * burst (the old limiter reset the bucket for it, so two spoofed sources taking turns were
 * never limited). */
static void test_limiter_collision(void **state)
{
	struct rl l;
	uint64_t now = 1000000, h1 = 0x1234, h2 = 0x1234 + (1u << 4);
	int i, passed = 0;

	(void)state;
	assert_int_equal(rl_init(&l, 4, 10, 20), 0);     /* 16 slots, 10/s, burst 20 */
	for (i = 0; i < 20; i++)
		assert_true(rl_allow(&l, h1, now));
	assert_false(rl_allow(&l, h1, now));
	assert_false(rl_allow(&l, h2, now));             /* same slot: no fresh bucket */
	/* taking turns gets nothing more either */
	for (i = 0; i < 100; i++)
		passed += rl_allow(&l, i % 2 ? h1 : h2, now);
	assert_int_equal(passed, 0);
	/* refill: 10 per second */
	assert_true(rl_allow(&l, h2, now + 100000));
	assert_false(rl_allow(&l, h1, now + 100000));
	/* a clock that steps back neither refills nor resets */
	assert_false(rl_allow(&l, h1, now - 500000));
	rl_fini(&l);
}

/* Many sources (10k hashes over 16 slots): what passes in one instant is bounded by the slots'
 * bursts, however many sources there are. */
static void test_limiter_many_sources(void **state)
{
	struct rl l;
	uint64_t now = 5000000;
	int i, passed = 0;

	(void)state;
	assert_int_equal(rl_init(&l, 4, 10, 20), 0);
	for (i = 0; i < 10000; i++)
		passed += rl_allow(&l, (uint64_t)i * 0x9e3779b97f4a7c15ULL, now);
	assert_int_equal(passed, 16 * 20);
	/* rate 0: no limit */
	rl_fini(&l);
	assert_int_equal(rl_init(&l, 4, 0, 0), 0);
	for (i = 0; i < 1000; i++)
		assert_true(rl_allow(&l, 7, now));
	rl_fini(&l);
}

/* The largest answers the rendezvous sends for one BIND / REGISTER (IPv6, four endpoints each,
 * a counter and a MAC) fit in the padded request: amplification <= 1 even for a replayed one. */
static void test_answers_fit_requests(void **state)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct wire_msg m;
	struct sockaddr_storage v6;
	int i, bind_reply, registered, peer;

	(void)state;
	assert_int_equal(ep_parse("[2001:db8::1]:65535", true, &v6), 0);
	wire_msg_init(&m, WIRE_BIND_REPLY);
	ep_to_wire(&v6, &m.observed);
	for (i = 0; i < WIRE_MAX_EPS; i++)
		ep_to_wire(&v6, &m.alt[i]);
	m.n_alt = WIRE_MAX_EPS;
	m.present = WA_BIT(WA_OBSERVED) | WA_BIT(WA_ALT) | WA_BIT(WA_CTR);
	bind_reply = wire_encode(&m, buf, sizeof(buf)) + AUTH_MAC_ATTR_LEN;
	m.type = WIRE_REGISTERED;
	m.present |= WA_BIT(WA_ROUND);
	registered = wire_encode(&m, buf, sizeof(buf)) + AUTH_MAC_ATTR_LEN;
	wire_msg_init(&m, WIRE_PEER);
	ep_to_wire(&v6, &m.observed);
	ep_to_wire(&v6, &m.peer_public);
	for (i = 0; i < WIRE_MAX_EPS; i++)
		ep_to_wire(&v6, &m.peer_priv[i]);
	m.n_peer_priv = WIRE_MAX_EPS;
	m.peer_role = WIRE_ROLE_B;
	m.present = WA_BIT(WA_ROUND) | WA_BIT(WA_OBSERVED) | WA_BIT(WA_PEER_PUBLIC) |
		    WA_BIT(WA_PEER_PRIVATE) | WA_BIT(WA_PEER_NAT) | WA_BIT(WA_PEER_NONCE) |
		    WA_BIT(WA_PEER_ROLE) | WA_BIT(WA_START) | WA_BIT(WA_CTR);
	peer = wire_encode(&m, buf, sizeof(buf)) + AUTH_MAC_ATTR_LEN;
	assert_true(bind_reply <= WIRE_MIN_BIND);
	assert_true(registered + peer <= WIRE_MIN_REGISTER);
	/* RFC 5780 (punch probe): a BIND with both CHANGE flags and a RESPONSE_PORT, sealed as
	 * every sender seals it (auth_encode), is padded to exactly WIRE_MIN_BIND; the answer a
	 * changed listener sends (the same BIND_REPLY, even were it to echo the flags and the
	 * RESPONSE_PORT) stays no larger. */
	{
		struct auth_key k;
		int req, rep;

		memset(&k, 7, sizeof(k));
		wire_msg_init(&m, WIRE_BIND);
		strcpy(m.session, "s");
		m.flags = WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT;
		m.response_port = 65535;
		m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_RESPONSE_PORT);
		req = auth_encode(&k, &m, buf, sizeof(buf));
		assert_int_equal(req, WIRE_MIN_BIND);
		assert_int_equal(auth_decode(&k, buf, (size_t)req, &m), 0);
		assert_int_equal(m.flags, WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT);
		assert_int_equal(m.response_port, 65535);
		wire_msg_init(&m, WIRE_BIND_REPLY);
		m.flags = WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT;
		m.response_port = 65535;
		ep_to_wire(&v6, &m.observed);
		for (i = 0; i < WIRE_MAX_EPS; i++)
			ep_to_wire(&v6, &m.alt[i]);
		m.n_alt = WIRE_MAX_EPS;
		m.present = WA_BIT(WA_OBSERVED) | WA_BIT(WA_ALT) | WA_BIT(WA_RESPONSE_PORT);
		rep = auth_encode(&k, &m, buf, sizeof(buf));
		assert_true(rep > bind_reply);
		assert_true(rep <= req);
	}
	/* padding reaches an exact size, in attributes the decoder skips */
	for (i = 2; i < 700; i += 37) {
		int base, n;

		wire_msg_init(&m, WIRE_BIND);
		strcpy(m.session, "s");
		m.present = WA_BIT(WA_SESSION);
		base = wire_encode(&m, buf, sizeof(buf));
		m.pad = (uint16_t)i;
		m.present |= WA_BIT(WA_PAD);
		n = wire_encode(&m, buf, sizeof(buf));
		assert_int_equal(n, base + i);
		assert_int_equal(wire_decode(buf, (size_t)n, &m), 0);
		assert_string_equal(m.session, "s");
	}
}

static void test_round_wrap(void **state)
{
	(void)state;
	assert_true(wire_round_cmp(0, 65535) > 0);       /* the round after 65535 */
	assert_true(wire_round_cmp(65535, 0) < 0);
	assert_true(wire_round_cmp(101, 100) > 0);
	assert_true(wire_round_cmp(100, 101) < 0);
	assert_int_equal(wire_round_cmp(7, 7), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_roundtrip_and_tamper),
		cmocka_unit_test(test_seal_too_big),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_fresh_and_counter),
		cmocka_unit_test(test_secret_load),
		cmocka_unit_test(test_limiter_collision),
		cmocka_unit_test(test_limiter_many_sources),
		cmocka_unit_test(test_answers_fit_requests),
		cmocka_unit_test(test_round_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
