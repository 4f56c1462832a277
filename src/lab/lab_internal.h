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
	char pinned[PATH_MAX];    /* /run/netns/<lab>-<node> when pinned */
};

struct lab_child {
	pid_t pid;                /* the init of the program's PID namespace */
	int pidfd;                /* to wait with a bound */
	bool reaped;
	int status;
};

struct lab {
	struct topo topo;
	char name[16];
	struct lab_node_rt nodes[TOPO_MAX_NODES];
	struct lab_child children[LAB_MAX_CHILDREN];
	int nchildren;
	bool pinned;
};

/* pin.c */
int lab_name_valid(const char *name);
void lab_unpin_nodes(struct lab *lab);
