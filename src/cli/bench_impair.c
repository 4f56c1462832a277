/* punchlab bench impair: how exactly an impaired link does what its spec says, and what it
 * costs a cell (issue 12, docs/impairments.md). A benchmark, not a test: it prints and asserts
 * nothing.
 *
 * Accuracy: a lab of the topology with one impaired link, inet:server; a UDP stream from the
 * inet node to the server at 1k and 20k packets/s, each datagram carrying its sequence number
 * and its send time. All namespaces share this machine's clocks, so each datagram's one-way
 * delay is exact: the kernel's receive timestamp (SO_TIMESTAMPNS, taken when the datagram
 * reached the server's stack, so a receiving thread that the machine's load keeps waiting does
 * not add to it) minus the send time, both CLOCK_REALTIME. The same stream over the unimpaired
 * link is the base (the sender's and the stack's own share), printed per rate. Per configuration: the median delay,
 * the jitter as the interquartile range of the delay (for the uniform +-J the forwarder draws,
 * p75 - p25 is J; a quantile, not the standard deviation, so that a few datagrams held up by a
 * busy machine do not count as jitter), the loss, the duplicates and the frames that arrived
 * out of order.
 *
 * Cost: lab up and lab down of the topology without impairment and under presets (their
 * forwarding namespaces, veth pairs and forwarders), in turns, medians over the turns: wall time
 * and the CPU time of the building thread (the kernel's work in other contexts, such as the
 * asynchronous namespace cleanup, is not in it; on a loaded machine it is the steadier figure). */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cli/cli.h"
#include "cli/bench_stats.h"
#include "lab/lab.h"

#define PORT 9000
#define WARMUP_MAX_MS 3000

struct stamp {
	uint64_t seq, sent_ns;
	unsigned char pad[64]; /* a small media-sized datagram (100 bytes on the wire) */
};

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double now_ms(void)
{
	return (double)mono_ns() / 1e6;
}

static double quantile(double *v, int n, double q)
{
	return n <= 0 ? NAN : bench_percentile(v, n, q);
}

static double median(double *v, int n)
{
	return quantile(v, n, 0.5);
}

struct sender {
	int fd;
	struct sockaddr_in to;
	int pps;
	int count;
	uint64_t first_seq;
	double achieved_pps;
};

/* Paced by absolute deadlines: a late wake-up sends what is due at once, so the mean rate holds. */
static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint64_t start = mono_ns(), gap = 1000000000ULL / (uint64_t)s->pps;
	struct stamp st = { 0 };

	prctl(PR_SET_TIMERSLACK, 1UL);
	for (int i = 0; i < s->count; i++) {
		uint64_t due = start + (uint64_t)i * gap;
		struct timespec ts = { (time_t)(due / 1000000000ULL), (long)(due % 1000000000ULL) };

		if (mono_ns() < due)
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		st.seq = s->first_seq + (uint64_t)i;
		st.sent_ns = real_ns();
		if (sendto(s->fd, &st, sizeof(st), 0, (struct sockaddr *)&s->to, sizeof(s->to)) < 0)
			continue; /* counted as lost */
	}
	s->achieved_pps = s->count / ((double)(mono_ns() - start) / 1e9);
	return NULL;
}

struct result {
	double delay_ms, p99_ms, jitter_ms, loss_pct, pps;
	int received, dups, reordered;
};

/* Send count datagrams at pps from fd_tx to the receiver fd_rx; collect. quiet_ms: how long
 * the receiver waits after the last datagram (the link's delay + jitter, with room). */
