/* The timeline grammar of lab/events.h: parsing, canonical formatting, checking names against a
 * topology. Pure code: applying events is events_apply.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/events.h"
#include "lab/topo.h"

static const char *const kind_names[LAB_EV_KINDS] = {
	[LAB_EV_REBOOT] = "reboot", [LAB_EV_REBIND] = "rebind",
	[LAB_EV_WAN_ADDRESS] = "wan-address", [LAB_EV_LINK_DOWN] = "link-down",
};

const char *lab_event_kind_name(enum lab_event_kind k)
{
	return k < LAB_EV_KINDS ? kind_names[k] : "?";
}

#define GRAMMAR "expected \"NODE reboot@TIME [for DURATION]\", \"NODE rebind@TIME\", \"NODE wan-address@TIME\" " \
		"or \"link NODE:NODE down@TIME for DURATION\" (TIME like 3s or 2500ms)"

/* "3s", "2.5s", "2500ms" -> ms. Returns 0 or -EINVAL. */
static int parse_ms(const char *s, int *ms)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	v = strtod(s, &end);
	if (strcmp(end, "ms") == 0)
		;
	else if (strcmp(end, "s") == 0)
		v *= 1000.0;
	else
		return -EINVAL;
	if (!(v >= 0) || v > LAB_EVENT_TIME_MAX_MS || fabs(v - round(v)) > 1e-6)
		return -EINVAL;
	*ms = (int)round(v);
	return 0;
}

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* One event, already trimmed, into ev. */
static int parse_one(char *text, struct lab_event *ev, char *why, size_t len)
{
	char *tok[5], *save = NULL, *at;
	int n = 0;
	char copy[256];

	snprintf(copy, sizeof(copy), "%s", text);
	memset(ev, 0, sizeof(*ev));
	for (char *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 5) {
			snprintf(why, len, "\"%s\": too many words, " GRAMMAR, copy);
			return -EINVAL;
		}
		tok[n++] = t;
	}
	if (n >= 1 && strcmp(tok[0], "link") == 0) {
		char *colon = n >= 2 ? strchr(tok[1], ':') : NULL;
		if (n < 3 || !colon || strncmp(tok[2], "down@", 5) != 0) {
			snprintf(why, len, "\"%s\": " GRAMMAR, copy);
			return -EINVAL;
		}
		if (n != 5 || strcmp(tok[3], "for") != 0) {
			snprintf(why, len, "\"%s\": the outage needs \"for DURATION\" after the "
				 "time, like \"for 3s\"", copy);
			return -EINVAL;
		}
		*colon = '\0';
		if (!name_ok(tok[1], strlen(tok[1])) || !name_ok(colon + 1, strlen(colon + 1))) {
			snprintf(why, len, "\"%s\": a link is NODE:NODE (node names of the topology)",
				 copy);
			return -EINVAL;
		}
		ev->kind = LAB_EV_LINK_DOWN;
		snprintf(ev->node, sizeof(ev->node), "%s", tok[1]);
		snprintf(ev->node2, sizeof(ev->node2), "%s", colon + 1);
		if (parse_ms(tok[2] + 5, &ev->at_ms) < 0) {
			snprintf(why, len, "\"%s\": time \"%s\" is not valid, expected a number with "
				 "ms or s (3s, 2500ms), at most an hour", copy, tok[2] + 5);
			return -EINVAL;
		}
		if (parse_ms(tok[4], &ev->for_ms) < 0 || ev->for_ms == 0) {
			snprintf(why, len, "\"%s\": duration \"%s\" is not valid, expected a time "
				 "above zero (for 3s)", copy, tok[4]);
			return -EINVAL;
		}
		return 0;
	}
	if ((n != 2 && n != 4) || !(at = strchr(tok[1], '@'))) {
		snprintf(why, len, "\"%s\": %s" GRAMMAR, copy,
			 n == 2 || n == 4 ? "no @TIME; " : "");
		return -EINVAL;
	}
	*at = '\0';
	ev->kind = LAB_EV_KINDS;
	for (int k = 0; k < LAB_EV_LINK_DOWN; k++)
		if (strcmp(tok[1], kind_names[k]) == 0)
			ev->kind = (enum lab_event_kind)k;
	if (ev->kind == LAB_EV_KINDS) {
		snprintf(why, len, "\"%s\": unknown event \"%s\", expected reboot, rebind, "
			 "wan-address (or link NODE:NODE down@TIME for DURATION)", copy, tok[1]);
		return -EINVAL;
	}
	if (!name_ok(tok[0], strlen(tok[0]))) {
		snprintf(why, len, "\"%s\": \"%s\" is not a node name", copy, tok[0]);
		return -EINVAL;
	}
	snprintf(ev->node, sizeof(ev->node), "%s", tok[0]);
	if (parse_ms(at + 1, &ev->at_ms) < 0) {
		snprintf(why, len, "\"%s\": time \"%s\" is not valid, expected a number with ms or "
			 "s (3s, 2500ms), at most an hour", copy, at + 1);
		return -EINVAL;
	}
	if (n == 4) {
		/* only a reboot takes time: the NAT is off (drops everything) that long */
		if (ev->kind != LAB_EV_REBOOT) {
			snprintf(why, len, "\"%s\": only a reboot (and a link) takes \"for "
				 "DURATION\", " GRAMMAR, copy);
			return -EINVAL;
		}
		if (strcmp(tok[2], "for") != 0) {
			snprintf(why, len, "\"%s\": \"%s %s\" after the time, expected \"for "
				 "DURATION\" (for 3s)", copy, tok[2], tok[3]);
			return -EINVAL;
		}
		if (parse_ms(tok[3], &ev->for_ms) < 0 || ev->for_ms == 0) {
			snprintf(why, len, "\"%s\": duration \"%s\" is not valid, expected a time "
				 "above zero (for 3s)", copy, tok[3]);
			return -EINVAL;
		}
	}
	return 0;
}

