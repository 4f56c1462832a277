/* Small helpers shared by the rendezvous and the peer: randomness, keyed hashing, socket
 * options, the verification payload, and length-prefixed message framing on TCP streams. */
#ifndef PUNCH_UTIL_H
#define PUNCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire.h"

/* Random 64 bits from getrandom() (never 0). */
uint64_t rand_u64(void);

/* SipHash-2-4 of @len bytes with key @k: hash tables keyed by peer-chosen strings use a
 * random key so that nobody can aim collisions at one bucket. */
uint64_t siphash24(const uint64_t k[2], const void *data, size_t len);

/* Socket of @family and @type (SOCK_DGRAM/SOCK_STREAM), non-blocking and close-on-exec,
 * with SO_REUSEADDR and SO_REUSEPORT when @reuse (TCP simultaneous open binds several sockets
 * to the port that spoke to the rendezvous), bound to @bind (family AF_UNSPEC: any address)
 * port @port. Returns the fd or -errno. */
int sock_open_bound(int family, int type, const struct sockaddr_storage *bind, uint16_t port,
		    bool reuse);

/* The local address the kernel would use to reach @dst (a connected throwaway UDP socket).
 * Returns 0 or -errno. */
int sock_route_src(const struct sockaddr_storage *dst, struct sockaddr_storage *src);

/* @ttl -1: back to the route's default. */
int sock_set_ttl(int fd, int family, int ttl);
/* IP_MINTTL / IPV6_MINHOPCOUNT: drop segments, and ICMP errors whose quoted header has, a TTL
 * below @ttl (tcp_v4_err checks the quoted header). */
int sock_set_minttl(int fd, int family, int ttl);
int sock_set_nodelay(int fd);

/* The verification payload of the peer with @role in the session with @token: both sides
 * compute it, so each checks the other's bytes one by one. */
void payload_fill(uint8_t *buf, size_t len, uint64_t token, uint8_t role);

/* A TCP stream of framed messages: u16 length (big-endian), then one wire message. */
struct stream {
	uint8_t buf[2 + WIRE_MAX_LEN];
	size_t len;
};

/* Called for each complete message; return non-zero to stop (e.g. the stream was freed). */
typedef int (*stream_msg_cb)(void *arg, const uint8_t *msg, size_t len);

/* Read what @fd has and hand every complete frame to @cb. Returns 0 when the socket is
 * drained, 1 when @cb stopped, -EPIPE at end of stream, -EMSGSIZE for a frame length of 0
 * or above WIRE_MAX_LEN, or -errno. */
int stream_read(struct stream *s, int fd, stream_msg_cb cb, void *arg);

/* Write one frame without blocking. A frame is never half-written on success; -EAGAIN means
 * the peer does not read (the caller drops the connection). Returns 0 or -errno. */
int stream_send(int fd, const void *msg, size_t len);

#endif
