/* Reading matrix.json back into the results model: the model's own format, so the model owns its
 * reader (--baseline and `punchlab merge` read saved runs; the writer is report/json.c). */
#pragma once
#include "base/out.h"
#include "matrix/results.h"

/* Read a matrix.json back (for --baseline and merge). r is overwritten (its old contents are
 * not freed); the caller frees it with results_free(), also after an error (it is then empty).
 * Verdicts, success rates and percentiles are read as written, not recomputed.
 * Returns 0; -errno when the file cannot be opened or read; -EINVAL when it is not JSON
 * (a diagnostic with FILE:LINE from the parser), has an unsupported schema_version or a bad
 * field (a diagnostic naming the field, e.g. "cells[3].runs[0].outcome: ..."). */
int results_json_read(const char *path, struct results *r, struct diag_list *dl);
