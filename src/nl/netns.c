#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "nl/nl.h"

int netns_current(void)
{
	/* thread-self: setns() and unshare() act on the thread, not the process. */
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int netns_unshare_new(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	return netns_current();
}

int netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}
