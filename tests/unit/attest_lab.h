/* The two-NAT fixture of the attestation unit tests (test_attest.c, test_attest6.c,
 * test_attest_nat64.c): conntrack flows seen by nat-a and nat-b and the attestation's input
 * over them. Include after <cmocka.h>. */
#pragma once
#include <stdint.h>

#include "matrix/attest.h"

struct attest_lab {
	struct ct_mapping fa[4], fb[4]; /* the flows nat-a and nat-b hold */
	struct ct_mappings ma, mb;      /* over fa and fb, empty */
	struct attest_input in;
};

/* l zeroed; side 0 is nat-a over ma, side 1 nat-b over mb; proto the cell's transport. The
 * caller adds the hosts, the other sides' addresses and the relays. */
void attest_lab_init(struct attest_lab *l, uint8_t proto);

/* An address of either family (by a ':' in s) with its host prefix; a bad one fails the test. */
struct net_addr attest_lab_addr(const char *s);

/* Append flow f to m (4 at the most: the fixture's arrays). */
void attest_lab_add(struct ct_mappings *m, struct ct_mapping f);
