/* Inside the classifier (not a public API): the measurement context shared by classify.c
 * (the lab and the order of the tests), classify_ctx.c (sockets, waiting, conntrack reads),
 * classify_inbound.c (filtering, hairpinning, unsolicited traffic) and classify_timeout.c
 * (the UDP mapping timeout). Every function works on one struct ctx from one thread. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/netaddr.h"
#include "lab/classify.h"
#include "lab/lab.h"

/* The probe server's two ports (on each of its two addresses), for UDP and TCP alike. */
#define SRV_P1 3478
#define SRV_P2 3479

/* Internal ports of the tests, per round ROUND_PORTS apart. Chosen apart from every port range
 * a shipped or test profile allocates from (20000-21023, 30000-33069, 49152-49407,
 * 61000-61999), so that "preserved" can not happen by chance. */
#define ROUND_PORTS 100
#define PORT_MAPPING 40001
#define PORT_FILTER 40011   /* three */
#define PORT_PORTS 40021    /* PORTS_N consecutive */
#define PORT_HAIRPIN 40031  /* seven: A, P; T, S; U, V, W */
#define PORT_MAPPED 40041   /* the mapped public port an unsolicited probe goes to */
#define PORT_CT 40051       /* the UDP mapping whose conntrack timeout is read */
/* On S1, one per round: the TCP filtering control's remote (guard_controls()). Below the
 * ephemeral range (32768-60999), where the server's other sockets, bound to port 0, would
 * take it now and then (bind: EADDRINUSE, 1 classification in 600 at 40061-40261). */
#define PORT_CTL_REMOTE 3490
#define PORT_LIFETIME 40801 /* up to LIFETIME_MAX */
#define PORT_UNSOLICITED 40900 /* on the public address: nothing maps it before it is judged */
#define PORT_CLOSED 40950   /* on the NAT's upstream router: nothing listens there */
#define PORT_WARMUP 40999   /* to S1; PORT_WARMUP - 1 to S2 (warm_up()), then S1 (hold_warmup_port()) */
#define WARMUP_MS 3000
#define WARMUP_RESEND_MS 50

#define PORTS_N 4
#define LIFETIME_MAX 12
/* File descriptors. libnftables waits on its netlink socket with select(), and a socket
 * numbered FD_SETSIZE (1024) or more aborts the process (fortified FD_SET): the lab_up() of
 * one classification must find a free number below 1024 while parallel ones hold about a
 * hundred sockets each. So a classification's own sockets (at most MAX_FDS) are moved to
 * numbers from FD_SETSIZE up when RLIMIT_NOFILE allows (raised to its hard limit once), and
 * each classification reserves LAB_FDS numbers below it (its lab's namespaces and netlink
 * sockets, a conntrack socket, the accepted sockets it closes at once) out of FD_LOW_TOTAL.
 * Where the limit does not allow, its sockets stay low and it reserves FD_BUDGET_LOW. */
#define MAX_FDS 98
#define LAB_FDS 16
#define FD_BUDGET_LOW (MAX_FDS + LAB_FDS)
#define FD_LOW_TOTAL 960
extern bool cl_fds_high; /* set before any classification measures (classify.c) */
#define MAX_WAITERS 96
#define DEFAULT_WAIT_MS 500
/* How long to wait for what must come (the server's view of a probe, a control's answer): on
 * this shared 2-core machine under load (load average 20-27, 27 labs at once) such an answer
 * took longer than the default 500 ms now and then (tests/lab/profile-gen.sh). Waiting for what
 * comes costs only the time until it comes, so the bound is generous; it is reached only when
 * something is broken (a transport the NAT drops, a control it blocks). */
#define MUST_WAIT_MS 4000
/* Between a first contact and the probe that depends on it: the NAT must have seen the first
 * before the second (both cross the same veth from one thread, but nothing promises order
 * across CPUs). */
#define FIRST_CONTACT_MS 10
/* The TCP filtering control's SYN: past the NAT (one hop), gone at the next router. */
#define CONTROL_TTL 2
#define CT_POLL_MS 2

