/* The tests whose probes come in from outside or across the NAT: filtering (with its control),
 * hairpinning and hairpin filtering, unsolicited traffic to unmapped and mapped public ports.
 * Each is set up for every round first and judged once cl_wait_all() is over (classify.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab/classify_internal.h"

/* The TCP filtering control: a SYN that every filter lets in. The host's SYN to S1:PC (a port
 * nobody listens on) leaves with TTL CONTROL_TTL: it passes the NAT, which maps it, and dies at
 * the next router, so the server never answers it with a reset. The server then connects from
 * S1:PC to the public endpoint conntrack shows for that flow (control_finish()): a SYN in the
 * reply direction of a flow the host opened (a simultaneous open), which even
 * address-and-port-dependent filtering admits. */
static int control_begin(struct ctx *c, struct probes *pr, int round, uint16_t port)
{
	int ret;

	/* a port of its own, which the host's guard knows (classify.c guard_controls()) */
	pr->ctl_sfd = cl_ctx_socket(c, c->server, SOCK_STREAM, &c->srv[0],
				    (uint16_t)(PORT_CTL_REMOTE + round), false);
	if (pr->ctl_sfd < 0)
		return pr->ctl_sfd;
	pr->ctl_rem = (struct ep){ .a = c->srv[0], .port = cl_local_port(pr->ctl_sfd) };
	pr->ctl_hfd = cl_host_socket(c, CLASSIFY_TCP, port, true);
	if (pr->ctl_hfd < 0)
		return pr->ctl_hfd;
	/* The router's time-exceeded would abort the connect (tcp_v4_err in SYN_SENT); a
	 * listener answering the server's SYN instead would start a sequence conntrack never
	 * saw (BRIEF.md: the low-TTL SYN must come from the real socket). IP_MINTTL makes the
	 * socket ignore the ICMP error (IPv6: the hop limit and IPV6_MINHOPCOUNT, tcp_v6_err()
	 * aborts SYN_SENT alike); both are reset before the server's SYN. */
	ret = cl_set_hops(c, pr->ctl_hfd, CONTROL_TTL, 255);
	if (ret == 0)
		ret = cl_tcp_connect_start(pr->ctl_hfd, &pr->ctl_rem.a, pr->ctl_rem.port);
	return ret;
}

/* The second half, once the host's flow has its public endpoint pub. */
static int control_finish(struct ctx *c, struct probes *pr, const struct ep *pub)
{
	int ret = cl_set_hops(c, pr->ctl_hfd, -1, 0);

	if (ret == 0)
		ret = cl_tcp_connect_start(pr->ctl_sfd, &pub->a, pub->port);
	return ret < 0 ? ret : pr->ctl_sfd;
}

/* Filtering: three fresh internal endpoints each talk to S1:P1; then S2:P2 writes to the
 * first, S1:P2 to the second, and the control to the third. */
