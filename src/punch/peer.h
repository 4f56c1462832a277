/* The peer: registers with the rendezvous, learns the other peer's endpoints, runs one
 * technique (or the auto sequence), verifies a payload both ways and reports the outcome.
 * This header is shared by peer.c and the tech_*.c files; only peer_run() is public. */
#ifndef PUNCH_PEER_H
#define PUNCH_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "auth.h"
#include "evout.h"
#include "idle.h"
#include "loop.h"
#include "opts.h"
#include "util.h"
#include "wire.h"

/* Exit codes of `punch peer`. */
enum peer_exit { PEER_EXIT_DIRECT = 0, PEER_EXIT_FAILED = 1, PEER_EXIT_SETUP = 2,
		 PEER_EXIT_RELAYED = 3 };

/* Run the peer with @o until an outcome. Events go to @out, diagnostics to @err.
 * Returns an enum peer_exit. */
int peer_run(const struct peer_opts *o, FILE *out, FILE *err);

/* ---- one run of the peer, for a caller that runs several (dual.c: one per family) ---- */
struct peer;
/* A peer for @o with its own loop; events to @out/@err, times from @t0_us (shared by the runs
 * of one process). @signals: watch SIGINT/SIGTERM itself (else the caller does and calls
 * peer_interrupt()). @family_tag: 4 or 6 to put "family" in every event, or 0. NULL with errno
 * set; peer_free() frees. */
struct peer *peer_new(const struct peer_opts *o, FILE *out, FILE *err, uint64_t t0_us,
		      bool signals, int family_tag);
/* Start: the start event, the deadline (t0 + --timeout), the first step. 0, or -errno when
 * the sockets towards the rendezvous cannot be set up (no route, say): said on @err. */
int peer_begin(struct peer *p);
/* The loop the run's sockets and timers live on (the caller dispatches it, loop_poll()). */
struct loop *peer_loop(struct peer *p);
/* Whether the run ended (its result line written, its loop stopped) / its exit code. */
bool peer_finished(const struct peer *p);
int peer_exit_code(const struct peer *p);
/* Whether a direct path was verified both ways (the run may still answer the other peer) /
 * a direct path answered and its payload is being verified. */
bool peer_direct_verified(const struct peer *p);
bool peer_direct_verifying(const struct peer *p);
/* The phase the run is in or ended in (enum peer_phase) and its name. */
int peer_phase_of(const struct peer *p);
const char *peer_phase_name(int phase);
/* End the run now as failed with @reason (its setup failed: no route to the rendezvous). */
void peer_fail(struct peer *p, const char *reason);
/* A signal arrived: end the run with a result saying where it was. */
void peer_interrupt(struct peer *p, unsigned signo);
/* End the run now because another run's path was kept: a result line with outcome
 * "cancelled" and @why, a BYE to the rendezvous, and every socket and timer closed, so
 * nothing more leaves. A no-op on a finished run. */
void peer_cancel(struct peer *p, const char *why);
/* Name the result event ("result" by default; dual.c's runs say "family_result"). */
void peer_set_result_event(struct peer *p, const char *name);
/* Write the result line again as the run's final "result", with "families" (@n outcomes
 * keyed by family, in @keys/@vals) and "families_phase" (@phases, NULL entries for null). */
void peer_report_final(struct peer *p, const char *const *keys, const char *const *vals,
		       const char *const *phases, int n);
void peer_free(struct peer *p);

/* ---- internals shared with the techniques ---- */

#define PEER_MAX_SOCKS 1100           /* main + birthday sockets */
#define PEER_MAX_CANDS 1200
#define PEER_MAX_TCONNS 96

enum peer_phase {
	PH_REGISTRATION,      /* no REGISTERED yet */
	PH_EXCHANGE,          /* registered, waiting for the other peer's endpoints */
	PH_PROBING,           /* endpoints known, no path yet */
	PH_VERIFICATION,      /* a path answered, payload not verified yet */
	PH_DONE,
};

struct peer;

/* One UDP socket of the peer. socks[0] is the main socket: it speaks to the rendezvous and
 * punches (the NAT mapping the rendezvous saw is the one the peer must use). */
struct psock {
	struct peer *p;
	int fd;
	struct loop_io io;
};

