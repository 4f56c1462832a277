/* punch probe: the tests of RFC 5780 section 4 (mapping, filtering, hairpinning, binding
 * lifetime), port allocation as punchlab's classify measures it, and mapping over TCP. Every
 * wait is bounded: a request is sent o->tries times, o->wait_ms apart. */
#include "probe.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "endpoint.h"
#include "loop.h"
#include "util.h"

struct probe {
	const struct probe_opts *o;
	const struct probe_ops *ops;
	struct probe_result *r;
	FILE *err;
};

static int udp_open(int family, uint16_t port)
{
	return sock_open_bound(family, SOCK_DGRAM, NULL, port, false);
}

/* Wait up to @ms for a datagram on @fd; returns its length, 0 on timeout, or -errno. */
static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t end = loop_now_us() + (uint64_t)ms * 1000u;

	for (;;) {
		uint64_t now = loop_now_us();
		socklen_t fl = sizeof(*from);
		ssize_t n;
		int pr;

		if (now >= end)
			return 0;
		pr = poll(&pfd, 1, (int)((end - now + 999) / 1000));
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)from, &fl);
		if (n > 0) {
			ep_unmap(from);
			return n;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

/* One binding request from @fd to @to, its answer expected on @rfd (the same socket, except
 * for the lifetime test). @tries 0 uses the options'. Returns 1 answered, 0 not, -errno. */
static int transact(struct probe *p, int fd, int rfd, const struct sockaddr_storage *to,
		    uint8_t change, uint16_t resp_port, uint32_t tries, struct probe_answer *a)
{
	uint8_t buf[WIRE_MAX_LEN];
	uint64_t id = rand_u64();
	uint32_t t;
	int n = p->ops->encode(p->o, buf, sizeof(buf), id, change, resp_port);

	if (n < 0)
		return n;
	if (!tries)
		tries = p->o->tries;
	for (t = 0; t < tries; t++) {
		uint64_t end = loop_now_us() + (uint64_t)p->o->wait_ms * 1000u;
		uint8_t in[WIRE_MAX_LEN];

		if (sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, ep_len(to)) < 0 &&
		    errno != ECONNREFUSED)
			return -errno;
		while (loop_now_us() < end) {
			int left = (int)((end - loop_now_us()) / 1000u) + 1;
			ssize_t k = recv_wait(rfd, in, sizeof(in), &a->origin, left);

			if (k < 0 && k != -ECONNREFUSED)
				return (int)k;
			if (k <= 0)
				break;
			if (p->ops->decode(p->o, in, (size_t)k, id, a) == 0)
				return 1;
		}
	}
	return 0;
}

/* ---- classification (pure) ---- */

enum probe_dep probe_classify_mapping(const struct sockaddr_storage map[PS_MAX],
				      const bool ok[PS_MAX])
{
	if (!ok[PS_PRIMARY] || !ok[PS_ALT_ADDR] || !ok[PS_ALT_BOTH])
		return DEP_UNKNOWN;
	if (ep_equal(&map[PS_ALT_ADDR], &map[PS_PRIMARY], true) &&
	    ep_equal(&map[PS_ALT_BOTH], &map[PS_PRIMARY], true) &&
	    (!ok[PS_ALT_PORT] || ep_equal(&map[PS_ALT_PORT], &map[PS_PRIMARY], true)))
		return DEP_EI;
	/* Address-dependent: one public endpoint per server address. With the other port of the
	 * primary address measured too, both ports of both addresses must agree, so a random-port
	 * NAT that reuses a port by chance is not taken for address-dependent. */
	if (ep_equal(&map[PS_ALT_BOTH], &map[PS_ALT_ADDR], true) &&
	    (!ok[PS_ALT_PORT] || ep_equal(&map[PS_ALT_PORT], &map[PS_PRIMARY], true)))
		return DEP_AD;
	return DEP_APD;
}

enum probe_ports probe_classify_ports(const uint16_t *local, const uint16_t *pub, int n,
				      int *stride)
{
	int i, d;

	*stride = 0;
	if (n < 3)
		return PORTS_UNKNOWN;
	for (i = 0; i < n && pub[i] == local[i]; i++)
		;
	if (i == n)
		return PORTS_PRESERVE;
	d = (int)pub[1] - (int)pub[0];
	for (i = 2; i < n; i++)
		if ((int)pub[i] - (int)pub[i - 1] != d)
			return PORTS_RANDOM;
	if (d < 1 || d > 1024)
		return PORTS_RANDOM;
	*stride = d;
	return PORTS_SEQUENTIAL;
}

