/* predict: for NATs that allocate a new public port per destination in a constant stride
 * (sequential). The peer learns its own stride from two servers (two flows from one socket:
 * ports first, last), reports it, and the other peer aims at last + k*stride, k = 1..window,
 * in that order. When both NATs are sequential the k-th new flow of each side meets the k-th
 * of the other, because both send their first packets in the same order; when the other NAT
 * maps endpoint-independently, its one public port is the target. */
#include <errno.h>
#include <stdlib.h>

#include "endpoint.h"
#include "peer.h"

#define STRIDE_MAX 64            /* a larger difference between two flows is not a stride */

void nat_classify(const struct sockaddr_storage *priv, const struct sockaddr_storage *pub1,
		  const struct sockaddr_storage *pub2, struct wire_natinfo *n)
{
	int d;

	n->kind = NAT_UNKNOWN;
	n->stride = 0;
	n->first_port = ep_port(pub1);
	n->last_port = ep_port(pub1);
	if (!pub1->ss_family)
		return;
	if (ep_equal(priv, pub1, true) && (!pub2->ss_family || ep_equal(priv, pub2, true))) {
		n->kind = NAT_NONE;
		return;
	}
	if (!pub2->ss_family)
		return;
	n->last_port = ep_port(pub2);
	if (ep_equal(pub1, pub2, true)) {
		n->kind = NAT_CONE;
		return;
	}
	/* Ports are compared modulo 65536, so a counter wrapping around still gives its stride. */
	d = (int16_t)(uint16_t)(ep_port(pub2) - ep_port(pub1));
	if (ep_equal(pub1, pub2, false) && d != 0 && abs(d) <= STRIDE_MAX) {
		n->kind = NAT_SEQUENTIAL;
		n->stride = (int16_t)d;
	} else {
		n->kind = NAT_RANDOM;
	}
}

uint16_t predict_port(uint16_t last, int16_t stride, int k)
{
	return (uint16_t)((uint32_t)last + (uint32_t)((int32_t)stride * k));
}

int predict_ports(const struct wire_natinfo *n, uint16_t pub_port, int window, uint16_t *out,
		  int max)
{
	int k, c = 0;

	if (n->kind != NAT_SEQUENTIAL || n->stride == 0) {
		if (max > 0 && pub_port)
			out[c++] = pub_port;
		return c;
	}
	for (k = 1; k <= window && c < max; k++) {
		uint16_t port = predict_port(n->last_port, n->stride, k);

		if (port)
			out[c++] = port;
	}
	return c;
}

static int predict_targets(struct peer *p, struct sockaddr_storage *out, int max)
{
	uint16_t ports[64];
	int n, i, c = 0;

	n = predict_ports(&p->peer_nat, ep_port(&p->peer_pub), (int)p->o->predict_window, ports,
			  64);
	/* Aiming at a sequential NAT from our own sequential NAT must open exactly one flow per
	 * predicted port, in order; from an endpoint-independent one, a wider window is free. */
	if (p->peer_nat.kind == NAT_SEQUENTIAL && p->nat.kind != NAT_SEQUENTIAL) {
		n = predict_ports(&p->peer_nat, ep_port(&p->peer_pub),
				  2 * (int)p->o->predict_window, ports, 64);
	}
	for (i = 0; i < n && c < max; i++) {
		out[c] = p->peer_pub;
		ep_set_port(&out[c], ports[i]);
		c++;
	}
	return c;
}

static int predict_start(struct peer *p)
{
	struct sockaddr_storage t[64 + 1 + WIRE_MAX_EPS], extra[1 + WIRE_MAX_EPS];
	int n, ne, i, j, err;

	n = predict_targets(p, t, 64);
	/* Private endpoints last: each is a new flow too, and must not shift the predicted ones. */
	ne = peer_targets(p, extra);
	for (i = 0; i < ne; i++) {
		bool dup = false;

		for (j = 0; j < n; j++)
			dup |= ep_equal(&t[j], &extra[i], true);
		if (!dup)
			t[n++] = extra[i];
	}
	if (p->o->proto == PROTO_TCP) {
		/* a simultaneous open like tcp's: against an RST NAT it needs the same ordered
		 * attempts after a refused crossing (measured: 0 of 30 between two RST NATs
		 * without them). Not when a sequential NAT is involved: b's hop probes are new
		 * flows that take that NAT's next ports, the very ones being predicted (measured:
		 * sequential x sequential fell from 10 of 10 to 0 of 10). */
		bool ordered = p->nat.kind != NAT_SEQUENTIAL && p->peer_nat.kind != NAT_SEQUENTIAL;

		err = tcp_punch_begin(p);
		if (!err && ordered)
			err = tcp_ordered_begin(p);
		if (err)
			return err;
		for (i = 0; i < n; i++)
			if (!tcp_punch_connect(p, &t[i], i > 0))
				return -errno;
		return 0;
	}
	for (i = 0; i < n; i++)
		peer_cand_add(p, p->socks[0], &t[i], false, i > 0);
	peer_probe_schedule_start(p);
	return 0;
}

static void predict_stop(struct peer *p)
{
	peer_cands_clear(p);
	if (p->o->proto == PROTO_TCP) {
		tcp_punch_close_all(p);
		tcp_ordered_end(p);
	}
}

const struct tech_ops tech_predict_ops = {
	.id = TECH_PREDICT,
	.needs_nat = true,
	.fresh_socket = true,
	.start = predict_start,
	.stop = predict_stop,
};
