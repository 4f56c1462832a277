/* The topology model: nodes, links, addresses, gateways and roles, as declared in a file under
 * topologies/ (format: docs/topology-format.md).
 *
 * The model is plain data with fixed bounds so that a cell can copy it and so that a parsed
 * topology needs no freeing beyond topo_free(). Everything is validated by topo_parse_file()
 * before any kernel object is created. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/netaddr.h"
#include "base/out.h"
#include "impair/spec.h"

#define TOPO_MAX_NODES 16
#define TOPO_MAX_LINKS 24
#define TOPO_MAX_ENDS 8   /* ends of one link; more than two make a bridge */
#define TOPO_MAX_ADDRS 4  /* addresses on one link end */
#define TOPO_NODE_NAME_MAX 9 /* "<node>-eth<N>" must fit IFNAMSIZ */

enum node_kind { NODE_HOST, NODE_NAT, NODE_INET, NODE_SERVER };

/* One node's end of a link: the interface it gets there and its addresses. */
struct topo_end {
	int node;                 /* index into topo.nodes */
	char ifname[16];          /* filled by topo_parse_file: "<node>-eth<N>" */
	char hub_ifname[16];      /* LAN members: the hub's port for this end (a bridge slave) */
	struct net_addr addrs[TOPO_MAX_ADDRS];
	int naddrs;
	int line;
};

/* A link is a veth pair between two nodes; a link with more than two ends is a LAN: a bridge
 * in the first end's node (its addresses go on the bridge), one veth pair per other end. */
struct topo_link {
	struct topo_end ends[TOPO_MAX_ENDS];
	int nends;
	char bridge[16];          /* "<node>-br<N>" when nends > 2, else "" */
	/* "isolate: yes": a NAT's LAN whose members reach each other only through the NAT,
	 * translated (a hairpin); the lab drops everything else between them (topo_isolate). */
	bool isolate;
	int isolate_line;
	/* "impair: SPEC" (docs/impairments.md), or --impair / a preset: the link passes through a
	 * forwarder. impair.dir[0] is ends[0] -> ends[1]. Only on links of two ends. */
	struct impair_spec impair;
	int impair_line;
	int line;
};

struct topo_node {
	char name[TOPO_NODE_NAME_MAX + 1];
	enum node_kind kind;
	int gateway;              /* node index, -1 for none */
	char profile[256];        /* nat nodes: profile name or path as written, "" for none */
	int line;
	int nifs;                 /* interfaces made so far, to number "<node>-eth<N>" */
	/* Derived for nat nodes: which link/end faces the gateway (WAN) and which the LAN. */
	int wan_link, wan_end;
	int lan_link, lan_end;
	/* "nat64: PREFIX" (nat nodes): the lab runs tayga in the node, translating IPv6 packets to
	 * PREFIX (RFC 6052) into IPv4 ones from its pool, which the node's own IPv4 profile then
	 * translates (NAT44) to its WAN address (src/lab/nat64.c). family 0: none. */
	struct net_addr nat64;
	int nat64_line;
};

enum topo_role { ROLE_PEER_A, ROLE_PEER_B, ROLE_NAT_A, ROLE_NAT_B, ROLE_RENDEZVOUS, ROLE_COUNT };

struct topo {
	char file[512];
	char name[64];
	char description[256];
	struct topo_node nodes[TOPO_MAX_NODES];
	int nnodes;
	struct topo_link links[TOPO_MAX_LINKS];
	int nlinks;
	int roles[ROLE_COUNT];    /* node index, -1 when the topology lacks the role */
};

/* Parse and validate a topology file. Every error found is added to dl as FILE:LINE: what is
 * wrong, what is expected. Returns 0, or -EINVAL when dl holds errors (the model is then
 * unusable), or another -errno when the file cannot be read (also added to dl). */
int topo_parse_file(struct topo *t, const char *path, struct diag_list *dl);

/* The same from a buffer; name is used in diagnostics as the file name. */
int topo_parse_buffer(struct topo *t, const char *name, const char *buf, size_t len,
		      struct diag_list *dl);

/* Node index by name, -1 when absent. */
int topo_node_find(const struct topo *t, const char *name);

/* The end of link l that belongs to node n, -1 when n is not on l. */
int topo_link_end_of(const struct topo_link *l, int n);

/* The interface a node uses on link l: the bridge for a LAN's hub, else its veth. */
const char *topo_end_ifname(const struct topo_link *l, int end);

/* First address of the given family on a link end, NULL when none. */
const struct net_addr *topo_end_addr(const struct topo_end *e, int family);

/* Impair a link from the command line: arg is "A:B=SPEC" (--impair), the link between nodes A
 * and B, SPEC's first direction A -> B; it replaces what the file said. Errors name the
 * argument as typed (--impair ARG: ...). Returns 0 or -EINVAL (dl filled). */
int topo_impair_set(struct topo *t, const char *arg, struct diag_list *dl);

/* Apply a preset: a name from impairments/ (its .impair file) or a path; "none" does nothing.
 * Each line "SELECTOR: SPEC" impairs the links SELECTOR names: `wan` each NAT's link to its
 * gateway, `access` each peer's link to its gateway; the spec's first direction is toward the
 * NAT or peer (downstream). Returns 0 or -EINVAL (dl filled: FILE:LINE for the file's
 * mistakes, the preset's name when it does not exist or cannot apply to this topology). */
int topo_impair_preset(struct topo *t, const char *preset, struct diag_list *dl);

/* Whether any link of t is impaired. */
bool topo_impaired(const struct topo *t);

/* "host", "nat", "inet", "server". */
const char *topo_kind_name(enum node_kind k);
const char *topo_role_name(enum topo_role r);

/* Whether a datagram from node `from` should reach an address on link `link`: yes when the link
 * is on the public side (no NAT has it behind it) or when `from` or a router on its gateway
 * chain sits on that link; no for an address behind a NAT that `from` is not behind. */
bool topo_expect_reachable(const struct topo *t, int from, int link);

/* The same for the addresses of one end of the link: on an isolated LAN ("isolate: yes") one
 * member does not reach another member's address (only the hub's), whatever the NAT does. */
bool topo_expect_reachable_end(const struct topo *t, int from, int link, int end);
