/* The ICE driver's offer: its ufrag, password and candidates in one short line, so that the
 * harness can carry it from one peer to the other as a captured value (docs/engine-format.md:
 * a captured value is at most 255 characters, which SDP lines for three candidates exceed).
 *
 *   UFRAG PWD T,FOUNDATION,PRIORITY,ADDRESS,PORT [T,...]...
 *
 * T is the candidate type: h (host), s (server reflexive), p (peer reflexive), r (relayed).
 * Only UDP candidates of component 1 are carried: the driver uses nothing else. Pure code, no
 * GLib, so the unit tests exercise it directly. */
#pragma once
#include <stddef.h>

#define OFFER_MAX_CANDIDATES 8
#define OFFER_LINE_MAX 255  /* what a captured value holds (EF_TEXT_MAX - 1): never cut one */
#define OFFER_UFRAG_MAX 257 /* RFC 8445 15.4: ice-ufrag up to 256 characters */
#define OFFER_ADDR_MAX 46   /* INET6_ADDRSTRLEN */

struct offer_candidate {
	char type;                  /* h, s, p, r */
	char foundation[33];        /* NICE_CANDIDATE_MAX_FOUNDATION */
	unsigned long priority;
	char addr[OFFER_ADDR_MAX];
	unsigned port;
};

struct offer {
	char ufrag[OFFER_UFRAG_MAX];
	char pwd[OFFER_UFRAG_MAX];
	struct offer_candidate c[OFFER_MAX_CANDIDATES];
	int n;
};

/* Format o into buf. Returns the length, or -1 when it does not fit (nothing useful in buf). */
int offer_format(const struct offer *o, char *buf, size_t len);

/* Parse a line (a trailing newline is allowed). Returns 0, or -1 with why (what is wrong and
 * what is expected) filled. */
int offer_parse(const char *line, struct offer *o, char *why, size_t wlen);