/* ---- the tests ---- */

/* Test I, from @fd: the primary answers; learn the server's other endpoints. */
static void servers_learn(struct probe *p, const struct probe_answer *a)
{
	struct probe_result *r = p->r;
	const struct sockaddr_storage *pr = &r->srv[PS_PRIMARY];
	int i;

	for (i = 0; i < a->n_other; i++) {
		const struct sockaddr_storage *o = &a->other[i];
		bool same_addr = ep_equal(o, pr, false), same_port = ep_port(o) == ep_port(pr);
		enum probe_srv k = same_addr ? PS_ALT_PORT : same_port ? PS_ALT_ADDR : PS_ALT_BOTH;

		if (o->ss_family != pr->ss_family || (same_addr && same_port) || r->have_srv[k])
			continue;
		r->srv[k] = *o;
		r->have_srv[k] = true;
	}
	/* A STUN server names only its OTHER-ADDRESS (other address and port): the two single
	 * changes follow from it. */
	if (r->have_srv[PS_ALT_BOTH] && !r->have_srv[PS_ALT_ADDR] && p->o->stun) {
		r->srv[PS_ALT_ADDR] = r->srv[PS_ALT_BOTH];
		ep_set_port(&r->srv[PS_ALT_ADDR], ep_port(pr));
		r->have_srv[PS_ALT_ADDR] = true;
	}
	if (r->have_srv[PS_ALT_BOTH] && !r->have_srv[PS_ALT_PORT] && p->o->stun) {
		r->srv[PS_ALT_PORT] = *pr;
		ep_set_port(&r->srv[PS_ALT_PORT], ep_port(&r->srv[PS_ALT_BOTH]));
		r->have_srv[PS_ALT_PORT] = true;
	}
}

/* Mapping (RFC 5780 4.3): one socket to every server endpoint. */
static int test_mapping(struct probe *p, int fd)
{
	struct probe_result *r = p->r;
	static const enum probe_srv order[] = { PS_ALT_PORT, PS_ALT_ADDR, PS_ALT_BOTH };
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct probe_answer a;
		enum probe_srv k = order[i];
		int ok;

		if (!r->have_srv[k])
			continue;
		ok = transact(p, fd, fd, &r->srv[k], 0, 0, 0, &a);
		if (ok < 0)
			return ok;
		r->map_ok[k] = ok;
		if (ok)
			r->map_seen[k] = a.mapped;
	}
	r->mapping = probe_classify_mapping(r->map_seen, r->map_ok);
	return 0;
}

/* Filtering (RFC 5780 4.4), from a fresh socket that wrote to the primary only: an answer from
 * the other address and port is endpoint-independent; from the other port only,
 * address-dependent; else address-and-port-dependent. The plain request is the control. */
static int test_filtering(struct probe *p, int family)
{
	struct probe_result *r = p->r;
	struct probe_answer a;
	int fd, ok;

	if (!r->have_srv[PS_ALT_BOTH] || !r->have_srv[PS_ALT_PORT]) {
		snprintf(r->filtering_note, sizeof(r->filtering_note),
			 "the server has no second address and port");
		return 0;
	}
	fd = udp_open(family, 0);
	if (fd < 0)
		return fd;
	ok = transact(p, fd, fd, &r->srv[PS_PRIMARY], 0, 0, 0, &a);
	if (ok <= 0) {
		snprintf(r->filtering_note, sizeof(r->filtering_note),
			 "control: the primary did not answer a fresh socket");
		goto out;
	}
	ok = transact(p, fd, fd, &r->srv[PS_PRIMARY], WIRE_F_CHANGE_ADDR | WIRE_F_CHANGE_PORT, 0,
		      0, &a);
	if (ok > 0 && ep_equal(&a.origin, &r->srv[PS_ALT_BOTH], true)) {
		r->filtering = DEP_EI;
		goto out;
	}
	if (ok < 0)
		goto out;
	ok = transact(p, fd, fd, &r->srv[PS_PRIMARY], WIRE_F_CHANGE_PORT, 0, 0, &a);
	if (ok < 0)
		goto out;
	r->filtering = ok && ep_equal(&a.origin, &r->srv[PS_ALT_PORT], true) ? DEP_AD : DEP_APD;
out:
	close(fd);
	return ok < 0 ? ok : 0;
}