int lab_timeline_parse(const char *text, struct lab_timeline *tl, char *why, size_t len)
{
	char buf[4096];

	memset(tl, 0, sizeof(*tl));
	why[0] = '\0';
	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, len, "the timeline is longer than %zu bytes", sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	/* strtok_r would skip empty items: walk the commas by hand so ",," is an error */
	for (char *p = buf, *next; p; p = next) {
		char *e;

		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*p) {
			if (next || tl->n) {
				snprintf(why, len, "an empty event between commas, " GRAMMAR);
				return -EINVAL;
			}
			continue;
		}
		if (tl->n == LAB_EVENTS_MAX) {
			snprintf(why, len, "more than %d events", LAB_EVENTS_MAX);
			return -EINVAL;
		}
		if (parse_one(p, &tl->ev[tl->n], why, len) < 0)
			return -EINVAL;
		tl->n++;
	}
	/* insertion sort by time: stable, and n is at most 16 */
	for (int i = 1; i < tl->n; i++) {
		struct lab_event e = tl->ev[i];
		int j = i;
		while (j > 0 && tl->ev[j - 1].at_ms > e.at_ms) {
			tl->ev[j] = tl->ev[j - 1];
			j--;
		}
		tl->ev[j] = e;
	}
	return 0;
}

static void format_ms(int ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%ds", ms / 1000);
	else
		snprintf(buf, len, "%dms", ms);
}

char *lab_event_format(const struct lab_event *ev, char *buf, size_t len)
{
	char at[24], dur[24];

	format_ms(ev->at_ms, at, sizeof(at));
	format_ms(ev->for_ms, dur, sizeof(dur));
	if (ev->kind == LAB_EV_LINK_DOWN) {
		snprintf(buf, len, "link %s:%s down@%s for %s", ev->node, ev->node2, at, dur);
	} else if (ev->for_ms) {
		snprintf(buf, len, "%s %s@%s for %s", ev->node, lab_event_kind_name(ev->kind), at,
			 dur);
	} else {
		snprintf(buf, len, "%s %s@%s", ev->node, lab_event_kind_name(ev->kind), at);
	}
	return buf;
}

int lab_timeline_format(const struct lab_timeline *tl, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	for (int i = 0; i < tl->n; i++) {
		char one[80];
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 lab_event_format(&tl->ev[i], one, sizeof(one)));
		if (n < 0 || (size_t)n >= len - used) {
			buf[0] = '\0';
			return -ENAMETOOLONG;
		}
		used += (size_t)n;
	}
	return 0;
}

int lab_timeline_check(const struct lab_timeline *tl, const struct topo *t, char *why,
		       size_t len)
{
	for (int i = 0; i < tl->n; i++) {
		const struct lab_event *ev = &tl->ev[i];
		int a = topo_node_find(t, ev->node), b;
		char one[80];

		lab_event_format(ev, one, sizeof(one));
		if (a < 0) {
			snprintf(why, len, "\"%s\": topology %s has no node \"%s\"", one, t->name,
				 ev->node);
			return -EINVAL;
		}
		if (ev->kind != LAB_EV_LINK_DOWN) {
			if (t->nodes[a].kind != NODE_NAT) {
				snprintf(why, len, "\"%s\": node \"%s\" is a %s node, expected a nat "
					 "node", one, ev->node, topo_kind_name(t->nodes[a].kind));
				return -EINVAL;
			}
			continue;
		}
		b = topo_node_find(t, ev->node2);
		if (b < 0) {
			snprintf(why, len, "\"%s\": topology %s has no node \"%s\"", one, t->name,
				 ev->node2);
			return -EINVAL;
		}
		for (int li = 0; li < t->nlinks; li++)
			if (t->links[li].nends == 2 && topo_link_end_of(&t->links[li], a) >= 0 &&
			    topo_link_end_of(&t->links[li], b) >= 0)
				goto found;
		snprintf(why, len, "\"%s\": no two-ended link joins %s and %s in topology %s", one,
			 ev->node, ev->node2, t->name);
		return -EINVAL;
found:;
	}
	return 0;
}
