/* libFuzzer target for the engine file parser (engines/NAME.yaml, docs/engine-format.md): an
 * engine file is a user's own file (`matrix --engine PATH`), so whatever its bytes,
 * engine_file_parse_buffer() keeps its contract (fuzz_contract.h) and never reads out of
 * bounds. */
#include <stdint.h>

#include "engine/engine_file.h"
#include "fuzz_contract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct engine_file e; /* large (fixed bounds): not on the stack */
	static struct diag_list dl;

	fuzz_diag_reset(&dl);
	fuzz_contract(engine_file_parse_buffer(&e, "fuzz.yaml", (const char *)data, size, &dl),
		      &dl);
	return 0;
}
