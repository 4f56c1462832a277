/* The two-NAT fixture of the attestation unit tests (attest_lab.h). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "attest_lab.h"

void attest_lab_init(struct attest_lab *l, uint8_t proto)
{
	memset(l, 0, sizeof(*l));
	l->ma.v = l->fa;
	l->mb.v = l->fb;
	l->in.proto = proto;
	l->in.side[0].nat_name = "nat-a";
	l->in.side[0].flows = &l->ma;
	l->in.side[1].nat_name = "nat-b";
	l->in.side[1].flows = &l->mb;
}

struct net_addr attest_lab_addr(const char *s)
{
	struct net_addr a = { .family = strchr(s, ':') ? AF_INET6 : AF_INET };

	assert_int_equal(inet_pton(a.family, s, &a.a), 1);
	a.prefix = a.family == AF_INET6 ? 128 : 32;
	return a;
}

void attest_lab_add(struct ct_mappings *m, struct ct_mapping f)
{
	assert_true(m->n < 4);
	m->v[m->n++] = f;
}
