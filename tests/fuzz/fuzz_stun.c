/* libFuzzer target for punch probe's STUN answer decoder (src/punch/probe_stun.c), which reads
 * whatever a STUN server (or anyone on the path) sends: it must never read out of bounds, and
 * an answer it accepts has an IPv4 or IPv6 mapped address. The first 8 bytes of the input are
 * the transaction id it expects, so that the fuzzer can reach the attribute parser. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_answer a;
	uint64_t id = 0;
	uint8_t *copy;

	if (size < 8)
		return 0;
	memcpy(&id, data, 8);
	/* an exact-size heap copy, so ASan sees a read past the message */
	copy = malloc(size - 8 ? size - 8 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 8, size - 8);
	memset(&a, 0, sizeof(a));
	if (probe_ops_stun.decode(NULL, copy, size - 8, id, &a) == 0 &&
	    a.mapped.ss_family != AF_INET && a.mapped.ss_family != AF_INET6)
		abort();
	if (a.n_other < 0 || a.n_other > 1)
		abort();
	free(copy);
	return 0;
}
