#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

static const char *const tech_names[TECH_MAX] = {
	[TECH_UDP] = "udp", [TECH_TCP] = "tcp", [TECH_TCP_TTL] = "tcp-ttl",
	[TECH_PREDICT] = "predict", [TECH_BIRTHDAY] = "birthday", [TECH_RELAY] = "relay",
	[TECH_AUTO] = "auto", [TECH_PORTMAP] = "portmap",
};

const char *technique_name(enum technique t)
{
	return (unsigned)t < TECH_MAX ? tech_names[t] : "?";
}

int technique_parse(const char *s, enum technique *t)
{
	int i;

	for (i = 0; i < TECH_MAX; i++) {
		if (!strcmp(s, tech_names[i])) {
			*t = (enum technique)i;
			return 0;
		}
	}
	return -EINVAL;
}

int opts_parse_duration(const char *s, uint32_t *ms)
{
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	if (!strcmp(end, "ms"))
		v /= 1000.0;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (v <= 0 || v > 86400)
		return -EINVAL;
	*ms = (uint32_t)ceil(v * 1000.0);
	return 0;
}

int opts_parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

void rdv_usage(FILE *f)
{
	fputs("usage: punch rendezvous --listen ADDR:PORT [--listen ADDR:PORT ...] [options]\n"
	      "  UDP and TCP on every listen address; give two addresses (or ports) so that\n"
	      "  peers can learn their NAT's port allocation stride.\n"
	      "  --no-relay           do not relay data between the peers of a session\n"
	      "  --relay-limit BYTES  bytes relayed per session (default 1048576)\n"
	      "  --max-sessions N     sessions held at once (default 100000)\n"
	      "  --max-conns N        TCP connections at once (default 1024)\n"
	      "  --session-ttl S      free a session idle this long (default 120)\n"
	      "  --rate-limit PPS     packets per second per source address, 0 = off (default 2000)\n"
	      "  --duration S         exit after S seconds (default: run until SIGINT/SIGTERM)\n"
	      "  --secret-file FILE   the secret shared out of band (also PUNCH_SECRET_FILE or\n"
      "                       PUNCH_SECRET in the environment; punch keygen FILE)\n"
      "  --new-secret FILE    write a new secret to FILE (must not exist) and use it: the\n"
      "                       peers read it from there (a lab hands it on this way)\n"
      "  --json               JSON lines: 'listening' at start, 'stats' at exit\n", f);
}

