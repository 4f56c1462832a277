/* punch probe's options. */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "endpoint.h"
#include "opts.h"
#include "probe.h"

#define PROBE_DEFAULT_PORT "3478"
#define PROBE_DEFAULT_SESSION "probe"

void probe_usage(FILE *f)
{
	fputs("usage: punch probe (--server HOST[:PORT] [--secret-file FILE] [--session ID] |\n"
	      "                    --stun HOST[:PORT]) [--lifetime-max S]\n"
	      "                   [--no-tcp] [--wait MS] [--tries N] [--redact] [--json]\n"
	      "  measures this host's NAT (RFC 5780 behaviour discovery) and prints the profile\n"
	      "  header fields it could measure and the `punchlab profile new` line for it.\n"
	      "  --server    a punch rendezvous listening on two addresses and two ports\n"
	      "              (punch rendezvous --listen A:P --listen A:P2 --listen B:P --listen B:P2)\n"
	      "  --secret-file FILE  the rendezvous' secret (also PUNCH_SECRET_FILE or PUNCH_SECRET):\n"
	      "              the probe's BINDs are sealed as a peer's messages (required with --server)\n"
	      "  --session ID  the session whose key signs the BINDs (default " PROBE_DEFAULT_SESSION ")\n"
	      "  --stun      any RFC 5780 STUN server (coturn with two addresses, say); no TCP\n"
	      "  --lifetime-max S  measure the UDP binding lifetime up to S seconds (0: not at all;\n"
	      "              default 0; the test lasts S seconds)\n"
	      "  --redact    print the reporter's public addresses as REDACTED\n"
	      "  (port " PROBE_DEFAULT_PORT " when none is given; exit 0 measured, 1 no answer, 2 usage)\n", f);
}

static int bad(FILE *err, const char *what, const char *val)
{
	fprintf(err, "punch probe: %s%s%s%s\n", what, val ? " \"" : "", val ? val : "",
		val ? "\"" : "");
	return -EINVAL;
}

static int server_parse(const char *s, struct sockaddr_storage *ss)
{
	char buf[300];

	if (ep_parse(s, true, ss) == 0)
		return 0;
	/* No port: the STUN port, as for a bare host name or address (IPv6 in brackets). */
	if (strlen(s) + sizeof(PROBE_DEFAULT_PORT) + 4 > sizeof(buf))
		return -EINVAL;
	if (strchr(s, ':') && s[0] != '[')
		snprintf(buf, sizeof(buf), "[%s]:%s", s, PROBE_DEFAULT_PORT);
	else
		snprintf(buf, sizeof(buf), "%s:%s", s, PROBE_DEFAULT_PORT);
	return ep_parse(buf, true, ss);
}

int probe_opts_parse(int argc, char **argv, struct probe_opts *o, FILE *out, FILE *err)
{
	enum { O_SERVER = 256, O_STUN, O_LIFE, O_NOTCP, O_WAIT, O_TRIES, O_REDACT, O_JSON, O_HELP,
	       O_SECRET, O_SESSION };
	static const struct option lo[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "stun", required_argument, NULL, O_STUN },
		{ "lifetime-max", required_argument, NULL, O_LIFE },
		{ "no-tcp", no_argument, NULL, O_NOTCP },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "tries", required_argument, NULL, O_TRIES },
		{ "redact", no_argument, NULL, O_REDACT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "session", required_argument, NULL, O_SESSION },
		{ 0 }
	};
	bool has_server = false, has_auth = false;
	struct auth_key master;
	char why[256];
	int c;

	memset(o, 0, sizeof(*o));
	o->wait_ms = 300;
	o->tries = 4;
	o->tcp = true;
	strcpy(o->session, PROBE_DEFAULT_SESSION);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case O_SERVER:
		case O_STUN:
			if (has_server)
				return bad(err, "give one of --server and --stun, once", NULL);
			if (server_parse(optarg, &o->server))
				return bad(err, c == O_STUN ? "--stun wants HOST[:PORT], got" :
					   "--server wants HOST[:PORT], got", optarg);
			o->stun = c == O_STUN;
			has_server = true;
			break;
		case O_LIFE:
			if (opts_parse_uint(optarg, 0, 3600, &o->lifetime_max_s))
				return bad(err, "--lifetime-max wants seconds 0..3600, got", optarg);
			break;
		case O_NOTCP:
			o->tcp = false;
			break;
		case O_WAIT:
			if (opts_parse_uint(optarg, 10, 10000, &o->wait_ms))
				return bad(err, "--wait wants milliseconds 10..10000, got", optarg);
			break;
		case O_TRIES:
			if (opts_parse_uint(optarg, 1, 20, &o->tries))
				return bad(err, "--tries wants 1..20, got", optarg);
			break;
		case O_REDACT:
			o->redact = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_SECRET:
			o->secret_file = optarg;
			has_auth = true;
			break;
		case O_SESSION:
			if (!wire_session_valid(optarg))
				return bad(err, "--session wants 1..64 characters of "
					   "[A-Za-z0-9._:@/+-], got", optarg);
			strcpy(o->session, optarg);
			has_auth = true;
			break;
		case O_HELP:
			probe_usage(out);
			return 1;
		default:
			return bad(err, "unknown option or missing value",
				   optind > 0 && optind <= argc ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc)
		return bad(err, "unexpected argument", argv[optind]);
	if (!has_server)
		return bad(err, "--server HOST[:PORT] or --stun HOST[:PORT] is required", NULL);
	if (o->stun)
		return has_auth ? bad(err, "--secret-file and --session go with --server only "
				      "(STUN requests are not authenticated)", NULL) : 0;
	/* Loaded here, before any packet: without the secret the rendezvous drops every BIND
	 * and the run would end as "no answer", which it is not. */
	if (auth_secret_load(o->secret_file, &master, why, sizeof(why))) {
		fprintf(err, "punch probe: --server: %s\n", why);
		return -EINVAL;
	}
	auth_session_key(&master, o->session, &o->key);
	return 0;
}
