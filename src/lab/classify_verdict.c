/* From measurements to verdicts (pure, unit-tested): combining the rounds, the spelling of
 * declared and measured values, and comparing them key by key (contracts: classify.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lab/classify.h"
#include "lab/classify_internal.h"

/* Keys measured per round, in the order they are combined and compared. */
static const enum profile_key round_keys[] = {
	PROFILE_KEY_TRANSPORTS, PROFILE_KEY_MAPPING,           PROFILE_KEY_FILTERING,
	PROFILE_KEY_PORTS,      PROFILE_KEY_HAIRPIN,           PROFILE_KEY_HAIRPIN_FILTERING,
	PROFILE_KEY_TCP_UNSOLICITED,
};
#define NROUND_KEYS (sizeof(round_keys) / sizeof(round_keys[0]))

/* Append to a measurement's note, "; " between parts (classify_internal.h). */
void cl_note(struct classify_measure *m, const char *fmt, ...)
{
	size_t used = strlen(m->note);
	va_list ap;

	if (used + 3 >= sizeof(m->note))
		return;
	if (used)
		used += (size_t)snprintf(m->note + used, sizeof(m->note) - used, "; ");
	va_start(ap, fmt);
	vsnprintf(m->note + used, sizeof(m->note) - used, fmt, ap);
	va_end(ap);
}

static char *ports_str(enum profile_ports p, int stride, char *buf, size_t len)
{
	if (p == PROFILE_PORTS_SEQUENTIAL && stride != 1)
		snprintf(buf, len, "sequential, stride %d", stride);
	else
		snprintf(buf, len, "%s", profile_ports_name(p));
	return buf;
}

/* One measurement's value of a per-round key ("?" unknown). */
static char *measure_str(const struct classify_measure *m, enum profile_key k, char *buf,
			 size_t len)
{
	snprintf(buf, len, "?");
	switch (k) {
	case PROFILE_KEY_TRANSPORTS:
		if (m->handled_known)
			snprintf(buf, len, "%s", m->handled ? "yes" : "no");
		break;
	case PROFILE_KEY_MAPPING:
		/* the host's own endpoint is no mapping type (classify.h) */
		if (m->mapping_known)
			snprintf(buf, len, "%s", m->no_translation ? CLASSIFY_NO_TRANSLATION
								  : profile_dependency_name(m->mapping));
		break;
	case PROFILE_KEY_FILTERING:
		if (m->filtering_known)
			snprintf(buf, len, "%s", profile_dependency_name(m->filtering));
		break;
	case PROFILE_KEY_PORTS:
		if (m->ports_known)
			ports_str(m->ports, m->stride, buf, len);
		break;
	case PROFILE_KEY_HAIRPIN:
		if (m->mapping_known && m->no_translation)
			snprintf(buf, len, "%s", CLASSIFY_NOT_APPLICABLE);
		else if (m->hairpin_known)
			snprintf(buf, len, "%s", m->hairpin ? "yes" : "no");
		break;
	case PROFILE_KEY_HAIRPIN_FILTERING:
		if (m->mapping_known && m->no_translation)
			snprintf(buf, len, "%s", CLASSIFY_NOT_APPLICABLE);
		else if (m->hairpin_filtering_known)
			snprintf(buf, len, "%s", profile_dependency_name(m->hairpin_filtering));
		break;
	case PROFILE_KEY_TCP_UNSOLICITED:
		/* a mapped port answered otherwise than an unmapped one: both are shown (the
		 * mapped one is what a peer's first SYN meets) */
		if (!m->unsolicited_known || !m->mapped_unsolicited_known)
			break;
		if (m->mapped_unsolicited_let_in || m->mapped_unsolicited == m->unsolicited)
			snprintf(buf, len, "%s", profile_unsolicited_name(m->unsolicited));
		else
			snprintf(buf, len, "%s, mapped port %s", profile_unsolicited_name(m->unsolicited),
				 profile_unsolicited_name(m->mapped_unsolicited));
		break;
	default:
		snprintf(buf, len, "-");
	}
	return buf;
}

static void set_known(struct classify_measure *m, enum profile_key k, bool known)
{
	switch (k) {
	case PROFILE_KEY_TRANSPORTS:
		m->handled_known = known;
		break;
	case PROFILE_KEY_MAPPING:
		m->mapping_known = known;
		break;
	case PROFILE_KEY_FILTERING:
		m->filtering_known = known;
		break;
	case PROFILE_KEY_PORTS:
		m->ports_known = known;
		break;
	case PROFILE_KEY_HAIRPIN:
		m->hairpin_known = known;
		break;
	case PROFILE_KEY_HAIRPIN_FILTERING:
		m->hairpin_filtering_known = known;
		break;
	case PROFILE_KEY_TCP_UNSOLICITED:
		m->unsolicited_known = m->mapped_unsolicited_known = known;
		break;
	default:
		break;
	}
}

