/* ice: one ICE peer over libnice (RFC 8445, one UDP component), for punchlab's `ice` engine
 * (engines/ice.yaml). The harness starts one per peer; side a is the controlling agent.
 *
 *   gather (host, server reflexive from --stun or the TURN allocation, relayed from --turn)
 *     -> print {"event":"candidates",...,"offer":"UFRAG PWD CANDIDATES"} (the harness
 *        captures "offer" and writes it to the other peer's standard input)
 *     -> read the other's offer from standard input (a line with our own is skipped)
 *     -> connectivity checks; 100 ms later print {"event":"checking","checking":OFFER}
 *     -> the selected pair READY -> payload both ways, each acknowledged
 *     -> print {"event":"result","outcome":"direct"|"relayed"|"failed",...} and exit.
 *
 * The payload names the session and both ufrags (fresh random strings per agent), so only a
 * peer that took part in this very exchange can produce it. Everything is bounded by
 * --deadline-ms: at the deadline the result is `failed`, naming the phase that did not end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent.h>
#include <debug.h>
#include <glib.h>

#include "offer.h"
#include "opts.h"
#include "tls_tunnel.h"

#define PAYLOAD_INTERVAL_MS 50 /* payload resent until acknowledged */
#define LINGER_MS 300          /* after done: keep acknowledging the other's payload */
#define CLOSE_MS 200           /* at most this long for libnice to release the TURN allocation */
#define CHECKING_MS 100        /* libnice paces its checks 20 ms apart (Ta): the first few out */
/* A relayed candidate's type preference (its priority's top byte, RFC 8445 5.1.2.1): libnice
 * 0.1.21 gives 30 to one allocated over UDP and 20 to one over TCP (agent/candidate-priv.h,
 * NICE_CANDIDATE_TYPE_PREF_RELAYED_UDP / _RELAYED); its public API says nothing else about
 * which relay a candidate came from. */
#define LIBNICE_PREF_RELAYED_UDP 30
/* TURN over TLS waits this long for the UDP allocation (tls_tunnel_open/refuse): libnice 0.1.21
 * keeps one relayed candidate per relay address, the first to answer (agent/discovery.c,
 * priv_add_local_candidate_pruned), and coturn relays both from one address, so TLS must not
 * win a race that UDP would have won (the path would then be TCP on one side only). Where UDP
 * gets through its allocation answers within a round trip and TLS is refused; where it does
 * not, gathering lasts until the UDP allocation's retransmissions end anyway (about 2 s here),
 * and TLS, started after this, is done well before. */
#define TLS_GRACE_MS 1200

enum phase { PH_GATHERING, PH_EXCHANGE, PH_PROBING, PH_PAYLOAD, PH_DONE };
static const char *const phase_name[] = { "registration", "exchange", "probing", "payload",
					  "done" };

struct session {
	struct ice_opts o;
	GMainLoop *loop;
	NiceAgent *agent;
	guint stream;
	enum phase phase;
	char *remote_line;          /* the other's offer, kept until our gathering is done */
	struct offer local, remote;
	char own_ufrag[OFFER_UFRAG_MAX]; /* known from the start: offers on stdin are told apart */
	bool gathered, ready, got_data, acked, result_printed;
	char data_mine[600], data_theirs[600], ack_mine[600], ack_theirs[600];
	gint64 t_start, t_remote;
	int stray;                  /* payload-looking datagrams that did not verify */
	struct tls_tunnel *tunnel;  /* --turn-tls: libnice's TURN-TCP into TLS (tls_tunnel.h) */
	const char *tunnel_lo;      /* the tunnel's loopback address (127.0.0.1 or ::1) */
	int exit_code;
};

static double ms_since(gint64 t)
{
	return (double)(g_get_monotonic_time() - t) / 1000.0;
}

