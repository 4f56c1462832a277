/* Encoder and decoder of the punch wire format (see wire.h). The decoder is the one piece of
 * the engine that reads attacker-controlled bytes, so it is small, bounds every read by the
 * remaining length, and is fuzzed (tests/fuzz/fuzz_wire.c). */
#include "wire.h"

#include <errno.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void wire_msg_init(struct wire_msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

int wire_round_cmp(uint16_t a, uint16_t b)
{
	int16_t d = (int16_t)(uint16_t)(a - b);

	return d < 0 ? -1 : d > 0;
}

bool wire_session_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (n >= WIRE_MAX_SESSION)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:@/+-", c)))
			return false;
	}
	return n > 0;
}

/* Encoder cursor: writes stop at the first overflow, reported once at the end. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static uint8_t *wbuf_take(struct wbuf *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return NULL;
	}
	p = w->p + w->len;
	w->len += n;
	return p;
}

static void attr_put(struct wbuf *w, uint8_t type, const void *val, uint8_t len)
{
	uint8_t *p = wbuf_take(w, 2u + len);

	if (!p)
		return;
	p[0] = type;
	p[1] = len;
	if (len)
		memcpy(p + 2, val, len);
}

static void attr_put_u8(struct wbuf *w, uint8_t type, uint8_t v)
{
	attr_put(w, type, &v, 1);
}

static void attr_put_u16(struct wbuf *w, uint8_t type, uint16_t v)
{
	uint8_t b[2];

	put16(b, v);
	attr_put(w, type, b, 2);
}

static void attr_put_u32(struct wbuf *w, uint8_t type, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	attr_put(w, type, b, 4);
}

static void attr_put_u64(struct wbuf *w, uint8_t type, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	attr_put(w, type, b, 8);
}

static int attr_put_ep(struct wbuf *w, uint8_t type, const struct wire_ep *ep)
{
	uint8_t b[19];
	size_t alen;

	if (ep->family == 4)
		alen = 4;
	else if (ep->family == 6)
		alen = 16;
	else
		return -EINVAL;
	b[0] = ep->family;
	put16(b + 1, ep->port);
	memcpy(b + 3, ep->addr, alen);
	attr_put(w, type, b, (uint8_t)(3 + alen));
	return 0;
}

static void attr_put_nat(struct wbuf *w, uint8_t type, const struct wire_natinfo *n)
{
	uint8_t b[7];

	b[0] = n->kind;
	put16(b + 1, (uint16_t)n->stride);
	put16(b + 3, n->first_port);
	put16(b + 5, n->last_port);
	attr_put(w, type, b, sizeof(b));
}

#define HAS(m, a) ((m)->present & WA_BIT(a))

int wire_encode(const struct wire_msg *m, void *buf, size_t cap)
{
	struct wbuf w = { .p = buf, .cap = cap < WIRE_MAX_LEN ? cap : WIRE_MAX_LEN };
	uint8_t *h = wbuf_take(&w, WIRE_HDR_LEN);
	int i;

	if (!h)
		return -EMSGSIZE;
	if (m->type == 0 || m->type >= WIRE_TYPE_MAX)
		return -EINVAL;
	put16(h, WIRE_MAGIC);
	h[2] = WIRE_VERSION;
	h[3] = m->type;
	h[4] = m->role;
	h[5] = m->flags;
	put64(h + 8, m->token);
	put64(h + 16, m->nonce);

	if (HAS(m, WA_SESSION)) {
		if (!wire_session_valid(m->session))
			return -EINVAL;
		attr_put(&w, WA_SESSION, m->session, (uint8_t)strlen(m->session));
	}
	if (HAS(m, WA_ROUND))
		attr_put_u16(&w, WA_ROUND, m->round);
	if (HAS(m, WA_PROTO))
		attr_put_u8(&w, WA_PROTO, m->proto);
	if (m->n_priv > WIRE_MAX_EPS || m->n_alt > WIRE_MAX_EPS || m->n_peer_priv > WIRE_MAX_EPS)
		return -EINVAL;
	for (i = 0; HAS(m, WA_PRIVATE) && i < m->n_priv; i++)
		if (attr_put_ep(&w, WA_PRIVATE, &m->priv[i]))
			return -EINVAL;
	if (HAS(m, WA_OBSERVED) && attr_put_ep(&w, WA_OBSERVED, &m->observed))
		return -EINVAL;
	for (i = 0; HAS(m, WA_ALT) && i < m->n_alt; i++)
		if (attr_put_ep(&w, WA_ALT, &m->alt[i]))
			return -EINVAL;
	if (HAS(m, WA_NAT))
		attr_put_nat(&w, WA_NAT, &m->nat);
	if (HAS(m, WA_PEER_PUBLIC) && attr_put_ep(&w, WA_PEER_PUBLIC, &m->peer_public))
		return -EINVAL;
	for (i = 0; HAS(m, WA_PEER_PRIVATE) && i < m->n_peer_priv; i++)
		if (attr_put_ep(&w, WA_PEER_PRIVATE, &m->peer_priv[i]))
			return -EINVAL;
	if (HAS(m, WA_PEER_NAT))
		attr_put_nat(&w, WA_PEER_NAT, &m->peer_nat);
	if (HAS(m, WA_PEER_NONCE))
		attr_put_u64(&w, WA_PEER_NONCE, m->peer_nonce);
	if (HAS(m, WA_PEER_ROLE))
		attr_put_u8(&w, WA_PEER_ROLE, m->peer_role);
	if (HAS(m, WA_SEQ))
		attr_put_u32(&w, WA_SEQ, m->seq);
	if (HAS(m, WA_TIME))
		attr_put_u64(&w, WA_TIME, m->time_us);
	if (HAS(m, WA_RTT))
		attr_put_u32(&w, WA_RTT, m->rtt_us);
	if (HAS(m, WA_START))
		attr_put_u32(&w, WA_START, m->start_us);
	if (HAS(m, WA_CTR))
		attr_put_u64(&w, WA_CTR, m->ctr);
	if (HAS(m, WA_PAD)) {
		/* m->pad bytes in all, attribute headers included, in attributes of <= 255 */
		static const uint8_t z[255];
		size_t left = m->pad < 2 ? 2 : m->pad;

		while (left >= 2) {
			size_t k = left - 2 > 255 ? 255 : left - 2;

			if (left - 2 - k == 1)
				k--;            /* never leave one byte: no attribute is that small */
			attr_put(&w, WA_PAD, z, (uint8_t)k);
			left -= 2 + k;
		}
	}
	if (HAS(m, WA_RESPONSE_PORT))
		attr_put_u16(&w, WA_RESPONSE_PORT, m->response_port);
	if (HAS(m, WA_PAYLOAD)) {
		uint8_t *p;

		if (m->payload_len == 0 || m->payload_len > WIRE_MAX_PAYLOAD || !m->payload)
			return -EINVAL;
		p = wbuf_take(&w, 4u + m->payload_len);
		if (p) {
			p[0] = WA_PAYLOAD;
			p[1] = 0;
			put16(p + 2, m->payload_len);
			memcpy(p + 4, m->payload, m->payload_len);
		}
	}
	if (HAS(m, WA_ERROR)) {
		uint8_t b[2 + 64];
		size_t tl = strnlen(m->error_text, 64);

		put16(b, m->error_code);
		memcpy(b + 2, m->error_text, tl);
		attr_put(&w, WA_ERROR, b, (uint8_t)(2 + tl));
	}
	if (w.overflow)
		return -EMSGSIZE;
	put16(h + 6, (uint16_t)w.len);
	return (int)w.len;
}

