/* punchlab-stunecho: the STUN Binding responder the lab runs next to miniupnpd in a NAT node.
 *
 *     punchlab-stunecho ADDR PORT
 *
 * Answers every Binding request on ADDR:PORT (UDP) with the sender as XOR-MAPPED-ADDRESS, from
 * ADDR:PORT whatever CHANGE-REQUEST asks (stun_answer.h says why the lab needs it). Runs until
 * the lab ends it (its init dies with the lab); anything that is no Binding request is dropped. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portmapd/stun_answer.h"

int main(int argc, char **argv)
{
	struct sockaddr_in me = { .sin_family = AF_INET };
	char *end = NULL;
	long port;
	int fd;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &me.sin_addr) != 1 ||
	    (port = strtol(argv[2], &end, 10), *end || port < 1 || port > 65535)) {
		fprintf(stderr, "usage: punchlab-stunecho ADDR PORT (an IPv4 address and a UDP port "
			"from 1 to 65535)\n");
		return 2;
	}
	me.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		fprintf(stderr, "punchlab-stunecho: bind %s:%ld: %s\n", argv[1], port,
			strerror(errno));
		return 1;
	}
	for (;;) {
		uint8_t req[1500], out[STUN_ANSWER_LEN];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, req, sizeof(req), 0, (struct sockaddr *)&from, &flen);
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "punchlab-stunecho: recvfrom: %s\n", strerror(errno));
			return 1;
		}
		len = stun_answer(req, (size_t)n, ntohl(from.sin_addr.s_addr), ntohs(from.sin_port),
				  out);
		if (len > 0)
			(void)sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&from, flen);
	}
}