/* A string as a JSON string (our values are addresses and fixed words; escape anyway). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static char type_letter(NiceCandidateType t)
{
	switch (t) {
	case NICE_CANDIDATE_TYPE_HOST: return 'h';
	case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return 's';
	case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return 'p';
	default: return 'r';
	}
}

static NiceCandidateType letter_type(char c)
{
	switch (c) {
	case 'h': return NICE_CANDIDATE_TYPE_HOST;
	case 's': return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
	case 'p': return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
	default: return NICE_CANDIDATE_TYPE_RELAYED;
	}
}

static const char *type_word(NiceCandidateType t)
{
	static const char *const w[] = { "host", "srflx", "prflx", "relay" };
	return w[type_letter(t) == 'h' ? 0 : type_letter(t) == 's' ? 1 : type_letter(t) == 'p' ? 2
											       : 3];
}

static void endpoint(const NiceCandidate *c, char *buf, size_t len)
{
	char a[NICE_ADDRESS_STRING_LEN];

	nice_address_to_string(&c->addr, a);
	snprintf(buf, len, "%s:%u", a, nice_address_get_port(&c->addr));
}

/* How our side of the selected pair reaches the relay: "turn-udp", "turn-tcp", "turn-tls", or
 * NULL when our local candidate is not relayed (then our NAT carries UDP to the other side or
 * to the other's relayed address). The TLS allocation is the one made through the tunnel, so
 * its TURN server, as libnice knows it, is the tunnel's loopback end. */
static const char *relay_via(const struct session *s, const NiceCandidate *l)
{
	NiceAddress srv;

	if (!l || l->type != NICE_CANDIDATE_TYPE_RELAYED)
		return NULL;
	nice_address_init(&srv);
	if (s->tunnel) {
		char a[NICE_ADDRESS_STRING_LEN];

		nice_candidate_relay_address(l, &srv);
		nice_address_to_string(&srv, a);
		if (strcmp(a, s->tunnel_lo) == 0)
			return "turn-tls";
	}
	return (l->priority >> 24) == LIBNICE_PREF_RELAYED_UDP ? "turn-udp" : "turn-tcp";
}

/* The one result line; the first one wins (a late state change must not print a second). */
static void result(struct session *s, const char *outcome, const char *reason)
{
	NiceCandidate *l = NULL, *r = NULL;
	char local[80] = "", peer[80] = "";
	bool ok = strcmp(outcome, "failed") != 0;
	const char *via;

	if (s->result_printed)
		return;
	s->result_printed = true;
	if (nice_agent_get_selected_pair(s->agent, s->stream, 1, &l, &r)) {
		endpoint(l, local, sizeof(local));
		endpoint(r, peer, sizeof(peer));
	}
	printf("{\"event\":\"result\",\"side\":\"%c\",\"outcome\":\"%s\",\"phase\":", s->o.side,
	       outcome);
	if (ok)
		printf("null");
	else
		json_str(stdout, phase_name[s->phase]);
	printf(",\"reason\":");
	json_str(stdout, reason);
	/* proto: the transport our NAT carries for this path (the lab attests that one): TCP when
	 * our side reaches its relay over TCP or TLS, else UDP */
	via = relay_via(s, l);
	printf(",\"technique\":\"udp\",\"proto\":\"%s\",\"relay_via\":",
	       via && strcmp(via, "turn-udp") != 0 ? "tcp" : "udp");
	json_str(stdout, via ? via : "");
	printf(",\"time_to_connect_ms\":");
	if (ok)
		printf("%.1f", ms_since(s->t_remote));
	else
		printf("null");
	printf(",\"attempts\":%d,\"local\":", s->remote.n);
	json_str(stdout, local);
	printf(",\"local_type\":");
	json_str(stdout, l ? type_word(l->type) : "");
	printf(",\"peer\":");
	json_str(stdout, peer);
	printf(",\"peer_type\":");
	json_str(stdout, r ? type_word(r->type) : "");
	/* the family of the selected pair: in a dual-stack cell, which one ICE's priorities
	 * nominated (the run records it, docs/matrix.md "Address families") */
	if (l)
		printf(",\"family\":%d", nice_address_ip_version(&l->addr));
	printf("}\n");
	fflush(stdout);
	s->exit_code = ok ? 0 : 1;
}

static void fail(struct session *s, const char *reason)
{
	result(s, "failed", reason);
	g_main_loop_quit(s->loop);
}

static gboolean on_linger_end(gpointer data)
{
	g_main_loop_quit(((struct session *)data)->loop);
	return G_SOURCE_REMOVE;
}

