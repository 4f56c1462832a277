/* punch peer's option parsing for the punch unit tests (test_opts.c, test_dual.c): argument
 * lists written inline, the parser's error line caught in peer_parse_err. */
#pragma once
#include "opts.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))

/* What the last parse wrote to its error stream (NUL-terminated when it fits). */
extern char peer_parse_err[512];

/* peer_opts_parse(argc, argv) into o, its errors into peer_parse_err, its output discarded;
 * what peer_opts_parse returns. */
int peer_parse(int argc, char **argv, struct peer_opts *o);

/* PEER(o, "peer", "--session", ...): peer_parse of the words given. */
#define PEER(o, ...) peer_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o)
