/* The address family dimension (--family 4,6,dual; docs/matrix.md "Address families"): which
 * topology a cell of family 6 or dual runs on, and which profiles its axis takes by default. */
#pragma once
#include <stddef.h>

#include "base/out.h"
#include "lab/topo.h"
#include "matrix/results.h"

/* The dual-stack twin of topology t, parsed into *twin: t itself when it has IPv6 addresses,
 * else the shipped topology "<name>-dual" (two-nats -> two-nats-dual). The twin must give every
 * role t gives to a node of the same name. Returns 0, or -EINVAL with one diagnostic in dl
 * naming the topology and what is expected (what: the option that asked, e.g. "--family"). */
int family_twin_topology(const struct topo *t, const char *what, struct topo *twin,
			 struct diag_list *dl);

/* Whether some link end of t carries an IPv6 address. */
bool family_topo_has_ipv6(const struct topo *t);

/* The shipped IPv6 profiles (header "family: ipv6" under <data>/nat-profiles), by name, sorted:
 * the default profile axis of family 6 cells. Returns the count (at most max) or -errno. */
int family_ipv6_profiles(char names[][CELL_REF_MAX], int max);
