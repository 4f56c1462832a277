/* The only code that speaks rtnetlink: namespaces, links, addresses, routes.
 *
 * Every function takes the netlink socket of the namespace it acts in (a socket stays bound to
 * the namespace it was opened in) and returns 0 or -errno; on failure, when err is not NULL, a
 * sentence "<action> <object> "<name>": <reason>" is written into it (libnl 3.7 has no API for
 * the kernel's extended ack text, so the reason is libnl's rendering of the errno). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include "base/netaddr.h"

struct nl_sock;

struct nl_err {
	char msg[256];
};

/* --- namespaces (netns.c) --- */

/* Move the calling thread into a brand-new network namespace and return an fd for it
 * (O_CLOEXEC). The thread stays in the new namespace: the caller returns with netns_enter(). */
int netns_unshare_new(void);

/* Open an fd for the calling thread's current network namespace. */
int netns_current(void);

/* Move the calling thread into the namespace of fd. */
int netns_enter(int fd);

/* --- sockets --- */

/* A NETLINK_ROUTE socket in the calling thread's current namespace, or NULL (errno set).
 * Free with nl_route_close(). */
struct nl_sock *nl_route_open(void);
void nl_route_close(struct nl_sock *sk);

/* --- links (link.c) --- */

/* A veth pair: `name` (ifindex, 0 = kernel's choice) in the socket's namespace, `peer_name`
 * (peer_ifindex, which must be given) in peer_netns, both up; master_ifindex > 0 enslaves
 * `name` to that bridge. One RTM_NEWLINK carries both ends (VETH_INFO_PEER with
 * IFLA_NET_NS_FD); peer_sk, a socket in peer_netns, sets the peer up. */
int nl_link_add_veth(struct nl_sock *sk, const char *name, int ifindex, int master_ifindex,
		     const char *peer_name, int peer_ifindex, int peer_netns,
		     struct nl_sock *peer_sk, struct nl_err *err);

/* A bridge, up, with no STP and a zero forward delay so ports forward at once. */
int nl_link_add_bridge(struct nl_sock *sk, const char *name, int ifindex, struct nl_err *err);

/* Set an existing link up (lo of a fresh namespace is down). */
int nl_link_set_up(struct nl_sock *sk, int ifindex, const char *name, struct nl_err *err);

/* Set an existing link down (its routes through it go; connected ones come back when it is set
 * up again). */
int nl_link_set_down(struct nl_sock *sk, int ifindex, const char *name, struct nl_err *err);

/* The ifindex of a link by name, or -errno (-ENODEV when there is none). */
int nl_link_index(struct nl_sock *sk, const char *name);

/* --- addresses (addr.c) --- */

/* Add an address; IPv6 addresses skip duplicate address detection (IFA_F_NODAD) so they are
 * usable at once in a lab where nothing else can own them. */
int nl_addr_add(struct nl_sock *sk, int ifindex, const char *ifname, const struct net_addr *a,
		struct nl_err *err);

/* Delete an address. */
int nl_addr_del(struct nl_sock *sk, int ifindex, const char *ifname, const struct net_addr *a,
		struct nl_err *err);

/* The first IPv4 address (with its prefix) on ifindex, from the kernel. Returns 0, -ENOENT
 * when it has none, or -errno. */
int nl_addr_first_ipv4(struct nl_sock *sk, int ifindex, struct net_addr *out);

/* --- routes (route.c) --- */

/* A default route of gw's family via gw on ifindex. */
int nl_route_add_default(struct nl_sock *sk, int ifindex, const struct net_addr *gw,
			 struct nl_err *err);

/* A route to net (its address masked to its prefix, which the caller does) via gw on
 * ifindex; net NULL: the default route. */
int nl_route_add_via(struct nl_sock *sk, int ifindex, const struct net_addr *net,
		     const struct net_addr *gw, struct nl_err *err);

/* --- waiting for links (linkwait.c) --- */

/* A NETLINK_ROUTE socket in the calling thread's namespace that receives link changes (open it
 * before the links exist). Returns the fd or -errno. */
int nl_link_watch_open(void);

/* Wait until every non-loopback link in the namespaces of the n watch sockets is operationally
 * up, at most timeout_ms. Returns 0, or -ETIMEDOUT with the name of a link still down in stuck. */
int nl_links_wait_up(const int *fds, int n, int timeout_ms, char *stuck, size_t len);

/* --- waiting for IPv6 addresses (addrwait.c) --- */

/* A NETLINK_ROUTE socket in the calling thread's namespace that receives IPv6 route changes
 * (open it before adding the addresses). Returns the fd or -errno. */
int nl_addr6_watch_open(void);

#define NL_ADDR6_WAIT_NODES 32
#define NL_ADDR6_WAIT_ADDRS 16

/* One namespace's watch socket (nl_addr6_watch_open(), or any NETLINK_ROUTE socket to look
 * once) and the IPv6 addresses still to be ready in it; dumped is the wait's own state. */
struct nl_addr6_wait {
	int fd;
	struct in6_addr pending[NL_ADDR6_WAIT_ADDRS]; /* addresses (not link-local) */
	int npending;
	int pending_ll[NL_ADDR6_WAIT_ADDRS];           /* ifindexes: their link-local address */
	int npending_ll;
	bool dumped;
};

/* Wait until every pending IPv6 address of the n namespaces, and the link-local address of
 * every pending interface, has its local route, which the kernel inserts once it has finished
 * the address (solicited-node group joined, no longer tentative): before that, neighbour
 * discovery for or from it stalls for a second (addrwait.c). At most timeout_ms (0: read what
 * is there once); pending[] and pending_ll[] keep what is still not ready. Returns 0, or
 * -ETIMEDOUT with what is still not ready in stuck, or -errno. */
int nl_addrs6_wait_ready(struct nl_addr6_wait *w, int n, int timeout_ms, char *stuck,
			 size_t len);