/* A UDP path under test: one of our sockets towards one remote endpoint. */
struct cand {
	struct psock *s;
	struct sockaddr_storage to;
	uint32_t sent;
	bool acked;           /* a PROBE_ACK came back on this path */
	bool reflexive;       /* learned from an incoming probe (RFC 8445 peer-reflexive) */
	bool quiet;           /* don't emit a probe event (birthday/predict windows) */
	bool slow;            /* re-probe about once a second only (birthday sockets) */
};

enum chan_kind { CHAN_UDP, CHAN_TCP, CHAN_RELAY };

/* Where to send verification traffic. */
struct chan {
	enum chan_kind kind;
	struct psock *s;                  /* CHAN_UDP */
	struct sockaddr_storage to;       /* CHAN_UDP: remote; CHAN_TCP: the connection's peer */
	struct tconn *tc;                 /* CHAN_TCP */
};

/* A TCP connection attempt or connection to the other peer. */
struct tconn {
	struct peer *p;
	int fd;
	struct loop_io io;
	struct loop_timer retry;          /* the next scheduled attempt */
	struct sockaddr_storage to;
	struct stream st;
	uint64_t t0_us;                   /* origin of its attempt schedule (the shared moment) */
	uint32_t attempt;                 /* index of the current scheduled attempt */
	bool follow;                      /* role a of tcp's ordered attempts: half steps too */
	bool refused;                     /* a RST answered one of its SYNs */
	uint64_t stale_since_us;          /* first seen past SYN_SENT without a hello (0: not) */
	uint64_t opened_us;               /* when its current SYN left */
	uint32_t tries;
	int prime_ttl;                    /* tcp-ttl: first SYN with this TTL, then wait */
	bool accepted, established, hello_ok, dead, quiet;
};

/* The transport to the rendezvous when --proto tcp. */
struct rconn {
	int fd;
	struct loop_io io;
	struct stream st;
	bool up;
	struct sockaddr_storage to;
	bool bind_only;                   /* the second-rendezvous BIND connection */
};

struct tech_ops {
	enum technique id;
	bool needs_nat;                   /* BIND to two server addresses before REGISTER */
	bool fresh_socket;                /* start from a new local port (auto: after other steps) */
	/* Endpoints are known: start punching. Returns 0 or -errno (the step fails). */
	int (*start)(struct peer *p);
	/* Release everything start took (sockets, timers, state). */
	void (*stop)(struct peer *p);
	/* Optional: a technique-specific look at a valid message from the other peer. */
	void (*on_relay_msg)(struct peer *p, const struct wire_msg *m);
	/* Optional (auto): the other peer's payload came through the relay alongside, so it has
	 * its endpoints and has begun the round (race_relay.c). Called once per run. */
	void (*on_peer_started)(struct peer *p);
};

/* auto's relay alongside the direct steps (race_relay.c): its own verification state. */
struct race_relay {
	bool active;                      /* started in a direct step of auto */
	bool data_acked, peer_ok;         /* our payload echoed / the other's payload checked */
	bool verified;                    /* both: the first verified path */
	uint64_t t_verified;
	struct loop_timer timer;          /* retransmits our DATA until echoed */
};

struct peer {
	const struct peer_opts *o;
	struct evout ev;
	struct loop loop;
	int family;
	uint64_t nonce;
	/* authentication (auth.h): the session key, and the counters seen from the server and
	 * from the other peer (a repeat is a replay) */
	struct auth_key key;
	struct auth_window win_srv, win_peer;
	bool version_seen;                        /* the server speaks another version */
	uint64_t t0;

	/* sockets */
	struct psock *socks[PEER_MAX_SOCKS];
	int n_socks;
	uint16_t local_port;
	struct sockaddr_storage local;            /* private endpoint reported */
	/* portmap (portmap.h): the endpoint the router mapped for local_port (family 0: none),
	 * registered next to local; asked once per main socket (mapped_port says which). */
	struct sockaddr_storage mapped;
	uint16_t mapped_port;
	struct pm_job *pm_job;                    /* an ask under way in its thread (peer.c) */
	int pm_fd;                                /* its answer's pipe, read end */
	struct loop_io pm_io;
	struct rconn rc, rc2;                     /* TCP to rendezvous / second rendezvous */

