/* NAT events: a timeline of things that happen to a lab while an engine runs (docs/events.md).
 *
 *     nat-a reboot@3s, nat-a rebind@5s, nat-b wan-address@4s, link inet:nat-a down@5s for 3s
 *
 * Each event names a node (a NAT node for reboot, rebind and wan-address) or a link (its two
 * nodes, in either order), what happens, and when: @TIME counted from the moment peer A is
 * started (a cell) or from the command's start (`punchlab lab event`). TIME and the duration
 * of a link's outage are a number with the unit ms or s ("2500ms", "2.5s", "3s").
 *
 *  - reboot: the NAT's conntrack table is flushed and its ruleset reloaded from its profile in
 *    one transaction (its dynamic maps and counters start empty): mappings are allocated anew.
 *    "reboot@2s for 3s": the NAT is off for 3 s first (it forwards and answers nothing), as
 *    a router is while it boots; without "for" it comes back at once.
 *  - rebind: every NATed flow's public port moves. A port-preserving profile would give the
 *    same port again after a flush, so the lab pins each of the NAT's internal endpoints to
 *    another port (a table of its own, srcnat - 1); other profiles move by their own
 *    allocation once conntrack and their dynamic maps are flushed.
 *  - wan-address: the NAT's WAN interface gets another address of its subnet (the old one is
 *    deleted), the ruleset is reloaded with it as $WAN_ADDR and conntrack flushed.
 *  - link A:B down ... for D: the link's gateway-side end is set down, and up again D later.
 *
 * Parsing is pure code (unit-tested); applying an event (events_apply.c) enters the node. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct lab;

enum lab_event_kind { LAB_EV_REBOOT, LAB_EV_REBIND, LAB_EV_WAN_ADDRESS, LAB_EV_LINK_DOWN,
		      LAB_EV_KINDS };

#define LAB_EVENTS_MAX 16
#define LAB_EVENT_TIME_MAX_MS 3600000 /* an hour: far beyond any cell */

struct lab_event {
	enum lab_event_kind kind;
	char node[16];      /* the NAT node; a link's first node */
	char node2[16];     /* a link's second node, "" otherwise */
	int at_ms;          /* when, from the timeline's origin */
	int for_ms;         /* link down: how long (> 0); reboot: how long the NAT is off (0: not) */
};

/* Events in the order of their times (a stable sort: equal times keep the written order). */
struct lab_timeline {
	struct lab_event ev[LAB_EVENTS_MAX];
	int n;
};

/* Parse a timeline. Returns 0, or -EINVAL with why[len] naming the event as typed and what
 * is expected. An empty (or blank) text is an empty timeline. */
int lab_timeline_parse(const char *text, struct lab_timeline *tl, char *why, size_t len);

/* The canonical text (", "-separated, times in s when whole seconds, else ms): what a cell
 * id carries. Returns 0 or -ENAMETOOLONG. */
int lab_timeline_format(const struct lab_timeline *tl, char *buf, size_t len);

/* One event in the canonical spelling ("nat-a reboot@3s"). Returns buf. */
char *lab_event_format(const struct lab_event *ev, char *buf, size_t len);

/* "reboot", "rebind", "wan-address", "link-down". */
const char *lab_event_kind_name(enum lab_event_kind k);

/* Check the timeline against a topology: reboot, rebind and wan-address name a NAT node, a
 * link names two nodes joined by a two-ended link. Returns 0 or -EINVAL with why filled. */
struct topo;
int lab_timeline_check(const struct lab_timeline *tl, const struct topo *t, char *why,
		       size_t len);

/* Apply an event to a running lab now. For an event with a duration (for_ms > 0: a link down,
 * a reboot that takes time) up selects the second half (the link up again, the NAT booted);
 * the other events ignore it. detail[len] receives what was done and what the
 * kernel shows afterwards ("3 conntrack entries flushed, ruleset reloaded, 0 left"), for the
 * run's log. The calling thread enters the node and is back in its namespace on return.
 * Returns 0 or -errno (detail says what failed). */
int lab_event_apply(struct lab *lab, const struct lab_event *ev, bool up, char *detail,
		    size_t len);

/* What happened to one step of a timeline: an event, or the second half of one with a duration
 * (up: the link up again, the NAT booted). Times in ms from the timeline's origin. */
struct lab_event_record {
	struct lab_event ev;
	bool up;
	int planned_ms;
	double started_ms;  /* when applying it began: when it takes effect (a reload, a flush,
			     * a link change are its first acts; the rest is evidence) */
	double actual_ms;   /* when applying it had finished */
	int ret;            /* 0 or -errno */
	char detail[400];
};
#define LAB_EVENT_RECORDS_MAX (2 * LAB_EVENTS_MAX)

/* The steps of a timeline in the order they happen (an event with a duration is two steps).
 * Returns the count (at most LAB_EVENT_RECORDS_MAX); only ev, up and planned_ms are set. */
int lab_timeline_steps(const struct lab_timeline *tl, struct lab_event_record *rec);

/* Run a timeline: wait until each step's time (origin_ms on CLOCK_MONOTONIC plus planned_ms)
 * and apply it, filling rec[] (from lab_timeline_steps()). When o is not NULL each step is
 * printed to o->out as it happens ("2001 ms nat-a reboot@2s: ..."). A readable stop_fd (-1:
 * none) ends the wait early: the steps not reached keep ret -ECANCELED. Returns the number of
 * steps, or a negative errno when a step failed (rec says which; later steps still run). */
struct out;
int lab_timeline_run(struct lab *lab, const struct lab_timeline *tl, double origin_ms,
		     int stop_fd, struct lab_event_record *rec, const struct out *o);

/* CLOCK_MONOTONIC in ms (the clock of origin_ms). */
double lab_events_now_ms(void);
