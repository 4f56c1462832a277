#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix/attest.h"

static const enum ct_addr_field tuple_fields[] = { CT_ADDR_ORIG_SRC, CT_ADDR_ORIG_DST,
						   CT_ADDR_REPLY_SRC, CT_ADDR_REPLY_DST };

static bool field_in(const struct ct_mapping *m, enum ct_addr_field f, const struct net_addr *set,
		     int n)
{
	for (int i = 0; i < n; i++)
		if (ct_mapping_addr_is(m, f, &set[i]))
			return true;
	return false;
}

/* Whether the flow has one of its four tuple addresses in the set (of either family: an entry
 * matches only addresses of its own). */
static bool touches(const struct ct_mapping *m, const struct net_addr *set, int n)
{
	for (size_t i = 0; i < sizeof(tuple_fields) / sizeof(tuple_fields[0]); i++)
		if (field_in(m, tuple_fields[i], set, n))
			return true;
	return false;
}

/* Whether the flow's address f is the peer's host: the local address its engine reported, or
 * any of the host's when it reported none usable. */
static bool host_at(const struct ct_mapping *m, enum ct_addr_field f, const struct attest_side *s)
{
	return s->claimed_local.family ? ct_mapping_addr_is(m, f, &s->claimed_local)
				       : field_in(m, f, s->host, s->nhost);
}

/* Whether the flow joins the peer's host and the endpoint its engine reported. The reported
 * peer endpoint is what the host's packets went to and came from: the flow's remote endpoint
 * (after an outbound source NAT the original destination; for a flow let in by a cone's map,
 * the original source). A flow without NAT (a firewall) may have been opened from either side
 * (an endpoint-independent filter lets the other peer's first probe in), and then the reported
 * peer is its original source, the host its original destination. A hairpinned flow (same-nat)
 * is both peers' one entry: its receiver is the reply's source, and the peer it reported is the
 * sender's public endpoint, the reply's destination. */
static bool joins_claim(const struct ct_mapping *m, const struct attest_side *s)
{
	const struct net_addr *peer = &s->claimed_peer;
	uint16_t port = s->claimed_peer_port;

	if (host_at(m, CT_ADDR_INTERNAL, s) && m->remote_port == port &&
	    ct_mapping_addr_is(m, CT_ADDR_REMOTE, peer))
		return true;
	if (!ct_mapping_nated(m) && host_at(m, CT_ADDR_REMOTE, s) && m->internal_port == port &&
	    ct_mapping_addr_is(m, CT_ADDR_INTERNAL, peer))
		return true;
	return m->hairpin && host_at(m, CT_ADDR_REPLY_SRC, s) && m->public_port == port &&
	       ct_mapping_addr_is(m, CT_ADDR_PUBLIC, peer);
}

/* Packets counted both ways; for TCP a handshake that completed (a SYN answered by RST counts a
 * packet each way too, but never reaches ESTABLISHED). */
static bool two_way(const struct ct_mapping *m, uint8_t proto)
{
	if (m->proto != proto || !m->has_counters || !m->orig_packets || !m->reply_packets)
		return false;
	if (proto != IPPROTO_TCP)
		return true;
	switch (m->tcp_state) {
	case TCP_CONNTRACK_ESTABLISHED:
	case TCP_CONNTRACK_FIN_WAIT:
	case TCP_CONNTRACK_CLOSE_WAIT:
	case TCP_CONNTRACK_LAST_ACK:
	case TCP_CONNTRACK_TIME_WAIT:
		return true;
	default:
		return (m->status & IPS_ASSURED) != 0;
	}
}

struct side_finding {
	const struct ct_mapping *direct, *relay;
	int one_way;               /* flows with the other side that were not two-way */
	/* claimed and no direct flow: a two-way flow between the two sides that joins other
	 * endpoints than the reported ones (said in the summary: the engine named another path) */
	const struct ct_mapping *elsewhere;
};

static uint8_t side_proto(const struct attest_input *in, const struct attest_side *s)
{
	return s->proto ? s->proto : in->proto;
}

static void find(const struct attest_input *in, const struct attest_side *s,
		 struct side_finding *f)
{
	uint8_t proto = side_proto(in, s);

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; s->flows && i < s->flows->n; i++) {
		const struct ct_mapping *m = &s->flows->v[i];
		bool relay = touches(m, in->relay, in->nrelay);

		if (!touches(m, s->host, s->nhost))
			continue;
		if (!relay && touches(m, s->other, s->nother)) {
			bool claim_ok = !s->claimed || joins_claim(m, s);

			if (two_way(m, proto)) {
				if (claim_ok && !f->direct)
					f->direct = m;
				else if (!claim_ok && !f->elsewhere)
					f->elsewhere = m;
			} else if (m->proto == proto && claim_ok) {
				f->one_way++;
			}
		} else if (relay && two_way(m, proto) && !f->relay) {
			f->relay = m;
		}
	}
}

/* Append text to buf (used bytes so far), sep before it unless buf is empty; truncates. */
static void append(char *buf, size_t len, size_t *used, const char *sep, const char *text)
{
	if (*used < len)
		*used += (size_t)snprintf(buf + *used, len - *used, "%s%s", *used ? sep : "", text);
	if (*used > len)
		*used = len;
}

/* One evidence line: the NAT, whose flow it is, the conntrack entry with its counters. */
static void add_evidence(struct run_attestation *out, size_t *used, const char *nat,
			 const char *who, const struct ct_mapping *m)
{
	char line[300], flow[240];

	ct_mapping_format(m, flow, sizeof(flow));
	snprintf(line, sizeof(line), "%s (peer %s): %s\n", nat, who, flow);
	append(out->evidence, sizeof(out->evidence), used, "", line);
}

