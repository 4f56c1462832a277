/* punchlab-impair: the forwarder of one impaired link (docs/impairments.md).
 *
 *     punchlab-impair [--stats] SPEC   fd 0: the packet socket toward the link's first end
 *                                      fd 1: the packet socket toward its second end
 *
 * This kernel has no netem (BRIEF.md), so an impaired link is split in two through a
 * namespace of its own, and this program is the bump in the wire: every frame read on one side
 * goes through that direction's timer queue (queue.c: loss, rate, delay, jitter, duplication)
 * and is written out on the other side when its time comes. The lab opens and binds both
 * sockets before starting it (so no frame sent after lab_up() is missed, whatever the start-up
 * time of this process) and passes them as fds 0 and 1 (the lab's spawner closes every other
 * fd). Both sockets carry a virtio-net header (PACKET_VNET_HDR): a veth hands over TCP
 * segments larger than the MTU (GSO) and frames whose checksum is still to be filled in
 * (CHECKSUM_PARTIAL); with the header both pass through unchanged and the kernel finishes
 * them on the way out, without it the receiver would drop them.
 *
 * It ends on SIGTERM/SIGINT (with --stats printing its counters to stderr) and by itself when a socket's
 * interface goes away (the lab's namespaces closed: even a kill -9 of punchlab ends it). One
 * poll() over the two sockets, a timerfd armed at the next release, and a signalfd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "impair/queue.h"
#include "impair/spec.h"

#define FRAME_MAX (65536 + 64) /* a GSO frame plus its virtio-net header */
#define BATCH 32               /* frames per recvmmsg/sendmmsg: one system call, not 32 */
#define READ_ROUNDS 4          /* batches read from one side before the other gets its turn */
/* Frames due within this much of now leave with the ones due now: one wake-up of the timer
 * serves them all (at 20k frames/s a wake-up per frame costs more than the frames). They leave
 * at most this early; the target is 5% or 0.5 ms of the delay. */
#define FLUSH_AHEAD_NS 100000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A socket whose interface was unregistered reports ENETDOWN (or ENXIO): the lab is gone. */
static bool side_gone(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return true;
	return err == ENETDOWN || err == ENXIO || err == ENODEV;
}

static uint64_t send_failed;

static void flush_due(struct impair_queue *q, int out_fd, uint64_t now)
{
	struct impair_pkt *p[BATCH];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];

	for (int guard = 0; guard < IMPAIR_QUEUE_MAX; guard++) {
		int n = 0, sent;

		while (n < BATCH && (p[n] = impair_queue_pop_due(q, now + FLUSH_AHEAD_NS))) {
			iov[n] = (struct iovec){ p[n]->data, p[n]->len };
			msg[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n], .msg_iovlen = 1 } };
			n++;
		}
		if (n == 0)
			return;
		/* a full device queue drops, as a wire would: never block the other direction */
		sent = sendmmsg(out_fd, msg, (unsigned)n, MSG_DONTWAIT);
		for (int i = sent < 0 ? 0 : sent; i < n; i++) {
			/* sendmmsg stops at the first failure: try the rest one by one */
			if (send(out_fd, p[i]->data, p[i]->len, MSG_DONTWAIT) < 0)
				send_failed++;
		}
		for (int i = 0; i < n; i++)
			free(p[i]);
	}
}

/* Read what is waiting on side d (bounded), each frame into its direction's queue. Returns 0,
 * 1 when the side's interface is gone, -ENOMEM. */
static int read_side(int d, struct impair_queue *q)
{
	static unsigned char buf[BATCH][FRAME_MAX];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];

	for (int round = 0; round < READ_ROUNDS; round++) {
		uint64_t now;
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], FRAME_MAX };
			msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(d, msg, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0)
			return errno != EAGAIN && errno != EINTR && side_gone(d) ? 1 : 0;
		now = now_ns();
		for (int i = 0; i < n; i++)
			if (impair_queue_offer(q, now, buf[i], msg[i].msg_len) < 0)
				return -ENOMEM;
		if (n < BATCH)
			break;
	}
	return 0;
}

static int arm(int tfd, const struct impair_queue q[2])
{
	uint64_t next = impair_queue_next(&q[0]), n1 = impair_queue_next(&q[1]);
	struct itimerspec its = { 0 };

	if (n1 < next)
		next = n1;
	if (next != UINT64_MAX) {
		if (next == 0)
			next = 1; /* an all-zero it_value would disarm */
		its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
		its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	}
	return timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static bool stats;

static void print_stats(const struct impair_queue q[2])
{
	if (!stats)
		return;
	for (int d = 0; d < 2; d++)
		fprintf(stderr, "punchlab-impair: direction %d: offered %" PRIu64 " lost %" PRIu64
			" duplicated %" PRIu64 " overflow %" PRIu64 " sent %" PRIu64 "\n", d,
			q[d].st.offered, q[d].st.lost, q[d].st.duplicated, q[d].st.overflow,
			q[d].st.sent);
	fprintf(stderr, "punchlab-impair: send failures %" PRIu64 "\n", send_failed);
}

int main(int argc, char **argv)
{
	struct impair_spec spec;
	struct impair_queue q[2];
	struct pollfd pfd[4];
	sigset_t mask;
	char why[256];
	int tfd, sfd;
	uint64_t seed;

	if (argc == 3 && strcmp(argv[1], "--stats") == 0) {
		stats = true;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: punchlab-impair [--stats] SPEC (fds 0 and 1: the lab's "
				"packet sockets; started by punchlab, not by hand)\n");
		return 2;
	}
	if (impair_spec_parse(argv[1], &spec, why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab-impair: %s: %s\n", argv[1], why);
		return 2;
	}
	seed = spec.seed;
	if (!seed && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)now_ns();
	/* the default timer slack (50 us) would be added to every release; and the forwarder is
	 * the wire: on a busy machine it must not wait behind the programs it carries frames for
	 * (best effort: without the privilege it keeps its priority) */
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (setpriority(PRIO_PROCESS, 0, -10) < 0)
		errno = 0;
	for (int d = 0; d < 2; d++) {
		impair_queue_init(&q[d], &spec.dir[d], seed + (uint64_t)d);
		if (fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK) < 0) {
			fprintf(stderr, "punchlab-impair: fd %d is not the lab's packet socket\n", d);
			return 2;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || tfd < 0) {
		perror("punchlab-impair: signalfd/timerfd");
		return 1;
	}
	pfd[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = 1, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	pfd[3] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	/* runs as long as the lab's link: it ends by a signal or when the link goes away */
	for (;;) {
		uint64_t now, ticks;
		int r;

		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("punchlab-impair: poll");
			return 1;
		}
		if (pfd[3].revents)
			break;
		for (int d = 0; d < 2; d++) {
			if (pfd[d].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				if (side_gone(d)) {
					print_stats(q);
					return 0;
				}
			}
			if (!(pfd[d].revents & POLLIN))
				continue;
			r = read_side(d, &q[d]);
			if (r > 0) {
				print_stats(q);
				return 0;
			}
			if (r < 0) {
				fprintf(stderr, "punchlab-impair: out of memory\n");
				return 1;
			}
		}
		if (pfd[2].revents && read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			return 1;
		now = now_ns();
		flush_due(&q[0], 1, now);
		flush_due(&q[1], 0, now);
		if (arm(tfd, q) < 0) {
			perror("punchlab-impair: timerfd_settime");
			return 1;
		}
	}
	print_stats(q);
	impair_queue_free(&q[0]);
	impair_queue_free(&q[1]);
	return 0;
}
