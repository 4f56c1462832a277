#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

void ice_opts_usage(const char *prog)
{
	printf("usage: %s --side a|b [--local ADDR]... [--stun HOST:PORT] [--turn HOST:PORT]...\n"
	       "          [--turn-tcp HOST:PORT]\n"
	       "          [--turn-tls HOST:PORT [--turn-ca FILE]] [--turn-user USER\n"
	       "          --turn-password PASSWORD] [--session ID] [--deadline-ms N]\n"
	       "          [--check-retransmissions N]\n"
	       "One ICE peer (libnice, RFC 8445, one UDP component). Prints its offer as one JSON\n"
	       "line (event \"candidates\", member \"offer\"), reads the other's offer as one line\n"
	       "on standard input (lines with its own offer are skipped), runs the connectivity\n"
	       "checks (printing its offer again as event \"checking\" once they are under way),\n"
	       "sends a payload both ways over the selected pair and prints a JSON line with\n"
	       "event \"result\" (relayed: a relayed candidate on either side). Side a controls.\n"
	       "A TURN server may be given over UDP (--turn), TCP (--turn-tcp) and TLS (--turn-tls,\n"
	       "its certificate checked against --turn-ca); one allocation is made on each.\n"
	       "--turn twice: one allocation per family (a dual-stack server's IPv4 and IPv6\n"
	       "addresses). HOST is an IPv4 address or a bracketed IPv6 one ([2001:db8::1]:3478).\n"
	       "--local ADDR (up to 4): host candidates from these addresses only (default: every\n"
	       "address of the node but loopback), e.g. one family's in a single-family test.\n"
	       "ICE_DEBUG=1 in the environment: libnice's own trace on standard output.\n"
	       "Exit 0: connected (direct or relayed), 1: failed, 2: bad input.\n", prog);
}

static int number(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < lo || *out > hi ? -1 : 0;
}

/* IPv4 "A.B.C.D:PORT" or IPv6 "[ADDR]:PORT" into host (the address, no brackets) and port. */
static int host_port(const char *flag, const char *arg, char *host, size_t hlen, unsigned *port,
		     char *why, int wlen)
{
	const char *colon = strrchr(arg, ':'), *start = arg;
	unsigned char buf[16];
	size_t len;
	long p;

	if (arg[0] == '[') {
		start = arg + 1;
		len = colon && colon > arg && colon[-1] == ']' ? (size_t)(colon - 1 - start) : 0;
	} else {
		len = colon ? (size_t)(colon - arg) : 0;
	}
	if (len && len < hlen) {
		memcpy(host, start, len);
		host[len] = '\0';
	}
	if (!len || len >= hlen || number(colon + 1, 1, 65535, &p) < 0 ||
	    inet_pton(start == arg ? AF_INET : AF_INET6, host, buf) != 1) {
		snprintf(why, (size_t)wlen, "%s \"%s\": expected HOST:PORT (an IPv4 address or a "
			 "bracketed IPv6 one, and a port from 1 to 65535)", flag, arg);
		return -1;
	}
	*port = (unsigned)p;
	return 0;
}

