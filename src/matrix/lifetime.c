/* Mapping lifetime probes and their bisection (lifetime.h). */
#include "matrix/lifetime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab.h"
#include "matrix/punch_secret.h"

#define RDV_PORT 3478
#define DGRAM_PORT 40100         /* the server's port for unreplied probes */
#define CONNECT_TIMEOUT_MS 5000  /* punch's --timeout: the path is verified well within it */
#define PROBE_WINDOW_MS 1500     /* punch's IDLE_PROBE_WINDOW_MS; our datagram's wait */
#define GRACE_MS 3000            /* beyond every program's own bound */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The whole output a program wrote into memfd fd (NUL-terminated, malloc'd) or NULL. */
static char *memfd_read(int fd)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf;

	if (n < 0 || n > (1 << 20))
		return NULL;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	if (pread(fd, buf, (size_t)n, 0) != n) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* The peer's last result line ("{"event":"result",...}"), or NULL. */
static const char *result_line(const char *out)
{
	const char *p = out, *last = NULL;

	while ((p = strstr(p, "{\"event\":\"result\"")) != NULL)
		last = p++;
	return last;
}

/* In a JSON line, the raw value of "key": a pointer just past the colon, or NULL. */
static const char *json_value(const char *line, const char *key)
{
	char k[64];
	const char *p, *eol = strchr(line, '\n');

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(line, k);
	return p && (!eol || p < eol) ? p + strlen(k) : NULL;
}

/* -1 error (no result, or it never got to the gap), 0 died, 1 survived. */
static int peer_survived(const char *out, char *what, size_t len)
{
	const char *line = out ? result_line(out) : NULL, *v, *reason;

	if (!line) {
		snprintf(what, len, "no result line");
		return -1;
	}
	v = json_value(line, "idle_survived");
	if (v && !strncmp(v, "true", 4))
		return 1;
	if (v && !strncmp(v, "false", 5))
		return 0;
	reason = json_value(line, "reason");
	snprintf(what, len, "never verified a path (%.*s)",
		 reason ? (int)strcspn(reason, ",}") : 1, reason ? reason : "?");
	return -1;
}

/* The first addresses of family of a node (up to max) as "ADDR:PORT" ("[ADDR]:PORT" for
 * IPv6), from the topology the lab was built from. Returns the count. */
static int node_endpoints(const struct topo *t, int node, int family, int port,
			  char eps[][96], int max)
{
	int n = 0;

	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], node);
		char a[64];

		for (int k = 0; e >= 0 && k < t->links[li].ends[e].naddrs && n < max; k++) {
			if (t->links[li].ends[e].addrs[k].family != family)
				continue;
			net_addr_format(&t->links[li].ends[e].addrs[k], false, a, sizeof(a));
			snprintf(eps[n++], 96, family == AF_INET6 ? "[%s]:%d" : "%s:%d", a, port);
		}
	}
	return n;
}

static int spawn(struct lab *lab, int node, char **argv, int fd, int timeout_ms)
{
	struct lab_spawn_opts so = { .stdout_fd = fd, .stderr_fd = fd, .stdin_fd = -1,
				     .timeout_ms = timeout_ms };

	return lab_spawn(lab, node, argv, &so);
}