void peer_usage(FILE *f)
{
	fputs("usage: punch peer --rendezvous ADDR:PORT --session ID [options]\n"
	      "  --rendezvous2 ADDR:PORT  second server address, for stride learning (default: the\n"
	      "                       rendezvous' other listen address, when it has one)\n"
	      "  --role a|b           this peer's role (default: assigned by the rendezvous)\n"
	      "  --proto udp|tcp      transport (default udp; tcp for --technique tcp/tcp-ttl)\n"
	      "  --technique T        udp, tcp, tcp-ttl, predict, birthday, relay, portmap, auto\n"
	      "                       (default; auto asks the router for a mapping too, briefly)\n"
	      "  --timeout S          give up after S seconds (default 10)\n"
	      "  --secret-file FILE   the secret shared out of band (also PUNCH_SECRET_FILE or\n"
      "                       PUNCH_SECRET in the environment; punch keygen FILE)\n"
      "  --json               one JSON object per line; the last line is the result\n"
	      "  --bind ADDR          local address (default: any)\n"
	      "  --port N             local port (default: ephemeral)\n"
	      "  --payload N          verification payload bytes, 16..1024 (default 256)\n"
	      "  --birthday-sockets N sockets on the symmetric side (default 256)\n"
	      "  --birthday-probes N  probes on the cone side (default 4096)\n"
	      "  --birthday-rate PPS  probe rate on the cone side (default 4000)\n"
	      "  --predict-window N   predicted ports to try (default 8)\n"
	      "  --hold S             keep the verified path alive S seconds (keep-alives)\n"
	      "  --keepalive T        keep-alive interval once verified, 0 = none (default 5 s\n"
	      "                       with --hold, none with --idle-gap)\n"
	      "  --idle-gap S         once verified, stay silent S seconds (but for keep-alives),\n"
	      "                       then b probes a: did the path survive? (in the result)\n"
	      "  --idle-after S       with --idle-gap: keep-alives every 0.5 s for S seconds\n"
	      "                       first (a flow older than 2 s gets conntrack's replied\n"
	      "                       timeout)\n"
	      "  --revalidate S       with --hold: probe the path every S; when it goes silent,\n"
	      "                       register again and re-punch (default off; docs/punch.md)\n"
	      "  --signal-delay T     test knob: act on the rendezvous' answer (the other peer's\n"
	      "                       endpoints) T later, as if it came over a slow path\n"
	      "                       (250ms, 0.2; default 0 = at once; docs/punch.md)\n"
	      "  --rendezvous6 [V6]:PORT  the server's IPv6 address too (--rendezvous then IPv4):\n"
	      "                       try both families at once, IPv6 first; the first path\n"
	      "                       verified is kept (result: family, families)\n"
	      "  --family-delay T     with --rendezvous6: IPv4 starts T after IPv6, or when\n"
	      "                       IPv6 fails (default 50ms, RFC 8305; 0 = together)\n"
	      "  --nat64-prefix P/LEN the NAT64's prefix (RFC 6052: LEN 32, 40, 48, 56, 64 or\n"
	      "                       96): on a host with no IPv4 route, the other peer's IPv4\n"
	      "                       endpoints are aimed at through it (docs/punch.md)\n"
	      "exit: 0 direct, 3 relayed, 1 failed, 2 usage or setup error\n", f);
}

void load_usage(FILE *f)
{
	fputs("usage: punch load --rendezvous ADDR:PORT [--sessions N] [--window N] [--timeout S]"
	      " [--json] [--secret-file FILE]\n"
	      "  registers N sessions (two peers each) over UDP and reports registrations/s\n", f);
}

int opts_parse_interval(const char *s, uint32_t *ms)
{
	char *end;

	/* zero in any spelling opts_parse_duration() takes ("0", "0.0s", "0ms"): none */
	if (s && *s >= '0' && *s <= '9' && strtod(s, &end) == 0 &&
	    (!*end || !strcmp(end, "s") || !strcmp(end, "ms"))) {
		*ms = 0;
		return 0;
	}
	return opts_parse_duration(s, ms);
}

/* getopt_long keeps global state; optind = 0 makes glibc start over (tests parse twice). */
static void getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

static int bad(FILE *err, const char *verb, const char *what, const char *val)
{
	fprintf(err, "punch %s: %s%s%s%s\n", verb, what, val ? " \"" : "", val ? val : "",
		val ? "\"" : "");
	return -EINVAL;
}

/* With opterr off, getopt_long returns '?' both for an unknown option and for a missing value;
 * the offending word is the last one it consumed. */
static int unknown_opt(FILE *err, const char *verb, int argc, char **argv)
{
	const char *w = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

	return bad(err, verb, "unknown option or missing value", w);
}