static void on_closed(GObject *agent, GAsyncResult *res, gpointer data)
{
	(void)agent, (void)res;
	g_main_loop_quit(((struct session *)data)->loop);
}

/* Both ways verified: direct unless the selected pair has a relayed candidate on either side. */
static void finish(struct session *s)
{
	NiceCandidate *l = NULL, *r = NULL;
	char reason[240], le[80], re[80];
	bool relayed;

	if (!nice_agent_get_selected_pair(s->agent, s->stream, 1, &l, &r)) {
		s->phase = PH_PAYLOAD;
		fail(s, "payload verified but libnice has no selected pair");
		return;
	}
	relayed = l->type == NICE_CANDIDATE_TYPE_RELAYED || r->type == NICE_CANDIDATE_TYPE_RELAYED;
	endpoint(l, le, sizeof(le));
	endpoint(r, re, sizeof(re));
	snprintf(reason, sizeof(reason), "selected pair %s %s -> %s %s%s%s%s, payload verified both "
		 "ways", type_word(l->type), le, type_word(r->type), re,
		 relay_via(s, l) ? " (our relay over " : "",
		 relay_via(s, l) ? relay_via(s, l) + strlen("turn-") : "", relay_via(s, l) ? ")" : "");
	s->phase = PH_DONE;
	result(s, relayed ? "relayed" : "direct", reason);
	/* the other side may still wait for our acknowledgement of its payload */
	g_timeout_add(LINGER_MS, on_linger_end, s);
}

static void send_text(struct session *s, const char *text)
{
	/* best effort: before the pair is selected libnice may refuse, the next tick resends */
	(void)nice_agent_send(s->agent, s->stream, 1, (guint)strlen(text), text);
}

static gboolean on_payload_tick(gpointer data)
{
	struct session *s = data;

	if (s->phase == PH_DONE || s->result_printed)
		return G_SOURCE_REMOVE;
	if (s->ready && !s->acked)
		send_text(s, s->data_mine);
	return G_SOURCE_CONTINUE;
}

static void on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *buf,
		    gpointer data)
{
	struct session *s = data;
	char msg[600];

	(void)agent, (void)stream, (void)component;
	if (len >= sizeof(msg))
		return;
	memcpy(msg, buf, len);
	msg[len] = '\0';
	if (strcmp(msg, s->data_theirs) == 0) {
		s->got_data = true;
		send_text(s, s->ack_mine);
	} else if (strcmp(msg, s->ack_theirs) == 0) {
		s->acked = true;
	} else {
		s->stray++;
		return;
	}
	if (s->got_data && s->acked && s->phase == PH_PAYLOAD)
		finish(s);
}

static void on_state(NiceAgent *agent, guint stream, guint component, guint state, gpointer data)
{
	struct session *s = data;

	(void)agent, (void)stream, (void)component;
	fprintf(stderr, "ice %c: component state %s at %.1f ms\n", s->o.side,
		nice_component_state_to_string(state), ms_since(s->t_start));
	if (s->result_printed)
		return;
	if (state == NICE_COMPONENT_STATE_READY && !s->ready) {
		s->ready = true;
		s->phase = PH_PAYLOAD;
		send_text(s, s->data_mine);
		if (s->got_data && s->acked)
			finish(s);
	} else if (state == NICE_COMPONENT_STATE_FAILED && s->phase == PH_PROBING) {
		char why[120];
		snprintf(why, sizeof(why), "connectivity checks failed on every pair (%d remote "
			 "candidates)", s->remote.n);
		fail(s, why);
	}
}

static void on_pair(NiceAgent *agent, guint stream, guint component, NiceCandidate *l,
		    NiceCandidate *r, gpointer data)
{
	struct session *s = data;
	char le[80], re[80];

	(void)agent, (void)stream, (void)component;
	endpoint(l, le, sizeof(le));
	endpoint(r, re, sizeof(re));
	fprintf(stderr, "ice %c: selected pair %s %s -> %s %s at %.1f ms\n", s->o.side,
		type_word(l->type), le, type_word(r->type), re, ms_since(s->t_start));
}

