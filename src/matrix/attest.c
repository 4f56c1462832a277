#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <stdio.h>
#include <string.h>

#include "matrix/attest.h"

static bool addr_in(struct in_addr a, const struct in_addr *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i].s_addr == a.s_addr)
			return true;
	return false;
}

/* Whether the flow has one of its four tuple addresses in the set. */
static bool touches(const struct ct_mapping *m, const struct in_addr *set, int n)
{
	return addr_in(m->orig_src, set, n) || addr_in(m->orig_dst, set, n) ||
	       addr_in(m->reply_src, set, n) || addr_in(m->reply_dst, set, n);
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
			if (two_way(m, proto)) {
				if (!f->direct)
					f->direct = m;
			} else if (m->proto == proto) {
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
	char line[256], flow[200];

	ct_mapping_format(m, flow, sizeof(flow));
	snprintf(line, sizeof(line), "%s (peer %s): %s\n", nat, who, flow);
	append(out->evidence, sizeof(out->evidence), used, "", line);
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
		char line[256];

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
		if (f[i].direct)
			snprintf(line, sizeof(line), "%s: two-way %s flow between peer %s and the other "
				 "side", s->nat_name, side_proto(in, s) == IPPROTO_TCP ? "tcp" : "udp", who);
		else if (f[i].one_way)
			snprintf(line, sizeof(line), "%s: %d flow(s) between peer %s and the other side, "
				 "none two-way", s->nat_name, f[i].one_way, who);
		else
			snprintf(line, sizeof(line), "%s: no flow between peer %s and the other side",
				 s->nat_name, who);
		append(out->summary, sizeof(out->summary), &ns, "; ", line);
	}
	if (!any_nat)
		out->verdict = ATTEST_UNCHECKED; /* nothing in the lab can see the path */
	else if (direct)
		out->verdict = ATTEST_DIRECT;
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