	/* registration */
	enum peer_phase phase;
	struct sockaddr_storage rdv, rdv2;
	bool has_rdv2;
	struct loop_timer reg_timer;
	uint32_t reg_interval_ms;
	bool bind1_ok, bind2_ok, registered, reg_sent;
	uint16_t round;
	uint8_t role, peer_role;
	bool relay_ok;                            /* the server relays */
	struct sockaddr_storage public1, public2; /* seen by rendezvous 1 / 2 */
	struct wire_natinfo nat;                  /* own NAT, from public1/public2 */
	uint64_t reg_sent_us;
	uint64_t rtt_rdv_us;
	uint64_t rc_connect_us;                   /* TCP: when the server connection began */
	/* auto over UDP that has no peer AUTO_FALLBACK_MS after its start (UDP blocked on
	 * either side's network: docs/punch.md "Fallback to TCP") goes on over TCP: o then
	 * points at o_tcp, the options with proto tcp */
	struct peer_opts o_tcp;
	bool fell_back, ever_paired;
	struct loop_timer fallback_timer;

	/* the other peer, from PEER */
	uint64_t token, peer_nonce;
	struct sockaddr_storage peer_pub;
	struct sockaddr_storage peer_priv[WIRE_MAX_EPS];
	int n_peer_priv;
	struct wire_natinfo peer_nat;
	bool have_peer;
	/* The round's shared moment on our clock (PEER's START less half our RTT to the server;
	 * the moment PEER arrived when the server sets none): TCP techniques send their first
	 * SYN then and retry on tcp_attempt_offset_us() from it. */
	uint64_t t_start_us;
	/* tcp's ordered attempts (tech_tcp.c): b's TTL for a SYN that dies between the NATs
	 * (0: not measured, or none), and whether a follows b's attempts with half steps. */
	int tcp_order_ttl;
	bool tcp_ordered;

	/* step (technique) */
	const struct tech_ops *tech;
	void *ts;                                 /* the technique's state */
	int step;                                 /* auto: index into the step table */
	struct loop_timer step_timer, deadline, probe_timer;
	uint32_t probe_tick;

	/* UDP candidates */
	struct cand cands[PEER_MAX_CANDS];
	int n_cands;
	uint32_t seq;

	/* TCP to the other peer */
	int listen_fd;
	struct loop_io listen_io;
	int sigfd;
	struct loop_io sigio;
	struct tconn *tconns[PEER_MAX_TCONNS];
	int n_tconns;

	/* verification */
	bool connected;
	struct chan chan;
	uint8_t my_payload[WIRE_MAX_PAYLOAD], peer_payload[WIRE_MAX_PAYLOAD];
	bool my_data_acked, peer_data_ok, peer_done;
	struct loop_timer verify_timer, linger_timer, keepalive_timer;
	/* --signal-delay: the rendezvous' answer held until signal_timer fires; signal_released
	 * is the round it was released in + 1 (0: none yet) */
	struct loop_timer signal_timer;
	struct wire_msg signal_msg;
	uint32_t signal_released;
	uint64_t rtt_us;
	struct idle idle;                         /* --idle-gap (idle.c) */

	/* --hold --revalidate (revalidate.c): when the path last proved alive each way, and the
	 * loss being recovered from */
	struct loop_timer reval_timer;
	uint64_t reval_ack_us, reval_heard_us, reval_lost_us;
	uint32_t reval_losses;
	bool reval_on, reval_lost, reval_relay;

	struct race_relay rr;

	/* results */
	uint64_t t_registered, t_endpoints, t_step, t_connected, t_verified;
	uint32_t attempts, probes_sent, sockets_opened, self_msgs, bad_msgs, ttl_used;
	int hops;
	const char *fail_phase;
	char fail_reason[160];
	int exit_code;
	bool finished;
	/* dual.c: the run is one family of two */
	bool cancelled, torn_down, own_signals;
	const char *result_event;                 /* NULL: "result" */
	const char *const *fam_keys, *const *fam_vals, *const *fam_phases;
	int n_fams;
};

/* End the run with exit code @code: the result line, a BYE to the rendezvous, loop stop. */
void peer_finish(struct peer *p, int code);
/* Register again on the main socket for round @round and run technique @t once the other peer's
 * endpoints arrive (revalidate.c's re-punch). Returns 0 or -errno. */
int peer_repunch(struct peer *p, enum technique t, uint16_t round);