static int ep_get(const uint8_t *v, uint8_t len, struct wire_ep *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (len == 7 && v[0] == 4) {
		memcpy(ep->addr, v + 3, 4);
	} else if (len == 19 && v[0] == 6) {
		memcpy(ep->addr, v + 3, 16);
	} else {
		return -1;
	}
	ep->family = v[0];
	ep->port = get16(v + 1);
	return 0;
}

static int nat_get(const uint8_t *v, uint8_t len, struct wire_natinfo *n)
{
	if (len != 7 || v[0] > NAT_RANDOM)
		return -1;
	n->kind = v[0];
	n->stride = (int16_t)get16(v + 1);
	n->first_port = get16(v + 3);
	n->last_port = get16(v + 5);
	return 0;
}

/* Attributes each message type must carry; anything less is WIRE_EMISSING. */
static uint32_t required_attrs(uint8_t type)
{
	switch (type) {
	case WIRE_BIND:
		return WA_BIT(WA_SESSION);   /* version 2: the session names the key */
	case WIRE_BIND_REPLY:
		return WA_BIT(WA_OBSERVED);
	case WIRE_REGISTER:
		return WA_BIT(WA_SESSION) | WA_BIT(WA_ROUND) | WA_BIT(WA_PROTO);
	case WIRE_REGISTERED:
		return WA_BIT(WA_OBSERVED) | WA_BIT(WA_ROUND);
	case WIRE_PEER:
		return WA_BIT(WA_PEER_PUBLIC) | WA_BIT(WA_PEER_NONCE) | WA_BIT(WA_PEER_ROLE) |
		       WA_BIT(WA_ROUND);
	case WIRE_PROBE:
	case WIRE_PROBE_ACK:
		return WA_BIT(WA_SEQ);
	case WIRE_DATA:
	case WIRE_DATA_ACK:
		return WA_BIT(WA_PAYLOAD);
	case WIRE_RELAY:
		return WA_BIT(WA_SESSION) | WA_BIT(WA_PAYLOAD);
	case WIRE_READY:
		return WA_BIT(WA_ROUND);
	case WIRE_ERROR:
		return WA_BIT(WA_ERROR);
	case WIRE_BYE:
		return WA_BIT(WA_SESSION);
	default:
		return 0;
	}
}