void start_filtering(struct ctx *c, int round, enum classify_transport tr)
{
	static const int from[2][2] = { { 1, 1 }, { 0, 1 } };
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	int hfd[3], ret = 0;

	for (int i = 0; i < 3 && ret >= 0; i++) {
		uint16_t port = cl_rport(round, PORT_FILTER + i);

		if (tr == CLASSIFY_UDP) {
			hfd[i] = cl_host_socket(c, tr, port, false);
			ret = hfd[i] < 0 ? hfd[i] : cl_udp_observe(c, hfd[i], 0, 0, &pr->filter_pub[i]);
		} else {
			/* a listener on the internal port takes what the filter lets through */
			hfd[i] = cl_host_listener(c, port);
			ret = hfd[i] < 0 ? hfd[i] : cl_observe(c, tr, port, 0, 0, &pr->filter_pub[i]);
		}
	}
	if (ret < 0) {
		cl_note(m, "filtering: setup failed (%s)", strerror(-ret));
		return;
	}
	for (int i = 0; i < 2; i++) {
		const struct ep *to = &pr->filter_pub[i];
		int s = from[i][0], p = from[i][1], fd;

		if (tr == CLASSIFY_UDP) {
			ret = cl_send_to(c->srv_udp[s][p], *to, "in");
			pr->filter[i] = ret < 0 ? -1 : cl_add_waiter(c, hfd[i], W_UDP_RECV);
		} else {
			/* A SYN from the very remote endpoint of the open connection would belong to
			 * that connection: a fresh port of the remote address. */
			fd = cl_ctx_socket(c, c->server, SOCK_STREAM, &c->srv[s], 0, false);
			ret = fd < 0 ? fd : cl_tcp_connect_start(fd, &to->a, to->port);
			pr->filter[i] = ret < 0 ? -1 : cl_add_waiter(c, fd, W_TCP_CONNECT);
		}
		if (ret < 0)
			cl_note(m, "filtering: probe %d not sent (%s)", i + 1, strerror(-ret));
	}
	if (tr == CLASSIFY_UDP) {
		/* the control: a reply from the contacted endpoint itself */
		ret = cl_send_to(c->srv_udp[0][0], pr->filter_pub[2], "in");
		pr->filter[2] = ret < 0 ? -1 : cl_must(c, cl_add_waiter(c, hfd[2], W_UDP_RECV));
	} else {
		/* the control: its first half now, the rest in finish_controls() */
		ret = control_begin(c, pr, round, cl_rport(round, PORT_FILTER + 2));
		if (ret == 0)
			pr->ctl_pending = true;
	}
	if (ret < 0)
		cl_note(m, "filtering: the control probe not sent (%s)", strerror(-ret));
}

/* The second half of every round's TCP filtering control, once conntrack has the host's flow
 * (bounded: a flow not in conntrack within must_ms fails its control). A node that does not
 * translate needs no lookup: the public endpoint is the host's own. */
void finish_controls(struct ctx *c)
{
	int64_t deadline = cl_now_ms() + c->must_ms;
	bool pending = true;

	while (pending) {
		pending = false;
		for (int rd = 0; rd < CLASSIFY_ROUNDS; rd++) {
			struct probes *pr = &c->pr[rd][CLASSIFY_TCP];
			struct classify_measure *m = &c->r->round[rd][CLASSIFY_TCP];
			uint16_t port = cl_rport(rd, PORT_FILTER + 2);
			uint32_t left;
			int ret = 0;

			if (!pr->ctl_pending)
				continue;
			if (c->no_translation)
				pr->filter_pub[2] = (struct ep){ c->hostaddr, port };
			else
				ret = cl_ct_get(c, IPPROTO_TCP, port, pr->ctl_rem, &pr->filter_pub[2], &left);
			if (ret == -ENOENT && cl_now_ms() < deadline) {
				pending = true;
				continue;
			}
			pr->ctl_pending = false;
			if (ret == 0)
				ret = control_finish(c, pr, &pr->filter_pub[2]);
			pr->filter[2] = ret < 0 ? -1 : cl_must(c, cl_add_waiter(c, ret, W_TCP_CONNECT));
			if (ret < 0)
				cl_note(m, "filtering: the control probe not sent (%s)", strerror(-ret));
		}
		if (pending)
			cl_sleep_ms(CT_POLL_MS);
	}
}

/* Hairpinning, first phase: seven internal endpoints get public endpoints (via S1:P1); A writes
 * to P's, U to V's (first contacts). The probes follow in hairpin_probe(). */
