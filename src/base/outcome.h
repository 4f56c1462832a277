/* The outcome of a run (BRIEF.md "Words"), below every layer that speaks of it: the engine layer
 * maps an engine's word to one, the results model judges cells by them, the reports print them. */
#pragma once
#include <stdbool.h>

/* Ordered best first: direct > relayed > failed > disputed (BRIEF.md). disputed (the engine's
 * word and the lab's evidence disagree) ranks below failed against a baseline and is a
 * regression in every case. error and skipped are not NAT results and never rank. */
enum cell_outcome {
	CELL_DIRECT,
	CELL_RELAYED,
	CELL_FAILED,
	CELL_DISPUTED,
	CELL_ERROR,
	CELL_SKIPPED,
	CELL_OUTCOME_COUNT
};

/* "direct", "relayed", "failed", "disputed", "error", "skipped"; "?" out of range. */
const char *cell_outcome_name(enum cell_outcome o);
/* Parse a name; returns 0 or -EINVAL. */
int cell_outcome_parse(const char *s, enum cell_outcome *o);
/* Whether o is a NAT result, one that ranks: direct, relayed, failed or disputed. */
bool cell_outcome_is_nat(enum cell_outcome o);
/* Whether a is worse than b among direct/relayed/failed/disputed (false when either is
 * error/skipped). */
bool cell_outcome_worse(enum cell_outcome a, enum cell_outcome b);
