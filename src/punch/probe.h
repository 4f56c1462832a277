/* punch probe: a reporter's NAT measured from home (RFC 5780 behaviour discovery) against a
 * punch rendezvous listening on two addresses and two ports, or against any RFC 5780 STUN
 * server. It prints the profile header fields it measured (the rest `unknown`) and the
 * `punchlab profile new` line that rebuilds that NAT. What is measured how: docs/probe.md. */
#ifndef PUNCH_PROBE_H
#define PUNCH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "auth.h"
#include "wire.h"

/* The server's four endpoints of RFC 5780: primary address and port, and their changes. */
enum probe_srv { PS_PRIMARY, PS_ALT_PORT, PS_ALT_ADDR, PS_ALT_BOTH, PS_MAX };

/* RFC 4787 dependency of a mapping or a filter; UNKNOWN when not measured. */
enum probe_dep { DEP_UNKNOWN, DEP_EI, DEP_AD, DEP_APD };

enum probe_ports { PORTS_UNKNOWN, PORTS_PRESERVE, PORTS_SEQUENTIAL, PORTS_RANDOM };

struct probe_opts {
	struct sockaddr_storage server;
	bool stun;                    /* --stun: RFC 5389/5780 binding requests */
	uint32_t lifetime_max_s;      /* 0: binding lifetime not measured */
	uint32_t wait_ms;             /* one request's wait for its answer */
	uint32_t tries;               /* transmissions of one request */
	bool tcp;                     /* mapping over TCP too (punch servers only) */
	bool redact, json;
	/* --server: a punch rendezvous checks every BIND's MAC (wire v2), so a probe
	 * authenticates as a peer does: the shared secret (--secret-file, or the environment)
	 * and a session id naming the key (--session). */
	const char *secret_file;
	char session[WIRE_MAX_SESSION + 1];
	struct auth_key key;          /* the session's key (probe_opts_parse loads it) */
};

/* The answer to one binding request. */
struct probe_answer {
	struct sockaddr_storage mapped;   /* the requester's public endpoint as the server saw it */
	struct sockaddr_storage origin;   /* where the answer came from */
	struct sockaddr_storage other[WIRE_MAX_EPS];  /* punch: ALT listeners; STUN: OTHER-ADDRESS */
	int n_other;
};

/* How binding requests look on the wire: punch's format or STUN's. */
struct probe_ops {
	const char *name;
	/* Write a request with transaction @id into @buf; @change is WIRE_F_CHANGE_* and
	 * @resp_port 0 or RFC 5780's RESPONSE-PORT. @o gives punch's session and key (STUN
	 * needs none: NULL will do). Returns its length or -EMSGSIZE. */
	int (*encode)(const struct probe_opts *o, uint8_t *buf, size_t cap, uint64_t id,
		      uint8_t change, uint16_t resp_port);
	/* Decode an answer to transaction @id (punch: verified with @o's key). Returns 0, or
	 * -EINVAL when @buf is not one. */
	int (*decode)(const struct probe_opts *o, const uint8_t *buf, size_t len, uint64_t id,
		      struct probe_answer *a);
	bool stream_framed;           /* TCP: a u16 length before each message (punch) */
};

extern const struct probe_ops probe_ops_wire;
extern const struct probe_ops probe_ops_stun;

#define PROBE_NPORTS 4
#define PROBE_MAX_LIFE 128

/* Everything measured, with its evidence. */
struct probe_result {
	bool reached;                 /* test I answered */
	struct sockaddr_storage local;    /* the probing host's own address (route source) */
	struct sockaddr_storage srv[PS_MAX];
	bool have_srv[PS_MAX];
	bool behind_nat;

	/* mapping: one socket's public endpoint towards each server endpoint */
	struct sockaddr_storage map_seen[PS_MAX];
	bool map_ok[PS_MAX];
	enum probe_dep mapping;

	enum probe_dep filtering;
	char filtering_note[96];

	/* ports: fresh sockets with consecutive local ports, each to the primary */
	uint16_t port_local[PROBE_NPORTS], port_public[PROBE_NPORTS];
	int n_ports;
	enum probe_ports ports;
	int stride;

	int hairpin;                  /* -1 unknown, 0 no, 1 yes */
	char hairpin_note[96];

	/* lifetime: alive[k] of a mapping probed once after life_at_ms[k] of silence */
	int n_life;
	uint32_t life_at_ms[PROBE_MAX_LIFE];
	int8_t life_alive[PROBE_MAX_LIFE];   /* -1 not probed (setup failed) */
	int udp_timeout;              /* seconds; -1 unknown */
	int life_lo_ms, life_hi_ms;   /* bracket; hi -1: alive at the longest wait */
	char lifetime_note[96];

	enum probe_dep tcp_mapping;
	struct sockaddr_storage tcp_seen[PS_MAX];
	bool tcp_ok[PS_MAX];
	char tcp_note[96];
};

/* Run every test. Returns 0 (see r->reached for a server that never answered), or -errno
 * for a local failure (sockets). */
int probe_run(const struct probe_opts *o, struct probe_result *r, FILE *err);

/* Pure classifiers, for unit tests. map[] holds the public endpoints towards PS_* (ok[] says
 * which were measured). */
enum probe_dep probe_classify_mapping(const struct sockaddr_storage map[PS_MAX],
				      const bool ok[PS_MAX]);
enum probe_ports probe_classify_ports(const uint16_t *local, const uint16_t *pub, int n,
				      int *stride);

const char *probe_dep_name(enum probe_dep d);
const char *probe_ports_name(enum probe_ports p);

/* Print @r as text or JSON (o->json), public addresses masked with o->redact. */
void probe_print(const struct probe_opts *o, const struct probe_result *r, FILE *out);

int probe_opts_parse(int argc, char **argv, struct probe_opts *o, FILE *out, FILE *err);
void probe_usage(FILE *f);

#endif
