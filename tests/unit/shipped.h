/* Shipped files for the unit tests: a profile of nat-profiles/ or a topology of topologies/
 * in the source tree, parsed; a parse error fails the calling test (include after <cmocka.h>).
 * Used by test_family, test_family_judge, test_theory_firewall, test_theory_ipv6,
 * test_topo_layouts. */
#pragma once

#include "lab/topo.h"
#include "nft/profile.h"

/* The header of nat-profiles/NAME.nft into h. */
void shipped_profile_load(const char *name, struct profile_header *h);

/* topologies/NAME.yaml into t (plain data, fixed bounds: nothing to free). */
void shipped_topo_load(const char *name, struct topo *t);
