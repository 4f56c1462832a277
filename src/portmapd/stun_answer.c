/* The STUN Binding answer of punchlab-stunecho (stun_answer.h). */
#include "portmapd/stun_answer.h"

#include <string.h>

#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_COOKIE 0x2112A442u
#define STUN_XOR_MAPPED_ADDRESS 0x0020

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

int stun_answer(const uint8_t *req, size_t len, uint32_t addr, uint16_t port, uint8_t *out)
{
	uint32_t cookie;

	if (len < STUN_HEADER_LEN || get16(req) != STUN_BINDING_REQUEST)
		return -1;
	/* The message length counts the attributes, in 4-byte units (RFC 5389 section 6). */
	if ((size_t)get16(req + 2) + STUN_HEADER_LEN != len || get16(req + 2) % 4)
		return -1;
	cookie = (uint32_t)get16(req + 4) << 16 | get16(req + 6);
	if (cookie != STUN_COOKIE)
		return -1;
	put16(out, STUN_BINDING_SUCCESS);
	put16(out + 2, STUN_ANSWER_LEN - STUN_HEADER_LEN);
	memcpy(out + 4, req + 4, 16); /* cookie and transaction id */
	put16(out + 20, STUN_XOR_MAPPED_ADDRESS);
	put16(out + 22, 8);
	out[24] = 0;
	out[25] = 0x01; /* IPv4 */
	put16(out + 26, (uint16_t)(port ^ (STUN_COOKIE >> 16)));
	put32(out + 28, addr ^ STUN_COOKIE);
	return STUN_ANSWER_LEN;
}