/* The payloads name the session and both ufrags, A's first. */
static void payloads(struct session *s)
{
	const char *ua = s->o.controlling ? s->local.ufrag : s->remote.ufrag;
	const char *ub = s->o.controlling ? s->remote.ufrag : s->local.ufrag;
	char other = s->o.side == 'a' ? 'b' : 'a';

	snprintf(s->data_mine, sizeof(s->data_mine), "punchlab-ice data %s %s:%s from %c",
		 s->o.session, ua, ub, s->o.side);
	snprintf(s->data_theirs, sizeof(s->data_theirs), "punchlab-ice data %s %s:%s from %c",
		 s->o.session, ua, ub, other);
	snprintf(s->ack_mine, sizeof(s->ack_mine), "punchlab-ice ack %s %s:%s from %c",
		 s->o.session, ua, ub, s->o.side);
	snprintf(s->ack_theirs, sizeof(s->ack_theirs), "punchlab-ice ack %s %s:%s from %c",
		 s->o.session, ua, ub, other);
}

/* Our offer again, as {"event":"checking","checking":OFFER}, once our first checks are out:
 * engines/ice.yaml gives it to peer B only then, so that B's checks never run ahead of A's (a
 * relayed check of B's that reaches A first is nominated at once, and A's own direct checks,
 * still waiting, are dropped: libnice's aggressive nomination prunes them). */
static gboolean on_checking(gpointer data)
{
	struct session *s = data;
	char offer[1024];

	if (!s->result_printed && offer_format(&s->local, offer, sizeof(offer)) > 0) {
		printf("{\"event\":\"checking\",\"side\":\"%c\",\"checking\":", s->o.side);
		json_str(stdout, offer);
		printf(",\"at_ms\":%.1f}\n", ms_since(s->t_start));
		fflush(stdout);
	}
	return G_SOURCE_REMOVE;
}

/* The other's offer, once our own candidates are out. Bad input exits 2 (no result: the
 * harness calls that an error, never a NAT result). */
static void apply_remote(struct session *s)
{
	GSList *list = NULL;
	char why[200];
	int added;

	if (offer_parse(s->remote_line, &s->remote, why, sizeof(why)) < 0) {
		fprintf(stderr, "ice %c: the other's offer on standard input: %s\n", s->o.side, why);
		s->exit_code = 2;
		s->result_printed = true;
		g_main_loop_quit(s->loop);
		return;
	}
	for (int i = s->remote.n - 1; i >= 0; i--) {
		const struct offer_candidate *oc = &s->remote.c[i];
		NiceCandidate *c = nice_candidate_new(letter_type(oc->type));

		c->stream_id = s->stream;
		c->component_id = 1;
		c->transport = NICE_CANDIDATE_TRANSPORT_UDP;
		c->priority = (guint32)oc->priority;
		g_strlcpy(c->foundation, oc->foundation, sizeof(c->foundation));
		if (!nice_address_set_from_string(&c->addr, oc->addr)) {
			fprintf(stderr, "ice %c: the other's offer: candidate address \"%s\" is not "
				"an IP address\n", s->o.side, oc->addr);
			nice_candidate_free(c);
			g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
			s->exit_code = 2;
			s->result_printed = true;
			g_main_loop_quit(s->loop);
			return;
		}
		nice_address_set_port(&c->addr, oc->port);
		list = g_slist_prepend(list, c);
	}
	payloads(s);
	s->t_remote = g_get_monotonic_time();
	s->phase = PH_PROBING;
	nice_agent_set_remote_credentials(s->agent, s->stream, s->remote.ufrag, s->remote.pwd);
	added = nice_agent_set_remote_candidates(s->agent, s->stream, 1, list);
	g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
	fprintf(stderr, "ice %c: %d of %d remote candidates added at %.1f ms\n", s->o.side, added,
		s->remote.n, ms_since(s->t_start));
	if (added <= 0) {
		fail(s, "libnice took none of the other's candidates");
		return;
	}
	g_timeout_add(CHECKING_MS, on_checking, s);
}

