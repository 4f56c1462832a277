/* punch probe over punch's own wire format: BIND with CHANGE flags and RESPONSE_PORT, answered
 * by BIND_REPLY (OBSERVED, and ALT: the rendezvous' other listen endpoints). */
#include <errno.h>
#include <string.h>

#include "endpoint.h"
#include "probe.h"

static int wire_probe_encode(uint8_t *buf, size_t cap, uint64_t id, uint8_t change,
			     uint16_t resp_port)
{
	struct wire_msg m;

	wire_msg_init(&m, WIRE_BIND);
	m.role = WIRE_ROLE_ANY;
	m.nonce = id;
	m.flags = change & (WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT);
	if (resp_port) {
		m.response_port = resp_port;
		m.present |= WA_BIT(WA_RESPONSE_PORT);
	}
	return wire_encode(&m, buf, cap);
}

static int wire_probe_decode(const uint8_t *buf, size_t len, uint64_t id, struct probe_answer *a)
{
	struct wire_msg m;
	int i;

	if (wire_decode(buf, len, &m) || m.type != WIRE_BIND_REPLY || m.nonce != id)
		return -EINVAL;
	ep_from_wire(&m.observed, &a->mapped);
	a->n_other = 0;
	for (i = 0; i < m.n_alt && i < WIRE_MAX_EPS; i++)
		ep_from_wire(&m.alt[i], &a->other[a->n_other++]);
	return 0;
}

const struct probe_ops probe_ops_wire = {
	.name = "punch",
	.encode = wire_probe_encode,
	.decode = wire_probe_decode,
	.stream_framed = true,
};
