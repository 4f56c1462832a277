/* A lab: one running instance of a topology.
 *
 * Every node is an anonymous network namespace held by a file descriptor of this process, so a
 * crash or kill -9 leaves nothing behind; lab_pin() (for `lab up --keep`) additionally pins
 * them under /run/netns. All configuration goes over netlink (src/nl/) and libnftables
 * (src/nft/), never through `ip` or `nft`.
 *
 * Threads: lab_up() and every call that enters a node does so with setns() on the calling
 * thread only and returns the thread to the namespace it came from, so cells can be built in
 * parallel threads of one process. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "base/out.h"
#include "lab/topo.h"

struct lab;

struct lab_options {
	/* Profile per NAT node, overriding the topology's ("nat-a=full-cone" style pairs
	 * already split): names are profile names or paths. NULL entries mean none. */
	const char *override_node[TOPO_MAX_NODES];
	const char *override_profile[TOPO_MAX_NODES];
	int noverrides;
	/* An IPv6 companion profile per NAT node, loaded beside the node's own (IPv4) profile: a
	 * dual-stack home router filters or translates each family by its own ruleset (docs/
	 * matrix.md "Address families"). The node's profile must be of family ipv4, the
	 * companion of family ipv6, the node must have addresses of both; else lab_up() fails
	 * with a diagnostic naming the option as companion_what (e.g. "--ipv6-profile"). */
	const char *companion_node[TOPO_MAX_NODES];
	const char *companion_profile[TOPO_MAX_NODES];
	int ncompanions;
	const char *companion_what; /* NULL: "companion profile" */
	const char *name; /* lab name, [a-z0-9]{1,12}; NULL: generated */
	double *phase_ms; /* NULL, or LAB_PHASES entries: lab_up() adds each phase's time (ms) */
	/* The lab outlives this process (lab_pin() follows): its impaired links' forwarders are
	 * started without a parent death signal (lab_down()/`lab down` still end them). */
	bool keep;
};

/* lab_up()'s phases, in order, for `punchlab bench lab`'s account of where the time goes. */
enum lab_phase {
	LAB_PHASE_NODES,     /* namespaces and their sysctls */
	LAB_PHASE_LINKS,     /* veth pairs (and bridges) */
	LAB_PHASE_ADDRS,     /* addresses and routes */
	LAB_PHASE_RULESETS,  /* the NAT profiles */
	LAB_PHASE_LINK_WAIT, /* until every link is operationally up */
	LAB_PHASE_IMPAIR,    /* impaired links' forwarders started (docs/impairments.md) */
	LAB_PHASES
};

/* Build a lab from a validated topology. On failure nothing of it is left, dl holds the reason
 * (a ruleset error names the profile file and line) and a negative errno is returned. On
 * success *labp owns the namespaces; release it with lab_down(). */
int lab_up(const struct topo *t, const struct lab_options *opts, struct lab **labp,
	   struct diag_list *dl);

/* Kill every program the lab started (and everything they forked), unpin kept nodes and close
 * the namespaces. NULL is a no-op. */
void lab_down(struct lab *lab);

const struct topo *lab_topo(const struct lab *lab);
const char *lab_name(const struct lab *lab);

/* The namespace fd of a node (owned by the lab), -1 for a bad index. */
int lab_node_netns(const struct lab *lab, int node);

/* Resolved profile file of a NAT node ("" when it loads none). */
const char *lab_node_profile(const struct lab *lab, int node);

/* Resolved IPv6 companion profile of a NAT node ("" when it loads none). */
const char *lab_node_companion(const struct lab *lab, int node);

/* Open a socket inside a node's namespace (the socket stays there). Returns the fd or -errno. */
int lab_socket(const struct lab *lab, int node, int domain, int type, int protocol);

/* Pin every node as /run/netns/<lab>-<node> and write the record /run/punchlab/<lab>.lab so
 * that `punchlab lab down|list|exec` and `ip netns exec` find it after this process exits. */
int lab_pin(struct lab *lab, struct diag_list *dl);

/* After lab_pin(): add a program started since (spawned with .detach) to the lab's record, so
 * that `punchlab lab down` and `clean` end it. Returns 0 or -errno. */
int lab_pin_add(struct lab *lab, int handle);

/* Open a kept lab (its record under /run/punchlab, its pinned namespaces) to act on it, e.g.
 * with lab_event_apply(). Release it with lab_release(): the lab stays kept. Returns 0, or
 * -errno with dl saying what is wrong (no such lab, a record without profiles...). */
int lab_attach(const char *name, struct lab **labp, struct diag_list *dl);

/* Forget the namespaces without unpinning (the caller is done, the lab stays kept). */
void lab_release(struct lab *lab);

/* Run a program inside a node. The program runs under a small init process in a PID namespace
 * of its own whose parent death signal is SIGKILL: when the calling thread or this process dies,
 * the program and everything it forked die too. stdout/stderr go to the given fds (-1: inherit).
 * timeout_ms > 0 bounds its life (it is killed then, exit status 124). Returns a handle id >= 0
 * or -errno. */
struct lab_spawn_opts {
	int stdout_fd, stderr_fd, stdin_fd;
	int timeout_ms;
	bool detach; /* no parent death signal: the program outlives the caller (kept labs) */
};
int lab_spawn(struct lab *lab, int node, char *const argv[], const struct lab_spawn_opts *opts);

/* Wait up to timeout_ms (< 0: no bound) for a spawned program. Returns 0 with *status set to its
 * wait status (exit 124 after its deadline), -ETIMEDOUT, or -errno. */
int lab_wait(struct lab *lab, int handle, int timeout_ms, int *status);

/* Ask a spawned program to stop (SIGTERM, then SIGKILL after grace_ms) and reap it. */
int lab_stop(struct lab *lab, int handle, int grace_ms, int *status);

/* The pid (in this process's PID namespace) of the init that holds a spawned program. */
pid_t lab_spawn_pid(const struct lab *lab, int handle);

/* The first IPv4 addresses of a node (up to max), formatted without prefix. Returns the count. */
int lab_node_ipv4(const struct lab *lab, int node, char addrs[][64], int max);