static void on_gathered(NiceAgent *agent, guint stream, gpointer data)
{
	struct session *s = data;
	GSList *cands = nice_agent_get_local_candidates(agent, stream, 1);
	gchar *ufrag = NULL, *pwd = NULL;
	char offer[1024];
	bool srflx = false, relay = false;

	nice_agent_get_local_credentials(agent, stream, &ufrag, &pwd);
	g_strlcpy(s->local.ufrag, ufrag, sizeof(s->local.ufrag));
	g_strlcpy(s->local.pwd, pwd, sizeof(s->local.pwd));
	g_free(ufrag);
	g_free(pwd);
	printf("{\"event\":\"candidates\",\"side\":\"%c\",\"ufrag\":", s->o.side);
	json_str(stdout, s->local.ufrag);
	printf(",\"pwd\":");
	json_str(stdout, s->local.pwd);
	printf(",\"candidates\":[");
	for (GSList *i = cands; i; i = i->next) {
		NiceCandidate *c = i->data;
		struct offer_candidate *oc;
		char ep[80];

		if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP || s->local.n == OFFER_MAX_CANDIDATES)
			continue;
		oc = &s->local.c[s->local.n++];
		oc->type = type_letter(c->type);
		g_strlcpy(oc->foundation, c->foundation, sizeof(oc->foundation));
		oc->priority = c->priority;
		nice_address_to_string(&c->addr, oc->addr);
		oc->port = nice_address_get_port(&c->addr);
		srflx |= oc->type == 's';
		relay |= oc->type == 'r';
		endpoint(c, ep, sizeof(ep));
		printf("%s{\"type\":\"%s\",\"addr\":\"%s\",\"priority\":%u}", s->local.n > 1 ? "," : "",
		       type_word(c->type), ep, c->priority);
	}
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	if (offer_format(&s->local, offer, OFFER_LINE_MAX + 1) < 0) {
		/* a cut offer would reach the other side with a wrong last candidate */
		printf("]}\n");
		fprintf(stderr, "ice %c: the offer for %d candidates is longer than %d characters, "
			"what the harness carries\n", s->o.side, s->local.n, OFFER_LINE_MAX);
		s->exit_code = 2;
		s->result_printed = true;
		g_main_loop_quit(s->loop);
		return;
	}
	printf("],\"srflx\":%s,\"relay\":%s,\"offer\":", srflx ? "true" : "false",
	       relay ? "true" : "false");
	json_str(stdout, offer);
	printf(",\"gathering_ms\":%.1f}\n", ms_since(s->t_start));
	fflush(stdout);
	s->gathered = true;
	s->phase = PH_EXCHANGE;
	if (s->remote_line)
		apply_remote(s);
}

/* Whether a line is our own offer: its first word is our ufrag (a fresh random string). */
static bool is_own_offer(const struct session *s, const char *line)
{
	size_t n = strlen(s->own_ufrag);

	return n && strncmp(line, s->own_ufrag, n) == 0 && line[n] == ' ';
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data)
{
	struct session *s = data;
	gchar *line = NULL;
	GIOStatus st;

	(void)cond;
	st = g_io_channel_read_line(ch, &line, NULL, NULL, NULL);
	if (st == G_IO_STATUS_AGAIN)
		return G_SOURCE_CONTINUE;
	if (st != G_IO_STATUS_NORMAL || !line) {
		/* the harness closed our input without the other's offer: nothing to connect to */
		s->phase = PH_EXCHANGE;
		fail(s, "standard input ended without the other peer's offer");
		return G_SOURCE_REMOVE;
	}
	if (is_own_offer(s, line)) {
		/* both offers may come, so that both peers get them at the same moment */
		g_free(line);
		return G_SOURCE_CONTINUE;
	}
	s->remote_line = line;
	if (s->gathered)
		apply_remote(s);
	return G_SOURCE_REMOVE; /* one offer per run */
}

static gboolean on_deadline(gpointer data)
{
	struct session *s = data;
	char why[160];

	static const char *const what[] = {
		"candidate gathering (STUN/TURN) did not end",
		"the other peer's offer did not arrive on standard input",
		"no candidate pair was selected",
		"the payload was not verified both ways",
		"",
	};
	snprintf(why, sizeof(why), "%s within %d ms%s", what[s->phase], s->o.deadline_ms,
		 s->stray ? " (payloads that did not verify arrived)" : "");
	fail(s, why);
	return G_SOURCE_REMOVE;
}

