/* The theory of networks that force a fallback (header key outbound; theory_outbound.c). */
#pragma once
#include <stdbool.h>

struct theory_input;
struct theory;

/* When a side's network keeps a path the cell needs from leaving (the rendezvous server
 * over the cell's transport on its port, or the other peer's port over TCP), fill t and return
 * true; otherwise return false and leave t alone. */
bool theory_outbound(const struct theory_input *in, struct theory *t);
