/* The NAT events section of the terminal and Markdown reports (docs/events.md): per cell with
 * events and per run, whether the engine lost its path and how fast it got it back. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "matrix/results.h"

/* Nothing when no cell has events. markdown: a table; else indented lines for the terminal. */
void report_events_write(const struct results *r, FILE *f, bool markdown);