static gboolean on_tls_grace(gpointer data)
{
	tls_tunnel_open(((struct session *)data)->tunnel);
	return G_SOURCE_REMOVE;
}

/* A relayed candidate over UDP is there: TURN over TLS would be redundant (libnice drops it),
 * refused at once so that gathering does not wait for its handshake. */
static void on_new_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
	struct session *s = data;

	(void)agent;
	if (c->type == NICE_CANDIDATE_TYPE_RELAYED && (c->priority >> 24) == LIBNICE_PREF_RELAYED_UDP)
		tls_tunnel_refuse(s->tunnel);
}

static bool add_relay(struct session *s, const char *flag, const char *host, unsigned port,
		      NiceRelayType type)
{
	if (nice_agent_set_relay_info(s->agent, s->stream, 1, host, port, s->o.turn_user,
				      s->o.turn_password, type))
		return true;
	fprintf(stderr, "ice: %s %s:%u: libnice refused the relay\n", flag, host, port);
	return false;
}

/* One TURN allocation per relay given; libnice gathers them at once and gathering ends when
 * every one answered or gave up (a relay the network blocks costs its retransmissions). TURN
 * over TLS is TURN over TCP to the tunnel's loopback end (tls_tunnel.h: libnice's own
 * TURN_TLS is plain TCP in RFC 5245 mode). Returns 0, or -1 after saying why (bad input). */
static int add_relays(struct session *s)
{
	char why[200];
	unsigned lport;

	if (s->o.turn_host[0] &&
	    !add_relay(s, "--turn", s->o.turn_host, s->o.turn_port, NICE_RELAY_TYPE_TURN_UDP))
		return -1;
	/* libnice allocates on a relay from each host candidate of the relay's family only */
	if (s->o.turn2_host[0] &&
	    !add_relay(s, "--turn", s->o.turn2_host, s->o.turn2_port, NICE_RELAY_TYPE_TURN_UDP))
		return -1;
	if (s->o.turn_tcp_host[0] && !add_relay(s, "--turn-tcp", s->o.turn_tcp_host,
						  s->o.turn_tcp_port, NICE_RELAY_TYPE_TURN_TCP))
		return -1;
	if (!s->o.turn_tls_host[0])
		return 0;
	s->tunnel = tls_tunnel_new(g_main_loop_get_context(s->loop), s->o.turn_tls_host,
				   s->o.turn_tls_port, s->o.turn_ca, &lport, &s->tunnel_lo, why,
				   sizeof(why));
	if (!s->tunnel) {
		fprintf(stderr, "ice: --turn-tls %s:%u: %s\n", s->o.turn_tls_host,
			s->o.turn_tls_port, why);
		return -1;
	}
	if (!add_relay(s, "--turn-tls", s->tunnel_lo, lport, NICE_RELAY_TYPE_TURN_TCP))
		return -1;
	if (s->o.turn_host[0]) {
		g_signal_connect(s->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), s);
		g_timeout_add(TLS_GRACE_MS, on_tls_grace, s);
	} else {
		tls_tunnel_open(s->tunnel);
	}
	return 0;
}

/* The early exits (a refused --local address, a relay that cannot be set up) leave before
 * the main loop ran: free what the session holds so the sanitizer build's leak check sees
 * nothing of it (CI's ASan run failed engines-ice-turn on the missing-CA path). */
static int abandon_session(struct session *s, int code)
{
	if (s->agent)
		g_object_unref(s->agent);
	tls_tunnel_free(s->tunnel);
	g_main_loop_unref(s->loop);
	free(s);
	return code;
}