int rdv_opts_parse(int argc, char **argv, struct rdv_opts *o, FILE *out, FILE *err)
{
	enum { O_LISTEN = 256, O_NORELAY, O_RELAYLIM, O_MAXS, O_MAXC, O_TTL, O_RATE, O_DUR,
	       O_JSON, O_HELP, O_SECRET, O_NEWSECRET };
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "new-secret", required_argument, NULL, O_NEWSECRET },
		{ "no-relay", no_argument, NULL, O_NORELAY },
		{ "relay-limit", required_argument, NULL, O_RELAYLIM },
		{ "max-sessions", required_argument, NULL, O_MAXS },
		{ "max-conns", required_argument, NULL, O_MAXC },
		{ "session-ttl", required_argument, NULL, O_TTL },
		{ "rate-limit", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DUR },
		{ "json", no_argument, NULL, O_JSON },
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 }
	};
	const char *v = "rendezvous";
	int c;

	memset(o, 0, sizeof(*o));
	o->relay = true;
	o->relay_limit = 1u << 20;
	o->max_sessions = 100000;
	o->max_conns = 1024;
	o->session_ttl_ms = 120000;
	o->rate_limit = 2000;
	getopt_reset();
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (o->n_listen >= OPTS_MAX_LISTEN)
				return bad(err, v, "too many --listen (at most 8)", NULL);
			if (ep_parse(optarg, true, &o->listen[o->n_listen]))
				return bad(err, v, "--listen wants ADDR:PORT, got", optarg);
			o->n_listen++;
			break;
		case O_NORELAY:
			o->relay = false;
			break;
		case O_RELAYLIM:
			if (opts_parse_uint(optarg, 0, UINT32_MAX, &o->relay_limit))
				return bad(err, v, "bad --relay-limit", optarg);
			break;
		case O_MAXS:
			if (opts_parse_uint(optarg, 1, 10000000, &o->max_sessions))
				return bad(err, v, "bad --max-sessions (1..10000000)", optarg);
			break;
		case O_MAXC:
			if (opts_parse_uint(optarg, 1, 65536, &o->max_conns))
				return bad(err, v, "bad --max-conns (1..65536)", optarg);
			break;
		case O_TTL:
			if (opts_parse_duration(optarg, &o->session_ttl_ms))
				return bad(err, v, "bad --session-ttl", optarg);
			break;
		case O_RATE:
			if (opts_parse_uint(optarg, 0, 10000000, &o->rate_limit))
				return bad(err, v, "bad --rate-limit", optarg);
			break;
		case O_DUR:
			if (opts_parse_duration(optarg, &o->duration_ms))
				return bad(err, v, "bad --duration", optarg);
			break;
		case O_NEWSECRET:
			if (o->secret_file)
				return bad(err, v, "--new-secret and --secret-file exclude each other, got",
					   optarg);
			o->secret_file = optarg;
			o->new_secret = true;
			break;
		case O_SECRET:
			if (o->new_secret)
				return bad(err, v, "--new-secret and --secret-file exclude each other, got",
					   optarg);
			o->secret_file = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_HELP:
			rdv_usage(out);
			return 1;
		default:
			return unknown_opt(err, v, argc, argv);
		}
	}
	if (optind < argc)
		return bad(err, v, "unexpected argument", argv[optind]);
	if (o->n_listen == 0)
		return bad(err, v, "--listen ADDR:PORT is required", NULL);
	return 0;
}