void hairpin_setup(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	int ret = 0;

	pr->hp_control = pr->hp_control_src = pr->hp_ei = pr->hp_ad = -1;
	for (int i = 0; i < 7; i++)
		pr->hp_fd[i] = -1;
	for (int i = 0; i < 7 && ret >= 0; i++) {
		uint16_t port = cl_rport(round, PORT_HAIRPIN + i);
		/* TCP: P, T and U receive connections: listeners on their ports (V's SYN from U
		 * only has to pass the NAT) */
		bool listens = tr == CLASSIFY_TCP && (i == 1 || i == 2 || i == 4);
		int lfd = listens ? cl_host_listener(c, port) : 0;

		ret = lfd < 0 ? lfd : cl_observe(c, tr, port, 0, 0, &pr->hp_pub[i]);
		pr->hp_fd[i] = listens ? lfd : ret;
		if (tr == CLASSIFY_UDP && i == 5 && ret > 0) {
			/* V only needs its mapping (kept by conntrack), not a socket */
			cl_ctx_close(c, ret);
			pr->hp_fd[i] = 0;
		}
	}
	if (ret < 0) {
		cl_note(m, "hairpin: setup failed (%s)", strerror(-ret));
		pr->hp_fd[0] = -1;
		return;
	}
	if (tr == CLASSIFY_UDP) {
		ret = cl_send_to(pr->hp_fd[0], pr->hp_pub[1], "hA");
		if (ret == 0)
			ret = cl_send_to(pr->hp_fd[4], pr->hp_pub[5], "hU");
	} else {
		/* A connects to P's public endpoint: straight in, or the first half of a
		 * simultaneous open that P completes in the second phase. U to V likewise. */
		int a2 = cl_host_socket(c, tr, cl_rport(round, PORT_HAIRPIN + 0), true);
		int u2 = cl_host_socket(c, tr, cl_rport(round, PORT_HAIRPIN + 4), true);

		pr->hp_fd[5] = u2; /* closed once the NAT has seen its SYN (hairpin_probe()) */

		ret = a2 < 0 ? a2 : u2 < 0 ? u2 : cl_tcp_connect_start(a2, &pr->hp_pub[1].a, pr->hp_pub[1].port);
		if (ret == 0)
			ret = cl_tcp_connect_start(u2, &pr->hp_pub[5].a, pr->hp_pub[5].port);
		if (ret == 0) {
			pr->hp_control = cl_add_waiter(c, a2, W_TCP_CONNECT);
			pr->hp_control_src = cl_add_waiter(c, pr->hp_fd[1], W_TCP_ACCEPT);
		}
	}
	if (ret < 0) {
		cl_note(m, "hairpin: first contact failed (%s)", strerror(-ret));
		pr->hp_fd[0] = -1;
	}
}

/* Hairpinning, second phase: P writes to A (the control), S to T (nobody of T wrote to the
 * public address: endpoint-independent), W to U (U wrote to the public address, another
 * port: address-dependent). */
void hairpin_probe(struct ctx *c, int round, enum classify_transport tr)
{
	struct probes *pr = &c->pr[round][tr];
	int ret;

	if (pr->hp_fd[0] < 0)
		return;
	if (tr == CLASSIFY_UDP) {
		if (cl_send_to(pr->hp_fd[1], pr->hp_pub[0], "hP") == 0)
			pr->hp_control = cl_add_waiter(c, pr->hp_fd[0], W_UDP_RECV);
		if (cl_send_to(pr->hp_fd[3], pr->hp_pub[2], "hS") == 0)
			pr->hp_ei = cl_add_waiter(c, pr->hp_fd[2], W_UDP_RECV);
		if (cl_send_to(pr->hp_fd[6], pr->hp_pub[4], "hW") == 0)
			pr->hp_ad = cl_add_waiter(c, pr->hp_fd[4], W_UDP_RECV);
		/* the senders (and V, which only received) are done: conntrack keeps the flows */
		cl_ctx_close(c, pr->hp_fd[1]);
		cl_ctx_close(c, pr->hp_fd[3]);
		cl_ctx_close(c, pr->hp_fd[6]);
		return;
	}
	if (pr->hp_fd[5] > 0)
		cl_ctx_close(c, pr->hp_fd[5]);
	/* P completes the simultaneous open; when A's SYN was let straight in, P's port already
	 * has that connection and this connect fails at once, which is fine */
	{
		int p2 = cl_host_socket(c, tr, cl_rport(round, PORT_HAIRPIN + 1), true);

		if (p2 >= 0)
			(void)cl_tcp_connect_start(p2, &pr->hp_pub[0].a, pr->hp_pub[0].port);
	}
	{
		int s2 = cl_host_socket(c, tr, cl_rport(round, PORT_HAIRPIN + 3), true);
		int w2 = cl_host_socket(c, tr, cl_rport(round, PORT_HAIRPIN + 6), true);

		ret = s2 < 0 ? s2 : cl_tcp_connect_start(s2, &pr->hp_pub[2].a, pr->hp_pub[2].port);
		if (ret == 0)
			pr->hp_ei = cl_add_waiter(c, pr->hp_fd[2], W_TCP_ACCEPT);
		ret = w2 < 0 ? w2 : cl_tcp_connect_start(w2, &pr->hp_pub[4].a, pr->hp_pub[4].port);
		if (ret == 0)
			pr->hp_ad = cl_add_waiter(c, pr->hp_fd[4], W_TCP_ACCEPT);
	}
}