int wire_decode(const void *buf, size_t len, struct wire_msg *m)
{
	const uint8_t *p = buf;
	size_t off = WIRE_HDR_LEN;
	uint16_t mlen;

	wire_msg_init(m, 0);
	if (len < 4)
		return -WIRE_ETRUNC;
	if (get16(p) != WIRE_MAGIC)
		return -WIRE_EMAGIC;
	if (p[2] != WIRE_VERSION)
		return -WIRE_EVERSION;
	if (len > WIRE_MAX_LEN)
		return -WIRE_EOVERSIZE;
	if (len < WIRE_HDR_LEN)
		return -WIRE_ETRUNC;
	mlen = get16(p + 6);
	if (mlen > len)
		return -WIRE_ETRUNC;
	if (mlen != len || mlen < WIRE_HDR_LEN)
		return -WIRE_EOVERSIZE;
	if (p[3] == 0 || p[3] >= WIRE_TYPE_MAX)
		return -WIRE_ETYPE;
	m->type = p[3];
	m->role = p[4];
	m->flags = p[5];
	m->token = get64(p + 8);
	m->nonce = get64(p + 16);
	if (m->role > WIRE_ROLE_SERVER)
		return -WIRE_EATTR;

	while (off < len) {
		uint8_t type, alen;
		const uint8_t *v;

		if (len - off < 2)
			return -WIRE_EATTR;
		type = p[off];
		alen = p[off + 1];
		if (type == WA_PAYLOAD) {
			uint16_t plen;

			if (alen != 0 || len - off < 4)
				return -WIRE_EATTR;
			plen = get16(p + off + 2);
			if (plen == 0 || plen > WIRE_MAX_PAYLOAD || len - off - 4 < plen ||
			    HAS(m, WA_PAYLOAD))
				return -WIRE_EATTR;
			m->payload = p + off + 4;
			m->payload_len = plen;
			m->present |= WA_BIT(WA_PAYLOAD);
			off += 4u + plen;
			continue;
		}
		if (len - off - 2 < alen)
			return -WIRE_EATTR;
		v = p + off + 2;
		off += 2u + alen;

		switch (type) {
		case WA_SESSION:
			if (alen == 0 || alen > WIRE_MAX_SESSION || HAS(m, WA_SESSION))
				return -WIRE_EATTR;
			memcpy(m->session, v, alen);
			m->session[alen] = '\0';
			if (!wire_session_valid(m->session))
				return -WIRE_EATTR;
			break;
		case WA_ROUND:
			if (alen != 2)
				return -WIRE_EATTR;
			m->round = get16(v);
			break;
		case WA_PROTO:
			if (alen != 1 || (v[0] != 17 && v[0] != 6))
				return -WIRE_EATTR;
			m->proto = v[0];
			break;
		case WA_PRIVATE:
			if (m->n_priv >= WIRE_MAX_EPS || ep_get(v, alen, &m->priv[m->n_priv]))
				return -WIRE_EATTR;
			m->n_priv++;
			break;
		case WA_OBSERVED:
			if (ep_get(v, alen, &m->observed))
				return -WIRE_EATTR;
			break;
		case WA_ALT:
			if (m->n_alt >= WIRE_MAX_EPS || ep_get(v, alen, &m->alt[m->n_alt]))
				return -WIRE_EATTR;
			m->n_alt++;
			break;
		case WA_NAT:
			if (nat_get(v, alen, &m->nat))
				return -WIRE_EATTR;
			break;
		case WA_PEER_PUBLIC:
			if (ep_get(v, alen, &m->peer_public))
				return -WIRE_EATTR;
			break;
		case WA_PEER_PRIVATE:
			if (m->n_peer_priv >= WIRE_MAX_EPS ||
			    ep_get(v, alen, &m->peer_priv[m->n_peer_priv]))
				return -WIRE_EATTR;
			m->n_peer_priv++;
			break;
		case WA_PEER_NAT:
			if (nat_get(v, alen, &m->peer_nat))
				return -WIRE_EATTR;
			break;
		case WA_PEER_NONCE:
			if (alen != 8)
				return -WIRE_EATTR;
			m->peer_nonce = get64(v);
			break;
		case WA_PEER_ROLE:
			if (alen != 1 || v[0] < WIRE_ROLE_A || v[0] > WIRE_ROLE_B)
				return -WIRE_EATTR;
			m->peer_role = v[0];
			break;
		case WA_SEQ:
			if (alen != 4)
				return -WIRE_EATTR;
			m->seq = get32(v);
			break;
		case WA_TIME:
			if (alen != 8)
				return -WIRE_EATTR;
			m->time_us = get64(v);
			break;
		case WA_RTT:
			if (alen != 4)
				return -WIRE_EATTR;
			m->rtt_us = get32(v);
			break;
		case WA_START:
			if (alen != 4)
				return -WIRE_EATTR;
			m->start_us = get32(v);
			break;
		case WA_CTR:
			if (alen != 8)
				return -WIRE_EATTR;
			m->ctr = get64(v);
			break;
		case WA_MAC:
			/* the last attribute: what follows it would be unauthenticated */
			if (alen != 16 || off != len || HAS(m, WA_MAC))
				return -WIRE_EATTR;
			m->mac_off = (uint16_t)(off - 18u);
			continue;     /* not in present: mac_off says it; the encoder never writes one
				       * (auth_seal does), so decode(encode(m)) keeps m's present */
		case WA_RESPONSE_PORT:
			if (alen != 2 || get16(v) == 0)
				return -WIRE_EATTR;
			m->response_port = get16(v);
			break;
		case WA_ERROR:
			if (alen < 2 || alen > 2 + 64)
				return -WIRE_EATTR;
			m->error_code = get16(v);
			memcpy(m->error_text, v + 2, alen - 2u);
			m->error_text[alen - 2] = '\0';
			break;
		default:
			continue;     /* unknown: skipped, not recorded */
		}
		m->present |= WA_BIT(type);
	}
	if ((m->present & required_attrs(m->type)) != required_attrs(m->type))
		return -WIRE_EMISSING;
	return 0;
}