int peer_opts_parse(int argc, char **argv, struct peer_opts *o, FILE *out, FILE *err)
{
	enum { O_RDV = 256, O_RDV2, O_SESSION, O_ROLE, O_PROTO, O_TECH, O_TIMEOUT, O_JSON,
	       O_BIND, O_PORT, O_PAYLOAD, O_BSOCK, O_BPROBE, O_BRATE, O_PWIN, O_HOLD, O_KEEPALIVE,
	       O_IDLE, O_IDLE_AFTER, O_REVALIDATE, O_SIGNAL_DELAY, O_HELP, O_SECRET,
	       O_RDV6, O_FAMILY_DELAY, O_NAT64 };
	static const struct option lo[] = {
		{ "rendezvous", required_argument, NULL, O_RDV },
		{ "rendezvous2", required_argument, NULL, O_RDV2 },
		{ "session", required_argument, NULL, O_SESSION },
		{ "role", required_argument, NULL, O_ROLE },
		{ "proto", required_argument, NULL, O_PROTO },
		{ "technique", required_argument, NULL, O_TECH },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "bind", required_argument, NULL, O_BIND },
		{ "port", required_argument, NULL, O_PORT },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "birthday-sockets", required_argument, NULL, O_BSOCK },
		{ "birthday-probes", required_argument, NULL, O_BPROBE },
		{ "birthday-rate", required_argument, NULL, O_BRATE },
		{ "predict-window", required_argument, NULL, O_PWIN },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "keepalive", required_argument, NULL, O_KEEPALIVE },
		{ "idle-gap", required_argument, NULL, O_IDLE },
		{ "idle-after", required_argument, NULL, O_IDLE_AFTER },
		{ "revalidate", required_argument, NULL, O_REVALIDATE },
		{ "signal-delay", required_argument, NULL, O_SIGNAL_DELAY },
		{ "rendezvous6", required_argument, NULL, O_RDV6 },
		{ "family-delay", required_argument, NULL, O_FAMILY_DELAY },
		{ "nat64-prefix", required_argument, NULL, O_NAT64 },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 }
	};
	const char *v = "peer";
	bool has_rdv = false, has_proto = false, has_keepalive = false, has_fdelay = false;
	uint32_t x;
	int c;

	memset(o, 0, sizeof(*o));
	o->proto = PROTO_UDP;
	o->tech = TECH_AUTO;
	o->timeout_ms = 10000;
	o->payload = 256;
	o->bday_sockets = 256;
	o->bday_probes = 4096;
	o->bday_rate = 4000;
	o->predict_window = 8;
	o->family_delay_ms = DUAL_DELAY_MS;
	getopt_reset();
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case O_RDV:
			if (ep_parse(optarg, true, &o->rdv))
				return bad(err, v, "--rendezvous wants ADDR:PORT, got", optarg);
			has_rdv = true;
			break;
		case O_RDV2:
			if (ep_parse(optarg, true, &o->rdv2))
				return bad(err, v, "--rendezvous2 wants ADDR:PORT, got", optarg);
			o->has_rdv2 = true;
			break;
		case O_SESSION:
			if (!wire_session_valid(optarg))
				return bad(err, v, "--session wants 1..64 characters of "
					   "[A-Za-z0-9._:@/+-], got", optarg);
			strcpy(o->session, optarg);
			break;
		case O_ROLE:
			if (!strcmp(optarg, "a"))
				o->role = WIRE_ROLE_A;
			else if (!strcmp(optarg, "b"))
				o->role = WIRE_ROLE_B;
			else if (!strcmp(optarg, "any"))
				o->role = WIRE_ROLE_ANY;
			else
				return bad(err, v, "--role wants a, b or any, got", optarg);
			break;
		case O_PROTO:
			if (!strcmp(optarg, "udp"))
				o->proto = PROTO_UDP;
			else if (!strcmp(optarg, "tcp"))
				o->proto = PROTO_TCP;
			else
				return bad(err, v, "--proto wants udp or tcp, got", optarg);
			has_proto = true;
			break;
		case O_TECH:
			if (technique_parse(optarg, &o->tech))
				return bad(err, v, "--technique wants udp, tcp, tcp-ttl, predict, "
					   "birthday, relay, portmap or auto, got", optarg);
			break;
		case O_TIMEOUT:
			if (opts_parse_duration(optarg, &o->timeout_ms))
				return bad(err, v, "--timeout wants seconds > 0, got", optarg);
			break;
		case O_SECRET:
			o->secret_file = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_BIND:
			if (ep_parse_addr(optarg, &o->bind))
				return bad(err, v, "--bind wants an IP address, got", optarg);
			break;
		case O_PORT:
			if (opts_parse_uint(optarg, 0, 65535, &x))
				return bad(err, v, "--port wants 0..65535, got", optarg);
			o->port = (uint16_t)x;
			break;
		case O_PAYLOAD:
			if (opts_parse_uint(optarg, 16, WIRE_MAX_PAYLOAD, &x))
				return bad(err, v, "--payload wants 16..1024 bytes, got", optarg);
			o->payload = (uint16_t)x;
			break;
		case O_BSOCK:
			if (opts_parse_uint(optarg, 1, 1024, &o->bday_sockets))
				return bad(err, v, "--birthday-sockets wants 1..1024, got", optarg);
			break;
		case O_BPROBE:
			if (opts_parse_uint(optarg, 1, 65535, &o->bday_probes))
				return bad(err, v, "--birthday-probes wants 1..65535, got", optarg);
			break;
		case O_BRATE:
			if (opts_parse_uint(optarg, 1, 100000, &o->bday_rate))
				return bad(err, v, "--birthday-rate wants 1..100000, got", optarg);
			break;
		case O_PWIN:
			if (opts_parse_uint(optarg, 1, 64, &o->predict_window))
				return bad(err, v, "--predict-window wants 1..64, got", optarg);
			break;
		case O_HOLD:
			if (opts_parse_duration(optarg, &o->hold_ms))
				return bad(err, v, "--hold wants seconds > 0, got", optarg);
			break;
		case O_KEEPALIVE:
			if (opts_parse_interval(optarg, &o->keepalive_ms))
				return bad(err, v, "--keepalive wants an interval (seconds, e.g. 1, "
					   "0.5 or 250ms; 0 = none), got", optarg);
			has_keepalive = true;
			break;
		case O_SIGNAL_DELAY:
			/* up to a minute: beyond any --timeout that could still connect */
			if (opts_parse_interval(optarg, &o->signal_delay_ms) ||
			    o->signal_delay_ms > 60000)
				return bad(err, v, "--signal-delay wants a delay of 0 to 60 s (e.g. "
					   "250ms or 0.2), got", optarg);
			break;
		case O_IDLE:
			if (opts_parse_duration(optarg, &o->idle_gap_ms))
				return bad(err, v, "--idle-gap wants seconds > 0, got", optarg);
			break;
		case O_IDLE_AFTER:
			if (opts_parse_duration(optarg, &o->idle_after_ms))
				return bad(err, v, "--idle-after wants seconds > 0, got", optarg);
			break;
		case O_REVALIDATE:
			if (opts_parse_duration(optarg, &o->revalidate_ms) || o->revalidate_ms < 10)
				return bad(err, v, "--revalidate wants an interval of at least 10ms, got",
					   optarg);
			break;
		case O_RDV6:
			if (ep_parse(optarg, true, &o->rdv6) || o->rdv6.ss_family != AF_INET6)
				return bad(err, v, "--rendezvous6 wants [IPV6ADDR]:PORT, got", optarg);
			o->has_rdv6 = true;
			break;
		case O_FAMILY_DELAY:
			if (opts_parse_interval(optarg, &o->family_delay_ms) ||
			    o->family_delay_ms > DUAL_DELAY_MAX_MS)
				return bad(err, v, "--family-delay wants a delay of 0 to 10 s (e.g. "
					   "50ms or 0.05), got", optarg);
			has_fdelay = true;
			break;
		case O_NAT64:
			if (nat64_prefix_parse(optarg, &o->nat64))
				return bad(err, v, "--nat64-prefix wants an IPv6 prefix of length 32, "
					   "40, 48, 56, 64 or 96 with bits 64-71 zero (RFC 6052, e.g. "
					   "64:ff9b::/96), got", optarg);
			break;
		case O_HELP:
			peer_usage(out);
			return 1;
		default:
			return unknown_opt(err, v, argc, argv);
		}
	}
	if (optind < argc)
		return bad(err, v, "unexpected argument", argv[optind]);
	if (!has_rdv)
		return bad(err, v, "--rendezvous ADDR:PORT is required", NULL);
	if (!o->session[0])
		return bad(err, v, "--session ID is required", NULL);
	if (o->tech == TECH_TCP || o->tech == TECH_TCP_TTL) {
		if (has_proto && o->proto != PROTO_TCP)
			return bad(err, v, "--technique tcp and tcp-ttl need --proto tcp", NULL);
		o->proto = PROTO_TCP;
	}
	if (o->tech == TECH_UDP && o->proto != PROTO_UDP)
		return bad(err, v, "--technique udp needs --proto udp", NULL);
	if (o->tech == TECH_PORTMAP && o->proto != PROTO_UDP)
		return bad(err, v, "--technique portmap is UDP only", NULL);
	if (o->tech == TECH_BIRTHDAY && o->proto != PROTO_UDP)
		return bad(err, v, "--technique birthday is UDP only", NULL);
	if (o->has_rdv2 && o->rdv2.ss_family != o->rdv.ss_family)
		return bad(err, v, "--rendezvous2 must be of the same address family as --rendezvous",
			   NULL);
	if (o->has_rdv6 && o->rdv.ss_family != AF_INET)
		return bad(err, v, "--rendezvous6 needs an IPv4 --rendezvous (the two families' "
			   "addresses of the server)", NULL);
	if (has_fdelay && !o->has_rdv6)
		return bad(err, v, "--family-delay needs --rendezvous6 (it delays IPv4 behind IPv6)",
			   NULL);
	if (o->bind.ss_family && o->bind.ss_family != o->rdv.ss_family &&
	    !(o->has_rdv6 && o->bind.ss_family == AF_INET6))
		return bad(err, v, "--bind must be of the same address family as --rendezvous", NULL);
	if (o->hold_ms && o->idle_gap_ms)
		return bad(err, v, "--hold and --idle-gap exclude each other (one keeps the path "
			   "busy, the other keeps it silent)", NULL);
	if (has_keepalive && !o->hold_ms && !o->idle_gap_ms)
		return bad(err, v, "--keepalive needs --hold or --idle-gap (without them the peer "
			   "exits once verified)", NULL);
	if (o->idle_after_ms && !o->idle_gap_ms)
		return bad(err, v, "--idle-after needs --idle-gap", NULL);
	if (!has_keepalive)
		o->keepalive_ms = o->hold_ms ? PEER_KEEPALIVE_MS : 0;
	if (o->revalidate_ms && !o->hold_ms)
		return bad(err, v, "--revalidate needs --hold (it revalidates a held path)", NULL);
	return 0;
}