static int stream(int fd_tx, int fd_rx, const struct sockaddr_in *to, int pps, int count,
		  uint64_t first_seq, int quiet_ms, struct result *r)
{
	double *delay = calloc((size_t)count, sizeof(double));
	unsigned char *seen = calloc((size_t)count, 1);
	struct sender s = { .fd = fd_tx, .to = *to, .pps = pps, .count = count,
			    .first_seq = first_seq };
	struct pollfd pfd = { .fd = fd_rx, .events = POLLIN };
	uint64_t last_seq = 0;
	pthread_t th;
	int n = 0, done = 0;

	memset(r, 0, sizeof(*r));
	if (!delay || !seen || pthread_create(&th, NULL, sender_main, &s) != 0) {
		free(delay);
		free(seen);
		return -ENOMEM;
	}
	/* bounded: the stream's length plus quiet_ms after the last datagram heard */
	for (int guard = 0; guard < 10 * count + 1000; guard++) {
		struct stamp st;
		union { char buf[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } c;
		struct iovec iov = { &st, sizeof(st) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
				     .msg_controllen = sizeof(c.buf) };
		struct cmsghdr *cm;
		ssize_t got;
		uint64_t now = 0;
		int pr = poll(&pfd, 1, quiet_ms + (done ? 0 : count * 1000 / pps));

		if (pr <= 0)
			break;
		got = recvmsg(fd_rx, &mh, MSG_DONTWAIT);
		for (cm = got > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
			}
		if (!now)
			now = real_ns();
		if (got != (ssize_t)sizeof(st) || st.seq < first_seq ||
		    st.seq >= first_seq + (uint64_t)count)
			continue; /* a warm-up straggler */
		if (seen[st.seq - first_seq]++) {
			r->dups++;
			continue;
		}
		if (st.seq < last_seq)
			r->reordered++;
		last_seq = st.seq > last_seq ? st.seq : last_seq;
		delay[n++] = (double)(now - st.sent_ns) / 1e6;
		done = st.seq == first_seq + (uint64_t)count - 1;
	}
	pthread_join(th, NULL);
	r->received = n;
	r->pps = s.achieved_pps;
	r->loss_pct = 100.0 * (count - n) / count;
	r->delay_ms = median(delay, n);
	r->p99_ms = quantile(delay, n, 0.99);
	r->jitter_ms = n > 1 ? quantile(delay, n, 0.75) - quantile(delay, n, 0.25) : 0;
	free(delay);
	free(seen);
	return 0;
}

/* The receiving socket: bound, a large buffer, kernel receive timestamps. */
static int rx_setup(int rx)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int one = 1, buf = 8 << 20;

	/* rootless the forced size needs a capability a user never has: the plain one, capped */
	if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		return -errno;
	return bind(rx, (struct sockaddr *)&any, sizeof(any)) < 0 ? -errno : 0;
}

/* One configuration: a lab with inet:server impaired by spec ("" for none), warmed up (ARP
 * resolved through the link), then the stream at each rate. */
/* the base's delays per rate, written by the row without a spec */
static double base_out[8];

static int accuracy_row(const struct topo *base, const char *spec, const int *rates, int nrates,
			double seconds, const double *base_ms)
{
	struct topo *t = malloc(sizeof(*t));
	struct diag_list dl = { .count = 0 };
	struct lab *lab = NULL;
	int inet, server, tx = -1, rx = -1, ret = -EIO, buf = 8 << 20;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	char arg[300];
	uint64_t seq = 1000000;

	if (!t)
		return -ENOMEM;
	*t = *base;
	snprintf(arg, sizeof(arg), "inet:server=%s", spec);
	if ((spec[0] && topo_impair_set(t, arg, &dl) < 0) || lab_up(t, NULL, &lab, &dl) < 0) {
		diag_print(&dl, &out_std);
		goto out;
	}
	inet = topo_node_find(t, "inet");
	server = topo_node_find(t, "server");
	tx = lab_socket(lab, inet, AF_INET, SOCK_DGRAM, 0);
	rx = lab_socket(lab, server, AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "198.51.100.10", &to.sin_addr);
	if (tx < 0 || rx < 0 || rx_setup(rx) < 0) {
		out_warnx(&out_std, "bench impair: the stream's sockets: %s", strerror(errno));
		goto out;
	}
	if (setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)); /* rootless, as rx_setup */
	/* warm-up: until one datagram arrived (ARP answered across the link), bounded */
	{
		struct result w;
		double t0 = now_ms();

		do
			stream(tx, rx, &to, 100, 10, seq += 100, 300, &w);
		while (w.received == 0 && now_ms() - t0 < WARMUP_MAX_MS);
	}
	for (int i = 0; i < nrates; i++) {
		struct result r;
		int count = (int)(rates[i] * seconds);

		seq += 10000000;
		if (stream(tx, rx, &to, rates[i], count, seq, 1500, &r) < 0)
			goto out;
		printf("  %-30s %6.0f pkt/s  delay %8.3f ms (%8.3f over base %.3f, p99 %.3f)  "
		       "jitter %6.3f ms  loss %5.2f%%  reordered %d  (%d of %d)\n",
		       spec[0] ? spec : "(none: the base)", r.pps, r.delay_ms,
		       r.delay_ms - (base_ms ? base_ms[i] : 0), base_ms ? base_ms[i] : 0, r.p99_ms,
		       r.jitter_ms, r.loss_pct, r.reordered, r.received, count);
		if (!base_ms)
			base_out[i] = r.delay_ms;
		fflush(stdout);
	}
	ret = 0;
out:
	if (tx >= 0)
		close(tx);
	if (rx >= 0)
		close(rx);
	lab_down(lab);
	free(t);
	return ret;
}