int ice_opts_parse(int argc, char **argv, struct ice_opts *o, char *why, int wlen)
{
	static const struct option longopts[] = {
		{ "side", required_argument, NULL, 's' },
		{ "stun", required_argument, NULL, 'S' },
		{ "local", required_argument, NULL, 'l' },
		{ "turn", required_argument, NULL, 'T' },
		{ "turn-tcp", required_argument, NULL, 'C' },
		{ "turn-tls", required_argument, NULL, 'L' },
		{ "turn-ca", required_argument, NULL, 'A' },
		{ "turn-user", required_argument, NULL, 'u' },
		{ "turn-password", required_argument, NULL, 'p' },
		{ "session", required_argument, NULL, 'i' },
		{ "deadline-ms", required_argument, NULL, 'd' },
		{ "check-retransmissions", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->session = "ice";
	o->deadline_ms = 10000;
	o->check_retransmissions = 3;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "a") && strcmp(optarg, "b")) {
				snprintf(why, (size_t)wlen, "--side \"%s\": expected a (controlling) or "
					 "b (controlled)", optarg);
				return -1;
			}
			o->side = optarg[0];
			o->controlling = o->side == 'a';
			break;
		case 'S':
			if (host_port("--stun", optarg, o->stun_host, sizeof(o->stun_host),
				      &o->stun_port, why, wlen) < 0)
				return -1;
			break;
		case 'l': {
			unsigned char buf[16];
			if (o->nlocal >= 4 || (inet_pton(AF_INET, optarg, buf) != 1 &&
					       inet_pton(AF_INET6, optarg, buf) != 1)) {
				snprintf(why, (size_t)wlen, "--local \"%s\": expected an IPv4 or IPv6 "
					 "address (at most 4 --local)", optarg);
				return -1;
			}
			o->local[o->nlocal++] = optarg;
			break;
		}
		case 'T':
			if (o->turn2_host[0]) {
				snprintf(why, (size_t)wlen, "--turn \"%s\": at most two (one per "
					 "address family)", optarg);
				return -1;
			}
			if (host_port("--turn", optarg, o->turn_host[0] ? o->turn2_host : o->turn_host,
				      sizeof(o->turn_host), o->turn_host[0] ? &o->turn2_port
				      : &o->turn_port, why, wlen) < 0)
				return -1;
			break;
		case 'C':
			if (host_port("--turn-tcp", optarg, o->turn_tcp_host,
				      sizeof(o->turn_tcp_host), &o->turn_tcp_port, why, wlen) < 0)
				return -1;
			break;
		case 'L':
			if (host_port("--turn-tls", optarg, o->turn_tls_host,
				      sizeof(o->turn_tls_host), &o->turn_tls_port, why, wlen) < 0)
				return -1;
			break;
		case 'A':
			o->turn_ca = optarg;
			break;
		case 'u':
			o->turn_user = optarg;
			break;
		case 'p':
			o->turn_password = optarg;
			break;
		case 'i':
			o->session = optarg;
			break;
		case 'd':
			if (number(optarg, 100, 600000, &n) < 0) {
				snprintf(why, (size_t)wlen, "--deadline-ms \"%s\": expected 100 to "
					 "600000", optarg);
				return -1;
			}
			o->deadline_ms = (int)n;
			break;
		case 'r':
			if (number(optarg, 0, 10, &n) < 0) {
				snprintf(why, (size_t)wlen, "--check-retransmissions \"%s\": expected "
					 "0 to 10", optarg);
				return -1;
			}
			o->check_retransmissions = (int)n;
			break;
		case 'h':
			ice_opts_usage(argv[0]);
			return 1;
		default:
			snprintf(why, (size_t)wlen, "unknown option or missing value: %s (see --help)",
				 argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(why, (size_t)wlen, "unexpected argument \"%s\" (see --help)", argv[optind]);
		return -1;
	}
	if (!o->side) {
		snprintf(why, (size_t)wlen, "--side a|b is required");
		return -1;
	}
	if ((o->turn_host[0] || o->turn_tcp_host[0] || o->turn_tls_host[0]) &&
	    (!o->turn_user || !o->turn_password)) {
		snprintf(why, (size_t)wlen, "%s needs --turn-user and --turn-password (TURN's "
			 "long-term credentials)", o->turn_host[0] ? "--turn" : o->turn_tcp_host[0]
			 ? "--turn-tcp" : "--turn-tls");
		return -1;
	}
	if (o->turn_ca && !o->turn_tls_host[0]) {
		snprintf(why, (size_t)wlen, "--turn-ca is the CA of the --turn-tls server: give "
			 "--turn-tls HOST:PORT too");
		return -1;
	}
	return 0;
}
