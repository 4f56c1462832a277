/* Joining the results of several runs (the shards of one matrix) into one results model. */
#pragma once
#include <stdbool.h>

#include "base/out.h"
#include "matrix/results.h"

/* Whether two cells are the same: spec, references, runs, and the judged fields. */
bool results_cell_equal(const struct cell_result *a, const struct cell_result *b);

/* Join src into dst (for `punchlab merge`): cells are appended (deep copies); a cell id already
 * in dst is an error unless both cells are equal (then it is kept once). The first source's
 * metadata is taken whole (dst empty); later ones must have the same engine, engine and harness
 * versions and profile hashes; started is the earliest, wall_ms the longest, incomplete if any
 * is. src_name names src in diagnostics. Verdicts are not recomputed: judge afterwards.
 * Returns 0, -EINVAL (diagnostics in dl; dst keeps what was joined before) or -ENOMEM. */
int results_merge(struct results *dst, const struct results *src, const char *src_name,
		  struct diag_list *dl);