int main(int argc, char **argv)
{
	struct session *s = calloc(1, sizeof(*s));
	char why[200];
	GIOChannel *in = NULL;
	int ret;

	if (!s)
		return 2;
	ret = ice_opts_parse(argc, argv, &s->o, why, sizeof(why));
	if (ret != 0) {
		if (ret < 0)
			fprintf(stderr, "ice: %s\n", why);
		free(s);
		return ret < 0 ? 2 : 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("ICE_DEBUG")) {
		/* libnice's own trace (every check, every pair) on standard error */
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
		g_log_set_writer_func(g_log_writer_standard_streams, NULL, NULL);
		nice_debug_enable(TRUE);
	}
	s->t_start = s->t_remote = g_get_monotonic_time();
	s->loop = g_main_loop_new(NULL, FALSE);
	/* Aggressive nomination (libnice's default; RFC 5245 8.1.1.2): every check of the
	 * controlling agent nominates, and the selected pair becomes the best nominated one, so a
	 * peer-reflexive pair that works only once the other side's check has opened our filter
	 * still replaces a relayed pair that answered first. libnice 0.1.21's regular nomination
	 * stops at the first two valid pairs ("stopping criterion", agent/conncheck.c), which were
	 * the two relayed pairs whenever A's NAT filters by address and B's is symmetric: it
	 * relayed there in 3 of 4 runs while the lab saw the direct pair answer. The component
	 * turns READY only when no better pair is still being checked: the payload waits for it. */
	s->agent = nice_agent_new_full(g_main_loop_get_context(s->loop), NICE_COMPATIBILITY_RFC5245,
				       NICE_AGENT_OPTION_NONE);
	/* ICE-TCP and UPnP off: one UDP component, the lab's NATs only */
	g_object_set(s->agent, "controlling-mode", s->o.controlling, "ice-tcp", FALSE,
		     "upnp", FALSE, "stun-max-retransmissions", (guint)s->o.check_retransmissions,
		     NULL);
	if (s->o.stun_host[0])
		g_object_set(s->agent, "stun-server", s->o.stun_host, "stun-server-port",
			     s->o.stun_port, NULL);
	/* --local: host candidates from the cell's family only (a family 6 cell's hosts keep
	 * their IPv4 LAN addresses, which lead nowhere there) */
	for (int i = 0; i < s->o.nlocal; i++) {
		NiceAddress a;

		nice_address_init(&a);
		if (!nice_address_set_from_string(&a, s->o.local[i]) ||
		    !nice_agent_add_local_address(s->agent, &a)) {
			fprintf(stderr, "ice: --local %s: libnice refused the address\n",
				s->o.local[i]);
			return abandon_session(s, 2);
		}
	}
	s->stream = nice_agent_add_stream(s->agent, 1);
	{
		gchar *ufrag = NULL, *pwd = NULL;
		nice_agent_get_local_credentials(s->agent, s->stream, &ufrag, &pwd);
		g_strlcpy(s->own_ufrag, ufrag ? ufrag : "", sizeof(s->own_ufrag));
		g_free(ufrag);
		g_free(pwd);
	}
	if (add_relays(s) < 0)
		return abandon_session(s, 2);
	g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(on_gathered), s);
	g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(on_state), s);
	g_signal_connect(s->agent, "new-selected-pair-full", G_CALLBACK(on_pair), s);
	nice_agent_attach_recv(s->agent, s->stream, 1, g_main_loop_get_context(s->loop), on_recv,
			       s);
	in = g_io_channel_unix_new(STDIN_FILENO);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, s);
	g_timeout_add((guint)s->o.deadline_ms, on_deadline, s);
	g_timeout_add(PAYLOAD_INTERVAL_MS, on_payload_tick, s);
	if (!nice_agent_gather_candidates(s->agent, s->stream)) {
		fail(s, "libnice could not gather candidates (no usable local address)");
	} else {
		g_main_loop_run(s->loop);
	}
	ret = s->exit_code;
	/* release the TURN allocation (a refresh with lifetime 0) before leaving, bounded */
	nice_agent_close_async(s->agent, on_closed, s);
	g_timeout_add(CLOSE_MS, on_linger_end, s);
	g_main_loop_run(s->loop);
	if (s->tunnel && tls_tunnel_error(s->tunnel)[0])
		fprintf(stderr, "ice %c: TURN over TLS: %d connection(s) established, last error: "
			"%s\n", s->o.side, tls_tunnel_established(s->tunnel),
			tls_tunnel_error(s->tunnel));
	g_object_unref(s->agent);
	tls_tunnel_free(s->tunnel);
	g_io_channel_unref(in);
	g_main_loop_unref(s->loop);
	g_free(s->remote_line);
	free(s);
	return ret;
}
