/* What the nl/ waits share (nl/linkwait.c, nl/addrwait.c): a socket in a rtnetlink multicast
 * group, a dump request on it, and reading what it queued. Internal to nl/. */
#pragma once
#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A non-blocking NETLINK_ROUTE socket bound to the multicast groups (RTMGRP_*). An fd the
 * caller closes, or -errno. */
int nl_watch_open(unsigned groups);

/* Ask for a dump of type (RTM_GETLINK, RTM_GETROUTE...) of family with sequence number seq;
 * hdrlen is the size of the type's family header (struct rtgenmsg, struct rtmsg...), whose
 * first byte is the family. 0, or -errno. */
int nl_watch_dump(int fd, uint16_t type, size_t hdrlen, unsigned char family, unsigned seq);

/* Called for each message of the type nl_watch_read() was given. */
typedef void (*nl_watch_note_fn)(void *ctx, const struct nlmsghdr *nlh);

/* Read what is queued on fd, without blocking (at most 1024 reads): each message of type to
 * note, and *dumped set when the NLMSG_DONE of dump seq arrives. 0, or -errno on a socket
 * error (-ENOBUFS: events were lost). */
int nl_watch_read(int fd, uint16_t type, nl_watch_note_fn note, void *ctx, unsigned seq,
		  bool *dumped);

/* CLOCK_MONOTONIC in milliseconds, for the waits' deadlines. */
double nl_watch_now_ms(void);