/* One lab up and down of t; the times in ms. 0 or -1. */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cost_once(const struct topo *t, double *up, double *down, double *cpu)
{
	double phase[LAB_PHASES] = { 0 }, t0 = now_ms(), c0 = cpu_ms(), t1;
	struct lab_options lo = { .phase_ms = phase };
	struct diag_list dl = { .count = 0 };
	struct lab *lab;

	if (lab_up(t, &lo, &lab, &dl) < 0) {
		diag_print(&dl, &out_std);
		return -1;
	}
	t1 = now_ms();
	lab_down(lab);
	*up = t1 - t0;
	*down = now_ms() - t1;
	*cpu = cpu_ms() - c0;
	return 0;
}

/* The presets' labs in turns (none, lte, lossy-wifi, none, ...) so that the machine's load
 * drifts over all of them alike; each preset's medians and the median of its extra cost over
 * the unimpaired lab of the same turn. */
static void cost(const struct topo *base, int n)
{
	static const char *const presets[] = { "none", "lte", "lossy-wifi" };
	enum { NP = sizeof(presets) / sizeof(presets[0]) };
	double *v = calloc((size_t)n * NP * 3, sizeof(double)), *tmp = calloc((size_t)n, sizeof(double));
	struct topo *t = calloc(NP, sizeof(*t));
	struct diag_list dl = { .count = 0 };
	double start = now_ms();

	if (!v || !t || !tmp)
		goto out;
	for (int p = 0; p < NP; p++) {
		t[p] = *base;
		if (topo_impair_preset(&t[p], presets[p], &dl) < 0) {
			diag_print(&dl, &out_std);
			goto out;
		}
	}
	/* v[(p * 3 + k) * n + i]: preset p, k = up, down, CPU time of this thread, turn i */
	for (int i = 0; i < n; i++)
		for (int p = 0; p < NP; p++)
			if (cost_once(&t[p], &v[(p * 3 + 0) * n + i], &v[(p * 3 + 1) * n + i],
				      &v[(p * 3 + 2) * n + i]) < 0)
				goto out;
	for (int p = 0; p < NP; p++) {
		int nimp = 0;
		double up, down, cpu, extra = 0, extra_cpu = 0;

		for (int li = 0; li < t[p].nlinks; li++)
			nimp += t[p].links[li].impair.active;
		for (int i = 0; i < n; i++)
			tmp[i] = v[(p * 3 + 0) * n + i] + v[(p * 3 + 1) * n + i] -
				 v[(0 * 3 + 0) * n + i] - v[(0 * 3 + 1) * n + i];
		if (p > 0)
			extra = median(tmp, n);
		for (int i = 0; i < n; i++)
			tmp[i] = v[(p * 3 + 2) * n + i] - v[(0 * 3 + 2) * n + i];
		if (p > 0)
			extra_cpu = median(tmp, n);
		up = median(&v[(p * 3 + 0) * n], n);
		down = median(&v[(p * 3 + 1) * n], n);
		cpu = median(&v[(p * 3 + 2) * n], n);
		printf("  %-10s %d impaired link(s), %d labs: wall: lab up %6.2f ms, lab down %5.2f "
		       "ms, up+down %+6.2f ms over none's of the same turn; CPU of this thread %5.2f "
		       "ms, %+5.2f ms over none's\n", presets[p], nimp, n, up, down, extra, cpu,
		       extra_cpu);
	}
	printf("  %d labs in %.1f s\n", n * NP, (now_ms() - start) / 1000);
out:
	free(v);
	free(tmp);
	free(t);
}

int bench_impair_main(const struct topo *t, int n, double seconds)
{
	static const char *const specs[] = {
		"delay 20ms",
		"delay 1ms",
		"delay 40ms jitter 5ms reorder",
		"delay 40ms jitter 5ms",
		"loss 2%",
		"delay 40ms jitter 5ms loss 2%",
		"delay 150ms loss 5%",
	};
	static const int rates[] = { 1000, 20000 };

	if (topo_node_find(t, "inet") < 0 || topo_node_find(t, "server") < 0) {
		out_warnx(&out_std, "bench impair: topology %s has no inet and server nodes", t->name);
		return EXIT_SETUP;
	}
	printf("bench impair: topology %s, link inet:server, UDP datagrams of 100 bytes on the wire "
	       "for %.1f s per rate; medians of the one-way delay\n", t->name, seconds);
	if (seconds > 0) {
		printf("accuracy (configured -> measured):\n");
		if (accuracy_row(t, "", rates, 2, seconds, NULL) < 0)
			return EXIT_SETUP;
		for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
			if (accuracy_row(t, specs[i], rates, 2, seconds, base_out) < 0)
				return EXIT_SETUP;
	}
	printf("cost per cell (lab up + lab down, back to back):\n");
	cost(t, n);
	return 0;
}