const char *wire_type_name(uint8_t type)
{
	static const char *const names[WIRE_TYPE_MAX] = {
		[WIRE_BIND] = "bind", [WIRE_BIND_REPLY] = "bind-reply",
		[WIRE_REGISTER] = "register", [WIRE_REGISTERED] = "registered",
		[WIRE_PEER] = "peer", [WIRE_PROBE] = "probe", [WIRE_PROBE_ACK] = "probe-ack",
		[WIRE_DATA] = "data", [WIRE_DATA_ACK] = "data-ack", [WIRE_DONE] = "done",
		[WIRE_KEEPALIVE] = "keepalive", [WIRE_RELAY] = "relay", [WIRE_READY] = "ready",
		[WIRE_ERROR] = "error", [WIRE_BYE] = "bye",
	};

	return type < WIRE_TYPE_MAX && names[type] ? names[type] : "?";
}

const char *wire_decode_strerror(int err)
{
	static const char *const names[WIRE_EDECODE_MAX] = {
		[WIRE_ETRUNC] = "truncated", [WIRE_EMAGIC] = "bad magic",
		[WIRE_EVERSION] = "wrong version", [WIRE_EOVERSIZE] = "bad length",
		[WIRE_EATTR] = "bad attribute", [WIRE_ETYPE] = "unknown type",
		[WIRE_EMISSING] = "missing attribute",
	};

	if (err < 0)
		err = -err;
	return err > 0 && err < WIRE_EDECODE_MAX ? names[err] : "?";
}

const char *nat_kind_name(uint8_t kind)
{
	switch (kind) {
	case NAT_NONE:
		return "none";
	case NAT_CONE:
		return "cone";
	case NAT_SEQUENTIAL:
		return "sequential";
	case NAT_RANDOM:
		return "random";
	default:
		return "unknown";
	}
}
