/* The lab's private state, shared by the files of src/lab/ that implement lab.h. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lab/lab.h"

struct nl_sock;

#define LAB_MAX_CHILDREN 64

struct lab_node_rt {
	int netns;                /* fd of the node's namespace, -1 when none */
	struct nl_sock *sk;       /* rtnetlink socket born in that namespace */
	int watch;                /* link-change socket, only while lab_up() runs */
	char profile[PATH_MAX];   /* resolved ruleset file, "" for none */
	int family;               /* AF_INET or AF_INET6: the profile header's family */
	/* an IPv6 companion profile loaded beside an IPv4 profile (a dual cell's home router:
	 * tables ip punchlab_nat and ip6 punchlab_nat coexist), "" for none */
	char companion[PATH_MAX];
	char pinned[PATH_MAX];    /* /run/netns/<lab>-<node> when pinned */
};

struct lab_child {
	pid_t pid;                /* the init of the program's PID namespace */
	int pidfd;                /* to wait with a bound */
	bool reaped;
	int status;
	bool forwarder;           /* an impaired link's forwarder: lab_down() does not wait */
};

/* An impaired link (docs/impairments.md): the veth pair is split in two through a namespace of
 * its own where punchlab-impair forwards every frame through its timer queues. */
struct lab_forwarder {
	int link;                 /* index into topo.links */
	int netns;                /* the forwarding namespace, -1 when none */
	struct nl_sock *sk;       /* rtnetlink socket born in it */
	int watch;                /* link-change socket, only while lab_up() runs */
	int ifindex[2];           /* its interfaces toward ends[0] and ends[1] */
	int child;                /* lab_spawn handle of the forwarder, -1 before it runs */
};

struct lab {
	struct topo topo;
	char name[16];
	struct lab_node_rt nodes[TOPO_MAX_NODES];
	struct lab_child children[LAB_MAX_CHILDREN];
	int nchildren;
	bool pinned;
	struct lab_forwarder fwd[TOPO_MAX_LINKS];
	int nfwd;
};

/* forward.c: impaired links */
int lab_forwarders_create(struct lab *lab, struct diag_list *dl);
int lab_forwarder_link(struct lab *lab, struct lab_forwarder *f, int ids[2], int *next_id,
		       struct diag_list *dl);
int lab_forwarders_start(struct lab *lab, bool keep, int home_netns, struct diag_list *dl);
void lab_forwarders_close(struct lab *lab);

/* proc.c: record a started program's init as the lab's; returns its handle or -ENOSPC. */
int lab_child_add(struct lab *lab, pid_t pid);
/* Kill a child with SIGKILL and leave its reaping to a later call (of any lab, any thread):
 * its end is not waited for. proc_reap_later_collect() reaps those that have ended. */
void proc_reap_later(struct lab_child *c);
void proc_reap_later_collect(void);

/* lab.c: the variables of the profile contract for NAT node n (WAN_IF, LAN_IF, WAN_ADDR,
 * LAN_ADDR, LAN_NET, in that order in vals), with its addresses of family (AF_INET, AF_INET6);
 * returns their count. */
struct nft_var;
int lab_nat_vars(const struct topo *t, int n, int family, char vals[5][64], struct nft_var *vars);

/* translation.c: an IPv4 address behind a NAT (RFC 1918, RFC 6598's 100.64.0.0/10); and an
 * error (at file:line, where the profile was named) when NAT node n's addressing does not fit
 * what its profile (path) does to addresses, header "translation": none on a private IPv4 LAN,
 * prefix without a second IPv6 prefix on the LAN link. Returns 0 or -EINVAL. */
bool lab_addr_v4_private(const struct net_addr *a);
int lab_translation_check(const struct topo *t, int n, const char *profile, const char *file,
			  int line, struct diag_list *dl);

/* pin.c */
int lab_name_valid(const char *name);
void lab_unpin_nodes(struct lab *lab);