/* Unsolicited: from S1 to a public port nothing maps, and the control: to a closed port of the
 * NAT's upstream router, which must be refused. */
void start_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	int type = tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM;
	enum wait_kind kind = tr == CLASSIFY_UDP ? W_UDP_ERR : W_TCP_CONNECT;
	const struct in6_addr to[2] = { c->wan, c->up };
	const int port[2] = { PORT_UNSOLICITED, PORT_CLOSED };
	int *idx[2] = { &pr->unsolicited, &pr->closed };

	for (int i = 0; i < 2; i++) {
		int fd = cl_ctx_socket(c, c->server, type, &c->srv[0], 0, false), ret;

		*idx[i] = -1;
		/* UDP: connect() only sets the peer, so that an ICMP error is reported */
		ret = fd < 0 ? fd
			     : cl_tcp_connect_start(fd, &to[i], (uint16_t)(port[i] + round * 10 + (int)tr));
		if (ret == 0 && tr == CLASSIFY_UDP && send(fd, "un", 2, 0) < 0)
			ret = -errno;
		if (ret < 0) {
			cl_note(m, "unsolicited: %s", strerror(-ret));
			continue;
		}
		*idx[i] = cl_add_waiter(c, fd, kind);
		if (i == 1)
			cl_must(c, *idx[i]); /* the control: it must be refused */
	}
}

/* Judged (cl_wait_all() right after start_unsolicited()): close the server's sockets, so that
 * no retransmitted SYN meets a mapping made later. */
void end_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	cl_waiter_done(c, c->pr[round][tr].unsolicited);
	cl_waiter_done(c, c->pr[round][tr].closed);
}

/* Unsolicited to a mapped port: an internal endpoint talks to S1:P1; the server's other
 * address then writes (UDP) or connects (TCP) to its public endpoint. A host-side receiver
 * (UDP socket, TCP listener) tells a probe the filter let in from one it answered or dropped. */
void start_mapped_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	struct probes *pr = &c->pr[round][tr];
	uint16_t port = cl_rport(round, PORT_MAPPED);
	int hfd, fd, ret;

	pr->mapped_srv = pr->mapped_host = -1;
	hfd = tr == CLASSIFY_UDP ? 0 : cl_host_listener(c, port);
	if (hfd >= 0)
		hfd = cl_observe(c, tr, port, 0, 0, &pr->mapped_pub);
	fd = hfd < 0 ? hfd
		     : cl_ctx_socket(c, c->server, tr == CLASSIFY_UDP ? SOCK_DGRAM : SOCK_STREAM,
				  &c->srv[1], 0, false);
	ret = fd < 0 ? fd : cl_tcp_connect_start(fd, &pr->mapped_pub.a, pr->mapped_pub.port);
	if (ret == 0 && tr == CLASSIFY_UDP && send(fd, "mu", 2, 0) < 0)
		ret = -errno;
	if (ret < 0) {
		cl_note(m, "unsolicited to a mapped port: %s", strerror(-ret));
		return;
	}
	pr->mapped_srv = cl_add_waiter(c, fd, tr == CLASSIFY_UDP ? W_UDP_ERR : W_TCP_CONNECT);
	if (tr == CLASSIFY_UDP)
		pr->mapped_host = cl_add_waiter(c, hfd, W_UDP_RECV);
}

