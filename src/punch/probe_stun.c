/* punch probe against any RFC 5780 STUN server (coturn, say): Binding requests (RFC 5389) with
 * CHANGE-REQUEST and RESPONSE-PORT; the answer's XOR-MAPPED-ADDRESS (MAPPED-ADDRESS from an
 * RFC 3489 server) and OTHER-ADDRESS (CHANGED-ADDRESS). The answer's source address is read
 * from the socket, so RESPONSE-ORIGIN is not needed. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "probe.h"

#define STUN_MAGIC 0x2112A442u
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_A_MAPPED 0x0001
#define STUN_A_CHANGE_REQUEST 0x0003
#define STUN_A_CHANGED 0x0005
#define STUN_A_XOR_MAPPED 0x0020
#define STUN_A_RESPONSE_PORT 0x0027
#define STUN_A_OTHER 0x802c
#define STUN_CHANGE_IP 0x04
#define STUN_CHANGE_PORT 0x02

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* The 96-bit transaction id: the probe's 64-bit id, then four zero bytes. */
static void txid_put(uint8_t *p, uint64_t id)
{
	put32(p, (uint32_t)(id >> 32));
	put32(p + 4, (uint32_t)id);
	put32(p + 8, 0);
}

static int stun_encode(const struct probe_opts *o, uint8_t *buf, size_t cap, uint64_t id,
		       uint8_t change, uint16_t resp_port)
{
	size_t n = 20;

	(void)o;                      /* STUN requests are not authenticated */
	if (cap < 20 + 8 + 8)
		return -EMSGSIZE;
	put16(buf, STUN_BINDING_REQUEST);
	put32(buf + 4, STUN_MAGIC);
	txid_put(buf + 8, id);
	if (change) {
		put16(buf + n, STUN_A_CHANGE_REQUEST);
		put16(buf + n + 2, 4);
		put32(buf + n + 4, (change & WIRE_F_CHANGE_ADDR ? STUN_CHANGE_IP : 0) |
			       (change & WIRE_F_CHANGE_PORT ? STUN_CHANGE_PORT : 0));
		n += 8;
	}
	if (resp_port) {
		put16(buf + n, STUN_A_RESPONSE_PORT);
		put16(buf + n + 2, 4);
		put16(buf + n + 4, resp_port);
		put16(buf + n + 6, 0);
		n += 8;
	}
	put16(buf + 2, (uint16_t)(n - 20));
	return (int)n;
}

/* An address attribute (family 1 = IPv4, 2 = IPv6); XORed with the magic cookie and the
 * transaction id when @x. */
static int stun_addr(const uint8_t *v, size_t len, const uint8_t *hdr, bool x,
		     struct sockaddr_storage *ss)
{
	uint16_t port;
	int i;

	if (len < 8)
		return -EINVAL;
	port = get16(v + 2) ^ (x ? (uint16_t)(STUN_MAGIC >> 16) : 0);
	memset(ss, 0, sizeof(*ss));
	if (v[1] == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		uint8_t a[4];

		for (i = 0; i < 4; i++)
			a[i] = v[4 + i] ^ (x ? hdr[4 + i] : 0);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a, 4);
		return 0;
	}
	if (v[1] == 2 && len >= 20) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		for (i = 0; i < 16; i++)
			s6->sin6_addr.s6_addr[i] = v[4 + i] ^ (x ? hdr[4 + i] : 0);
		return 0;
	}
	return -EINVAL;
}

static int stun_decode(const struct probe_opts *o, const uint8_t *buf, size_t len, uint64_t id,
		       struct probe_answer *a)
{
	struct sockaddr_storage ss;
	uint8_t tx[12];
	bool mapped = false, xmapped = false;
	size_t off = 20, end;

	(void)o;
	txid_put(tx, id);
	if (len < 20 || get16(buf) != STUN_BINDING_SUCCESS || get32(buf + 4) != STUN_MAGIC ||
	    memcmp(buf + 8, tx, 12) != 0)
		return -EINVAL;
	end = 20u + get16(buf + 2);
	if (end > len)
		return -EINVAL;
	a->n_other = 0;
	while (off + 4 <= end) {
		uint16_t t = get16(buf + off), l = get16(buf + off + 2);
		const uint8_t *v = buf + off + 4;

		if (off + 4 + l > end)
			return -EINVAL;
		/* Parsed into a scratch address: a malformed attribute after a good one must not
		 * clobber it (found by tests/fuzz/fuzz_stun.c). The first good one of each wins. */
		if (t == STUN_A_XOR_MAPPED && !xmapped && stun_addr(v, l, buf, true, &ss) == 0) {
			a->mapped = ss;
			xmapped = true;
		} else if (t == STUN_A_MAPPED && !xmapped && !mapped &&
			   stun_addr(v, l, buf, false, &ss) == 0) {
			a->mapped = ss;
			mapped = true;
		} else if ((t == STUN_A_OTHER || t == STUN_A_CHANGED) && a->n_other == 0 &&
			   stun_addr(v, l, buf, false, &ss) == 0) {
			a->other[0] = ss;
			a->n_other = 1;
		}
		off += 4u + ((l + 3u) & ~3u);
	}
	return xmapped || mapped ? 0 : -EINVAL;
}

const struct probe_ops probe_ops_stun = {
	.name = "stun",
	.encode = stun_encode,
	.decode = stun_decode,
	.stream_framed = false,
};
