/* A fresh lab passes IPv6 from its first packet (issue 15: in fresh dual labs under load the
 * peer's first IPv6 packets to the rendezvous waited a second now and then, so IPv4 won the dual
 * race or a family 6 cell's registration was never answered). The cause was lab_up() returning
 * before the kernel had finished the IPv6 addresses it added (src/nl/addrwait.c).
 *
 * first_exchange TOPOLOGY LABS JOBS [NODE=PROFILE]... [+NODE=COMPANION]...
 *
 * Builds LABS fresh labs of TOPOLOGY, JOBS at a time (threads; their rtnl contention is the
 * load the symptom needs), with the given profiles (+NODE=P: an IPv6 companion). Each lab:
 * - when lab_up() returns, every IPv6 address of every node, and every interface's link-local
 *   one, must be finished (its local route present): the fix's promise, checked directly;
 * - then every host sends ONE datagram to the rendezvous's first address of each family, and
 *   the rendezvous answers each datagram it gets with ONE reply. Nothing is retransmitted: a
 *   datagram the lab drops (a neighbour never resolved, a route missing) is missing, whatever
 *   the timing. The wait is bounded (WAIT_MS, far above a lab's round trip: a late datagram
 *   is not a failure, a lost one is);
 * - IPv4 from a host whose home router runs only an IPv6 profile must NOT reach the server:
 *   that router does not forward IPv4 (src/lab/lab.c, node_forwards_ipv4()).
 * Prints per family the exchanges, losses, leaks, and the first datagram's one-way time
 * (median, 90th percentile, maximum, ms) as a measurement, not a criterion. Exit 0 when all
 * held, 1 when not, 2 bad arguments or a lab that did not build, 77 not root (1 under
 * CI=true). */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab.h"
#include "lab/topo.h"
#include "nft/profile.h"
#include "nl/nl.h"

#define WAIT_MS 4000
#define DROP_WAIT_MS 300
#define LATE_MS 500
#define PORT 3478
#define MAX_HOSTS 4
#define MAX_LABS 2000

static struct topo topo;
static struct lab_options opts;
static int nlabs, next_lab, server = -1, hosts[MAX_HOSTS], nhosts;
static char server_addr[2][64]; /* per family (0: IPv4, 1: IPv6), "" when absent */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* per family: exchanges that must cross, their first datagrams lost, their replies lost;
 * datagrams that must be dropped, those that reached the server; labs with IPv6 addresses not
 * ready at lab_up()'s return; labs with an IPv6 first datagram later than LATE_MS, [0] with
 * every address ready, [1] with some not; one-way times in ms */
static int sent[2], lost[2], reply_lost[2], dropped_sent[2], leaked[2], build_errors;
static int labs_notready, late_labs[2];
static double *oneway[2];
static int noneway[2];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fam_af(int f)
{
	return f ? AF_INET6 : AF_INET;
}

static socklen_t sockaddr_of(int f, const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (f) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (addr)
			inet_pton(AF_INET6, addr, &s6->sin6_addr);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (addr)
		inet_pton(AF_INET, addr, &s4->sin_addr);
	return sizeof(*s4);
}

/* The host's own address of family f on any link ("" when it has none). */
static bool node_has_family(const struct topo *t, int node, int f)
{
	for (int li = 0; li < t->nlinks; li++) {
		int e = topo_link_end_of(&t->links[li], node);
		if (e >= 0 && topo_end_addr(&t->links[li].ends[e], fam_af(f)))
			return true;
	}
	return false;
}

/* IPv6 addresses of the lab, link-local ones included, not yet ready (no local route,
 * nl_addrs6_wait_ready()) right now. */
