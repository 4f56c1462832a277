/* punchlab exec [--timeout S] LAB NODE -- CMD [ARGS...]
 *
 * Runs CMD inside a node of a kept lab with its exit status passed through. Without --timeout
 * it replaces this process (an interactive shell gets the terminal as usual); with it, CMD runs
 * in a child in its own process group, killed with the group when the time is up (exit 124).
 * SIGINT, SIGTERM and SIGHUP sent to punchlab are passed on to that group: the child's own
 * group does not get the terminal's Ctrl-C, and dying without passing them on would leave CMD
 * running in the lab. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
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
#include "lab/registry.h"

static const char exec_usage[] =
	"usage: punchlab exec [--timeout SECONDS] LAB NODE -- CMD [ARGS...]\n"
	"  run CMD inside NODE of the kept lab LAB (see punchlab lab list); the exit status is\n"
	"  CMD's. No deadline unless --timeout is given (then exit 124 when it runs out).\n";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_with_timeout(char **cmd, double timeout_s)
{
	int64_t deadline = now_ms() + (int64_t)(timeout_s * 1000);
	sigset_t fwd, old;
	pid_t pid;
	int pidfd, sigfd, status = 0, r = -1;

	/* blocked before the fork, so none is lost in between; read from a signalfd below */
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	pid = fork();
	if (pid < 0) {
		out_warn(&out_std, -errno, "fork");
		sigprocmask(SIG_SETMASK, &old, NULL);
		return EXIT_SETUP;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		execvp(cmd[0], cmd);
		fprintf(stderr, "punchlab: exec %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	sigfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	if (pidfd >= 0) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN },
				       { .fd = sigfd, .events = POLLIN } };
		for (;;) {
			int64_t left = deadline - now_ms();

			r = left > 0 ? poll(p, sigfd >= 0 ? 2 : 1, (int)left) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0 && !(p[0].revents & POLLIN) && (p[1].revents & POLLIN)) {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) == sizeof(si))
					kill(-pid, (int)si.ssi_signo);
				continue;          /* CMD decides what the signal means */
			}
			break;
		}
		close(pidfd);
		if (r == 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "punchlab: %s: killed after %g s (--timeout)\n", cmd[0], timeout_s);
			r = 124;
			goto out;
		}
	}
	if (pidfd < 0)
		sigprocmask(SIG_SETMASK, &old, NULL);   /* no deadline, nothing to pass on */
	r = waitpid(pid, &status, 0) < 0 ? EXIT_SETUP :
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

int exec_main(int argc, char **argv)
{
	double timeout_s = 0;
	struct registry_record r;
	const char *lab, *node;
	char pin[300];
	int i = 1, fd, ret;

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
	ret = registry_read(lab, &r);
	if (ret < 0) {
		out_warnx(&out_std, "no kept lab named \"%s\" (punchlab lab list shows them)", lab);
		return EXIT_SETUP;
	}
	pin[0] = '\0';
	for (int k = 0; k < r.nnodes; k++)
		if (strcmp(r.node[k], node) == 0)
			snprintf(pin, sizeof(pin), "%s", r.pinned[k]);
	if (!pin[0]) {
		out_warnx(&out_std, "lab %s has no node \"%s\"", lab, node);
		return EXIT_SETUP;
	}
	fd = open(pin, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		out_warn(&out_std, -errno, "enter %s", pin);
		return EXIT_SETUP;
	}
	close(fd);
	if (timeout_s > 0)
		return run_with_timeout(argv + i + 3, timeout_s);
	execvp(argv[i + 3], argv + i + 3);
	out_warn(&out_std, -errno, "exec %s", argv[i + 3]);
	return 127;
}