/* An endpoint of either family. An IPv4 address is held as its IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so that one type and one comparison (cl_addr_eq()) serve
 * both families; sockets get their own family's sockaddr (cl_sa_of()). */
struct ep {
	struct in6_addr a;
	uint16_t port; /* host order */
};

/* What a waiter saw by the deadline. */
enum wait_state { W_NOTHING, W_ANSWER, W_REFUSED, W_ERROR };
enum wait_kind { W_UDP_RECV, W_UDP_ERR, W_TCP_CONNECT, W_TCP_ACCEPT };

struct waiter {
	int fd;
	enum wait_kind kind;
	enum wait_state state;
	struct ep from; /* W_UDP_RECV, W_TCP_ACCEPT: the source seen */
	int err;
	/* a control: something that must come (an answer, a refusal); cl_wait_all() waits for
	 * it up to the must-come bound, and the probes beside it wait as long */
	bool must;
	bool done;      /* judged, its socket closed: no longer waited for */
};

/* The inbound probes of one round and transport: waiter indexes (-1: not sent), and the
 * public endpoints they involve. */
struct probes {
	int filter[3];          /* from S2:P2, from S1:P2, the control */
	struct ep filter_pub[3];
	int hp_control;         /* A's side of the mutual exchange with P */
	int hp_control_src;     /* TCP: P's listener, when A's SYN was let straight in */
	int hp_ei, hp_ad;
	struct ep hp_pub[7];    /* A, P, T, S, U, V, W */
	int hp_fd[7];           /* their sockets (TCP: the one bound for the second phase) */
	int unsolicited, closed, mapped_srv, mapped_host;
	struct ep mapped_pub;
	/* TCP filtering control, between its two halves */
	int ctl_sfd, ctl_hfd;
	bool ctl_pending;        /* first half sent, conntrack not yet read */
	struct ep ctl_rem;
	/* UDP conntrack timeout reading, between its halves */
	int ct_fd;
	struct ep ct_pub;
	int64_t ct_t0;
};

/* One measurement: the lab, the nodes and addresses it probes between, the fds it opened. */
struct ctx {
	struct lab *lab;
	int host, nat, server;
	int family;             /* AF_INET or AF_INET6: the profile's family, every socket's */
	struct in6_addr srv[2];  /* S1, S2 */
	/* The public address: the NAT's WAN address; for a node that does not translate (an
	 * IPv6 firewall), the host's own address (warm_up() tells them apart). */
	struct in6_addr wan;
	struct in6_addr hostaddr; /* the host's own (internal) address */
	struct in6_addr up;      /* the NAT's upstream router on its WAN link */
	/* The node does not translate: the server saw the host's own address and port. Its
	 * "mapping" is the host's endpoint and hairpinning does not apply (traffic between two
	 * internal endpoints never reaches it). */
	bool no_translation;
	int wait_ms;
	int must_ms;            /* max(wait_ms, MUST_WAIT_MS) */
	int srv_udp[2][2];      /* [address][port] */
	int srv_tcp[2][2];      /* listeners */
	int fds[MAX_FDS];
	int nfds;
	unsigned seq;
	struct mnl_socket *ct;  /* conntrack of the NAT node */
	struct classify_result *r;
	struct waiter w[MAX_WAITERS];
	int nw;
	struct probes pr[CLASSIFY_ROUNDS][CLASSIFY_NTRANSPORTS];
};

extern const uint16_t srv_port[2];
extern const char *const tr_name[CLASSIFY_NTRANSPORTS];

/* classify_ctx.c: time, spelling, sockets in the nodes, probes and waiting */
int64_t cl_now_ms(void);
void cl_sleep_ms(int ms);
char *cl_ep_str(const struct ep *e, char *buf, size_t len);
char *cl_addr_str(const struct in6_addr *a, char *buf, size_t len);
bool cl_addr_eq(const struct in6_addr *x, const struct in6_addr *y);
/* an address of a topology (either family) as the ctx holds it */
struct in6_addr cl_addr_of(const struct net_addr *na);
/* the sockaddr of family `family` for a:port into *ss; returns its length */
socklen_t cl_sa_of(int family, const struct in6_addr *a, uint16_t port,
		   struct sockaddr_storage *ss);