/* "[2001:db8:2::10]:5000" or "203.0.113.18:5000" */
static void format_ep(const struct net_addr *a, uint16_t port, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	net_addr_format(a, false, s, sizeof(s));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", s, port);
}

/* One side's sentence of the summary. */
static void side_summary(const struct attest_input *in, const struct attest_side *s,
			 const char *who, const struct side_finding *f, char *line, size_t len)
{
	const char *proto = side_proto(in, s) == IPPROTO_TCP ? "tcp" : "udp";
	char what[96] = "the other side", ep[72];
	int n;

	if (s->claimed) {
		format_ep(&s->claimed_peer, s->claimed_peer_port, ep, sizeof(ep));
		snprintf(what, sizeof(what), "%s, the endpoint it reported", ep);
	}
	if (f->direct)
		n = snprintf(line, len, "%s: two-way %s flow between peer %s and %s", s->nat_name,
			     proto, who, what);
	else if (f->one_way)
		n = snprintf(line, len, "%s: %d flow(s) between peer %s and %s, none two-way",
			     s->nat_name, f->one_way, who, what);
	else
		n = snprintf(line, len, "%s: no flow between peer %s and %s", s->nat_name, who, what);
	/* the summary is short (results.h): the flow itself goes to the evidence */
	if (!f->direct && f->elsewhere && n > 0 && (size_t)n < len)
		snprintf(line + n, len - (size_t)n, " (a two-way flow joins other endpoints)");
}

/* The family of a direct path: that of the flows both NATs hold (a side with no NAT of its own
 * says nothing); 0 when they differ (NAT64: IPv6 on one side, IPv4 on the other). */
static int direct_family(const struct attest_input *in, const struct side_finding f[2])
{
	int fam = 0;

	for (int i = 0; i < 2; i++) {
		int x;

		if (!in->side[i].nat_name)
			continue;
		x = ct_mapping_family(f[i].direct) == AF_INET6 ? 6 : 4;
		if (fam && fam != x)
			return 0;
		fam = x;
	}
	return fam;
}

void attest_path(const struct attest_input *in, struct run_attestation *out)
{
	struct side_finding f[2];
	bool any_nat = false, direct = true, relay = true;
	size_t ns = 0, ne = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 2; i++) {
		const struct attest_side *s = &in->side[i];
		const char *who = i ? "B" : "A";
		char line[400];

		if (!s->nat_name) {
			snprintf(line, sizeof(line), "peer %s: no NAT of its own, not checked", who);
			append(out->summary, sizeof(out->summary), &ns, "; ", line);
			continue;
		}
		/* one NAT in front of both peers (same-nat) is read once per peer: each must have
		 * its own two-way flow with the other */
		any_nat = true;
		find(in, s, &f[i]);
		direct &= f[i].direct != NULL;
		relay &= f[i].relay != NULL;
		if (f[i].direct)
			add_evidence(out, &ne, s->nat_name, who, f[i].direct);
		if (f[i].relay)
			add_evidence(out, &ne, s->nat_name, who, f[i].relay);
		if (!f[i].direct && f[i].elsewhere)
			add_evidence(out, &ne, s->nat_name, i ? "B, not its reported path"
							      : "A, not its reported path",
				     f[i].elsewhere);
		side_summary(in, s, who, &f[i], line, sizeof(line));
		append(out->summary, sizeof(out->summary), &ns, "; ", line);
	}
	if (!any_nat)
		out->verdict = ATTEST_UNCHECKED; /* nothing in the lab can see the path */
	else if (direct) {
		out->verdict = ATTEST_DIRECT;
		out->family = direct_family(in, f);
	}
	else if (relay)
		out->verdict = ATTEST_RELAYED;
	else
		out->verdict = ATTEST_NONE;
}

enum cell_outcome attest_judge(enum cell_outcome engine_said, const struct run_attestation *a,
			       char *note, size_t len)
{
	if (len)
		note[0] = '\0';
	if (a->verdict == ATTEST_UNCHECKED)
		return engine_said;
	switch (engine_said) {
	case CELL_DIRECT:
		if (a->verdict == ATTEST_DIRECT)
			return CELL_DIRECT;
		snprintf(note, len, "the engine says direct, but the lab saw no direct path (%s)",
			 a->summary);
		return CELL_DISPUTED;
	case CELL_RELAYED:
		if (a->verdict == ATTEST_RELAYED || a->verdict == ATTEST_DIRECT)
			return CELL_RELAYED;
		snprintf(note, len, "the engine says relayed, but no NAT shows a two-way flow with the "
			 "relay (%s)", a->summary);
		return CELL_DISPUTED;
	case CELL_FAILED:
		if (a->verdict == ATTEST_DIRECT)
			snprintf(note, len, "the lab saw a two-way direct path that the engine did not "
				 "report");
		return CELL_FAILED;
	default:
		return engine_said;
	}
}

int attest_endpoint_parse(const char *s, struct net_addr *a, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *start = s;
	char *end;
	unsigned long p;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		start = s + 1;
		hl = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon) /* IPv6 without brackets: ambiguous */
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, start, hl);
	host[hl] = '\0';
	if (*s == '[' && inet_pton(AF_INET6, host, &a->a.v6) == 1) {
		a->family = AF_INET6;
		a->prefix = 128;
	} else if (*s != '[' && inet_pton(AF_INET, host, &a->a.v4) == 1) {
		a->family = AF_INET;
		a->prefix = 32;
	} else {
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p == 0 || p > 65535) {
		memset(a, 0, sizeof(*a));
		return -EINVAL;
	}
	*port = (uint16_t)p;
	return 0;
}
