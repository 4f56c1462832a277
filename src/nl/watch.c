/* Watch sockets of the nl/ waits (nl/watch.h). */
#include "nl/watch.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int nl_watch_open(unsigned groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int nl_watch_dump(int fd, uint16_t type, size_t hdrlen, unsigned char family, unsigned seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned char *hdr;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	hdr[0] = family; /* rtgen_family, rtm_family, ifi_family, ifa_family: all first */
	return send(fd, nlh, nlh->nlmsg_len, 0) < 0 ? -errno : 0;
}

int nl_watch_read(int fd, uint16_t type, nl_watch_note_fn note, void *ctx, unsigned seq,
		  bool *dumped)
{
	char buf[32768];

	for (int guard = 0; guard < 1024; guard++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n))
			if (nlh->nlmsg_type == type)
				note(ctx, nlh);
			else if (nlh->nlmsg_type == NLMSG_DONE && nlh->nlmsg_seq == seq)
				*dumped = true;
	}
	return 0;
}

double nl_watch_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
