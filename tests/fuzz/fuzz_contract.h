/* The contract every punchlab parser states in its header, checked after each fuzz input: it
 * returns 0 with no diagnostic, or -EINVAL with at least one diagnostic naming what is wrong
 * (a rejection that says nothing would leave a user with exit 2 and no reason); never another
 * error for bytes in memory. A broken contract aborts, which libFuzzer records as a crash. */
#pragma once
#include <errno.h>
#include <stdlib.h>

#include "base/out.h"

static inline void fuzz_contract(int ret, const struct diag_list *dl)
{
	if (ret == 0 && (dl->count || dl->dropped))
		abort();
	if (ret < 0 && ret != -EINVAL)
		abort();
	if (ret == -EINVAL && dl->count == 0)
		abort();
}

static inline void fuzz_diag_reset(struct diag_list *dl)
{
	dl->count = 0;
	dl->dropped = 0;
}
