/* ct_get NETNS PROTO SRC SPORT DST DPORT: look one conntrack entry up by its original tuple with
 * ct_get_flow() (src/ct/conntrack.h) inside the network namespace NETNS (a pinned node of a kept
 * lab, /run/netns/<lab>-<node>), IPv4 or IPv6, translated or not, and print it
 * (ct_mapping_format(), then " nat" or " no-nat"). For tests/lab/attest-ipv6.sh.
 * Exit 0 found, 1 no such entry, 2 bad arguments or another error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct/conntrack.h"

static int addr(const char *s, struct net_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	return inet_pton(a->family, s, &a->a) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct net_addr src, dst;
	struct ct_mapping m;
	struct mnl_socket *nl;
	char line[300];
	uint8_t proto;
	int fd, ret;

	if (argc != 7 || addr(argv[3], &src) < 0 || addr(argv[5], &dst) < 0 ||
	    (strcmp(argv[2], "udp") && strcmp(argv[2], "tcp"))) {
		fprintf(stderr, "usage: ct_get NETNS udp|tcp SRC SPORT DST DPORT\n");
		return 2;
	}
	proto = strcmp(argv[2], "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ct_get: open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	nl = ct_socket_open(fd);
	close(fd);
	if (!nl) {
		fprintf(stderr, "ct_get: conntrack socket in %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	ret = ct_get_flow(nl, proto, &src, (uint16_t)atoi(argv[4]), &dst, (uint16_t)atoi(argv[6]),
			  &m);
	ct_socket_close(nl);
	if (ret == -ENOENT) {
		printf("no such entry\n");
		return 1;
	}
	if (ret < 0) {
		fprintf(stderr, "ct_get: %s\n", strerror(-ret));
		return 2;
	}
	printf("%s %s\n", ct_mapping_format(&m, line, sizeof(line)),
	       ct_mapping_nated(&m) ? "nat" : "no-nat");
	return 0;
}
