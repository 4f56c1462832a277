#include "base/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool rootless;

bool userns_rootless(void)
{
	return rootless;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

/* A new network namespace's lo is down; a program that talks to itself over 127.0.0.1 in
 * the home namespace (as it could as root) still can. */
static int loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (ret == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Inside, the user is root, and the lab's programs (nft, conntrack, miniupnpd, tcpdump) live in
 * the sbin directories that an ordinary user's PATH usually lacks: add them, so `punchlab exec
 * LAB nat-a -- nft list ruleset` works rootless as it does with sudo (whose secure_path has
 * them). */
static void path_add_sbin(void)
{
	static const char *const dirs[] = { "/usr/local/sbin", "/usr/sbin", "/sbin" };
	const char *old = getenv("PATH");
	char path[4096];
	size_t n;

	if (!old || !*old)
		old = "/usr/local/bin:/usr/bin:/bin";
	n = (size_t)snprintf(path, sizeof(path), "%s", old);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && n < sizeof(path); i++) {
		char padded[4096 + 2], want[64];
		snprintf(padded, sizeof(padded), ":%s:", path);
		snprintf(want, sizeof(want), ":%s:", dirs[i]);
		if (!strstr(padded, want))
			n += (size_t)snprintf(path + n, sizeof(path) - n, ":%s", dirs[i]);
	}
	if (n < sizeof(path))
		setenv("PATH", path, 1);
}

int userns_unshare(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	const char *seam = getenv("PUNCHLAB_TEST_NO_USERNS");
	char map[64];
	int ret;

	if (seam && strcmp(seam, "1") == 0)
		return -EPERM;
	/* CLONE_NEWNET too: the code returns its thread to the "home" network namespace after
	 * each node (setns), and setns() into the init one needs a capability over it that a user
	 * never has. A home of our own also keeps the orchestrator off the machine's network. */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) < 0)
		return -errno;
	/* an unprivileged writer of gid_map must first give up setgroups(2) (user_namespaces(7)):
	 * otherwise dropping a supplementary group inside could grant access it denies outside */
	ret = write_file("/proc/self/setgroups", "deny");
	if (ret == 0) {
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
		ret = write_file("/proc/self/uid_map", map);
	}
	if (ret == 0) {
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
		ret = write_file("/proc/self/gid_map", map);
	}
	/* Pins are bind mounts: keep them in this mount namespace. (A mount namespace made in a
	 * less privileged user namespace already receives but never sends propagation; say so
	 * explicitly rather than rely on it.) */
	if (ret == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		ret = -errno;
	if (ret == 0)
		ret = loopback_up();
	if (ret == 0) {
		rootless = true;
		path_add_sbin();
	}
	return ret;
}

int userns_join(int pidfd)
{
	char cwd[PATH_MAX];
	bool have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;

	/* one setns() with a pidfd enters all or none (Linux 5.8): no half-joined state. The
	 * keeper's network namespace is the home its lab was built from (see userns_unshare()) */
	if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) < 0)
		return -errno;
	rootless = true;
	path_add_sbin();
	/* setns(CLONE_NEWNS) moves the working directory to the namespace's root; the keeper's
	 * mount namespace is a copy of ours, so the same path names the same directory */
	if (have_cwd && chdir(cwd) < 0)
		return -errno;
	return 0;
}

pid_t userns_keeper_spawn(int *confirm_fd)
{
	sigset_t all;
	int p[2];
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid > 0) {
		close(p[0]);
		*confirm_fd = p[1];
		return pid;
	}
	/* the child: async-signal-safe calls only (the parent may have threads) */
	setsid();
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	prctl(PR_SET_NAME, "punchlab-keep", 0, 0, 0);
	/* nothing of the parent's: no registry lock, no namespace fd, no pipe a shell waits on;
	 * only the confirmation pipe, as stdin */
	dup2(p[0], 0);
	syscall(SYS_close_range, 3U, ~0U, 0U);
	{
		int null = open("/dev/null", O_RDWR);
		for (int fd = 1; fd < 3 && null >= 0; fd++)
			if (fd != null)
				dup2(null, fd);
		if (null > 2)
			close(null);
	}
	if (chdir("/") < 0)
		_exit(1);
	/* A keeper no record names would hold its lab forever: wait for the creator to have
	 * written the record. EOF (the creator died or gave up first) ends this keeper. */
	if (read(0, &ok, 1) != 1)
		_exit(0);
	close(0);
	open("/dev/null", O_RDONLY);
	/* Not a bounded wait on purpose: the keeper's whole job is to exist for as long as the kept
	 * lab does, like /run/netns pins do for root's. `lab down` and `clean` SIGKILL it. */
	for (;;)
		pause();
}
