/* Keys, MACs, freshness and the anti-replay window of punch messages (see auth.h). The MAC is
 * libsodium's keyed BLAKE2b (crypto_generichash), compared in constant time (crypto_verify_16):
 * nothing cryptographic is written here. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

static const char session_label[] = "punch session key v2";

static int secret_hash(const uint8_t *s, size_t n, struct auth_key *master, const char *from,
		       char *why, size_t len)
{
	if (n && s[n - 1] == '\n')
		n--;
	if (n < AUTH_SECRET_MIN || n > AUTH_SECRET_MAX) {
		snprintf(why, len, "%s: the secret is %zu bytes, expected %d to %d (punch keygen "
			 "FILE writes one)", from, n, AUTH_SECRET_MIN, AUTH_SECRET_MAX);
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		snprintf(why, len, "libsodium failed to initialise");
		return -EIO;
	}
	crypto_generichash(master->k, AUTH_KEY_LEN, s, n, NULL, 0);
	return 0;
}

int auth_secret_load(const char *path, struct auth_key *master, char *why, size_t len)
{
	uint8_t buf[AUTH_SECRET_MAX + 2];
	const char *env;
	struct stat st;
	ssize_t n;
	int fd, err;

	if (!path) {
		path = getenv("PUNCH_SECRET_FILE");
		if (path && !*path)
			path = NULL;
	}
	if (!path) {
		env = getenv("PUNCH_SECRET");
		if (!env || !*env) {
			snprintf(why, len, "no secret: give --secret-file FILE (or PUNCH_SECRET_FILE, "
				 "PUNCH_SECRET in the environment); punch keygen FILE writes one");
			return -ENOENT;
		}
		return secret_hash((const uint8_t *)env, strlen(env), master, "PUNCH_SECRET", why,
				   len);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return err;
	}
	/* A secret others can read is no secret: refuse it, as ssh does a private key. */
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		close(fd);
		snprintf(why, len, "%s: readable by others (mode %03o), expected 600 or 400", path,
			 (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err) {
		snprintf(why, len, "%s: %s", path, strerror(-err));
		return err;
	}
	err = secret_hash(buf, (size_t)n, master, path, why, len);
	sodium_memzero(buf, sizeof(buf));
	return err;
}

int auth_keygen(const char *path, char *why, size_t len)
{
	uint8_t raw[32];
	char hex[2 * sizeof(raw) + 2];
	size_t n;
	int fd, err = 0;

	if (sodium_init() < 0) {
		snprintf(why, len, "libsodium failed to initialise");
		return -EIO;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex) - 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	n = strlen(hex);
	hex[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return err;
	}
	if (write(fd, hex, n) != (ssize_t)n)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	sodium_memzero(hex, sizeof(hex));
	if (err) {
		snprintf(why, len, "%s: %s", path, strerror(-err));
		unlink(path);
	}
	return err;
}

void auth_session_key(const struct auth_key *master, const char *session, struct auth_key *out)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, master->k, AUTH_KEY_LEN, AUTH_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)session_label, sizeof(session_label));
	crypto_generichash_update(&st, (const uint8_t *)session, strlen(session));
	crypto_generichash_final(&st, out->k, AUTH_KEY_LEN);
}

int auth_seal(const struct auth_key *k, uint8_t *buf, size_t len, size_t cap)
{
	size_t total = len + AUTH_MAC_ATTR_LEN;

	if (len < WIRE_HDR_LEN || total > cap || total > WIRE_MAX_LEN)
		return -EMSGSIZE;
	buf[6] = (uint8_t)(total >> 8);
	buf[7] = (uint8_t)total;
	buf[len] = WA_MAC;
	buf[len + 1] = AUTH_MAC_LEN;
	crypto_generichash(buf + len + 2, AUTH_MAC_LEN, buf, len, k->k, AUTH_KEY_LEN);
	return (int)total;
}

bool auth_check(const struct auth_key *k, const uint8_t *buf, size_t len, size_t mac_off)
{
	uint8_t tag[AUTH_MAC_LEN];

	if (mac_off < WIRE_HDR_LEN || mac_off + AUTH_MAC_ATTR_LEN != len)
		return false;
	crypto_generichash(tag, AUTH_MAC_LEN, buf, mac_off, k->k, AUTH_KEY_LEN);
	return crypto_verify_16(tag, buf + mac_off + 2) == 0;
}

int auth_encode(const struct auth_key *k, struct wire_msg *m, uint8_t *buf, size_t cap)
{
	size_t min = m->type == WIRE_BIND ? WIRE_MIN_BIND : m->type == WIRE_REGISTER ?
		     WIRE_MIN_REGISTER : 0;
	int n;

	m->ctr = auth_ctr_next();
	m->present |= WA_BIT(WA_CTR);
	m->present &= ~WA_BIT(WA_PAD);
	n = wire_encode(m, buf, cap);
	if (n >= 0 && (size_t)n + AUTH_MAC_ATTR_LEN < min) {
		/* the server answers nothing larger than the request (anti-amplification) */
		m->pad = (uint16_t)(min - (size_t)n - AUTH_MAC_ATTR_LEN);
		m->present |= WA_BIT(WA_PAD);
		n = wire_encode(m, buf, cap);
	}
	if (n < 0)
		return n;
	return auth_seal(k, buf, (size_t)n, cap);
}

int auth_decode(const struct auth_key *k, const uint8_t *buf, size_t len, struct wire_msg *m)
{
	int err = wire_decode(buf, len, m);

	if (err)
		return err;
	if (!(m->present & WA_BIT(WA_CTR)) || !auth_check(k, buf, len, m->mac_off))
		return -EBADMSG;
	return 0;
}

uint64_t auth_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t auth_ctr_next(void)
{
	static uint64_t ctr;
	uint64_t now = auth_now_us();

	/* Follow the clock while it is ahead (a restarted sender starts above what it sent
	 * before), count on when it is not. */
	ctr = now > ctr ? now : ctr + 1;
	return ctr;
}

bool auth_fresh(uint64_t ctr, uint64_t now_us)
{
	return ctr > now_us ? ctr - now_us <= AUTH_FRESH_US : now_us - ctr <= AUTH_FRESH_US;
}

void auth_window_reset(struct auth_window *w, uint64_t ctr)
{
	memset(w, 0, sizeof(*w));
	w->top = ctr;
	w->bits[0] = 1;
	w->init = true;
}

bool auth_window_accept(struct auth_window *w, uint64_t ctr)
{
	uint64_t d;
	size_t i;

	if (!w->init) {
		auth_window_reset(w, ctr);
		return true;
	}
	if (ctr > w->top) {
		d = ctr - w->top;
		/* shift the bitmap left by d: bit i stands for counter top - i */
		if (d >= AUTH_WINDOW_BITS) {
			memset(w->bits, 0, sizeof(w->bits));
		} else {
			size_t words = (size_t)(d / 64), sh = (size_t)(d % 64);

			for (i = AUTH_WINDOW_BITS / 64; i-- > 0;) {
				uint64_t v = i >= words ? w->bits[i - words] << sh : 0;

				if (sh && i > words)
					v |= w->bits[i - words - 1] >> (64 - sh);
				w->bits[i] = v;
			}
		}
		w->top = ctr;
		w->bits[0] |= 1;
		return true;
	}
	d = w->top - ctr;
	if (d >= AUTH_WINDOW_BITS)
		return false;
	if (w->bits[d / 64] & (1ULL << (d % 64)))
		return false;
	w->bits[d / 64] |= 1ULL << (d % 64);
	return true;
}
