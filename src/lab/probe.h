/* Real packets between nodes of a running lab, sent from sockets this process opens inside the
 * nodes (no helper programs): reachability checks and the observed public endpoint. */
#pragma once
#include <stdbool.h>

#include "lab/lab.h"

struct probe_result {
	bool reached;        /* the datagram arrived and the reply came back */
	char seen_as[64];    /* source address:port the receiver observed */
	char local[64];      /* the sender's own address:port */
	double rtt_ms;
	char why[96];        /* when not reached: timeout, or the ICMP error the sender got */
};

/* Send one UDP datagram from node `from` to to_addr:port on node `to`, where a socket bound to
 * that address waits, and expect an echo back. Bounded by timeout_ms. Returns 0 (see
 * res->reached) or -errno when the sockets could not be set up. */
int probe_udp_echo(const struct lab *lab, int from, int to, const struct net_addr *to_addr,
		   int port, int timeout_ms, struct probe_result *res);
