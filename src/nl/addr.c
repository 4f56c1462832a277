#include <linux/if_addr.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <netlink/addr.h>
#include <netlink/route/addr.h>

#include "nl/err.h"
#include "nl/nl.h"

/* Add (del false) or delete one address: the rtnl_addr both requests are built from. */
static int addr_change(struct nl_sock *sk, int ifindex, const char *ifname,
		       const struct net_addr *a, bool del, struct nl_err *err)
{
	const char *verb = del ? "delete" : "add";
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	char text[64];
	int ret;

	net_addr_format(a, true, text, sizeof(text));
	if (!addr)
		return nl_fail(err, -NLE_NOMEM, verb, "address", text);
	local = nl_addr_build(a->family, &a->a, a->family == AF_INET ? 4 : 16);
	if (!local) {
		ret = -NLE_NOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, a->prefix);
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_family(addr, a->family);
	ret = rtnl_addr_set_local(addr, local);
	if (ret < 0)
		goto out;
	rtnl_addr_set_prefixlen(addr, a->prefix);
	if (del) {
		ret = rtnl_addr_delete(sk, addr, 0);
	} else {
		/* no duplicate address detection: a lab address is usable at once */
		if (a->family == AF_INET6)
			rtnl_addr_set_flags(addr, IFA_F_NODAD);
		ret = rtnl_addr_add(sk, addr, NLM_F_CREATE | NLM_F_EXCL);
	}
out:
	nl_addr_put(local);
	rtnl_addr_put(addr);
	if (ret < 0) {
		char what[96];
		snprintf(what, sizeof(what), "%s on %s", text, ifname);
		return nl_fail(err, ret, verb, "address", what);
	}
	return 0;
}

int nl_addr_add(struct nl_sock *sk, int ifindex, const char *ifname, const struct net_addr *a,
		struct nl_err *err)
{
	return addr_change(sk, ifindex, ifname, a, false, err);
}

int nl_addr_del(struct nl_sock *sk, int ifindex, const char *ifname, const struct net_addr *a,
		struct nl_err *err)
{
	return addr_change(sk, ifindex, ifname, a, true, err);
}

/* One dump of the namespace's addresses (a lab node has a handful). */
int nl_addr_first_ipv4(struct nl_sock *sk, int ifindex, struct net_addr *out)
{
	struct nl_cache *cache = NULL;
	int ret = rtnl_addr_alloc_cache(sk, &cache);

	if (ret < 0)
		return nl_to_errno(ret);
	ret = -ENOENT;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET ||
		    !local || nl_addr_get_len(local) != 4)
			continue;
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(&out->a.v4, nl_addr_get_binary_addr(local), 4);
		out->prefix = rtnl_addr_get_prefixlen(a);
		ret = 0;
		break;
	}
	nl_cache_free(cache);
	return ret;
}
