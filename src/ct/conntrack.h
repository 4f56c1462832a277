/* Conntrack over libmnl (nfnetlink, NETLINK_NETFILTER): flush a node's table and dump the NAT
 * mappings it holds, as evidence for classify and the matrix reports.
 *
 * A netlink socket stays in the network namespace it was opened in (BRIEF.md), so every call
 * works on a socket opened inside the node: ct_socket_open() opens one in a given namespace and
 * returns the calling thread to the namespace it came from; a socket from lab_socket(lab, node,
 * AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER) wrapped by mnl_socket_fdopen() works as well.
 * Functions given a NULL socket open one in the calling thread's current namespace for the
 * duration of the call.
 *
 * Both address families. The first API (ct_dump_mappings(), ct_get_mapping()) is IPv4 and NATed
 * entries only, as classify and the NAT events want it; the family-generic one (ct_dump_flows(),
 * ct_get_flow()) returns IPv4 and IPv6 entries, translated or not, as the attestation of an
 * IPv6 cell or of a firewall that does not translate needs it. Receives are bounded: a socket
 * opened here times out after CT_RECV_TIMEOUT_MS without an answer (-ETIMEDOUT). */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/netaddr.h"

struct mnl_socket;

#define CT_RECV_TIMEOUT_MS 2000

/* One NATed flow seen from the LAN side of the node: the internal endpoint, the public
 * endpoint it is mapped to, and the remote endpoint of this flow. Ports in host byte order.
 *
 * Families: `family` 0 or AF_INET is an IPv4 entry (the address fields below hold it; a zeroed
 * struct stays IPv4). AF_INET6 is an IPv6 entry: its addresses are in the *6 twins at the end
 * and every IPv4 address field is 0.0.0.0. Twins rather than a union per field: IPv4-only code
 * (18 files read .internal_addr and friends) handed an IPv6 entry then sees 0.0.0.0, which
 * matches no lab address, where a union would show it the first four bytes of an IPv6 address
 * as if they were an IPv4 one. Family-generic code reads any address with ct_mapping_addr(). */
struct ct_mapping {
	uint8_t proto;                 /* IPPROTO_UDP, IPPROTO_TCP, ... */
	struct in_addr internal_addr;  /* LAN side */
	uint16_t internal_port;
	struct in_addr public_addr;    /* what the remote sees */
	uint16_t public_port;
	struct in_addr remote_addr;    /* the other end of this flow */
	uint16_t remote_port;
	bool inbound;                  /* opened from the WAN side (DNAT through a cone's map) */
	bool hairpin;                  /* both ends on the LAN side (DNAT and SNAT) */
	uint32_t status;               /* IPS_* bits (linux/netfilter/nf_conntrack_common.h) */
	uint8_t tcp_state;             /* TCP_CONNTRACK_*, for TCP */
	uint32_t timeout;              /* seconds left */
	/* The raw tuples, for whoever asks "which two hosts does this flow join" (a hairpinned
	 * flow's receiver is only in the reply tuple). */
	struct in_addr orig_src, orig_dst, reply_src, reply_dst;
	/* Conntrack accounting (net.netfilter.nf_conntrack_acct=1 when the flow was created, else
	 * all zero and has_counters false): packets and bytes in the original and reply
	 * directions. */
	bool has_counters;
	uint64_t orig_packets, orig_bytes, reply_packets, reply_bytes;
	/* The address family (above) and the IPv6 twins of the address fields (all zero for an
	 * IPv4 entry). */
	uint8_t family;
	struct in6_addr internal_addr6, public_addr6, remote_addr6;
	struct in6_addr orig_src6, orig_dst6, reply_src6, reply_dst6;
};

/* Which address of a ct_mapping (ct_mapping_addr()). */
enum ct_addr_field {
	CT_ADDR_INTERNAL, CT_ADDR_PUBLIC, CT_ADDR_REMOTE,
	CT_ADDR_ORIG_SRC, CT_ADDR_ORIG_DST, CT_ADDR_REPLY_SRC, CT_ADDR_REPLY_DST,
};

/* AF_INET or AF_INET6 (a family of 0 is IPv4). */
int ct_mapping_family(const struct ct_mapping *m);

/* One address of the entry, of its family, as a struct net_addr (prefix: the full length,
 * line 0). */
struct net_addr ct_mapping_addr(const struct ct_mapping *m, enum ct_addr_field f);

/* Whether that address is a: same family and same address (a's prefix is ignored). */
bool ct_mapping_addr_is(const struct ct_mapping *m, enum ct_addr_field f, const struct net_addr *a);

/* Whether the entry was translated (source or destination NAT). */
bool ct_mapping_nated(const struct ct_mapping *m);

