/* Outcome names and their order (BRIEF.md "Words": direct > relayed > failed). */
#include "base/outcome.h"

#include <errno.h>
#include <string.h>

static const char *const outcome_names[CELL_OUTCOME_COUNT] = {
	[CELL_DIRECT] = "direct",
	[CELL_RELAYED] = "relayed",
	[CELL_FAILED] = "failed",
	[CELL_DISPUTED] = "disputed",
	[CELL_ERROR] = "error",
	[CELL_SKIPPED] = "skipped",
};

/* The outcomes that rank (direct > relayed > failed > disputed). */
#define NAT_OUTCOMES (1u << CELL_DIRECT | 1u << CELL_RELAYED | 1u << CELL_FAILED | 1u << CELL_DISPUTED)

const char *cell_outcome_name(enum cell_outcome o)
{
	if ((unsigned)o >= CELL_OUTCOME_COUNT)
		return "?";
	return outcome_names[o];
}

int cell_outcome_parse(const char *s, enum cell_outcome *o)
{
	for (int i = 0; s && i < CELL_OUTCOME_COUNT; i++)
		if (strcmp(s, outcome_names[i]) == 0) {
			*o = (enum cell_outcome)i;
			return 0;
		}
	return -EINVAL;
}

bool cell_outcome_is_nat(enum cell_outcome o)
{
	return (unsigned)o < CELL_OUTCOME_COUNT && (NAT_OUTCOMES & (1u << o));
}

bool cell_outcome_worse(enum cell_outcome a, enum cell_outcome b)
{
	/* the enum is ordered best first */
	return cell_outcome_is_nat(a) && cell_outcome_is_nat(b) && a > b;
}