void classify_combine(struct classify_result *r)
{
	int n = r->nrounds < 1 ? 1 : r->nrounds > CLASSIFY_ROUNDS ? CLASSIFY_ROUNDS : r->nrounds;

	for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++) {
		struct classify_measure *m = &r->m[tr];

		/* every value is round 1's; a key that any round differs on or misses is then
		 * marked unknown or disagreeing */
		*m = r->round[0][tr];
		m->note[0] = '\0';
		m->disagree = 0;
		for (int i = 0; i < n; i++)
			if (r->round[i][tr].note[0])
				cl_note(m, "round %d: %s", i + 1, r->round[i][tr].note);
		for (size_t ki = 0; ki < NROUND_KEYS; ki++) {
			enum profile_key k = round_keys[ki];
			char v[CLASSIFY_ROUNDS][64], list[256] = "";
			bool unknown = false, differ = false;
			size_t used = 0;

			for (int i = 0; i < n; i++) {
				measure_str(&r->round[i][tr], k, v[i], sizeof(v[i]));
				unknown = unknown || strcmp(v[i], "?") == 0;
				differ = differ || strcmp(v[i], v[0]) != 0;
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? " / " : "", v[i]);
				if (used >= sizeof(list))
					used = sizeof(list) - 1;
			}
			if (differ && !unknown) {
				m->disagree |= 1u << k;
				cl_note(m, "%s: the rounds disagree (%s)", profile_key_name(k), list);
			}
			if (differ || unknown)
				set_known(m, k, false);
		}
		/* the timeout readings are checked round by round (classify_mismatch()); keep the
		 * one furthest from round 1's for display */
		for (int i = 1; i < n; i++) {
			const struct classify_measure *x = &r->round[i][tr];

			if (x->ct_unreplied < 0 || x->ct_replied < 0)
				m->ct_unreplied = m->ct_replied = -1;
		}
	}
}

