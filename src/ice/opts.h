/* The ICE driver's command line (src/ice/main.c; docs/engine-format.md "ice"). */
#pragma once
#include <stdbool.h>

/* HOST in HOST:PORT is an IPv4 address or a bracketed IPv6 one ([2001:db8::1]:3478); the
 * host fields hold the address without brackets. */

struct ice_opts {
	bool controlling;           /* --side a: the controlling agent (RFC 8445 6.1.1) */
	char side;                  /* 'a' or 'b' */
	char stun_host[64];         /* --stun HOST:PORT (empty: no STUN server) */
	unsigned stun_port;
	char turn_host[64];         /* --turn HOST:PORT (empty: no TURN server) */
	unsigned turn_port;
	char turn2_host[64];        /* a second --turn (the other family's address of a dual-stack
				     * server: one allocation per family, RFC 6156) */
	unsigned turn2_port;
	const char *local[4];       /* --local ADDR: gather host candidates on these only */
	int nlocal;
	char turn_tcp_host[64];     /* --turn-tcp HOST:PORT: TURN over TCP (RFC 8656 3.1) */
	unsigned turn_tcp_port;
	char turn_tls_host[64];     /* --turn-tls HOST:PORT: TURN over TLS, through tls_tunnel.c */
	unsigned turn_tls_port;
	const char *turn_ca;        /* --turn-ca FILE: the TLS relay's CA (NULL: the system's) */
	const char *turn_user, *turn_password;
	const char *session;        /* --session: part of the payload, so a stray one never verifies */
	int deadline_ms;            /* --deadline-ms: from start to the result line */
	int check_retransmissions;  /* --check-retransmissions: STUN retransmissions per check */
};

/* Parse argv. Returns 0, 1 after printing the usage (--help), or -1 with why filled (bad
 * input: the caller prints it and exits 2). */
int ice_opts_parse(int argc, char **argv, struct ice_opts *o, char *why, int wlen);
void ice_opts_usage(const char *prog);