/* Whether a and b are the same flow: family, protocol, internal, public and remote endpoints
 * (a later dump's copy of an entry, with other counters and timeout). */
bool ct_mapping_same_flow(const struct ct_mapping *a, const struct ct_mapping *b);

/* A growable array filled by ct_dump_mappings(); release with ct_mappings_free(). */
struct ct_mappings {
	struct ct_mapping *v;
	size_t n, cap;
};

/* Open and bind a conntrack netlink socket inside the namespace netns_fd (-1: the calling
 * thread's current namespace). The thread enters the namespace only for the open and is back
 * in its own namespace when this returns. Returns the socket (close with ct_socket_close()) or
 * NULL with errno set. */
struct mnl_socket *ct_socket_open(int netns_fd);
/* The same with socket flags (SOCK_NONBLOCK), multicast groups to join (ctnetlink events) and a
 * receive buffer forced to rcvbuf bytes (0: the default). */
struct mnl_socket *ct_socket_open_opts(int netns_fd, int sock_flags, unsigned int groups,
				       int rcvbuf);

/* Close a socket from ct_socket_open() or mnl_socket_fdopen(); NULL is a no-op. */
void ct_socket_close(struct mnl_socket *nl);

/* Delete every conntrack entry (IPv4 and IPv6) of the socket's namespace: conntrack outlives
 * ruleset changes (BRIEF.md), so a reused node starts clean. Returns 0 or -errno. */
int ct_flush(struct mnl_socket *nl);

/* Append to *out one struct ct_mapping per NATed IPv4 entry of the socket's namespace (entries
 * without source or destination NAT are skipped). Returns 0 or -errno; on error *out keeps what
 * was appended before it. The caller owns out->v (ct_mappings_free()). */
int ct_dump_mappings(struct mnl_socket *nl, struct ct_mappings *out);

/* The NATed IPv4 entry whose original tuple is proto src:sport -> dst:dport (ports in host
 * order), by one lookup: a dump walks every bucket of the kernel's table (262144 here, about
 * 10 ms of system time whatever the namespace holds). Returns 0 with *out filled, -ENOENT when
 * there is no such entry (or it is not NATed), or -errno. */
int ct_get_mapping(struct mnl_socket *nl, uint8_t proto, struct in_addr src, uint16_t sport,
		   struct in_addr dst, uint16_t dport, struct ct_mapping *out);

/* Append to *out every entry of the socket's namespace of the given family (AF_INET, AF_INET6,
 * or AF_UNSPEC for both, in one walk of the kernel's table), translated or not: a firewall that
 * does not translate (an IPv6 firewall, an IPv4 firewall-only profile) holds only entries
 * without NAT, whose internal and public endpoints are both the original source. Returns 0 or
 * -errno (-EAFNOSUPPORT for another family); on error *out keeps what was appended before it.
 * The caller owns out->v (ct_mappings_free()). */
int ct_dump_flows(struct mnl_socket *nl, int family, struct ct_mappings *out);

/* The entry whose original tuple is proto src:sport -> dst:dport (src and dst of one family,
 * IPv4 or IPv6; ports in host order), translated or not, by one lookup in the kernel's hash
 * (no walk of the table, see ct_get_mapping()). Returns 0 with *out filled, -ENOENT when there
 * is no such entry, -EINVAL when src and dst differ in family (or are neither), or -errno. */
int ct_get_flow(struct mnl_socket *nl, uint8_t proto, const struct net_addr *src, uint16_t sport,
		const struct net_addr *dst, uint16_t dport, struct ct_mapping *out);

/* Read one ctnetlink message (a dump's answer or an event) into *out: every IPv4 or IPv6 entry,
 * NATed or not (not NATed: internal and public are the original source). Returns 1 for a NATed
 * entry, 0 for one without NAT, -1 for a message that is not a conntrack entry of either
 * family (or is malformed). */
struct nlmsghdr;
int ct_mapping_from_msg(const struct nlmsghdr *nlh, struct ct_mapping *out);

/* Free the array and zero *m; NULL is a no-op. */
void ct_mappings_free(struct ct_mappings *m);

/* "UNREPLIED", "REPLIED" or "ASSURED" for UDP and others; the TCP state ("SYN_SENT",
 * "ESTABLISHED", "TIME_WAIT", ...) for TCP. Never NULL. */
const char *ct_mapping_state(const struct ct_mapping *m);

/* "udp 10.0.1.2:4242 -> 203.0.113.2:4242 remote 198.51.100.10:3478 UNREPLIED 29s" (with
 * " inbound" or " hairpin" appended when set, then the counters when there are some) into buf;
 * an IPv6 entry's endpoints in brackets: "udp [2001:db8:1::10]:4242 -> ...". Returns buf. */
char *ct_mapping_format(const struct ct_mapping *m, char *buf, size_t len);