/* Port allocation: fresh sockets on consecutive local ports (a random base), each to the
 * primary: public = local is preservation, a constant step a sequential allocation. */
static int test_ports(struct probe *p, int family)
{
	struct probe_result *r = p->r;
	int fds[PROBE_NPORTS], i, tries, err = 0;

	for (tries = 0; tries < 8; tries++) {
		uint16_t base = (uint16_t)(20000 + rand_u64() % 30000);

		for (i = 0; i < PROBE_NPORTS; i++) {
			fds[i] = udp_open(family, (uint16_t)(base + i));
			if (fds[i] < 0)
				break;
		}
		if (i == PROBE_NPORTS) {
			for (i = 0; i < PROBE_NPORTS; i++)
				r->port_local[i] = (uint16_t)(base + i);
			break;
		}
		while (i-- > 0)
			close(fds[i]);
	}
	if (tries == 8)
		return 0;
	for (i = 0; i < PROBE_NPORTS; i++) {
		struct probe_answer a;
		int ok = transact(p, fds[i], fds[i], &r->srv[PS_PRIMARY], 0, 0, 0, &a);

		if (ok < 0)
			err = ok;
		if (ok <= 0)
			break;
		r->port_public[i] = ep_port(&a.mapped);
		r->n_ports = i + 1;
	}
	for (i = 0; i < PROBE_NPORTS; i++)
		close(fds[i]);
	if (r->n_ports == PROBE_NPORTS)
		r->ports = probe_classify_ports(r->port_local, r->port_public, r->n_ports,
						&r->stride);
	return err;
}

/* Hairpinning (RFC 5780 4.5, RFC 4787 REQ-9): two sockets write to each other's public
 * endpoint, a few rounds (the first datagram may open the other's filter). Yes when one
 * arrives from the sender's public address. */