struct ep cl_ep_of(const struct sockaddr_storage *s);
uint16_t cl_rport(int round, int port);
void cl_evidence(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cl_note(struct classify_measure *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a socket in a node, bound to a:port (0: any), non-blocking, owned (closed) by the ctx */
int cl_ctx_socket(struct ctx *c, int node, int type, const struct in6_addr *a, uint16_t port,
		  bool reuse);
void cl_ctx_close_from(struct ctx *c, int mark);
void cl_ctx_close(struct ctx *c, int fd);
int cl_host_socket(struct ctx *c, enum classify_transport tr, uint16_t port, bool reuse);
int cl_host_listener(struct ctx *c, uint16_t port);
uint16_t cl_local_port(int fd);
int cl_poll_one(int fd, short events, int64_t deadline);
int cl_send_to(int fd, struct ep to, const char *msg);
int cl_udp_observe(struct ctx *c, int hfd, int s, int p, struct ep *seen);
int cl_udp_answer(struct ctx *c, int hfd, int s, int p, struct ep seen);
int cl_tcp_connect_start(int fd, const struct in6_addr *a, uint16_t port);
/* IP_TTL / IPV6_UNICAST_HOPS and IP_MINTTL / IPV6_MINHOPCOUNT of a socket of the ctx's family
 * (-1: the default hop limit; 0: no minimum) */
int cl_set_hops(const struct ctx *c, int fd, int hops, int min_hops);
int cl_tcp_connect_result(int fd);
int cl_tcp_observe(struct ctx *c, int hfd, int s, int p, struct ep *seen);
int cl_observe(struct ctx *c, enum classify_transport tr, uint16_t port, int s, int p,
	       struct ep *seen);
int cl_add_waiter(struct ctx *c, int fd, enum wait_kind kind);
/* mark waiter i a control (struct waiter.must); returns i */
int cl_must(struct ctx *c, int i);
/* judged: close its socket, stop waiting for it (its state stays) */
void cl_waiter_done(struct ctx *c, int i);
enum wait_state cl_wstate(const struct ctx *c, int i);
const char *cl_state_word(enum wait_state s, enum classify_transport tr);
void cl_wait_all(struct ctx *c);
/* The NAT's conntrack entry of the flow from the host's internal port to rem: its public
 * endpoint and the seconds it has left. 0, -ENOENT (none yet) or -errno. */
int cl_ct_get(struct ctx *c, uint8_t proto, uint16_t port, struct ep rem, struct ep *pub,
	      uint32_t *timeout);

/* classify.c: the outbound tests */
void measure_mapping(struct ctx *c, int round, enum classify_transport tr);
void measure_ports(struct ctx *c, int round, enum classify_transport tr);

/* classify_inbound.c: the tests whose probes come in, set up for every round first and judged
 * after cl_wait_all() */
void start_filtering(struct ctx *c, int round, enum classify_transport tr);
void finish_controls(struct ctx *c);
void hairpin_setup(struct ctx *c, int round, enum classify_transport tr);
void hairpin_probe(struct ctx *c, int round, enum classify_transport tr);
void start_unsolicited(struct ctx *c, int round, enum classify_transport tr);
void end_unsolicited(struct ctx *c, int round, enum classify_transport tr);
void start_mapped_unsolicited(struct ctx *c, int round, enum classify_transport tr);
void finish_filtering(struct ctx *c, int round, enum classify_transport tr);
void finish_hairpin(struct ctx *c, int round, enum classify_transport tr);
void finish_unsolicited(struct ctx *c, int round, enum classify_transport tr);

/* classify_timeout.c: the UDP mapping timeout */
void ct_timeout_begin(struct ctx *c, int round);
void ct_timeout_read(struct ctx *c, bool replied);
void measure_lifetime(struct ctx *c);
