#include <stdio.h>
#include <string.h>

#include "lab/check.h"

int check_run(const struct lab *lab, int timeout_ms, struct check_row *rows, int max)
{
	const struct topo *t = lab_topo(lab);
	int n = 0;

	for (int from = 0; from < t->nnodes; from++) {
		if (t->nodes[from].kind != NODE_HOST)
			continue;
		for (int li = 0; li < t->nlinks; li++)
			for (int e = 0; e < t->links[li].nends; e++) {
				const struct topo_end *end = &t->links[li].ends[e];
				enum node_kind k = t->nodes[end->node].kind;
				const struct net_addr *a;
				int ret;

				if (end->node == from || (k != NODE_SERVER && k != NODE_HOST))
					continue;
				for (int ai = 0; ai < end->naddrs; ai++) {
					a = &end->addrs[ai];
					if (a->family != AF_INET || n >= max)
						continue;
					rows[n] = (struct check_row){ .from = from, .to = end->node,
								      .addr = *a };
					rows[n].expect = topo_expect_reachable_end(t, from, li, e);
					ret = probe_udp_echo(lab, from, end->node, a, CHECK_PORT,
							     rows[n].expect ? 2000 : timeout_ms,
							     &rows[n].got);
					if (ret < 0)
						return ret;
					n++;
				}
			}
	}
	return n;
}

int check_print(const struct lab *lab, const struct check_row *rows, int n, const struct out *o)
{
	const struct topo *t = lab_topo(lab);
	FILE *f = o && o->out ? o->out : stdout;
	int bad = 0;

	fprintf(f, "%-8s %-22s %-8s %-22s %-9s %s\n", "from", "(local)", "to", "address", "expected",
		"result");
	for (int i = 0; i < n; i++) {
		const struct check_row *r = &rows[i];
		char addr[64], res[128];
		bool ok = r->expect == r->got.reached;

		bad += !ok;
		net_addr_format(&r->addr, false, addr, sizeof(addr));
		if (r->got.reached)
			snprintf(res, sizeof(res), "reached, seen as %s, rtt %.2f ms", r->got.seen_as,
				 r->got.rtt_ms);
		else
			snprintf(res, sizeof(res), "not reached (%s)", r->got.why);
		fprintf(f, "%-8s %-22s %-8s %-22s %-9s %s%s\n", t->nodes[r->from].name, r->got.local,
			t->nodes[r->to].name, addr, r->expect ? "reach" : "blocked", res,
			ok ? "" : "   <-- UNEXPECTED");
	}
	return bad;
}
