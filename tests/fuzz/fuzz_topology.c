/* libFuzzer target for the topology parser (topologies/, docs/topology-format.md): a topology
 * file is user input (`lab up -t PATH`, `matrix -t PATH`), so whatever its bytes,
 * topo_parse_buffer() keeps its contract (fuzz_contract.h) and never reads out of bounds; a
 * topology it accepts stays within the model's bounds. */
#include <stdint.h>

#include "fuzz_contract.h"
#include "lab/topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct topo t; /* large (fixed bounds, topo.h): not on the stack */
	static struct diag_list dl;
	int ret;

	fuzz_diag_reset(&dl);
	ret = topo_parse_buffer(&t, "fuzz.yaml", (const char *)data, size, &dl);
	fuzz_contract(ret, &dl);
	if (ret == 0 && (t.nnodes < 0 || t.nnodes > TOPO_MAX_NODES || t.nlinks < 0 ||
			 t.nlinks > TOPO_MAX_LINKS))
		abort();
	return 0;
}