static int test_hairpin(struct probe *p, int family)
{
	struct probe_result *r = p->r;
	struct sockaddr_storage pub[2];
	int fd[2] = { -1, -1 }, i, round, err = 0;
	uint64_t tag = rand_u64();

	r->hairpin = -1;
	for (i = 0; i < 2; i++) {
		struct probe_answer a;
		int ok;

		fd[i] = udp_open(family, 0);
		if (fd[i] < 0) {
			err = fd[i];
			goto out;
		}
		ok = transact(p, fd[i], fd[i], &r->srv[PS_PRIMARY], 0, 0, 0, &a);
		if (ok <= 0) {
			err = ok;
			snprintf(r->hairpin_note, sizeof(r->hairpin_note),
				 "the primary did not answer");
			goto out;
		}
		pub[i] = a.mapped;
	}
	r->hairpin = 0;
	snprintf(r->hairpin_note, sizeof(r->hairpin_note), "nothing arrived");
	for (round = 0; round < (int)p->o->tries && r->hairpin != 1; round++) {
		for (i = 0; i < 2; i++) {
			uint8_t in[64];
			struct sockaddr_storage from;
			ssize_t k;

			if (sendto(fd[i], &tag, sizeof(tag), 0, (struct sockaddr *)&pub[!i],
				   ep_len(&pub[!i])) < 0 && errno != ECONNREFUSED) {
				err = -errno;
				goto out;
			}
			k = recv_wait(fd[!i], in, sizeof(in), &from, (int)p->o->wait_ms / 2);
			if (k != (ssize_t)sizeof(tag) || memcmp(in, &tag, sizeof(tag)))
				continue;
			if (ep_equal(&from, &pub[i], false)) {
				r->hairpin = 1;
				snprintf(r->hairpin_note, sizeof(r->hairpin_note),
					 "arrived from the sender's public address");
				break;
			}
			snprintf(r->hairpin_note, sizeof(r->hairpin_note),
				 "arrived from a private source, not the public endpoint");
		}
	}
out:
	for (i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return err < 0 ? err : 0;
}

/* Binding lifetime (RFC 5780 4.6): mappings made together, each probed once after its own
 * silence (RESPONSE-PORT: the server answers to that mapping's port from the primary, asked
 * by another socket), on a grid up to --lifetime-max; the lifetime lies between the longest
 * silence survived and the shortest one not. */
static int test_lifetime(struct probe *p, int family)
{
	struct probe_result *r = p->r;
	uint32_t max_ms = p->o->lifetime_max_s * 1000u, step;
	int fds[PROBE_MAX_LIFE], xfd, n, k, err = 0;
	uint64_t made[PROBE_MAX_LIFE];
	uint16_t port[PROBE_MAX_LIFE];

	r->udp_timeout = -1;
	r->life_lo_ms = r->life_hi_ms = -1;
	step = (max_ms + PROBE_MAX_LIFE - 1) / PROBE_MAX_LIFE;
	if (step < 1000)
		step = 1000;
	n = (int)((max_ms + step / 2) / step);
	if (n > PROBE_MAX_LIFE)
		n = PROBE_MAX_LIFE;
	xfd = udp_open(family, 0);
	if (xfd < 0)
		return xfd;
	for (k = 0; k < n; k++) {
		struct probe_answer a;
		int ok;

		r->life_at_ms[k] = (uint32_t)k * step + step / 2;
		r->life_alive[k] = -1;
		fds[k] = udp_open(family, 0);
		if (fds[k] < 0) {
			err = fds[k];
			n = k;
			break;
		}
		ok = transact(p, fds[k], fds[k], &r->srv[PS_PRIMARY], 0, 0, 0, &a);
		made[k] = loop_now_us();
		port[k] = ok > 0 ? ep_port(&a.mapped) : 0;
	}
	r->n_life = n;
	for (k = 0; k < n; k++) {
		struct probe_answer a;
		uint64_t at = made[k] + (uint64_t)r->life_at_ms[k] * 1000u, now = loop_now_us();

		if (!port[k])
			continue;
		if (at > now) {
			struct timespec ts = { (time_t)((at - now) / 1000000u),
					       (long)((at - now) % 1000000u) * 1000 };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		/* Two tries: a lost request must not read as an expired mapping; an answer that
		 * does arrive refreshes nothing of another mapping. */
		r->life_alive[k] = (int8_t)(transact(p, xfd, fds[k], &r->srv[PS_PRIMARY], 0, port[k],
						     2, &a) > 0);
	}
	for (k = 0; k < n; k++) {
		if (r->life_alive[k] == 1)
			r->life_lo_ms = (int)r->life_at_ms[k];
		else if (r->life_alive[k] == 0 && r->life_hi_ms < 0)
			r->life_hi_ms = (int)r->life_at_ms[k];
	}
	if (r->life_lo_ms < 0 && r->life_hi_ms < 0)
		snprintf(r->lifetime_note, sizeof(r->lifetime_note),
			 "the server does not answer to another port (RESPONSE-PORT)");
	else if (r->life_hi_ms < 0)
		snprintf(r->lifetime_note, sizeof(r->lifetime_note),
			 "alive after %u s, the longest wait (--lifetime-max)", p->o->lifetime_max_s);
	else if (r->life_lo_ms > r->life_hi_ms)
		snprintf(r->lifetime_note, sizeof(r->lifetime_note),
			 "not monotonic: gone after %d ms, alive after %d ms", r->life_hi_ms,
			 r->life_lo_ms);
	else
		r->udp_timeout = (r->life_lo_ms < 0 ? 0 : r->life_lo_ms + r->life_hi_ms + 1000) / 2000;
	for (k = 0; k < n; k++)
		close(fds[k]);
	close(xfd);
	return err;
}

/* One TCP connection from local @lport to @to: the BIND's answer (punch framing). */
static int tcp_bind(struct probe *p, uint16_t lport, const struct sockaddr_storage *to,
		    struct probe_answer *a)
{
	uint8_t buf[2 + WIRE_MAX_LEN], in[2 + WIRE_MAX_LEN];
	uint64_t id = rand_u64(), end = loop_now_us() + (uint64_t)p->o->wait_ms * p->o->tries * 1000u;
	size_t got = 0;
	int fd, n, ret = 0;

	fd = sock_open_bound(to->ss_family, SOCK_STREAM, NULL, lport, true);
	if (fd < 0)
		return fd;
	n = p->ops->encode(p->o, buf + 2, sizeof(buf) - 2, id, 0, 0);
	if (n < 0) {
		ret = n;
		goto out;
	}
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	if (connect(fd, (const struct sockaddr *)to, ep_len(to)) < 0 && errno != EINPROGRESS)
		goto out;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now = loop_now_us();

		if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000u) + 1) <= 0)
			goto out;
		if (pfd.revents & (POLLERR | POLLHUP))
			goto out;
		if (pfd.revents & POLLOUT)
			break;
	}
	if (send(fd, buf, (size_t)n + 2, MSG_NOSIGNAL) != n + 2)
		goto out;
	while (loop_now_us() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&pfd, 1, (int)((end - loop_now_us()) / 1000u) + 1) <= 0)
			continue;
		k = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got >= 2 && got >= 2u + wire_frame_len(in)) {
			ret = p->ops->decode(p->o, in + 2, wire_frame_len(in), id, a) == 0;
			break;
		}
	}
