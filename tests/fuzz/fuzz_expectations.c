/* libFuzzer target for the expectations parser (ci/expectations.yaml,
 * docs/expectations-format.md; `matrix --expectations FILE`): whatever the bytes,
 * expectations_load_buffer() keeps its contract (fuzz_contract.h) and never reads out of
 * bounds. */
#include <stdint.h>

#include "fuzz_contract.h"
#include "matrix/expect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct expectations e; /* large (fixed bounds): not on the stack */
	static struct diag_list dl;

	fuzz_diag_reset(&dl);
	fuzz_contract(expectations_load_buffer(&e, "fuzz.yaml", (const char *)data, size, &dl),
		      &dl);
	return 0;
}
