/* The punch wire format: one message per UDP datagram, or per length-prefixed frame on TCP.
 *
 * Header (24 bytes, integers big-endian):
 *   0  magic    u16  0x5048 ("PH")
 *   2  version  u8   WIRE_VERSION
 *   3  type     u8   enum wire_type
 *   4  role     u8   enum wire_role of the sender (server messages: the role they concern)
 *   5  flags    u8   WIRE_F_*
 *   6  length   u16  whole message, header included; must equal the datagram / frame length
 *   8  token    u64  session token chosen by the rendezvous (0 before the peer knows it)
 *   16 nonce    u64  sender's instance nonce (a server echoes the peer's nonce)
 * then attributes: type u8, length u8, value (length bytes). Each attribute type has a fixed
 * size or a bounded variable size; a malformed attribute rejects the whole message. Unknown
 * attribute types are skipped (forward compatibility within one version).
 *
 * Version 2 authenticates: every message carries a counter (WA_CTR) and ends with a MAC
 * attribute (WA_MAC, auth.h); the decoder only finds where the MAC is, auth_check() judges it.
 */
#ifndef PUNCH_WIRE_H
#define PUNCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x5048
#define WIRE_VERSION 2
#define WIRE_HDR_LEN 24
/* Stays below the IPv6 minimum MTU (1280) minus headers, so no message is ever fragmented. */
#define WIRE_MAX_LEN 1200
#define WIRE_MAX_SESSION 64
#define WIRE_MAX_EPS 4
#define WIRE_MAX_PAYLOAD 1024
/* The least size of a BIND / REGISTER the rendezvous answers: larger than everything it sends
 * back for one (BIND_REPLY; REGISTERED plus PEER, IPv6 and four endpoints each), so that a
 * request replayed from a spoofed source can never be amplified (QUIC pads its Initial
 * packets for the same reason). */
#define WIRE_MIN_BIND 200
#define WIRE_MIN_REGISTER 400

enum wire_type {
	WIRE_BIND = 1,        /* peer -> server: "what is my public endpoint?" */
	WIRE_BIND_REPLY,      /* server -> peer: OBSERVED (+ ALT servers) */
	WIRE_REGISTER,        /* peer -> server: SESSION, ROUND, PROTO, PRIVATE*, NAT, RTT */
	WIRE_REGISTERED,      /* server -> peer: OBSERVED, role assigned (header), ROUND, ALT* */
	WIRE_PEER,            /* server -> peer: token (header), PEER_PUBLIC, PEER_PRIVATE*,
	                       * PEER_NAT, PEER_NONCE, PEER_ROLE, ROUND, OBSERVED, START */
	WIRE_PROBE,           /* peer -> peer: SEQ, TIME; also the TCP hello */
	WIRE_PROBE_ACK,       /* peer -> peer: SEQ, TIME (echoed), OBSERVED (where it came from) */
	WIRE_DATA,            /* peer -> peer: PAYLOAD (verification payload) */
	WIRE_DATA_ACK,        /* peer -> peer: PAYLOAD (echo of the DATA received) */
	WIRE_DONE,            /* peer -> peer: verified on my side */
	WIRE_KEEPALIVE,       /* peer -> peer */
	WIRE_RELAY,           /* peer -> server -> peer: SESSION, PAYLOAD = one whole inner message */
	WIRE_READY,           /* inner message of a RELAY: ROUND; tcp-ttl "my low-TTL SYN is out" */
	WIRE_ERROR,           /* server -> peer: ERROR */
	WIRE_BYE,             /* peer -> server: SESSION; the session may be freed */
	WIRE_TYPE_MAX
};

enum wire_role { WIRE_ROLE_ANY = 0, WIRE_ROLE_A = 1, WIRE_ROLE_B = 2, WIRE_ROLE_SERVER = 3 };

/* Header flags. */
#define WIRE_F_RELAY 0x01     /* REGISTERED/PEER: this server relays */
/* BIND (punch probe, RFC 5780's CHANGE-REQUEST): answer from the listen address of the other
 * IP address and/or the other port; a server without such a listener does not answer. */
#define WIRE_F_CHANGE_ADDR 0x02
#define WIRE_F_CHANGE_PORT 0x04

enum wire_attr {
	WA_SESSION = 1,       /* 1..64 bytes of [A-Za-z0-9._:@/+-] */
	WA_ROUND = 2,         /* u16 */
	WA_PROTO = 3,         /* u8: 17 udp, 6 tcp */
	WA_PRIVATE = 4,       /* endpoint, repeatable (WIRE_MAX_EPS) */
	WA_OBSERVED = 5,      /* endpoint */
	WA_ALT = 6,           /* endpoint, repeatable */
	WA_NAT = 7,           /* natinfo */
	WA_PEER_PUBLIC = 8,   /* endpoint */
	WA_PEER_PRIVATE = 9,  /* endpoint, repeatable */
	WA_PEER_NAT = 10,     /* natinfo */
	WA_PEER_NONCE = 11,   /* u64 */
	WA_PEER_ROLE = 12,    /* u8 */
	WA_SEQ = 13,          /* u32 */
	WA_TIME = 14,         /* u64, sender's monotonic clock in microseconds */
	WA_PAYLOAD = 15,      /* 1..WIRE_MAX_PAYLOAD bytes; the only attribute with a u16 length
	                       * (the attribute length byte is 0 and a u16 length follows) */
	WA_ERROR = 16,        /* u16 code + up to 64 bytes of text */
	WA_RTT = 17,          /* u32: the sender's measured round trip to the server, microseconds */
	WA_START = 18,        /* u32: PEER: the shared moment is this many microseconds after the
	                       * server sent the message (each peer subtracts half its RTT) */
	WA_CTR = 19,          /* u64: the sender's message counter (auth.h: replay protection) */
	WA_MAC = 20,          /* 16 bytes, the last attribute: keyed BLAKE2b of all before it */
	WA_PAD = 21,          /* zeros, ignored: BIND and REGISTER are padded to WIRE_MIN_BIND /
	                       * WIRE_MIN_REGISTER so that no answer is larger than its request */
	WA_RESPONSE_PORT = 24, /* u16: BIND: answer to this port of the sender's own address
	                       * (RFC 5780 RESPONSE-PORT; punch probe's mapping lifetime test) */
};

