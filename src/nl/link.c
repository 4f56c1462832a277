#include <linux/if.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>

#include "nl/err.h"
#include "nl/nl.h"

int nl_link_add_veth(struct nl_sock *sk, const char *name, int ifindex, int master_ifindex,
		     const char *peer_name, int peer_ifindex, int peer_netns,
		     struct nl_sock *peer_sk, struct nl_err *err)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	int ret;

	if (!link)
		return nl_fail(err, -NLE_NOMEM, "add", "veth", name);
	rtnl_link_set_name(link, name);
	if (ifindex > 0)
		rtnl_link_set_ifindex(link, ifindex);
	if (master_ifindex > 0)
		rtnl_link_set_master(link, master_ifindex);
	rtnl_link_set_flags(link, IFF_UP);

	/* The peer is created directly in the other namespace by the same message: no link
	 * ever exists in the root namespace, and no second round trip is needed. */
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, peer_name);
	if (peer_ifindex > 0)
		rtnl_link_set_ifindex(peer, peer_ifindex);
	rtnl_link_set_ns_fd(peer, peer_netns);
	/* No IFF_UP on the peer: libnl 3.7 fails to build a peer carrying flags (NLE_FAILURE,
	 * seen here), so the peer is set up through its own namespace's socket below. */
	rtnl_link_put(peer);

	ret = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	if (ret < 0)
		return nl_fail(err, ret, "add", "veth", name);
	return nl_link_set_up(peer_sk, peer_ifindex, peer_name, err);
}

int nl_link_add_bridge(struct nl_sock *sk, const char *name, int ifindex, struct nl_err *err)
{
	struct rtnl_link *link = rtnl_link_bridge_alloc();
	int ret;

	if (!link)
		return nl_fail(err, -NLE_NOMEM, "add", "bridge", name);
	rtnl_link_set_name(link, name);
	if (ifindex > 0)
		rtnl_link_set_ifindex(link, ifindex);
	rtnl_link_set_flags(link, IFF_UP);
	/* STP is off by default on a new Linux bridge; a port still waits forward_delay (15 s
	 * by default) only with STP on, so nothing else is needed here. */
	ret = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	return ret < 0 ? nl_fail(err, ret, "add", "bridge", name) : 0;
}

int nl_link_set_up(struct nl_sock *sk, int ifindex, const char *name, struct nl_err *err)
{
	struct rtnl_link *orig = rtnl_link_alloc(), *change = rtnl_link_alloc();
	int ret = -NLE_NOMEM;

	if (orig && change) {
		rtnl_link_set_ifindex(orig, ifindex);
		rtnl_link_set_flags(change, IFF_UP);
		ret = rtnl_link_change(sk, orig, change, 0);
	}
	rtnl_link_put(orig);
	rtnl_link_put(change);
	return ret < 0 ? nl_fail(err, ret, "set up", "link", name) : 0;
}

int nl_link_set_down(struct nl_sock *sk, int ifindex, const char *name, struct nl_err *err)
{
	struct rtnl_link *orig = rtnl_link_alloc(), *change = rtnl_link_alloc();
	int ret = -NLE_NOMEM;

	if (orig && change) {
		rtnl_link_set_ifindex(orig, ifindex);
		rtnl_link_unset_flags(change, IFF_UP);
		ret = rtnl_link_change(sk, orig, change, 0);
	}
	rtnl_link_put(orig);
	rtnl_link_put(change);
	return ret < 0 ? nl_fail(err, ret, "set down", "link", name) : 0;
}

int nl_link_index(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL;
	int ret = rtnl_link_get_kernel(sk, 0, name, &link);

	if (ret < 0)
		return nl_to_errno(ret);
	ret = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return ret > 0 ? ret : -ENODEV;
}
