/* libFuzzer target for the punch wire decoder: whatever the bytes, wire_decode() must not read
 * out of bounds or crash, and a message it accepts must re-encode into one it accepts again
 * with the same content. Built only with clang (tests/fuzz/meson.build). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg m, again;
	uint8_t buf[WIRE_MAX_LEN];
	int n;

	if (wire_decode(data, size, &m))
		return 0;
	n = wire_encode(&m, buf, sizeof(buf));
	if (n < 0)
		abort();
	if (wire_decode(buf, (size_t)n, &again))
		abort();
	if (again.type != m.type || again.token != m.token || again.nonce != m.nonce ||
	    again.present != m.present || again.payload_len != m.payload_len ||
	    strcmp(again.session, m.session) || again.n_priv != m.n_priv ||
	    (m.payload_len && memcmp(again.payload, m.payload, m.payload_len)))
		abort();
	return 0;
}