static int addrs6_not_ready(struct lab *lab)
{
	int missing = 0;

	for (int n = 0; n < topo.nnodes; n++) {
		struct nl_addr6_wait w = { .fd = lab_socket(lab, n, AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK,
							    NETLINK_ROUTE) };
		char stuck[64];

		int ifs = lab_socket(lab, n, AF_INET6, SOCK_DGRAM, 0);

		for (int li = 0; li < topo.nlinks; li++) {
			const struct topo_link *l = &topo.links[li];
			int e = topo_link_end_of(l, n);
			struct ifreq ifr = { .ifr_ifindex = 0 };

			if (e >= 0 && ifs >= 0) {
				snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", topo_end_ifname(l, e));
				if (ioctl(ifs, SIOCGIFINDEX, &ifr) == 0)
					w.pending_ll[w.npending_ll++] = ifr.ifr_ifindex;
			}
			for (int a = 0; e >= 0 && a < l->ends[e].naddrs; a++)
				if (l->ends[e].addrs[a].family == AF_INET6 &&
				    w.npending < NL_ADDR6_WAIT_ADDRS)
					w.pending[w.npending++] = l->ends[e].addrs[a].a.v6;
		}
		if (ifs >= 0)
			close(ifs);
		if (w.fd >= 0) {
			nl_addrs6_wait_ready(&w, 1, 0, stuck, sizeof(stuck));
			close(w.fd);
		}
		missing += w.npending + w.npending_ll;
	}
	return missing;
}

/* What a host's datagram of family f must do: cross (to the rendezvous and back), or be
 * dropped at its home router (IPv4 behind a home whose only profile is IPv6: lab.c,
 * node_forwards_ipv4()). */
static bool must_drop(struct lab *lab, int host, int f)
{
	int gw = topo.nodes[host].gateway;
	const char *profile = gw >= 0 ? lab_node_profile(lab, gw) : "";

	return f == 0 && gw >= 0 && topo.nodes[gw].kind == NODE_NAT && profile[0] &&
	       profile_family_of_file(profile) == PROFILE_FAMILY_IPV6;
}

/* One lab: build, check every IPv6 address is ready, one exchange per host and family, tear
 * down. */
