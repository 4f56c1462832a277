/* The UDP mapping timeout: conntrack's remaining timeout of fresh mappings (by default), and
 * the lifetime end to end (--timeouts). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab/classify_internal.h"

/* The UDP mapping's timeout as conntrack holds it (CTA_TIMEOUT), read right after the mapping
 * was made (unreplied) and right after the server answered (replied): the flows of every round
 * first (ct_timeout_begin()), then the readings (ct_timeout_read()). */
void ct_timeout_begin(struct ctx *c, int round)
{
	struct classify_measure *m = &c->r->round[round][CLASSIFY_UDP];
	struct probes *pr = &c->pr[round][CLASSIFY_UDP];
	int ret;

	m->ct_unreplied = m->ct_replied = -1;
	pr->ct_fd = cl_host_socket(c, CLASSIFY_UDP, cl_rport(round, PORT_CT), false);
	pr->ct_t0 = cl_now_ms();
	ret = pr->ct_fd < 0 ? pr->ct_fd : cl_udp_observe(c, pr->ct_fd, 0, 0, &pr->ct_pub);
	if (ret < 0) {
		cl_note(m, "udp-timeout: the mapping was not made (%s)", strerror(-ret));
		pr->ct_fd = -1;
	}
}

void ct_timeout_read(struct ctx *c, bool replied)
{
	struct ep rem = { .a = c->srv[0], .port = SRV_P1 };
	int ret;

	if (replied)
		for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
			struct probes *pr = &c->pr[rd][CLASSIFY_UDP];

			if (pr->ct_fd < 0)
				continue;
			pr->ct_t0 = cl_now_ms();
			ret = cl_udp_answer(c, pr->ct_fd, 0, 0, pr->ct_pub);
			if (ret < 0) {
				cl_note(&c->r->round[rd][CLASSIFY_UDP], "udp-timeout: the answer did not "
				     "come back (%s)", strerror(-ret));
				pr->ct_fd = -1;
			}
		}
	for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
		struct probes *pr = &c->pr[rd][CLASSIFY_UDP];
		struct classify_measure *m = &c->r->round[rd][CLASSIFY_UDP];
		uint16_t port = cl_rport(rd, PORT_CT);
		struct ep pub;
		uint32_t left;
		char b[64];
		int slack;

		if (pr->ct_fd < 0)
			continue;
		ret = cl_ct_get(c, IPPROTO_UDP, port, rem, &pub, &left);
		/* whole seconds between the packet and the reading (beyond the truncation), taken
		 * after the reading: under load (54 labs classified at once on 2 cores) the
		 * reading itself took long enough for the entry to tick down one more second
		 * than a slack taken before it allowed (tests/lab/profile-gen.sh, 1 run in 5) */
		slack = (int)((cl_now_ms() - pr->ct_t0) / 1000);
		if (ret < 0) {
			cl_note(m, "udp-timeout: no conntrack entry of the mapping (%s)",
				strerror(-ret));
			pr->ct_fd = -1;
			m->ct_unreplied = m->ct_replied = -1;
			continue;
		}
		if (slack > m->ct_slack)
			m->ct_slack = slack;
		if (!replied) {
			m->ct_unreplied = (int)left;
			continue;
		}
		m->ct_replied = (int)left;
		cl_ctx_close(c, pr->ct_fd);
		pr->ct_fd = -1;
		cl_evidence(c, "r%d udp-timeout: conntrack of %u -> %s: %d s left when made, %d s "
			 "left when replied", rd + 1, port, cl_ep_str(&rem, b, sizeof(b)), m->ct_unreplied,
			 m->ct_replied);
	}
}

/* The UDP mapping lifetime end to end: mappings made at once, each probed once by its remote
 * after a growing delay (a probe refreshes the entry it reaches, hence one mapping per probe). */
void measure_lifetime(struct ctx *c)
{
	struct classify_result *r = c->r;
	/* the server never answers these mappings: the unreplied lifetime */
	int d = profile_udp_unreplied(&r->declared), n = 0;
	int delays[LIFETIME_MAX], fds[LIFETIME_MAX];
	int64_t t0[LIFETIME_MAX];
	struct ep pub[LIFETIME_MAX];
	int cand[] = { d / 4, d / 2, 3 * d / 4, d - 2, d - 1, d + 1, d + 2, d + d / 4, d + d / 2,
		       2 * d };
	int bound = d + (d < 30 ? (d > 2 ? d : 2) : 30);

	/* sorted, distinct, positive, bounded */
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]) && n < LIFETIME_MAX; i++)
		if (cand[i] > 0 && cand[i] <= bound && (n == 0 || cand[i] > delays[n - 1]))
			delays[n++] = cand[i];
	for (int i = 0; i < n; i++) {
		int ret;

		fds[i] = cl_host_socket(c, CLASSIFY_UDP, (uint16_t)(PORT_LIFETIME + i), false);
		t0[i] = cl_now_ms();
		ret = fds[i] < 0 ? fds[i] : cl_udp_observe(c, fds[i], 0, 0, &pub[i]);
		if (ret < 0) {
			cl_note(&r->m[CLASSIFY_UDP], "udp-timeout: setup failed (%s)", strerror(-ret));
			return;
		}
	}
	r->lifetime_lo = 0;
	r->lifetime_hi = -1;
	for (int i = 0; i < n; i++) {
		int64_t due = t0[i] + (int64_t)delays[i] * 1000, at;
		int ret;

		while (cl_now_ms() < due)
			poll(NULL, 0, (int)(due - cl_now_ms()));
		at = cl_now_ms();
		if (cl_send_to(c->srv_udp[0][0], pub[i], "lt") < 0)
			break;
		ret = cl_poll_one(fds[i], POLLIN, cl_now_ms() + c->wait_ms);
		if (ret > 0) {
			r->lifetime_lo = (int)((at - t0[i]) / 1000);
		} else {
			r->lifetime_hi = (int)((at - t0[i] + 999) / 1000);
			break; /* gone: every later one is too */
		}
	}
	cl_evidence(c, "udp-timeout: probed after %d..%d s: alive after %d s, %s", delays[0],
		 delays[n - 1], r->lifetime_lo,
		 r->lifetime_hi < 0 ? "never gone within the bound" : "gone");
	if (r->lifetime_hi >= 0)
		cl_evidence(c, "udp-timeout: gone after %d s", r->lifetime_hi);
}