/* Path revalidation in --hold (revalidate.c). reval_on_verified(): a path was verified; true
 * when it was a recovery (the hold keeps its end). reval_on_msg(): a message from the other
 * peer on channel c. reval_step_timeout(): the step deadline of a re-punch passed; true when
 * revalidation handles it. reval_lost_now(): the path is lost and not recovered. */
void reval_init(struct peer *p);
bool reval_on_verified(struct peer *p);
void reval_on_msg(struct peer *p, const struct chan *c, const struct wire_msg *m);
bool reval_step_timeout(struct peer *p);
bool reval_lost_now(const struct peer *p);

/* Encode @m for sending: a fresh counter, BIND and REGISTER padded to their minimum size
 * (wire.h), then the MAC. Returns the length or -errno. */
int peer_encode(struct peer *p, struct wire_msg *m, uint8_t *buf, size_t cap);
/* Decode @len bytes and check their MAC with the session key: 0, or -1 (counted in bad_msgs;
 * a version error from the server is reported once). */
int peer_decode(struct peer *p, const uint8_t *buf, size_t len, struct wire_msg *m);
/* A message from the other peer passed peer_msg_check(): is its counter new (not a replay)? */
bool peer_replay_ok(struct peer *p, const struct wire_msg *m);

/* Send a wire message on a UDP socket / over a channel. Return 0 or -errno. */
int peer_udp_send(struct peer *p, struct psock *s, const struct sockaddr_storage *to,
		  struct wire_msg *m);
int peer_chan_send(struct peer *p, const struct chan *c, struct wire_msg *m);
/* Fill the header fields every peer-to-peer message carries (token, role, nonce). */
void peer_msg_init(struct peer *p, struct wire_msg *m, uint8_t type);
/* Relay @inner to the other peer through the rendezvous. */
int peer_relay_send(struct peer *p, struct wire_msg *inner);

/* Open one more UDP socket (ephemeral port) watched by the loop; NULL with errno set. */
struct psock *peer_sock_add(struct peer *p);
void peer_sock_close(struct peer *p, struct psock *s);

/* Add a UDP candidate (deduplicated) and probe it at once. Returns it or NULL when full. */
struct cand *peer_cand_add(struct peer *p, struct psock *s, const struct sockaddr_storage *to,
			   bool reflexive, bool quiet);
void peer_cand_probe(struct peer *p, struct cand *c);
/* Probe every candidate now and then on the fast re-probe schedule. */
void peer_probe_schedule_start(struct peer *p);
void peer_cands_clear(struct peer *p);

/* A path answered: start the payload exchange on @c (first path wins). */
void peer_connected(struct peer *p, const struct chan *c, const char *how);
/* The step cannot succeed (setup failure inside a technique): fail it now. */
void peer_step_fail(struct peer *p, const char *reason);

enum msg_check { MSG_OK, MSG_SELF, MSG_BAD };
/* Is @m from the other peer? Token, role and nonce must all match what the rendezvous said;
 * our own nonce means the message is our own (the peer's private address may be ours).
 * @have_peer false (endpoints not known yet): MSG_BAD. */
enum msg_check peer_msg_check(bool have_peer, uint64_t token, uint64_t own_nonce,
			      uint64_t peer_nonce, uint8_t peer_role, const struct wire_msg *m);

/* Handle a valid, authenticated message from the other peer that arrived on @c. */
void peer_on_peer_msg(struct peer *p, const struct chan *c, const struct wire_msg *m);

/* Candidate endpoints of the other peer to try directly: public first, then private ones,
 * minus any equal to our own private endpoint (two LANs with the same addressing would make
 * us probe ourselves). Returns the count written to @out (at most 1 + WIRE_MAX_EPS). */
int peer_targets(struct peer *p, struct sockaddr_storage *out);

/* Retransmission timeout from the measured RTT: clamp(3 * rtt, 5 ms, 500 ms). */
uint64_t peer_rto_us(struct peer *p);

/* Remaining time before the step's deadline (0 when passed). */
uint64_t peer_step_left_us(struct peer *p);

/* ---- techniques ---- */
/* udp's start and stop, also portmap's (which punches like udp from a mapped socket) */
int tech_udp_start(struct peer *p);
void tech_udp_stop(struct peer *p);
extern const struct tech_ops tech_udp_ops, tech_tcp_ops, tech_ttl_ops, tech_predict_ops,
	tech_birthday_ops, tech_relay_ops, tech_portmap_ops;

