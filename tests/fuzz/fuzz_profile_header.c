/* libFuzzer target for the profile header parser (nat-profiles/NAME.nft's behaviour header,
 * docs/profile-format.md): profiles are user files (`--set nat-a=PATH`, `--profiles PATH`), so
 * whatever their bytes, profile_header_parse_buffer() keeps its contract (fuzz_contract.h). */
#include <stdint.h>

#include "fuzz_contract.h"
#include "nft/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct profile_header h;
	static struct diag_list dl;

	fuzz_diag_reset(&dl);
	fuzz_contract(profile_header_parse_buffer(&h, "fuzz.nft", (const char *)data, size, &dl),
		      &dl);
	return 0;
}
