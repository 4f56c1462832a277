/* Message authentication of the punch wire format (docs/punch.md, "Threat model").
 *
 * The two peers and the rendezvous share a secret, given out of band (--secret-file FILE, or
 * the environment: PUNCH_SECRET_FILE, PUNCH_SECRET). From it each derives, per session, a key
 * K_s = BLAKE2b-256(key = BLAKE2b-256(secret), "punch session key v2" || session id): a MAC
 * of one session is worthless in another. Every message carries a counter attribute (WA_CTR)
 * and ends with a MAC attribute (WA_MAC: a keyed BLAKE2b-128 of every byte before it, the
 * header's final length included), computed by libsodium's crypto_generichash, never by hand.
 *
 * Counters start at the sender's wall clock in microseconds and grow by one per message, so a
 * receiver with no state about a sender can still refuse a stale message (auth_fresh) and one
 * with state refuses repeats and old ones with a sliding window (struct auth_window).
 */
#ifndef PUNCH_AUTH_H
#define PUNCH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_LEN 32
#define AUTH_MAC_LEN 16
/* WA_MAC on the wire: type, length, tag */
#define AUTH_MAC_ATTR_LEN (2 + AUTH_MAC_LEN)
#define AUTH_SECRET_MIN 16      /* bytes of secret at least (keygen writes 32 random ones) */
#define AUTH_SECRET_MAX 4096
/* A message from a sender we hold no state about is fresh when its counter (microseconds of
 * the sender's wall clock) is within this much of ours. */
#define AUTH_FRESH_US (120ULL * 1000000ULL)
#define AUTH_WINDOW_BITS 256

struct wire_msg;

struct auth_key {
	uint8_t k[AUTH_KEY_LEN];
};

/* Load the secret: @path (a file) when non-NULL, else $PUNCH_SECRET_FILE, else $PUNCH_SECRET.
 * The file's bytes are the secret (one trailing newline ignored); it may not be readable by
 * others. Fills @master with BLAKE2b-256 of the secret. Returns 0, or -errno with @why (@len
 * bytes) saying what is wrong, naming the file: -ENOENT when no secret was given at all. */
int auth_secret_load(const char *path, struct auth_key *master, char *why, size_t len);

/* Write a new secret to @path: 32 random bytes (libsodium's randombytes) as 64 hex digits and a
 * newline, in a file created with mode 600 that must not exist yet. Returns 0 or -errno with
 * @why set. */
int auth_keygen(const char *path, char *why, size_t len);

/* Derive the session key of @session (NUL-terminated) from @master. */
void auth_session_key(const struct auth_key *master, const char *session, struct auth_key *out);

/* Append the MAC attribute to the encoded message @buf of @len bytes (@cap bytes of room):
 * sets the header's length to the final size first, then computes the tag over it all.
 * Returns the new length, or -EMSGSIZE. */
int auth_seal(const struct auth_key *k, uint8_t *buf, size_t len, size_t cap);

/* Check the MAC of a decoded message: @mac_off is where its MAC attribute starts (wire_msg's
 * mac_off, 0 when it has none). True only for a message that ends with a tag that matches. */
bool auth_check(const struct auth_key *k, const uint8_t *buf, size_t len, size_t mac_off);

/* Encode @m as every sender of wire v2 does (peers, punch probe): a fresh counter (WA_CTR), a
 * BIND / REGISTER padded (WA_PAD) to the least size the rendezvous answers (WIRE_MIN_BIND,
 * WIRE_MIN_REGISTER: its answer is never larger), sealed with @k. Sets m->ctr, m->pad and
 * their bits in m->present. Returns the length, or -EMSGSIZE / -EINVAL as wire_encode. */
int auth_encode(const struct auth_key *k, struct wire_msg *m, uint8_t *buf, size_t cap);

/* Decode and verify: wire_decode, then a counter and a MAC by @k that matches. Returns 0,
 * -WIRE_E* of wire_decode, or -EBADMSG for a message that does not verify. */
int auth_decode(const struct auth_key *k, const uint8_t *buf, size_t len, struct wire_msg *m);

/* A sender's next counter: the wall clock in microseconds at the first call, then one more per
 * call (never going back when the clock does). */
uint64_t auth_ctr_next(void);

/* Is counter @ctr within AUTH_FRESH_US of @now_us (both wall-clock microseconds)? */
bool auth_fresh(uint64_t ctr, uint64_t now_us);
/* The wall clock in microseconds. */
uint64_t auth_now_us(void);

/* Anti-replay window over one sender's counters (as IPsec's and WireGuard's): the highest seen
 * and a bitmap of the AUTH_WINDOW_BITS below it. */
struct auth_window {
	uint64_t top;
	uint64_t bits[AUTH_WINDOW_BITS / 64];
	bool init;
};

/* Start the window at counter @ctr (already accepted). */
void auth_window_reset(struct auth_window *w, uint64_t ctr);
/* Accept @ctr once: true and recorded when it is new and not older than the window; false
 * for a repeat or a counter that fell out of the window. An empty window accepts anything. */
bool auth_window_accept(struct auth_window *w, uint64_t ctr);

#endif