out:
	close(fd);
	return ret;
}

/* Mapping over TCP: connections from one local port (SO_REUSEADDR) to each server endpoint. */
static int test_tcp(struct probe *p, int family)
{
	struct probe_result *r = p->r;
	uint16_t lport = (uint16_t)(20000 + rand_u64() % 30000);
	static const enum probe_srv order[] = { PS_PRIMARY, PS_ALT_PORT, PS_ALT_ADDR, PS_ALT_BOTH };
	size_t i;

	(void)family;
	if (!p->ops->stream_framed) {
		snprintf(r->tcp_note, sizeof(r->tcp_note), "not measured against a STUN server");
		return 0;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct probe_answer a;
		int ok;

		if (!r->have_srv[order[i]] && order[i] != PS_PRIMARY)
			continue;
		ok = tcp_bind(p, lport, &r->srv[order[i]], &a);
		if (ok < 0)
			return ok;
		r->tcp_ok[order[i]] = ok;
		if (ok)
			r->tcp_seen[order[i]] = a.mapped;
	}
	r->tcp_mapping = probe_classify_mapping(r->tcp_seen, r->tcp_ok);
	if (!r->tcp_ok[PS_PRIMARY])
		snprintf(r->tcp_note, sizeof(r->tcp_note), "no answer over TCP");
	return 0;
}

int probe_run(const struct probe_opts *o, struct probe_result *r, FILE *err)
{
	struct probe p = { o, o->stun ? &probe_ops_stun : &probe_ops_wire, r, err };
	struct probe_answer a;
	int family = o->server.ss_family, fd, ok, e;

	memset(r, 0, sizeof(*r));
	r->hairpin = -1;
	r->udp_timeout = -1;
	r->life_lo_ms = r->life_hi_ms = -1;
	r->srv[PS_PRIMARY] = o->server;
	r->have_srv[PS_PRIMARY] = true;
	sock_route_src(&o->server, &r->local);
	fd = udp_open(family, 0);
	if (fd < 0)
		return fd;
	ok = transact(&p, fd, fd, &o->server, 0, 0, 0, &a);
	if (ok <= 0) {
		close(fd);
		return ok;
	}
	r->reached = true;
	r->map_seen[PS_PRIMARY] = a.mapped;
	r->map_ok[PS_PRIMARY] = true;
	{
		struct sockaddr_storage l;
		socklen_t ll = sizeof(l);

		/* Behind a NAT when the public endpoint is not this socket's own. */
		if (getsockname(fd, (struct sockaddr *)&l, &ll) == 0)
			ep_set_port(&r->local, ep_port(&l));
		r->behind_nat = !ep_equal(&r->local, &a.mapped, true);
	}
	servers_learn(&p, &a);
	e = test_mapping(&p, fd);
	close(fd);
	if (!e)
		e = test_filtering(&p, family);
	if (!e)
		e = test_ports(&p, family);
	if (!e)
		e = test_hairpin(&p, family);
	if (!e && o->lifetime_max_s)
		e = test_lifetime(&p, family);
	else if (!o->lifetime_max_s)
		snprintf(r->lifetime_note, sizeof(r->lifetime_note),
			 "not measured (--lifetime-max 0)");
	if (!e && o->tcp)
		e = test_tcp(&p, family);
	if (e && err)
		fprintf(err, "punch: probe: %s\n", strerror(-e));
	return e;
}
