#include <netlink/addr.h>
#include <netlink/route/route.h>

#include "nl/err.h"
#include "nl/nl.h"

int nl_route_add_default(struct nl_sock *sk, int ifindex, const struct net_addr *gw,
			 struct nl_err *err)
{
	return nl_route_add_via(sk, ifindex, NULL, gw, err);
}

int nl_route_add_via(struct nl_sock *sk, int ifindex, const struct net_addr *net,
		     const struct net_addr *gw, struct nl_err *err)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = NULL, *via = NULL;
	char text[64];
	int ret = -NLE_NOMEM;

	net_addr_format(gw, false, text, sizeof(text));
	if (!route || !nh)
		goto out;
	/* no net: the all-zero prefix, the default route */
	dst = net ? nl_addr_build(net->family, &net->a, net->family == AF_INET ? 4 : 16)
		  : nl_addr_build(gw->family, NULL, 0);
	via = nl_addr_build(gw->family, &gw->a, gw->family == AF_INET ? 4 : 16);
	if (!dst || !via)
		goto out;
	nl_addr_set_prefixlen(dst, net ? net->prefix : 0);
	rtnl_route_set_family(route, gw->family);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_BOOT); /* what `ip route add` uses */
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_type(route, RTN_UNICAST);
	ret = rtnl_route_set_dst(route, dst);
	if (ret < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(route, nh);
	nh = NULL; /* owned by the route now */
	ret = rtnl_route_add(sk, route, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(via);
	rtnl_route_put(route);
	return ret < 0 ? nl_fail(err, ret, "add", net ? "route via" : "default route via", text) : 0;
}