/* tech_tcp.c: the TCP simultaneous-open engine used by tcp, tcp-ttl and predict. */
/* The shared attempt schedule: attempt @k starts this long after the shared moment (0 for
 * k = 0), the same on both peers (no jitter), so a lost crossing is followed by SYNs that
 * leave both sides together again. @follow (role a of tcp's ordered attempts): the same
 * attempts plus one halfway between each two, so that a SYN of a leaves after b's
 * TTL-limited one whatever the two peers' timers did within half a gap. */
uint64_t tcp_attempt_offset_us(uint32_t k, bool follow);
/* The first attempt due after @now for a schedule starting at @t0 (@now may be before @t0). */
uint32_t tcp_attempt_next(uint64_t t0, uint64_t now, bool follow);
int tcp_punch_begin(struct peer *p);                    /* listener on the punch port */
struct tconn *tcp_punch_connect(struct peer *p, const struct sockaddr_storage *to, bool quiet);
/* tcp-ttl: a connect whose SYN leaves with @ttl (it dies before the other NAT) and which then
 * waits in SYN_SENT for the other peer's SYN; see tech_ttl.c. */
struct tconn *tcp_punch_prime(struct peer *p, const struct sockaddr_storage *to, int ttl);
void tcp_punch_end(struct peer *p);                     /* close all but the winner */
void tcp_punch_close_all(struct peer *p);
/* The ordered attempts after a refused crossing (tech_tcp.c), for every simultaneous open that
 * may meet a NAT answering SYNs with RST (tcp, predict over TCP): begin measures b's hops and
 * uses p->ts; end stops and frees it. 0 or -ENOMEM. */
int tcp_ordered_begin(struct peer *p);
void tcp_ordered_end(struct peer *p);

/* tech_predict.c: the prediction arithmetic (unit tested). */
/* Classify a NAT from the private endpoint and the public endpoints seen by two servers
 * (@pub2 family AF_UNSPEC: not measured). */
void nat_classify(const struct sockaddr_storage *priv, const struct sockaddr_storage *pub1,
		  const struct sockaddr_storage *pub2, struct wire_natinfo *n);
/* The k-th port after @last with @stride, modulo 65536; 0 when it would be port 0. */
uint16_t predict_port(uint16_t last, int16_t stride, int k);
/* The ports to aim at for a peer with NAT @n, in the order to try them; returns the count
 * (at most @max). For a sequential NAT: last + k*stride for k = 1..window; otherwise the
 * single public port @pub_port. */
int predict_ports(const struct wire_natinfo *n, uint16_t pub_port, int window, uint16_t *out,
		  int max);

/* tech_birthday.c: move the ports within @window of any nonzero @seen port to the front of
 * @ports (their order kept, and the order of the rest); returns how many were moved. */
uint32_t birthday_near_first(uint16_t *ports, uint32_t n, const uint16_t *seen, int n_seen,
			     uint32_t window);

/* hops.c */
/* The TTL for a SYN that passes our own NAT(s) but dies before the peer's: from a
 * traceroute-style measurement @hop_private[i] (true when hop i+1 answered from a private
 * address or our own public address), @n hops answered, @reached (a probe reached the peer's
 * address at TTL n+1). Returns the TTL, or -1 when there is no router to stop at. */
int ttl_choose(const bool *hop_private, int n, bool reached);

/* tech_auto.c */
struct auto_step {
	enum technique tech;
	uint32_t deadline_ms;
};
/* The step table for @proto (exposed for tests and docs). */
const struct auto_step *auto_steps(int proto, int *n);
/* Whether step @tech applies given both peers' NATs. */
bool auto_step_applies(enum technique tech, const struct wire_natinfo *own,
		       const struct wire_natinfo *peer, bool relay_ok);

/* race_relay.c: auto's relay alongside the direct steps (race.h). init once per run (after
 * loop_init); start in every step's round (a no-op once verified; in the relay step, or when
 * the server does not relay, it stops); stop when the server refuses to relay. on_msg: a relayed DATA,
 * DATA_ACK or DONE from the other peer while a direct step of auto runs; true when it was
 * handled there (the step's own verification must not see it). */
void race_relay_init(struct peer *p);
void race_relay_start(struct peer *p);
void race_relay_stop(struct peer *p);
bool race_relay_on_msg(struct peer *p, const struct wire_msg *m);

#endif