char *classify_declared(const struct classify_result *r, enum profile_key k, char *buf,
			size_t len)
{
	const struct profile_header *h = &r->declared;

	switch (k) {
	case PROFILE_KEY_NAME:
		snprintf(buf, len, "%s", h->name);
		break;
	case PROFILE_KEY_RFC3489:
		snprintf(buf, len, "%s", profile_rfc3489_name(h->rfc3489));
		break;
	case PROFILE_KEY_MAPPING:
		snprintf(buf, len, "%s", profile_dependency_name(h->mapping));
		break;
	case PROFILE_KEY_FILTERING:
		snprintf(buf, len, "%s", profile_dependency_name(h->filtering));
		break;
	case PROFILE_KEY_PORTS:
		ports_str(h->ports, h->stride, buf, len);
		break;
	case PROFILE_KEY_STRIDE:
		snprintf(buf, len, "%d", h->stride);
		break;
	case PROFILE_KEY_HAIRPIN:
		snprintf(buf, len, "%s", h->hairpin ? "yes" : "no");
		break;
	case PROFILE_KEY_HAIRPIN_FILTERING:
		/* absent (allowed with hairpin: no) reads as none */
		snprintf(buf, len, "%s",
			 profile_dependency_name(h->hairpin_filtering == PROFILE_DEPENDENCY_UNDECLARED
							 ? PROFILE_DEPENDENCY_NONE
							 : h->hairpin_filtering));
		break;
	case PROFILE_KEY_TCP_UNSOLICITED:
		snprintf(buf, len, "%s", profile_unsolicited_name(h->tcp_unsolicited));
		break;
	case PROFILE_KEY_PREDICTABLE:
		snprintf(buf, len, "%s", h->predictable ? "yes" : "no");
		break;
	case PROFILE_KEY_TRANSPORTS:
		profile_transports_format(h->transports, buf, len);
		break;
	case PROFILE_KEY_UDP_TIMEOUT:
		profile_udp_timeout_format(h, buf, len);
		break;
	case PROFILE_KEY_DESCRIPTION:
		snprintf(buf, len, "%s", h->description);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}

char *classify_measured(const struct classify_result *r, enum profile_key k,
			enum classify_transport tr, char *buf, size_t len)
{
	const struct classify_measure *m = &r->m[tr];

	if (m->disagree & (1u << k)) {
		snprintf(buf, len, "disagree");
		return buf;
	}
	snprintf(buf, len, "?");
	switch (k) {
	case PROFILE_KEY_RFC3489:
		/* any mapping but endpoint-independent is symmetric, whatever the filtering */
		if (m->mapping_known && (m->filtering_known || m->mapping != PROFILE_ENDPOINT_INDEPENDENT))
			snprintf(buf, len, "%s",
				 profile_rfc3489_name(profile_rfc3489_of(m->mapping, m->filtering)));
		break;
	case PROFILE_KEY_PREDICTABLE:
		if (m->mapping_known && m->ports_known)
			snprintf(buf, len, "%s",
				 profile_predictable_of(m->mapping, m->ports) ? "yes" : "no");
		break;
	case PROFILE_KEY_UDP_TIMEOUT: {
		size_t used = 0;

		if (tr != CLASSIFY_UDP) {
			snprintf(buf, len, "-");
			break;
		}
		if (m->ct_unreplied >= 0 && m->ct_replied >= 0)
			used = (size_t)snprintf(buf, len, "ct %d/%d", m->ct_unreplied, m->ct_replied);
		if (used >= len)
			break;
		if (r->lifetime_lo >= 0 && r->lifetime_hi < 0)
			snprintf(buf + used, len - used, "%slives > %d", used ? ", " : "",
				 r->lifetime_lo);
		else if (r->lifetime_lo >= 0)
			snprintf(buf + used, len - used, "%slives %d..%d", used ? ", " : "",
				 r->lifetime_lo, r->lifetime_hi);
		break;
	}
	default:
		measure_str(m, k, buf, len);
	}
	return buf;
}

bool classify_compared(const struct classify_result *r, enum profile_key k,
		       enum classify_transport tr)
{
	unsigned bit = tr == CLASSIFY_UDP ? PROFILE_UDP : PROFILE_TCP;
	const struct classify_measure *m = &r->m[tr];

	if (k == PROFILE_KEY_TRANSPORTS)
		return true;
	/* a transport the header leaves out, or the NAT does not handle (a mismatch on
	 * transports then), has nothing else to compare */
	if (!(r->declared.transports & bit) || !m->handled_known || !m->handled)
		return false;
	switch (k) {
	case PROFILE_KEY_RFC3489:
	case PROFILE_KEY_MAPPING:
	case PROFILE_KEY_FILTERING:
	case PROFILE_KEY_PORTS:
	case PROFILE_KEY_TCP_UNSOLICITED:
	case PROFILE_KEY_PREDICTABLE:
		return true;
	case PROFILE_KEY_HAIRPIN:
		/* hairpinning needs a translated public endpoint: none without translation */
		return !(m->mapping_known && m->no_translation);
	case PROFILE_KEY_HAIRPIN_FILTERING:
		/* it refines hairpin: a wrong hairpin is that key's mismatch alone */
		return r->declared.hairpin && m->hairpin_known && m->hairpin &&
		       !(m->mapping_known && m->no_translation);
	case PROFILE_KEY_UDP_TIMEOUT:
		return tr == CLASSIFY_UDP;
	default:
		return false;
	}
}

/* A conntrack reading of the timeout right after a packet: the declared value, less the
 * truncation to whole seconds and the seconds that passed before the reading. */
static bool ct_timeout_ok(int got, int declared, int slack)
{
	return got >= 0 && got <= declared && got >= declared - 1 - slack;
}

bool classify_mismatch(const struct classify_result *r, enum profile_key k,
		       enum classify_transport tr)
{
	const struct classify_measure *m = &r->m[tr];
	char d[64], v[64];

	if (!classify_compared(r, k, tr))
		return false;
	if (k == PROFILE_KEY_TRANSPORTS) {
		bool declared = r->declared.transports &
				(tr == CLASSIFY_UDP ? PROFILE_UDP : PROFILE_TCP);

		return !m->handled_known || m->handled != declared;
	}
	if (k == PROFILE_KEY_UDP_TIMEOUT) {
		int dt = r->declared.udp_timeout, du = profile_udp_unreplied(&r->declared);
		int n = r->nrounds < 1 ? 1 : r->nrounds > CLASSIFY_ROUNDS ? CLASSIFY_ROUNDS : r->nrounds;

		for (int i = 0; i < n; i++) {
			const struct classify_measure *x = &r->round[i][tr];

			/* The kernel gives a flow seen both ways the replied timeout only for a
			 * packet more than 2 s after the flow began (nf_conntrack_udp_packet():
			 * "Still active after two seconds? Extend timeout."); the answer read here
			 * usually comes sooner and gets the unreplied one. Either is right. */
			if (!ct_timeout_ok(x->ct_unreplied, du, x->ct_slack) ||
			    (!ct_timeout_ok(x->ct_replied, dt, x->ct_slack) &&
			     !ct_timeout_ok(x->ct_replied, du, x->ct_slack)))
				return true;
		}
		/* end to end (--timeouts): the lifetime L lies in (lo, hi]; a second of slack */
		if (r->timeouts && r->lifetime_lo < 0)
			return true;
		/* its mappings see no answer: the unreplied lifetime */
		return r->lifetime_lo >= 0 && !(r->lifetime_lo <= du + 1 &&
						 (r->lifetime_hi < 0 || r->lifetime_hi >= du - 1));
	}
	classify_declared(r, k, d, sizeof(d));
	classify_measured(r, k, tr, v, sizeof(v));
	/* no translation keeps every endpoint: the endpoint-independent mapping a header can
	 * declare, and no other */
	if (k == PROFILE_KEY_MAPPING && strcmp(v, CLASSIFY_NO_TRANSLATION) == 0)
		return r->declared.mapping != PROFILE_ENDPOINT_INDEPENDENT;
	return strcmp(d, v) != 0;
}

unsigned classify_compare(struct classify_result *r)
{
	r->mismatches = 0;
	for (int k = 0; k < PROFILE_KEY_COUNT; k++)
		for (int tr = 0; tr < CLASSIFY_NTRANSPORTS; tr++)
			if (classify_mismatch(r, (enum profile_key)k, (enum classify_transport)tr))
				r->mismatches |= 1u << k;
	return r->mismatches;
}
