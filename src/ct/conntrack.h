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
 * IPv4 only (the NATs of the lab are IPv4). Receives are bounded: a socket opened here times
 * out after CT_RECV_TIMEOUT_MS without an answer (-ETIMEDOUT). */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

#define CT_RECV_TIMEOUT_MS 2000

/* One NATed flow seen from the LAN side of the node: the internal endpoint, the public
 * endpoint it is mapped to, and the remote endpoint of this flow. Ports in host byte order. */
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
};

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

/* The same entry NATed or not: through a node that translates nothing (a firewall, header
 * "translation: none") a flow's entry has no NAT and its public endpoint is the internal one.
 * Returns 0 with *out filled, -ENOENT when there is no such entry, or -errno. */
int ct_get_flow(struct mnl_socket *nl, uint8_t proto, struct in_addr src, uint16_t sport,
		struct in_addr dst, uint16_t dport, struct ct_mapping *out);

/* Read one ctnetlink message (a dump's answer or an event) into *out: every IPv4 entry, NATed or
 * not (not NATed: internal and public are the original source). Returns 1 for a NATed entry,
 * 0 for one without NAT, -1 for a message that is not an IPv4 conntrack entry. */
struct nlmsghdr;
int ct_mapping_from_msg(const struct nlmsghdr *nlh, struct ct_mapping *out);

/* Free the array and zero *m; NULL is a no-op. */
void ct_mappings_free(struct ct_mappings *m);

/* "UNREPLIED", "REPLIED" or "ASSURED" for UDP and others; the TCP state ("SYN_SENT",
 * "ESTABLISHED", "TIME_WAIT", ...) for TCP. Never NULL. */
const char *ct_mapping_state(const struct ct_mapping *m);

/* "udp 10.0.1.2:4242 -> 203.0.113.2:4242 remote 198.51.100.10:3478 UNREPLIED 29s" (with
 * " inbound" or " hairpin" appended when set) into buf; returns buf. */
char *ct_mapping_format(const struct ct_mapping *m, char *buf, size_t len);
