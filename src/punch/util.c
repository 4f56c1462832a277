#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "endpoint.h"

uint64_t rand_u64(void)
{
	uint64_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			v = 0;
	}
	return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

uint64_t siphash24(const uint64_t k[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int sock_open_bound(int family, int type, const struct sockaddr_storage *bind_addr,
		    uint16_t port, bool reuse)
{
	struct sockaddr_storage ss;
	int fd, one = 1, err;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (reuse && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
		goto fail;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	/* Small request/answer messages: Nagle would hold one behind an unacknowledged segment
	 * until the other side's delayed ACK (40 ms), ruining time-to-connect. */
	if (type == SOCK_STREAM && sock_set_nodelay(fd) < 0)
		goto fail;
	if (bind_addr && bind_addr->ss_family == family) {
		ss = *bind_addr;
	} else {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)family;
	}
	ep_set_port(&ss, port);
	if (bind(fd, (struct sockaddr *)&ss, ep_len(&ss)) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int sock_set_minttl(int fd, int family, int ttl)
{
	int r;

	if (family == AF_INET6)
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &ttl, sizeof(ttl));
	else
		r = setsockopt(fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof(ttl));
	return r < 0 ? -errno : 0;
}

int sock_set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ? -errno : 0;
}

int sock_route_src(const struct sockaddr_storage *dst, struct sockaddr_storage *src)
{
	socklen_t sl = sizeof(*src);
	int fd, err = 0;

	fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)dst, ep_len(dst)) < 0 ||
	    getsockname(fd, (struct sockaddr *)src, &sl) < 0)
		err = -errno;
	close(fd);
	return err;
}

int sock_set_ttl(int fd, int family, int ttl)
{
	int r;

	if (family == AF_INET6)
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
	else
		r = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	return r < 0 ? -errno : 0;
}

void payload_fill(uint8_t *buf, size_t len, uint64_t token, uint8_t role)
{
	/* splitmix64: any fixed, cheap, well-mixed sequence will do; both sides must agree. */
	uint64_t x = token ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(role + 1));
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t z;

		x += 0x9e3779b97f4a7c15ULL;
		z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(buf + i, &z, len - i < 8 ? len - i : 8);
	}
}

int stream_read(struct stream *s, int fd, stream_msg_cb cb, void *arg)
{
	for (;;) {
		ssize_t n = recv(fd, s->buf + s->len, sizeof(s->buf) - s->len, MSG_DONTWAIT);
		size_t off = 0;

		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		s->len += (size_t)n;
		while (s->len - off >= 2) {
			uint16_t fl = wire_frame_len(s->buf + off);

			if (fl == 0 || fl > WIRE_MAX_LEN)
				return -EMSGSIZE;
			if (s->len - off < 2u + fl)
				break;
			if (cb(arg, s->buf + off + 2, fl))
				return 1;
			off += 2u + fl;
		}
		memmove(s->buf, s->buf + off, s->len - off);
		s->len -= off;
	}
}

int stream_send(int fd, const void *msg, size_t len)
{
	uint8_t buf[2 + WIRE_MAX_LEN];
	ssize_t n;

	if (len == 0 || len > WIRE_MAX_LEN)
		return -EMSGSIZE;
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, msg, len);
	n = send(fd, buf, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == len + 2 ? 0 : -EAGAIN;
}
