/* punchlab exec [--timeout S] LAB NODE -- CMD [ARGS...]
 *
 * Runs CMD inside a node of a kept lab with its exit status passed through. CMD runs under an
 * init in a PID namespace of its own, as the lab's own programs do (src/lab/proc.c), and that
 * init is written into the lab's record (pid and start time) before this command waits: `lab
 * down` and `clean` kill it, and with it CMD and everything CMD forked. CMD stays in this
 * process's process group, so the terminal's Ctrl-C reaches it and an interactive shell works.
 * --timeout is the init's deadline (exit 124). SIGINT, SIGTERM and SIGHUP that a process sends
 * to punchlab are passed on to CMD; dying without passing them on would leave CMD running. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lab/proc.h"
#include "lab/registry.h"

static const char exec_usage[] =
	"usage: punchlab exec [--timeout SECONDS] LAB NODE -- CMD [ARGS...]\n"
	"  run CMD inside NODE of the kept lab LAB (see punchlab lab list); the exit status is\n"
	"  CMD's. No deadline unless --timeout is given (then exit 124 when it runs out).\n"
	"  `punchlab lab down LAB` kills CMD and everything it started.\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start CMD in the node whose pin is `pin`, and record its init in the lab's record, all under
 * the registry lock: `lab down` either sees the program or has removed the lab before it
 * starts. Returns the init's pid, or -1 with the reason printed. */
static pid_t start_recorded(const char *lab, const char *node, char **cmd, double timeout_s)
{
	struct lab_spawn_opts opts = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
				       .timeout_ms = (int)(timeout_s * 1000) };
	struct registry_record r;
	const char *pin = NULL;
	int lock = registry_lock(), fd = -1, ret;
	pid_t pid = -1;

	if (lock < 0) {
		out_warn(&out_std, lock, "lock %s", REGISTRY_DIR ? REGISTRY_DIR : "$XDG_RUNTIME_DIR");
		return -1;
	}
	if (registry_read(lab, &r) < 0) {
		out_warnx(&out_std, "no kept lab named \"%s\" (punchlab lab list shows them)", lab);
		goto out;
	}
	for (int k = 0; k < r.nnodes; k++)
		if (strcmp(r.node[k], node) == 0)
			pin = r.pinned[k];
	if (!pin) {
		out_warnx(&out_std, "lab %s has no node \"%s\", expected one of its nodes "
			  "(punchlab lab list shows them)", lab, node);
		goto out;
	}
	fd = open(pin, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		out_warn(&out_std, -errno, "open %s", pin);
		goto out;
	}
	pid = proc_spawn(fd, cmd, &opts, true);
	if (pid < 0) {
		out_warn(&out_std, pid, "start %s in %s", cmd[0], pin);
		pid = -1;
		goto out;
	}
	ret = registry_add_pid(&r, pid);
	if (ret == 0)
		ret = registry_write(&r);
	if (ret < 0) {
		/* unrecorded, it would outlive `lab down`: do not let it run */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (ret == -ENOSPC)
			out_warnx(&out_std, "lab %s already runs %d programs started by exec, expected "
				  "fewer: end some first", lab, REGISTRY_MAX_PIDS);
		else
			out_warn(&out_std, ret, "record the program in lab %s", lab);
		pid = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	registry_unlock(lock);
	return pid;
}

/* Wait for the init, passing on the stop signals a process sends us. The terminal's own
 * (SI_KERNEL) reach CMD directly: it is in our process group. */
static int wait_passing_signals(pid_t pid, int sigfd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), status = 0;
	struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sigfd, .events = POLLIN } };

	for (int guard = 0; pidfd >= 0 && sigfd >= 0 && guard < 1000000; guard++) {
		struct signalfd_siginfo si;
		int r = poll(p, 2, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p[0].revents & POLLIN))
			break;
		if ((p[1].revents & POLLIN) && read(sigfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_code != SI_KERNEL)
			kill(pid, (int)si.ssi_signo); /* the init passes it on to CMD */
	}
	if (pidfd >= 0)
		close(pidfd);
	if (waitpid(pid, &status, 0) < 0)
		return EXIT_SETUP;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int exec_main(int argc, char **argv)
{
	double timeout_s = 0;
	const char *lab, *node;
	sigset_t fwd, old;
	int64_t t0;
	pid_t pid;
	int i = 1, sigfd, ret;

	for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(exec_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			timeout_s = strtod(argv[++i], &end);
			if (*end || timeout_s <= 0 || timeout_s > 86400) {
				fprintf(stderr, "punchlab: --timeout %s: expected seconds, 0 < S <= 86400\n",
					argv[i]);
				return EXIT_SETUP;
			}
			continue;
		}
		fputs(exec_usage, stderr);
		return EXIT_SETUP;
	}
	if (argc - i < 4 || strcmp(argv[i + 2], "--") != 0) {
		fputs(exec_usage, stderr);
		return EXIT_SETUP;
	}
	lab = argv[i];
	node = argv[i + 1];
	/* blocked before the start, so none is lost in between; read from a signalfd */
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	sigfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	t0 = now_ms();
	pid = sigfd < 0 ? -1 : start_recorded(lab, node, argv + i + 3, timeout_s);
	if (sigfd < 0)
		out_warn(&out_std, -errno, "signalfd");
	ret = pid < 0 ? EXIT_SETUP : wait_passing_signals(pid, sigfd);
	if (pid >= 0 && ret == 124 && timeout_s > 0 && now_ms() - t0 >= (int64_t)(timeout_s * 1000))
		fprintf(stderr, "punchlab: %s: killed after %g s (--timeout)\n", argv[i + 3],
			timeout_s);
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
