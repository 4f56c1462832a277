/* punch probe over punch's own wire format: BIND with CHANGE flags and RESPONSE_PORT, answered
 * by BIND_REPLY (OBSERVED, and ALT: the rendezvous' other listen endpoints). Wire v2: the BIND
 * names a session, carries a counter, is padded and sealed as a peer's is (auth_encode), and
 * only a BIND_REPLY with our nonce and a MAC by the session's key counts as an answer. */
#include <errno.h>
#include <string.h>

#include "auth.h"
#include "endpoint.h"
#include "probe.h"

static int wire_probe_encode(const struct probe_opts *o, uint8_t *buf, size_t cap, uint64_t id,
			     uint8_t change, uint16_t resp_port)
{
	struct wire_msg m;

	wire_msg_init(&m, WIRE_BIND);
	m.role = WIRE_ROLE_ANY;
	m.nonce = id;
	strcpy(m.session, o->session);        /* it names the key the server checks */
	m.present = WA_BIT(WA_SESSION);
	m.flags = change & (WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT);
	if (resp_port) {
		m.response_port = resp_port;
		m.present |= WA_BIT(WA_RESPONSE_PORT);
	}
	return auth_encode(&o->key, &m, buf, cap);
}

static int wire_probe_decode(const struct probe_opts *o, const uint8_t *buf, size_t len,
			     uint64_t id, struct probe_answer *a)
{
	struct wire_msg m;
	int i;

	/* An unverified answer (forged, another session's, corrupted) is dropped like no answer:
	 * the transaction waits on for the real one. The random nonce makes a replayed earlier
	 * reply not ours. */
	if (auth_decode(&o->key, buf, len, &m) || m.type != WIRE_BIND_REPLY || m.nonce != id)
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
