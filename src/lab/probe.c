#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/probe.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static socklen_t sockaddr_of(const struct net_addr *a, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		s->sin_addr = a->a.v4;
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	s6->sin6_addr = a->a.v6;
	return sizeof(*s6);
}

static void format_sockaddr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	}
}

int probe_udp_echo(const struct lab *lab, int from, int to, const struct net_addr *to_addr,
		   int port, int timeout_ms, struct probe_result *res)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen = sockaddr_of(to_addr, port, &dst), slen;
	char msg[64], buf[128];
	int srv = -1, cli = -1, ret = 0, one = 1, got_request = 0;
	double start, deadline;

	memset(res, 0, sizeof(*res));
	srv = lab_socket(lab, to, to_addr->family, SOCK_DGRAM, 0);
	cli = lab_socket(lab, from, to_addr->family, SOCK_DGRAM, 0);
	if (srv < 0 || cli < 0) {
		ret = srv < 0 ? srv : cli;
		goto out;
	}
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv, (struct sockaddr *)&dst, dlen) < 0 ||
	    connect(cli, (struct sockaddr *)&dst, dlen) < 0) {
		/* connect() fails at once when the sender has no route: that is an answer */
		if (errno == ENETUNREACH || errno == EHOSTUNREACH) {
			snprintf(res->why, sizeof(res->why), "no route (%s)", strerror(errno));
			goto out;
		}
		ret = -errno;
		goto out;
	}
	slen = sizeof(src);
	if (getsockname(cli, (struct sockaddr *)&src, &slen) == 0)
		format_sockaddr(&src, res->local, sizeof(res->local));
	snprintf(msg, sizeof(msg), "punchlab-probe %d->%d", from, to);
	start = now_ms();
	deadline = start + timeout_ms;
	if (send(cli, msg, strlen(msg), 0) < 0) {
		snprintf(res->why, sizeof(res->why), "send: %s", strerror(errno));
		goto out;
	}
	/* Bounded by the deadline: each poll waits at most what is left of it. */
	for (int rounds = 0; rounds < 64; rounds++) {
		struct pollfd p[2] = { { .fd = srv, .events = POLLIN }, { .fd = cli, .events = POLLIN } };
		int left = (int)(deadline - now_ms()), n;

		if (left <= 0)
			break;
		n = poll(p, 2, left);
		if (n <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			slen = sizeof(src);
			ssize_t r = recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);
			if (r == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)r) == 0) {
				format_sockaddr(&src, res->seen_as, sizeof(res->seen_as));
				sendto(srv, buf, (size_t)r, 0, (struct sockaddr *)&src, slen);
				got_request = 1;
			}
		}
		if (p[1].revents & (POLLIN | POLLERR)) {
			ssize_t r = recv(cli, buf, sizeof(buf), 0);
			if (r < 0) { /* ICMP error reported on the connected socket */
				snprintf(res->why, sizeof(res->why), "%s", strerror(errno));
				goto out;
			}
			if (r == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)r) == 0) {
				res->reached = true;
				res->rtt_ms = now_ms() - start;
				goto out;
			}
		}
	}
	snprintf(res->why, sizeof(res->why), got_request ? "reply lost (timeout)" : "timeout");
out:
	if (srv >= 0)
		close(srv);
	if (cli >= 0)
		close(cli);
	return ret;
}
