/* The engine's event loop: one epoll instance and one timerfd. Timers are kept in a short
 * list (a peer has a few dozen at most) and the timerfd is armed at the earliest deadline, so
 * nothing sleeps or polls. Callbacks run one event at a time (epoll_wait with one slot), so a
 * callback may close and free any other io or timer safely. */
#ifndef PUNCH_LOOP_H
#define PUNCH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_cb)(struct loop_io *io, uint32_t events);
typedef void (*loop_timer_cb)(struct loop_timer *t);

/* Embedded in its owner; the owner frees it after loop_io_del(). */
struct loop_io {
	int fd;
	loop_io_cb cb;
	void *arg;
	struct loop *loop;
};

struct loop_timer {
	uint64_t when_us;             /* CLOCK_MONOTONIC, 0 = disarmed */
	loop_timer_cb cb;
	void *arg;
	struct loop *loop;
	struct loop_timer *next, *prev;
};

struct loop {
	int epfd;
	int tfd;
	struct loop_io tio;
	struct loop_timer *timers;    /* armed timers, unsorted */
	uint64_t armed_us;            /* what the timerfd is set to, 0 = nothing */
	bool stop;
};

/* Monotonic clock in microseconds. */
uint64_t loop_now_us(void);

/* Open the epoll fd and the timerfd. Returns 0 or -errno; loop_fini() releases. */
int loop_init(struct loop *l);
void loop_fini(struct loop *l);

/* Watch @fd (EPOLLIN/EPOLLOUT/...); @io must stay valid until loop_io_del(). */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb,
		void *arg);
int loop_io_mod(struct loop_io *io, uint32_t events);
/* Stop watching; does not close the fd. A no-op for an io never added. */
void loop_io_del(struct loop_io *io);

void loop_timer_init(struct loop *l, struct loop_timer *t, loop_timer_cb cb, void *arg);
/* (Re)arm @t to fire once, @delay_us from now / at @when_us. */
void loop_timer_in(struct loop_timer *t, uint64_t delay_us);
void loop_timer_at(struct loop_timer *t, uint64_t when_us);
void loop_timer_stop(struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
	return t->when_us != 0;
}

/* Dispatch events until loop_stop(). Returns 0, or -errno when epoll itself fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Dispatch at most one event that is ready now, without waiting: for a caller that watches
 * several loops' epoll fds (an epoll fd is itself pollable) and runs each when it is readable
 * (dual.c). Returns 1 when an event was dispatched, 0 when none was ready, or -errno. */
int loop_poll(struct loop *l);

#endif