void finish_filtering(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	const struct probes *pr = &c->pr[round][tr];
	enum wait_state s0 = cl_wstate(c, pr->filter[0]), s1 = cl_wstate(c, pr->filter[1]);
	enum wait_state sc = cl_wstate(c, pr->filter[2]);
	char b[3][64];

	if (pr->filter[0] < 0 || pr->filter[1] < 0)
		return; /* setup failed: noted */
	if (sc != W_ANSWER) {
		cl_note(m, "filtering: the control probe did not get through (%s): no verdict",
		     cl_state_word(sc, tr));
	} else {
		m->filtering = s0 == W_ANSWER ? PROFILE_ENDPOINT_INDEPENDENT
			       : s1 == W_ANSWER ? PROFILE_ADDRESS_DEPENDENT
						: PROFILE_ADDRESS_AND_PORT_DEPENDENT;
		m->filtering_known = true;
	}
	cl_evidence(c, "r%d %s filtering: from the other address to %s: %s; from the same address, "
		 "other port to %s: %s; control (%s) to %s: %s", round + 1, tr_name[tr],
		 cl_ep_str(&pr->filter_pub[0], b[0], sizeof(b[0])), cl_state_word(s0, tr),
		 cl_ep_str(&pr->filter_pub[1], b[1], sizeof(b[1])), cl_state_word(s1, tr),
		 tr == CLASSIFY_UDP ? "a reply" : "simultaneous open",
		 cl_ep_str(&pr->filter_pub[2], b[2], sizeof(b[2])), cl_state_word(sc, tr));
}

/* Whether a hairpinned probe arrived from the sender's public endpoint: the public address, and
 * with an endpoint-independent mapping the very port the sender got (with any other mapping the
 * hairpinned flow has a mapping of its own). */
static bool from_public(const struct ctx *c, const struct classify_measure *m,
			const struct ep *from, const struct ep *sender_pub)
{
	if (!cl_addr_eq(&from->a, &c->wan))
		return false;
	return !(m->mapping_known && m->mapping == PROFILE_ENDPOINT_INDEPENDENT) ||
	       from->port == sender_pub->port;
}

void finish_hairpin(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	const struct probes *pr = &c->pr[round][tr];
	enum wait_state sc = cl_wstate(c, pr->hp_control);
	enum wait_state se = cl_wstate(c, pr->hp_ei), sa = cl_wstate(c, pr->hp_ad);
	bool control = false, ei = false, ad = false;
	char b[4][64], why[96] = "";

	if (pr->hp_control < 0)
		return; /* setup failed: noted */
	if (tr == CLASSIFY_UDP) {
		const struct waiter *w = &c->w[pr->hp_control];

		control = sc == W_ANSWER && from_public(c, m, &w->from, &pr->hp_pub[1]);
		if (sc == W_ANSWER && !control)
			snprintf(why, sizeof(why), " from %s, not the sender's public endpoint %s",
				 cl_ep_str(&w->from, b[0], sizeof(b[0])),
				 cl_ep_str(&pr->hp_pub[1], b[1], sizeof(b[1])));
	} else {
		/* A's connect completes only with segments from P's public endpoint (that is
		 * the peer it connected to); when P's listener took A's SYN, check its source */
		const struct waiter *ws = pr->hp_control_src >= 0 ? &c->w[pr->hp_control_src] : NULL;

		control = sc == W_ANSWER;
		if (control && ws && ws->state == W_ANSWER &&
		    !from_public(c, m, &ws->from, &pr->hp_pub[0])) {
			control = false;
			snprintf(why, sizeof(why), " but P saw it from %s, not A's public endpoint %s",
				 cl_ep_str(&ws->from, b[0], sizeof(b[0])),
				 cl_ep_str(&pr->hp_pub[0], b[1], sizeof(b[1])));
		}
	}
	ei = se == W_ANSWER && from_public(c, m, &c->w[pr->hp_ei].from, &pr->hp_pub[3]);
	ad = sa == W_ANSWER && from_public(c, m, &c->w[pr->hp_ad].from, &pr->hp_pub[6]);
	m->hairpin = control;
	m->hairpin_known = true;
	m->hairpin_filtering = classify_hairpin_filtering_of(control, ei, ad);
	m->hairpin_filtering_known = true;
	if (!control && (ei || ad)) {
		/* a probe got through where the exchange that any hairpin filter admits did not */
		m->hairpin_filtering_known = false;
		cl_note(m, "hairpin: a probe got through but the control did not");
	}
	cl_evidence(c, "r%d %s hairpin: A %s <-> P %s: %s%s; S -> T %s (T wrote to no public "
		 "endpoint): %s; W -> U %s (U wrote to V's): %s", round + 1, tr_name[tr],
		 cl_ep_str(&pr->hp_pub[0], b[0], sizeof(b[0])), cl_ep_str(&pr->hp_pub[1], b[1], sizeof(b[1])),
		 cl_state_word(sc, tr), why, cl_ep_str(&pr->hp_pub[2], b[2], sizeof(b[2])),
		 se == W_ANSWER && !ei ? "arrived from a private source" : cl_state_word(se, tr),
		 cl_ep_str(&pr->hp_pub[4], b[3], sizeof(b[3])),
		 sa == W_ANSWER && !ad ? "arrived from a private source" : cl_state_word(sa, tr));
}

