/* `punch load`: a load generator for the rendezvous benchmark. Registers --sessions sessions
 * (two peers each, roles a and b) over UDP from a pool of sockets, with at most --window
 * sessions in flight, and reports registrations per second once every session has been
 * paired (or at --timeout). Run the rendezvous with --rate-limit 0: one source address. */
#ifndef PUNCH_LOAD_H
#define PUNCH_LOAD_H

#include <stdio.h>

#include "opts.h"

/* Returns 0 when every session was paired, 1 when some were not, 2 on a setup error. */
int load_run(const struct load_opts *o, FILE *out, FILE *err);

#endif
