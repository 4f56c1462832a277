/* The rendezvous server: registers peers by session id and, when the second peer of a session
 * registers, tells both at once the other's public endpoint (as observed here) and private
 * endpoints (as reported), over UDP and TCP on every listen address; answers BIND requests
 * (stride learning); optionally relays a session's messages. Malformed, unknown or flooding
 * input is dropped and counted, never answered at length. */
#ifndef PUNCH_RENDEZVOUS_H
#define PUNCH_RENDEZVOUS_H

#include <stdio.h>

#include "opts.h"

/* Run until SIGINT/SIGTERM or --duration. Events and stats go to @out, diagnostics to @err.
 * Returns 0, or -errno for a setup failure (bind, socket): main maps it to exit 2. */
int rdv_run(const struct rdv_opts *o, FILE *out, FILE *err);

#endif
