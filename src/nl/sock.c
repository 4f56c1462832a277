#include <errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "nl/nl.h"

struct nl_sock *nl_route_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk) {
		errno = ENOMEM;
		return NULL;
	}
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0) {
		nl_socket_free(sk);
		errno = ret == -NLE_PERM ? EPERM : EIO;
		return NULL;
	}
	return sk;
}

void nl_route_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk); /* closes the fd too */
}