void finish_unsolicited(struct ctx *c, int round, enum classify_transport tr)
{
	struct classify_measure *m = &c->r->round[round][tr];
	const struct probes *pr = &c->pr[round][tr];
	enum wait_state su = cl_wstate(c, pr->unsolicited), sk = cl_wstate(c, pr->closed);
	enum wait_state ss = cl_wstate(c, pr->mapped_srv), sh = cl_wstate(c, pr->mapped_host);
	struct ep un = { c->wan, (uint16_t)(PORT_UNSOLICITED + round * 10 + (int)tr) };
	struct ep cl = { c->up, (uint16_t)(PORT_CLOSED + round * 10 + (int)tr) };
	char b[3][64];

	if (pr->unsolicited >= 0 && pr->closed >= 0) {
		if (sk != W_REFUSED) {
			cl_note(m, "unsolicited: the control to a closed port of the upstream router "
			     "was not refused (%s): silence proves nothing", cl_state_word(sk, tr));
		} else if (su == W_REFUSED || su == W_NOTHING) {
			m->unsolicited = su == W_REFUSED ? PROFILE_UNSOLICITED_RST
							 : PROFILE_UNSOLICITED_DROP;
			m->unsolicited_known = true;
		} else {
			cl_note(m, "unsolicited: %s", su == W_ANSWER ? "it was answered"
								  : strerror(c->w[pr->unsolicited].err));
		}
	}
	if (pr->mapped_srv >= 0 && sk == W_REFUSED) {
		if (ss == W_ANSWER || sh == W_ANSWER) {
			m->mapped_unsolicited_let_in = true;
			m->mapped_unsolicited_known = true;
		} else if (ss == W_REFUSED || ss == W_NOTHING) {
			m->mapped_unsolicited = ss == W_REFUSED ? PROFILE_UNSOLICITED_RST
								: PROFILE_UNSOLICITED_DROP;
			m->mapped_unsolicited_known = true;
		} else {
			cl_note(m, "unsolicited to a mapped port: %s", strerror(c->w[pr->mapped_srv].err));
		}
	}
	cl_evidence(c, "r%d %s unsolicited: to unmapped %s: %s; to mapped %s from S2: %s; "
		 "control to closed %s: %s", round + 1, tr_name[tr],
		 cl_ep_str(&un, b[0], sizeof(b[0])), cl_state_word(su, tr),
		 cl_ep_str(&pr->mapped_pub, b[1], sizeof(b[1])),
		 ss == W_ANSWER || sh == W_ANSWER ? "let in" : cl_state_word(ss, tr),
		 cl_ep_str(&cl, b[2], sizeof(b[2])), cl_state_word(sk, tr));
}
