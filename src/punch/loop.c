#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

uint64_t loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void loop_rearm(struct loop *l)
{
	struct itimerspec its = { 0 };
	uint64_t first = 0;
	struct loop_timer *t;

	for (t = l->timers; t; t = t->next)
		if (!first || t->when_us < first)
			first = t->when_us;
	if (first == l->armed_us)
		return;
	l->armed_us = first;
	if (first) {
		its.it_value.tv_sec = (time_t)(first / 1000000u);
		its.it_value.tv_nsec = (long)(first % 1000000u) * 1000;
	}
	/* Cannot fail with a valid fd and a valid value; an expired time fires at once. */
	timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void loop_fire(struct loop_io *io, uint32_t events)
{
	struct loop *l = io->arg;
	uint64_t n, now;
	struct loop_timer *t;

	(void)events;
	if (read(l->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	l->armed_us = 0;
	/* Fire one due timer at a time and rescan: a callback may stop or free other timers. A
	 * timer re-armed by its callback waits for the next wake-up, so IO is never starved. */
	now = loop_now_us();
	for (;;) {
		for (t = l->timers; t; t = t->next)
			if (t->when_us <= now)
				break;
		if (!t || l->stop)
			break;
		loop_timer_stop(t);
		t->cb(t);
	}
	loop_rearm(l);
}

int loop_init(struct loop *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->tfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->tfd < 0) {
		err = -errno;
		goto out;
	}
	err = loop_io_add(l, &l->tio, l->tfd, EPOLLIN, loop_fire, l);
	if (err)
		goto out;
	return 0;
out:
	loop_fini(l);
	return err;
}

void loop_fini(struct loop *l)
{
	if (l->tfd >= 0)
		close(l->tfd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->tfd = l->epfd = -1;
	l->timers = NULL;
}

int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb,
		void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->loop = l;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		io->loop = NULL;
		return -errno;
	}
	return 0;
}

int loop_io_mod(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io->loop)
		return -EINVAL;
	return epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
}

void loop_io_del(struct loop_io *io)
{
	if (!io->loop)
		return;
	epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->loop = NULL;
}

void loop_timer_init(struct loop *l, struct loop_timer *t, loop_timer_cb cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
}

void loop_timer_at(struct loop_timer *t, uint64_t when_us)
{
	struct loop *l = t->loop;

	if (!when_us)
		when_us = 1;
	if (!t->when_us) {
		t->prev = NULL;
		t->next = l->timers;
		if (l->timers)
			l->timers->prev = t;
		l->timers = t;
	}
	t->when_us = when_us;
	loop_rearm(l);
}

void loop_timer_in(struct loop_timer *t, uint64_t delay_us)
{
	loop_timer_at(t, loop_now_us() + delay_us);
}

void loop_timer_stop(struct loop_timer *t)
{
	struct loop *l = t->loop;

	if (!l || !t->when_us)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	t->when_us = 0;
	/* The timerfd is re-armed lazily: an early wake-up finds nothing due and re-arms. */
}

int loop_run(struct loop *l)
{
	struct epoll_event ev;
	int n;

	l->stop = false;
	while (!l->stop) {
		loop_rearm(l);
		n = epoll_wait(l->epfd, &ev, 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 1) {
			struct loop_io *io = ev.data.ptr;

			io->cb(io, ev.events);
		}
	}
	return 0;
}

int loop_poll(struct loop *l)
{
	struct epoll_event ev;
	int n;

	loop_rearm(l);
	n = epoll_wait(l->epfd, &ev, 1, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 1) {
		struct loop_io *io = ev.data.ptr;

		io->cb(io, ev.events);
	}
	return n;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