static enum lifetime_verdict probe_punched(const struct lifetime_probe_opts *o, struct lab *lab,
					   char *why, size_t len)
{
	const struct topo *t = o->topo;
	char listen[2][96], rdv[96], gap[32], ka[32], to[32], dur[32];
	char *out[3] = { NULL, NULL, NULL }, wa[128] = "", wb[128] = "";
	char secret[PUNCH_SECRET_PATH_LEN] = "";
	int fds[3] = { -1, -1, -1 }, h[3] = { -1, -1, -1 }, st, sa, sb, naddr;
	int bound = CONNECT_TIMEOUT_MS + (int)o->gap_ms + PROBE_WINDOW_MS + GRACE_MS +
		    (o->kind == LIFETIME_STREAM ? LIFETIME_STREAM_AFTER_S * 1000 : 0);
	enum lifetime_verdict v = LIFETIME_ERROR;

	naddr = node_endpoints(t, t->roles[ROLE_RENDEZVOUS], o->family == AF_INET6 ? AF_INET6
										     : AF_INET,
			       RDV_PORT, listen, 2);
	if (naddr < 1) {
		snprintf(why, len, "the rendezvous node has no %s address",
			 o->family == AF_INET6 ? "IPv6" : "IPv4");
		return LIFETIME_ERROR;
	}
	snprintf(rdv, sizeof(rdv), "%s", listen[0]);
	snprintf(gap, sizeof(gap), "%ums", o->gap_ms);
	snprintf(ka, sizeof(ka), "%ums", o->keepalive_ms);
	snprintf(to, sizeof(to), "%dms", CONNECT_TIMEOUT_MS);
	snprintf(dur, sizeof(dur), "%d", bound / 1000 + 1);
	{
		int err = punch_secret_make(secret);

		if (err < 0) {
			snprintf(why, len, "cannot write punch's secret under /tmp: %s",
				 strerror(-err));
			return LIFETIME_ERROR;
		}
	}
	{
		/* punch authenticates every message: one secret for the three (docs/punch.md) */
		char *rargv[] = { (char *)o->punch, "rendezvous", "--secret-file", secret,
				  "--listen", listen[0], naddr > 1 ? "--listen" : NULL, listen[1],
				  "--json", "--duration", dur, NULL };
		char *aargv[] = { (char *)o->punch, "peer", "--secret-file", secret,
				  "--rendezvous", rdv, "--session", "lt",
				  "--role", "a", "--proto", "udp", "--technique", "udp", "--timeout",
				  to, "--idle-gap", gap, "--keepalive", ka, "--json", NULL, NULL,
				  NULL };
		char *bargv[sizeof(aargv) / sizeof(aargv[0])];
		char after[16];

		if (o->kind == LIFETIME_STREAM) {
			snprintf(after, sizeof(after), "%d", LIFETIME_STREAM_AFTER_S);
			aargv[21] = "--idle-after";
			aargv[22] = after;
		}

		if (naddr < 2) { /* no second address: end the list before it */
			rargv[6] = "--json";
			rargv[7] = "--duration";
			rargv[8] = dur;
			rargv[9] = NULL;
		}
		memcpy(bargv, aargv, sizeof(aargv));
		bargv[9] = "b";
		for (int i = 0; i < 3; i++) {
			fds[i] = memfd_create("lifetime-out", MFD_CLOEXEC);
			if (fds[i] < 0) {
				snprintf(why, len, "memfd: %s", strerror(errno));
				goto out;
			}
		}
		h[0] = spawn(lab, t->roles[ROLE_RENDEZVOUS], rargv, fds[0], bound);
		h[1] = h[0] < 0 ? h[0] : spawn(lab, t->roles[ROLE_PEER_A], aargv, fds[1], bound);
		h[2] = h[1] < 0 ? h[1] : spawn(lab, t->roles[ROLE_PEER_B], bargv, fds[2], bound);
		if (h[2] < 0) {
			snprintf(why, len, "cannot start punch (%s): %s", o->punch, strerror(-h[2]));
			goto out;
		}
	}
	/* every program ends by its own bound; the lab's deadline is the backstop */
	if (lab_wait(lab, h[1], bound + GRACE_MS, &st) < 0 || lab_wait(lab, h[2], bound + GRACE_MS,
								      &st) < 0) {
		snprintf(why, len, "a peer did not end within %d ms", bound + GRACE_MS);
		goto out;
	}
	for (int i = 0; i < 3; i++)
		out[i] = memfd_read(fds[i]);
	sa = peer_survived(out[1], wa, sizeof(wa));
	sb = peer_survived(out[2], wb, sizeof(wb));
	if (sa < 0 || sb < 0) {
		snprintf(why, len, "peer %s: %s", sa < 0 ? "a" : "b", sa < 0 ? wa : wb);
		goto out;
	}
	/* b's probe answered (b) and heard (a): both must agree for a survival */
	v = sa && sb ? LIFETIME_SURVIVED : LIFETIME_DIED;
	snprintf(why, len, "%s", sa && sb ? "b's probe crossed nat-a and was answered" :
		 !sa && !sb ? "b's probe never reached a (nat-a's mapping was gone)" :
		 sa ? "a heard b's probe, b never got the answer" : "b got an answer a never sent");
out:
	if (h[0] >= 0)
		lab_stop(lab, h[0], 200, &st);
	punch_secret_remove(secret);
	for (int i = 0; i < 3; i++) {
		free(out[i]);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return v;
}

/* A mapping that saw no reply: host-a sends once, the server answers gap_ms later. */
static enum lifetime_verdict probe_unreplied(const struct lifetime_probe_opts *o,
					     struct lab *lab, char *why, size_t len)
{
	const struct topo *t = o->topo;
	int family = o->family == AF_INET6 ? AF_INET6 : AF_INET;
	struct sockaddr_storage srv = { .ss_family = (sa_family_t)family }, pub;
	socklen_t pl = sizeof(pub), sl;
	char eps[1][96], addr[64], buf[16];
	enum lifetime_verdict v = LIFETIME_ERROR;
	int hfd = -1, sfd = -1, ret;
	struct pollfd pf;
	int64_t due;

	if (node_endpoints(t, t->roles[ROLE_RENDEZVOUS], family, DGRAM_PORT, eps, 1) < 1) {
		snprintf(why, len, "the rendezvous node has no %s address",
			 family == AF_INET6 ? "IPv6" : "IPv4");
		return LIFETIME_ERROR;
	}
	/* back from "[ADDR]:PORT" / "ADDR:PORT" to the address alone */
	snprintf(addr, sizeof(addr), "%.*s", (int)(strrchr(eps[0], ':') - eps[0]) -
					     (family == AF_INET6 ? 2 : 0),
		 eps[0] + (family == AF_INET6));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&srv;
		s6->sin6_port = htons(DGRAM_PORT);
		ret = inet_pton(AF_INET6, addr, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&srv;
		s4->sin_port = htons(DGRAM_PORT);
		ret = inet_pton(AF_INET, addr, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	if (ret != 1) {
		snprintf(why, len, "the rendezvous node's address %s does not parse", addr);
		return LIFETIME_ERROR;
	}
	sfd = lab_socket(lab, t->roles[ROLE_RENDEZVOUS], family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	hfd = lab_socket(lab, t->roles[ROLE_PEER_A], family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sfd < 0 || hfd < 0 || bind(sfd, (struct sockaddr *)&srv, sl) < 0) {
		snprintf(why, len, "sockets in the lab: %s", strerror(sfd < 0 ? -sfd : hfd < 0 ? -hfd
								   : errno));
		goto out;
	}
	if (sendto(hfd, "lt", 2, 0, (struct sockaddr *)&srv, sl) < 0) {
		snprintf(why, len, "send from host-a: %s", strerror(errno));
		goto out;
	}
	pf = (struct pollfd){ .fd = sfd, .events = POLLIN };
	ret = poll(&pf, 1, PROBE_WINDOW_MS);
	if (ret <= 0 || recvfrom(sfd, buf, sizeof(buf), 0, (struct sockaddr *)&pub, &pl) < 0) {
		snprintf(why, len, "host-a's datagram never reached the server");
		goto out;
	}
	due = now_ms() + o->gap_ms;
	while (now_ms() < due) /* poll() on nothing: a bounded sleep that EINTR can not cut short */
		poll(NULL, 0, (int)(due - now_ms()));
	if (sendto(sfd, "lt", 2, 0, (struct sockaddr *)&pub, pl) < 0) {
		snprintf(why, len, "send from the server: %s", strerror(errno));
		goto out;
	}
	pf = (struct pollfd){ .fd = hfd, .events = POLLIN };
	ret = poll(&pf, 1, PROBE_WINDOW_MS);
	v = ret > 0 ? LIFETIME_SURVIVED : LIFETIME_DIED;
	snprintf(why, len, "%s", ret > 0 ? "the server's late answer reached host-a" :
		 "the server's late answer never reached host-a (nat-a's mapping was gone)");
out:
	if (hfd >= 0)
		close(hfd);
	if (sfd >= 0)
		close(sfd);
	return v;
}

enum lifetime_verdict lifetime_probe(const struct lifetime_probe_opts *o, char *why, size_t len)
{
	const struct topo *t = o->topo;
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct lab_options lo = { .noverrides = 2 };
	enum lifetime_verdict v = LIFETIME_ERROR;
	char copy[4096] = "";
	struct lab *lab = NULL;

	if (!dl) {
		snprintf(why, len, "out of memory");
		return LIFETIME_ERROR;
	}
	if (t->roles[ROLE_NAT_A] < 0 || t->roles[ROLE_NAT_B] < 0 || t->roles[ROLE_PEER_A] < 0 ||
	    t->roles[ROLE_PEER_B] < 0 || t->roles[ROLE_RENDEZVOUS] < 0) {
		snprintf(why, len, "topology %s lacks a role of peer-a, peer-b, nat-a, nat-b, "
			 "rendezvous", t->name);
		goto out;
	}
	if (profile_params_instance(o->profile, &o->params, copy, sizeof(copy), dl) < 0)
		goto diag;
	lo.override_node[0] = t->nodes[t->roles[ROLE_NAT_A]].name;
	lo.override_profile[0] = copy;
	lo.override_node[1] = t->nodes[t->roles[ROLE_NAT_B]].name;
	lo.override_profile[1] = o->peer_profile;
	if (lab_up(t, &lo, &lab, dl) < 0)
		goto diag;
	v = o->kind == LIFETIME_UNREPLIED ? probe_unreplied(o, lab, why, len)
					  : probe_punched(o, lab, why, len);
	goto out;
diag:
	snprintf(why, len, "%s:%d: %s", dl->count ? dl->items[0].file : o->profile,
		 dl->count ? dl->items[0].line : 0, dl->count ? dl->items[0].msg : "lab failed");
out:
	lab_down(lab);
	if (strcmp(copy, o->profile) != 0)
		profile_params_instance_remove(copy);
	free(dl);
	return v;
}

void lifetime_search(const struct lifetime_probe_opts *o, int lo_s, int hi_s,
		     struct lifetime_result *r)
{
	struct lifetime_probe_opts p = *o;
	char why[256];
	int lo = lo_s, hi = hi_s;

	memset(r, 0, sizeof(*r));
	r->alive_s = r->dead_s = -1;
	/* the bounds first, so that a profile outside the range is said so, then bisection */
	for (int step = 0; step < 64; step++) {
		int g = step == 0 ? lo : step == 1 ? hi : lo + (hi - lo) / 2;
		enum lifetime_verdict v;

		if (step >= 2 && hi - lo <= 1)
			break;
		p.gap_ms = (uint32_t)g * 1000u;
		v = lifetime_probe(&p, why, sizeof(why));
		r->probes++;
		if (v == LIFETIME_ERROR) {
			r->error = true;
			snprintf(r->why, sizeof(r->why), "gap %d s: %s", g, why);
			return;
		}
		if (v == LIFETIME_SURVIVED) {
			r->alive_s = g;
			lo = g;
			if (step == 1)
				return; /* survives even hi */
		} else {
			r->dead_s = g;
			hi = g;
			if (step == 0)
				return; /* dies even at lo */
		}
	}
}
