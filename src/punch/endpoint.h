/* Endpoints (address + port) as struct sockaddr_storage: parsing, formatting, conversion to
 * and from the wire, comparison, and the few address facts the techniques need. */
#ifndef PUNCH_ENDPOINT_H
#define PUNCH_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire.h"

/* "[2001:db8::1]:3478" is 47 + 2 + 6. */
#define EP_STRLEN 64

/* Parse "ADDR:PORT", "[V6ADDR]:PORT" or "HOST:PORT" into @ss. @need_port: the port must be
 * 1..65535 (else 0 is accepted too). Host names are resolved with getaddrinfo() (blocking).
 * Returns 0, or -EINVAL (syntax, bad port) / -ENOENT (name does not resolve). */
int ep_parse(const char *s, bool need_port, struct sockaddr_storage *ss);

/* Parse an address without a port ("10.0.0.1", "2001:db8::1"). Returns 0 or -EINVAL. */
int ep_parse_addr(const char *s, struct sockaddr_storage *ss);

/* Format @ss as "ADDR:PORT" / "[ADDR]:PORT" into @buf (EP_STRLEN bytes); returns @buf. */
char *ep_format(const struct sockaddr_storage *ss, char *buf);

socklen_t ep_len(const struct sockaddr_storage *ss);
uint16_t ep_port(const struct sockaddr_storage *ss);
void ep_set_port(struct sockaddr_storage *ss, uint16_t port);

/* Same family, address and port (@with_port false: address only). IPv4-mapped IPv6
 * addresses compare equal to their IPv4 form. */
bool ep_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b, bool with_port);

/* The unspecified address of its family (0.0.0.0, ::). */
bool ep_is_any(const struct sockaddr_storage *ss);

/* Not globally routed: RFC 1918, CGN 100.64/10, loopback, link-local; IPv6 ULA, link-local,
 * loopback. Used by tcp-ttl to tell the own side's NAT hops from the first public router. */
bool ep_is_private(const struct sockaddr_storage *ss);

/* Fold an IPv4-mapped IPv6 address (from a dual-stack socket) into AF_INET. */
void ep_unmap(struct sockaddr_storage *ss);

int ep_to_wire(const struct sockaddr_storage *ss, struct wire_ep *ep);
void ep_from_wire(const struct wire_ep *ep, struct sockaddr_storage *ss);

#endif
