#include "load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "auth.h"
#include "endpoint.h"
#include "evout.h"
#include "loop.h"
#include "util.h"
#include "wire.h"

#define LOAD_SOCKS 32
#define LOAD_RETRY_US 200000

struct load {
	const struct load_opts *o;
	struct loop loop;
	struct evout ev;
	int fds[LOAD_SOCKS];
	struct loop_io io[LOAD_SOCKS];
	uint8_t *got;             /* per session: bit 0 PEER to a, bit 1 PEER to b */
	uint64_t *sent_us;
	uint32_t next, done, inflight;
	uint64_t run, sent, rx, t_start;
	struct loop_timer tick, deadline;
	struct auth_key master;
	uint64_t bad;             /* answers that did not verify */
};

static void session_name(struct load *l, uint32_t i, char *buf, size_t len)
{
	snprintf(buf, len, "load-%llx-%u", (unsigned long long)l->run, i);
}

static void send_reg(struct load *l, uint32_t i, int role)
{
	struct wire_msg m;
	struct auth_key k;
	uint8_t buf[WIRE_MAX_LEN];
	int n;

	wire_msg_init(&m, WIRE_REGISTER);
	m.role = (uint8_t)role;
	m.nonce = l->run << 32 | (uint64_t)i << 1 | (uint64_t)(role - 1);
	session_name(l, i, m.session, sizeof(m.session));
	m.proto = PROTO_UDP;
	m.ctr = auth_ctr_next();
	/* padded as a peer pads it (wire.h WIRE_MIN_REGISTER): the server answers no less */
	m.pad = WIRE_MIN_REGISTER - (WIRE_HDR_LEN + 2 + (uint16_t)strlen(m.session) + 4 + 3 + 10 +
				     AUTH_MAC_ATTR_LEN);
	m.present = WA_BIT(WA_SESSION) | WA_BIT(WA_ROUND) | WA_BIT(WA_PROTO) | WA_BIT(WA_CTR) |
		    WA_BIT(WA_PAD);
	auth_session_key(&l->master, m.session, &k);
	n = wire_encode(&m, buf, sizeof(buf));
	if (n >= 0)
		n = auth_seal(&k, buf, (size_t)n, sizeof(buf));
	if (n < 0)
		return;
	if (sendto(l->fds[(i * 2 + (uint32_t)role) % LOAD_SOCKS], buf, (size_t)n, 0,
		   (const struct sockaddr *)&l->o->rdv, ep_len(&l->o->rdv)) == n)
		l->sent++;
}

static void fill(struct load *l)
{
	while (l->inflight < l->o->window && l->next < l->o->sessions) {
		uint32_t i = l->next++;

		l->sent_us[i] = loop_now_us();
		send_reg(l, i, WIRE_ROLE_A);
		send_reg(l, i, WIRE_ROLE_B);
		l->inflight++;
	}
	if (l->done == l->o->sessions)
		loop_stop(&l->loop);
}

static void on_rx(struct loop_io *io, uint32_t events)
{
	struct load *l = io->arg;
	uint8_t buf[WIRE_MAX_LEN];
	int k;

	(void)events;
	for (k = 0; k < 64; k++) {
		struct wire_msg m;
		ssize_t n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		uint32_t i;

		if (n < 0)
			break;
		l->rx++;
		if (wire_decode(buf, (size_t)n, &m) || m.type != WIRE_PEER || m.nonce >> 32 != l->run)
			continue;
		i = (uint32_t)(m.nonce & 0xffffffffu) >> 1;
		if (i >= l->o->sessions || l->got[i] == 3)
			continue;
		{
			struct auth_key k;
			char name[WIRE_MAX_SESSION + 1];

			session_name(l, i, name, sizeof(name));
			auth_session_key(&l->master, name, &k);
			if (!auth_check(&k, buf, (size_t)n, m.mac_off)) {
				l->bad++;
				continue;
			}
		}
		l->got[i] |= (uint8_t)(1u << (m.nonce & 1));
		if (l->got[i] == 3) {
			l->done++;
			l->inflight--;
		}
	}
	fill(l);
}

/* Registrations lost to a full socket buffer are sent again (the server is idempotent). */
static void on_tick(struct loop_timer *t)
{
	struct load *l = t->arg;
	uint64_t now = loop_now_us();
	uint32_t i;

	for (i = 0; i < l->next; i++) {
		if (l->got[i] == 3 || now - l->sent_us[i] < LOAD_RETRY_US)
			continue;
		l->sent_us[i] = now;
		if (!(l->got[i] & 1))
			send_reg(l, i, WIRE_ROLE_A);
		if (!(l->got[i] & 2))
			send_reg(l, i, WIRE_ROLE_B);
	}
	loop_timer_in(&l->tick, LOAD_RETRY_US);
}

static void on_deadline(struct loop_timer *t)
{
	struct load *l = t->arg;

	loop_stop(&l->loop);
}

int load_run(const struct load_opts *o, FILE *out, FILE *err_f)
{
	struct load l = { .o = o };
	int i, code = 2, bufsz = 4 << 20;
	uint64_t dt;

	for (i = 0; i < LOAD_SOCKS; i++)
		l.fds[i] = -1;
	evout_init(&l.ev, out, err_f, o->json, loop_now_us());
	{
		char why[256];

		if (auth_secret_load(o->secret_file, &l.master, why, sizeof(why))) {
			fprintf(err_f, "punch load: %s\n", why);
			return 2;
		}
	}
	if (loop_init(&l.loop))
		return 2;
	l.got = calloc(o->sessions, 1);
	l.sent_us = calloc(o->sessions, sizeof(*l.sent_us));
	if (!l.got || !l.sent_us)
		goto out;
	l.run = rand_u64() & 0xffffffffu;
	for (i = 0; i < LOAD_SOCKS; i++) {
		l.fds[i] = sock_open_bound(o->rdv.ss_family, SOCK_DGRAM, NULL, 0, false);
		if (l.fds[i] < 0) {
			evout_warn(&l.ev, "socket: %s", strerror(-l.fds[i]));
			goto out;
		}
		setsockopt(l.fds[i], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
		if (loop_io_add(&l.loop, &l.io[i], l.fds[i], EPOLLIN, on_rx, &l))
			goto out;
	}
	loop_timer_init(&l.loop, &l.tick, on_tick, &l);
	loop_timer_init(&l.loop, &l.deadline, on_deadline, &l);
	loop_timer_in(&l.tick, LOAD_RETRY_US);
	loop_timer_in(&l.deadline, (uint64_t)o->timeout_ms * 1000u);
	l.t_start = loop_now_us();
	fill(&l);
	if (l.done < o->sessions && loop_run(&l.loop))
		goto out;
	dt = loop_now_us() - l.t_start;
	evout_begin(&l.ev, "load");
	evout_int(&l.ev, "sessions", o->sessions);
	evout_int(&l.ev, "paired", l.done);
	evout_int(&l.ev, "registrations_sent", (long long)l.sent);
	evout_int(&l.ev, "replies", (long long)l.rx);
	evout_int(&l.ev, "replies_bad_mac", (long long)l.bad);
	evout_ms(&l.ev, "duration_ms", dt);
	evout_int(&l.ev, "registrations_per_s",
		  dt ? (long long)((uint64_t)l.done * 2u * 1000000u / dt) : 0);
	evout_end(&l.ev);
	code = l.done == o->sessions ? 0 : 1;
out:
	for (i = 0; i < LOAD_SOCKS; i++)
		if (l.fds[i] >= 0)
			close(l.fds[i]);
	free(l.got);
	free(l.sent_us);
	loop_fini(&l.loop);
	return code;
}