int load_opts_parse(int argc, char **argv, struct load_opts *o, FILE *out, FILE *err)
{
	enum { O_RDV = 256, O_SESSIONS, O_WINDOW, O_TIMEOUT, O_JSON, O_HELP, O_SECRET };
	static const struct option lo[] = {
		{ "rendezvous", required_argument, NULL, O_RDV },
		{ "sessions", required_argument, NULL, O_SESSIONS },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 }
	};
	const char *v = "load";
	bool has_rdv = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->sessions = 10000;
	o->window = 256;
	o->timeout_ms = 30000;
	getopt_reset();
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case O_RDV:
			if (ep_parse(optarg, true, &o->rdv))
				return bad(err, v, "--rendezvous wants ADDR:PORT, got", optarg);
			has_rdv = true;
			break;
		case O_SESSIONS:
			if (opts_parse_uint(optarg, 1, 10000000, &o->sessions))
				return bad(err, v, "--sessions wants 1..10000000, got", optarg);
			break;
		case O_WINDOW:
			if (opts_parse_uint(optarg, 1, 65536, &o->window))
				return bad(err, v, "--window wants 1..65536, got", optarg);
			break;
		case O_TIMEOUT:
			if (opts_parse_duration(optarg, &o->timeout_ms))
				return bad(err, v, "--timeout wants seconds > 0, got", optarg);
			break;
		case O_SECRET:
			o->secret_file = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_HELP:
			load_usage(out);
			return 1;
		default:
			return unknown_opt(err, v, argc, argv);
		}
	}
	if (optind < argc)
		return bad(err, v, "unexpected argument", argv[optind]);
	if (!has_rdv)
		return bad(err, v, "--rendezvous ADDR:PORT is required", NULL);
	return 0;
}
