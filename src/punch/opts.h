/* Command-line options of the punch verbs, parsed into plain structs so that main only maps
 * results to exit codes and unit tests can drive the parsers with argv arrays. */
#ifndef PUNCH_OPTS_H
#define PUNCH_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "nat64.h"
#include "wire.h"

enum technique {
	TECH_UDP,
	TECH_TCP,
	TECH_TCP_TTL,
	TECH_PREDICT,
	TECH_BIRTHDAY,
	TECH_RELAY,
	TECH_AUTO,
	TECH_PORTMAP, /* udp, plus a mapping asked of the router (portmap.h) */
	TECH_MAX
};

enum proto { PROTO_TCP = 6, PROTO_UDP = 17 };

#define OPTS_MAX_LISTEN 8

struct rdv_opts {
	struct sockaddr_storage listen[OPTS_MAX_LISTEN];
	int n_listen;
	bool relay;
	uint32_t relay_limit;         /* bytes relayed per session */
	uint32_t max_sessions;
	uint32_t max_conns;           /* concurrent TCP connections */
	uint32_t session_ttl_ms;      /* idle sessions are freed after this */
	uint32_t rate_limit;          /* packets per second per source address, 0 = off */
	uint32_t duration_ms;         /* 0 = until SIGINT/SIGTERM */
	bool json;
	const char *secret_file;      /* --secret-file (NULL: the environment's, auth.h) */
	bool new_secret;              /* --new-secret FILE: write a fresh one to secret_file first */
};

struct peer_opts {
	struct sockaddr_storage rdv, rdv2;
	bool has_rdv2;
	char session[WIRE_MAX_SESSION + 1];
	uint8_t role;                 /* enum wire_role; ANY = the rendezvous assigns */
	int proto;                    /* enum proto */
	enum technique tech;
	uint32_t timeout_ms;
	bool json;
	struct sockaddr_storage bind; /* family AF_UNSPEC: any address of the rendezvous' family */
	uint16_t port;                /* local port, 0 = ephemeral */
	uint16_t payload;             /* verification payload bytes */
	uint32_t bday_sockets;
	uint32_t bday_probes;
	uint32_t bday_rate;           /* probes per second on the spraying side */
	uint32_t predict_window;
	uint32_t hold_ms;             /* keep the verified path alive this long */
	/* keep-alive interval once verified (--keepalive); 0 = none. Default: PEER_KEEPALIVE_MS
	 * with --hold, none with --idle-gap (a keep-alive would end the silence it measures) */
	uint32_t keepalive_ms;
	uint32_t idle_gap_ms;         /* --idle-gap: silence after verifying, then probe; 0 = off */
	uint32_t idle_after_ms;       /* --idle-after: keep-alives this long before the silence */
	uint32_t revalidate_ms;       /* --hold: probe the path this often, re-punch when silent */
	const char *secret_file;      /* --secret-file (NULL: the environment's, auth.h) */
	uint32_t signal_delay_ms;     /* --signal-delay: act on the rendezvous' answer this late */
	/* --rendezvous6: the server's IPv6 address; the peer then runs over both families at
	 * once (dual.h), rdv being the IPv4 one; IPv6 first, IPv4 family_delay_ms later */
	struct sockaddr_storage rdv6;
	bool has_rdv6;
	uint32_t family_delay_ms;     /* --family-delay (default DUAL_DELAY_MS) */
	/* --nat64-prefix: on a host with no IPv4 route, the other peer's IPv4 endpoints are
	 * aimed at through this NAT64 prefix (nat64.h); len 0: none */
	struct nat64_prefix nat64;
};

#define DUAL_DELAY_MS 50              /* RFC 8305's connection attempt delay, our default */
#define DUAL_DELAY_MAX_MS 10000

#define PEER_KEEPALIVE_MS 5000

/* Parse a keep-alive interval: "0" (none) or a duration as opts_parse_duration() takes it. */
int opts_parse_interval(const char *s, uint32_t *ms);

struct load_opts {
	struct sockaddr_storage rdv;
	uint32_t sessions;
	uint32_t window;              /* registrations in flight */
	uint32_t timeout_ms;
	bool json;
	const char *secret_file;      /* --secret-file (NULL: the environment's, auth.h) */
};

const char *technique_name(enum technique t);
int technique_parse(const char *s, enum technique *t);

/* Parse "2", "0.5", "250ms" as a duration into milliseconds (> 0, at most a day).
 * Returns 0 or -EINVAL. */
int opts_parse_duration(const char *s, uint32_t *ms);
/* Parse an unsigned decimal in [min, max]. Returns 0 or -EINVAL. */
int opts_parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *v);

/* Parse argv (argv[0] is the verb). Return 0 on success, 1 when --help was printed to @out,
 * -EINVAL after printing one error line to @err. getopt state is reset on entry. */
int rdv_opts_parse(int argc, char **argv, struct rdv_opts *o, FILE *out, FILE *err);
int peer_opts_parse(int argc, char **argv, struct peer_opts *o, FILE *out, FILE *err);
int load_opts_parse(int argc, char **argv, struct load_opts *o, FILE *out, FILE *err);

void rdv_usage(FILE *f);
void peer_usage(FILE *f);
void load_usage(FILE *f);

#endif
