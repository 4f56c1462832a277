/* The STUN Binding answer of punchlab-stunecho (RFC 5389 section 7.3): pure, no I/O.
 *
 * miniupnpd refuses to map ports when its WAN address is in a reserved block, and the lab's
 * internet is exactly such blocks (203.0.113.0/24, 198.51.100.0/24). It accepts the address
 * when a STUN server sees it unchanged (ext_perform_stun): in the lab that is the truth (the
 * NAT node's WAN address is the emulated internet's), so the lab answers that check from a
 * responder inside the NAT node itself (docs/portmap.md). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define STUN_HEADER_LEN 20
#define STUN_ANSWER_LEN (STUN_HEADER_LEN + 12) /* header + XOR-MAPPED-ADDRESS (IPv4) */

/* Write into out (at least STUN_ANSWER_LEN bytes) the Binding success response to the request
 * req of len bytes that came from addr:port (host order), with the request's transaction id
 * and the sender as XOR-MAPPED-ADDRESS. Attributes of the request (CHANGE-REQUEST...) are
 * ignored: the answer always comes from where the request went. Returns the answer's length,
 * or -1 when req is no STUN Binding request (too short, wrong type, length or cookie). */
int stun_answer(const uint8_t *req, size_t len, uint32_t addr, uint16_t port, uint8_t *out);