enum wire_error {
	WIRE_ERR_SESSION_FULL = 1,    /* two peers already registered */
	WIRE_ERR_ROLE_TAKEN = 2,
	WIRE_ERR_BUSY = 3,            /* server at its session limit */
	WIRE_ERR_NO_RELAY = 4,
	WIRE_ERR_NOT_PAIRED = 5,      /* relay before both peers registered */
	WIRE_ERR_RELAY_LIMIT = 6,
	WIRE_ERR_PROTO_MISMATCH = 7,  /* the two peers asked for different transports */
	WIRE_ERR_VERSION = 8,         /* unsupported version: the reply carries the server's own
	                               * version in its header and is never MACed (auth.h) */
};

/* An endpoint as carried on the wire: family 4 or 6. */
struct wire_ep {
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];     /* 4 bytes used for family 4 */
};

enum nat_kind {
	NAT_UNKNOWN = 0,      /* not measured (one rendezvous address only) */
	NAT_NONE = 1,         /* public endpoint equals the private one */
	NAT_CONE = 2,         /* endpoint-independent mapping: same public port to both servers */
	NAT_SEQUENTIAL = 3,   /* a new public port per destination, a small constant stride */
	NAT_RANDOM = 4,       /* a new public port per destination, no usable stride */
};

/* What a peer learned about its own NAT: kind, stride and the last two public ports seen
 * (first: to the rendezvous, last: to the second rendezvous address). */
struct wire_natinfo {
	uint8_t kind;
	int16_t stride;
	uint16_t first_port;
	uint16_t last_port;
};

/* Presence bits, one per attribute type. */
#define WA_BIT(a) (1u << (a))

struct wire_msg {
	uint8_t type;
	uint8_t role;
	uint8_t flags;
	uint64_t token;
	uint64_t nonce;
	uint32_t present;             /* WA_BIT() of each attribute seen */

	char session[WIRE_MAX_SESSION + 1];
	uint16_t round;
	uint8_t proto;
	struct wire_ep priv[WIRE_MAX_EPS];
	uint8_t n_priv;
	struct wire_ep observed;
	struct wire_ep alt[WIRE_MAX_EPS];
	uint8_t n_alt;
	struct wire_natinfo nat;
	struct wire_ep peer_public;
	struct wire_ep peer_priv[WIRE_MAX_EPS];
	uint8_t n_peer_priv;
	struct wire_natinfo peer_nat;
	uint64_t peer_nonce;
	uint8_t peer_role;
	uint32_t seq;
	uint64_t time_us;
	uint32_t rtt_us;
	uint32_t start_us;
	uint64_t ctr;                 /* WA_CTR */
	uint16_t mac_off;             /* offset of the WA_MAC attribute (0: none; never in present) */
	uint16_t pad;                 /* WA_PAD: bytes to add, attribute headers included (>= 2) */
	uint16_t response_port;
	const uint8_t *payload;       /* points into the decoded buffer / caller's buffer */
	uint16_t payload_len;
	uint16_t error_code;
	char error_text[65];
};

/* Decode errors, returned negated by wire_decode(). Each is counted separately by receivers. */
enum wire_decode_error {
	WIRE_ETRUNC = 1,      /* shorter than its header or its length field */
	WIRE_EMAGIC,          /* not ours */
	WIRE_EVERSION,        /* ours, another version */
	WIRE_EOVERSIZE,       /* longer than WIRE_MAX_LEN, or length field disagrees */
	WIRE_EATTR,           /* malformed attribute */
	WIRE_ETYPE,           /* unknown message type */
	WIRE_EMISSING,        /* a required attribute of this type is missing */
	WIRE_EDECODE_MAX
};

/* Reset @m to an empty message of @type. */
void wire_msg_init(struct wire_msg *m, uint8_t type);

/* Encode @m into @buf (@cap bytes). Only attributes whose WA_BIT is set in m->present are
 * written (wire_msg_set_* helpers set them). Returns the length written, or -EMSGSIZE when the
 * message does not fit @cap or WIRE_MAX_LEN, or -EINVAL for an invalid field (session name,
 * endpoint family, too many endpoints, empty/oversized payload). */
int wire_encode(const struct wire_msg *m, void *buf, size_t cap);

/* Decode @len bytes at @buf into @m. m->payload points into @buf, so @buf must outlive the use
 * of m->payload. Never reads past @len. Returns 0, or -WIRE_E* (enum wire_decode_error). */
int wire_decode(const void *buf, size_t len, struct wire_msg *m);

/* Name of a message type / decode error, for logs and JSON ("?" when unknown). */
const char *wire_type_name(uint8_t type);
const char *wire_decode_strerror(int err);
const char *nat_kind_name(uint8_t kind);

/* Compare registration rounds as serial numbers (RFC 1982): <0 when @a is before @b, 0 when
 * equal, >0 after, so that round 0 follows round 65535 (no lockout at the wrap). */
int wire_round_cmp(uint16_t a, uint16_t b);

/* True when @s (NUL-terminated) is a valid session id: 1..64 bytes of [A-Za-z0-9._:@/+-]. */
bool wire_session_valid(const char *s);

/* Read the u16 frame length that prefixes each message on a TCP stream. */
static inline uint16_t wire_frame_len(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
