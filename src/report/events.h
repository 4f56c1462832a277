/* The NAT events section of the terminal, Markdown and HTML reports (docs/events.md): per cell
 * with events and per run, whether the engine lost its path and how fast it got it back. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "matrix/results.h"

enum events_style { EVENTS_TERMINAL, EVENTS_MARKDOWN, EVENTS_HTML };

/* Nothing when no cell has events. Markdown and HTML: a table; the terminal: indented lines. */
void report_events_write(const struct results *r, FILE *f, enum events_style style);
