/* A run's timeline (`punchlab run`, docs/run.md): what the engine, the NATs' conntrack, the NAT
 * events and the lab's verdict said, merged on one clock (milliseconds from the start of lab up).
 *
 * Entries come from several threads (the cell's runner reads the engine's lines, a watcher thread
 * reads conntrack events and dumps), each stamped when it was seen. timeline_add() takes a lock,
 * keeps the entry and, with a live sink, prints it at once (arrival order). The files are
 * written in time order (timeline_sort(): by time, then by arrival: stable). Pure: no kernel. */
#pragma once
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>

enum tl_source {
	TL_LAB,       /* lab up, captures, lab kept or removed */
	TL_ENGINE,    /* a line of a program of the engine (a peer's JSON event, a server's line) */
	TL_CT_EVENT,  /* a ctnetlink event in a NAT node: new, update, destroy */
	TL_CT_DUMP,   /* what a periodic or final conntrack dump showed (refreshes, counters) */
	TL_NAT_EVENT, /* a NAT event of --events (reboot, rebind, link down...) */
	TL_ATTEST,    /* the lab's attestation of the path */
	TL_OUTCOME,   /* the run's outcome */
	TL_SOURCES
};

/* "lab", "engine", "conntrack", "dump", "nat-event", "attest", "outcome". */
const char *tl_source_name(enum tl_source s);

#define TL_WHO_MAX 24
#define TL_WHAT_MAX 16
#define TL_TEXT_MAX 1024 /* an engine line longer than this is cut */

struct tl_entry {
	double t_ms;             /* from the timeline's origin */
	unsigned long seq;       /* arrival order */
	enum tl_source src;
	char who[TL_WHO_MAX];    /* the node or role: "nat-a", "peer-b", "lab" */
	char what[TL_WHAT_MAX];  /* a word: "new", "destroy", "refresh", "line", "direct"... */
	char text[TL_TEXT_MAX];  /* the rest, one line */
};

struct timeline {
	pthread_mutex_t lock;
	double origin_ms;        /* CLOCK_MONOTONIC ms of t = 0 */
	struct tl_entry *v;
	size_t n, cap;
	unsigned long seq;
	FILE *live;              /* NULL: no live view */
	size_t max;              /* entries kept at most (later ones are counted, not kept) */
	unsigned long dropped;
};

/* Set up an empty timeline whose t = 0 is origin_ms; live may be NULL. max 0: 20000. */
void timeline_init(struct timeline *tl, double origin_ms, FILE *live, size_t max);

/* Release the entries (the struct itself is the caller's). */
void timeline_free(struct timeline *tl);

/* Add an entry stamped at_ms (CLOCK_MONOTONIC ms; converted to the timeline's clock); text is
 * printf-style, cut at TL_TEXT_MAX and newlines turned into spaces. Thread-safe. Returns 0,
 * -ENOSPC when max entries are kept already (counted in dropped), or -ENOMEM. */
int timeline_add(struct timeline *tl, double at_ms, enum tl_source src, const char *who,
		 const char *what, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Put the entries in time order, keeping arrival order among equal times. */
void timeline_sort(struct timeline *tl);

/* "  1234.5 ms  conntrack  nat-a    new      udp 10.0.1.10:4242 -> ..." into buf; returns buf. */
char *timeline_format_text(const struct tl_entry *e, char *buf, size_t len);

/* {"t_ms":1234.5,"source":"conntrack","who":"nat-a","what":"new","text":"..."} (one line,
 * JSON-escaped) into buf; returns buf (cut entries stay valid JSON: the text is cut first). */
char *timeline_format_json(const struct tl_entry *e, char *buf, size_t len);

/* Sort, then write dir/timeline.txt (a header line, then one entry a line) and
 * dir/timeline.jsonl. Returns 0 or -errno. */
int timeline_write(struct timeline *tl, const char *dir, const char *header);