static void one_lab(void)
{
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct lab *lab = NULL;
	int srv[2] = { -1, -1 }, cli[2][MAX_HOSTS], notready, want = 0, have = 0;
	bool got[2][MAX_HOSTS] = { { false } }, replied[2][MAX_HOSTS] = { { false } };
	bool drop[2][MAX_HOSTS] = { { false } }, late = false;
	double t0, arrive[2][MAX_HOSTS] = { { 0 } };

	memset(cli, -1, sizeof(cli));
	if (!dl || lab_up(&topo, &opts, &lab, dl) < 0) {
		if (dl)
			diag_print(dl, &(struct out){ stderr, stderr });
		pthread_mutex_lock(&lock);
		build_errors++;
		pthread_mutex_unlock(&lock);
		free(dl);
		return;
	}
	/* what lab_up() promises: every IPv6 address finished by the kernel when it returns */
	notready = addrs6_not_ready(lab);
	/* sockets first, then every datagram at once: the first packets leave right after
	 * lab_up() returned, as an engine's first registration does */
	for (int f = 0; f < 2; f++) {
		struct sockaddr_storage ss;
		socklen_t len = sockaddr_of(f, NULL, PORT, &ss);
		int one = 1;

		if (!server_addr[f][0])
			continue;
		srv[f] = lab_socket(lab, server, fam_af(f), SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (f && srv[f] >= 0)
			setsockopt(srv[f], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (srv[f] < 0 || bind(srv[f], (struct sockaddr *)&ss, len) < 0) {
			fprintf(stderr, "first_exchange: server socket: %s\n", strerror(errno));
			exit(2);
		}
		for (int h = 0; h < nhosts; h++)
			if (node_has_family(&topo, hosts[h], f)) {
				cli[f][h] = lab_socket(lab, hosts[h], fam_af(f),
						       SOCK_DGRAM | SOCK_NONBLOCK, 0);
				drop[f][h] = must_drop(lab, hosts[h], f);
			}
	}
	t0 = now_ms();
	for (int f = 0; f < 2; f++)
		for (int h = 0; h < nhosts; h++) {
			struct sockaddr_storage ss;
			socklen_t len = sockaddr_of(f, server_addr[f], PORT, &ss);
			char msg[8] = { (char)('0' + h) };

			if (cli[f][h] < 0)
				continue;
			if (sendto(cli[f][h], msg, 1, 0, (struct sockaddr *)&ss, len) < 0)
				fprintf(stderr, "first_exchange: send from %s: %s\n",
					topo.nodes[hosts[h]].name, strerror(errno));
			want += drop[f][h] ? 0 : 2;
		}
	/* until every exchange that must cross has, bounded; a datagram that must be dropped is
	 * given DROP_WAIT_MS at least to show up (a forwarded one takes well under 1 ms) */
	for (;;) {
		struct pollfd pfd[2 + 2 * MAX_HOSTS];
		double waited = now_ms() - t0;
		int np = 0, left = (int)((have < want ? WAIT_MS : DROP_WAIT_MS) - waited);

		if (left <= 0)
			break;
		for (int f = 0; f < 2; f++) {
			pfd[np++] = (struct pollfd){ .fd = srv[f], .events = POLLIN };
			for (int h = 0; h < nhosts; h++)
				pfd[np++] = (struct pollfd){ .fd = cli[f][h], .events = POLLIN };
		}
		if (poll(pfd, (nfds_t)np, left) <= 0)
			continue;
		for (int f = 0; f < 2; f++) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			char buf[8];

			while (srv[f] >= 0 && recvfrom(srv[f], buf, sizeof(buf), 0,
						       (struct sockaddr *)&from, &flen) == 1) {
				int h = buf[0] - '0';
				if (h >= 0 && h < nhosts && !got[f][h]) {
					got[f][h] = true;
					arrive[f][h] = now_ms() - t0;
					have += !drop[f][h];
					sendto(srv[f], buf, 1, 0, (struct sockaddr *)&from, flen);
				}
				flen = sizeof(from);
			}
			for (int h = 0; h < nhosts; h++)
				if (cli[f][h] >= 0 && recv(cli[f][h], buf, sizeof(buf), 0) == 1 &&
				    !replied[f][h]) {
					replied[f][h] = true;
					have += !drop[f][h];
				}
		}
	}
	pthread_mutex_lock(&lock);
	labs_notready += notready > 0;
	if (notready)
		fprintf(stderr, "not ready: %d IPv6 addresses of lab %s when lab_up() returned\n",
			notready, lab_name(lab));
	for (int f = 0; f < 2; f++)
		for (int h = 0; h < nhosts; h++) {
			const char *name = topo.nodes[hosts[h]].name;

			if (cli[f][h] < 0)
				continue;
			if (drop[f][h]) {
				dropped_sent[f]++;
				if (got[f][h]) {
					leaked[f]++;
					fprintf(stderr, "leaked: IPv%d datagram from %s reached the "
						"server through an IPv6-only home (lab %s)\n", f ? 6 : 4,
						name, lab_name(lab));
				}
				continue;
			}
			sent[f]++;
			if (!got[f][h]) {
				lost[f]++;
				fprintf(stderr, "lost: IPv%d first datagram from %s (lab %s)\n",
					f ? 6 : 4, name, lab_name(lab));
				continue;
			}
			oneway[f][noneway[f]++] = arrive[f][h];
			late |= f == 1 && arrive[f][h] > LATE_MS;
			if (!replied[f][h]) {
				reply_lost[f]++;
				fprintf(stderr, "lost: IPv%d reply to %s (lab %s)\n", f ? 6 : 4, name,
					lab_name(lab));
			}
		}
	late_labs[notready > 0] += late;
	pthread_mutex_unlock(&lock);
	for (int f = 0; f < 2; f++) {
		if (srv[f] >= 0)
			close(srv[f]);
		for (int h = 0; h < nhosts; h++)
			if (cli[f][h] >= 0)
				close(cli[f][h]);
	}
	lab_down(lab);
	free(dl);
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		int i;
		pthread_mutex_lock(&lock);
		i = next_lab++;
		pthread_mutex_unlock(&lock);
		if (i >= nlabs)
			return NULL;
		one_lab();
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	/* static: one list for the whole run, nothing to free on any of main's returns (an ASan
	 * build's leak check counts a calloc'd one) */
	static struct diag_list dl_storage;
	struct diag_list *dl = &dl_storage;
	pthread_t th[64];
	int jobs, bad = 0;

	if (geteuid() != 0) {
		const char *ci = getenv("CI");
		if (ci && strcmp(ci, "true") == 0) {
			printf("FAIL: lab tests need root and CI=true: run them as root (sudo ci/test)\n");
			return 1;
		}
		printf("SKIP: needs root\n");
		return 77;
	}
	if (argc < 4 || !dl) {
		fprintf(stderr, "usage: first_exchange TOPOLOGY LABS JOBS [NODE=PROFILE]... "
			"[+NODE=COMPANION]...\n");
		return 2;
	}
	nlabs = atoi(argv[2]);
	jobs = atoi(argv[3]);
	if (nlabs < 1 || nlabs > MAX_LABS || jobs < 1 || jobs > 64) {
		fprintf(stderr, "first_exchange: LABS must be 1-%d and JOBS 1-64\n", MAX_LABS);
		return 2;
	}
	if (topo_parse_file(&topo, argv[1], dl) < 0) {
		diag_print(dl, &(struct out){ stderr, stderr });
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		bool comp = argv[i][0] == '+';
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			fprintf(stderr, "first_exchange: %s: expected NODE=PROFILE\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		if (comp) {
			opts.companion_node[opts.ncompanions] = argv[i] + 1;
			opts.companion_profile[opts.ncompanions++] = eq + 1;
		} else {
			opts.override_node[opts.noverrides] = argv[i];
			opts.override_profile[opts.noverrides++] = eq + 1;
		}
	}
	for (int n = 0; n < topo.nnodes; n++) {
		if (topo.nodes[n].kind == NODE_SERVER && server < 0)
			server = n;
		else if (topo.nodes[n].kind == NODE_HOST && nhosts < MAX_HOSTS)
			hosts[nhosts++] = n;
	}
	for (int f = 0; f < 2 && server >= 0; f++)
		for (int li = 0; li < topo.nlinks && !server_addr[f][0]; li++) {
			int e = topo_link_end_of(&topo.links[li], server);
			const struct net_addr *a =
				e >= 0 ? topo_end_addr(&topo.links[li].ends[e], fam_af(f)) : NULL;
			if (a)
				net_addr_format(a, false, server_addr[f], sizeof(server_addr[f]));
		}
	for (int f = 0; f < 2; f++)
		oneway[f] = calloc((size_t)nlabs * MAX_HOSTS, sizeof(double));
	if (server < 0 || !nhosts || !oneway[0] || !oneway[1]) {
		fprintf(stderr, "first_exchange: %s needs a server and a host node\n", argv[1]);
		return 2;
	}
	for (int j = 0; j < jobs; j++)
		pthread_create(&th[j], NULL, worker, NULL);
	for (int j = 0; j < jobs; j++)
		pthread_join(th[j], NULL);
	for (int f = 0; f < 2; f++) {
		int n = noneway[f];
		if (sent[f]) {
			qsort(oneway[f], (size_t)n, sizeof(double), cmp_double);
			printf("IPv%d: %d exchanges, %d first datagrams lost, %d replies lost; "
			       "one-way ms median %.2f p90 %.2f max %.2f\n", f ? 6 : 4, sent[f],
			       lost[f], reply_lost[f], n ? oneway[f][n / 2] : 0,
			       n ? oneway[f][n * 9 / 10] : 0, n ? oneway[f][n - 1] : 0);
		}
		if (dropped_sent[f])
			printf("IPv%d through an IPv6-only home: %d datagrams, %d reached the server "
			       "(expected none)\n", f ? 6 : 4, dropped_sent[f], leaked[f]);
		bad += lost[f] + reply_lost[f] + leaked[f];
	}
	printf("labs with IPv6 addresses not ready when lab_up() returned: %d of %d\n",
	       labs_notready, nlabs - build_errors);
	printf("labs with an IPv6 first datagram later than %d ms: %d with every address ready, "
	       "%d with some not\n", LATE_MS, late_labs[0], late_labs[1]);
	bad += labs_notready;
	if (build_errors)
		printf("%d labs did not build\n", build_errors);
	printf("%s\n", build_errors ? "ERROR" : bad ? "FAIL" : "ok");
	free(oneway[0]);
	free(oneway[1]);
	return build_errors ? 2 : bad ? 1 : 0;
}
