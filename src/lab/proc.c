/* Running programs inside nodes.
 *
 * Each program gets a small init: a process cloned into a new PID namespace (so it is PID 1
 * there) with PR_SET_PDEATHSIG = SIGKILL. The init enters the node's network namespace, forks
 * the program, forwards SIGTERM/SIGINT to it, enforces its deadline and exits with its status.
 * When the init exits or is killed, the kernel kills everything left in its PID namespace:
 * grandchildren and daemons included. When the thread that spawned it dies (the cell ends, or
 * the orchestrator is killed with -9), the parent death signal kills the init (BRIEF.md: it
 * fires on the exit of the forking *thread*, so spawn from a thread that lives as long as the
 * cell).
 *
 * The init runs between clone() and exit without calling malloc or stdio: the parent may have
 * other threads holding their locks. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab_internal.h"

#define INIT_STACK_SIZE (256 * 1024)
#define EXIT_DEADLINE 124  /* as timeout(1) */
#define EXIT_EXEC_FAILED 127

struct init_args {
	int netns;
	int parent_pidfd;
	char *const *argv;
	int fds[3]; /* stdin, stdout, stderr for the program; -1 = keep */
	int timeout_ms;
};

static int pidfd_open_self(void)
{
	return (int)syscall(SYS_pidfd_open, getpid(), 0);
}

static void program_exec(const struct init_args *a, const sigset_t *old)
{
	setpgid(0, 0);
	sigprocmask(SIG_SETMASK, old, NULL);
	execvp(a->argv[0], a->argv);
	_exit(EXIT_EXEC_FAILED);
}

static int init_main(void *arg)
{
	const struct init_args *a = arg;
	struct pollfd pfd = { .fd = a->parent_pidfd, .events = POLLIN };
	sigset_t mask, old;
	pid_t prog;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The parent may have died before prctl() took effect: its pidfd is then readable. */
	if (a->parent_pidfd >= 0 && poll(&pfd, 1, 0) != 0)
		_exit(EXIT_DEADLINE);
	if (setns(a->netns, CLONE_NEWNET) < 0)
		_exit(EXIT_EXEC_FAILED);
	for (int i = 0; i < 3; i++)
		if (a->fds[i] >= 0 && dup2(a->fds[i], i) < 0)
			_exit(EXIT_EXEC_FAILED);
	/* Nothing of the orchestrator (other labs' namespace fds, sockets) stays open in here:
	 * an inherited namespace fd would keep another lab alive. */
	syscall(SYS_close_range, 3, ~0U, 0);

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGALRM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	/* Not fork(): glibc's fork() takes its malloc and stdio locks for the atfork handlers,
	 * and this process is a copy of a multi-threaded one in which another thread may have
	 * held them at clone() time: they would never be released here. The raw system call
	 * copies the process and runs no user-space handlers. */
	prog = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (prog < 0)
		_exit(EXIT_EXEC_FAILED);
	if (prog == 0)
		program_exec(a, &old);
	if (a->timeout_ms > 0) {
		struct itimerval it = { .it_value = { .tv_sec = a->timeout_ms / 1000,
						      .tv_usec = (a->timeout_ms % 1000) * 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
	}
	for (int guard = 0; guard < 1000000; guard++) {
		int sig = sigwaitinfo(&mask, NULL), status;
		pid_t w;

		if (sig == SIGALRM)
			_exit(EXIT_DEADLINE); /* PID 1 leaving kills the whole namespace */
		if (sig == SIGTERM || sig == SIGINT) {
			kill(prog, sig);
			continue;
		}
		/* SIGCHLD: reap everything (orphans re-parent to us); report the program's end. */
		while ((w = waitpid(-1, &status, WNOHANG)) > 0)
			if (w == prog)
				_exit(WIFEXITED(status) ? WEXITSTATUS(status)
							: 128 + WTERMSIG(status));
	}
	_exit(EXIT_DEADLINE);
}

int lab_spawn(struct lab *lab, int node, char *const argv[], const struct lab_spawn_opts *opts)
{
	struct init_args a = { .argv = argv, .fds = { -1, -1, -1 } };
	struct lab_child *c;
	char *stack;
	pid_t pid;
	int ret;

	if (node < 0 || node >= lab->topo.nnodes || !argv || !argv[0])
		return -EINVAL;
	if (lab->nchildren >= LAB_MAX_CHILDREN)
		return -ENOSPC;
	a.netns = lab->nodes[node].netns;
	if (opts) {
		a.fds[0] = opts->stdin_fd;
		a.fds[1] = opts->stdout_fd;
		a.fds[2] = opts->stderr_fd;
		a.timeout_ms = opts->timeout_ms;
	}
	a.parent_pidfd = pidfd_open_self();
	stack = mmap(NULL, INIT_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	pid = clone(init_main, stack + INIT_STACK_SIZE, CLONE_NEWPID | SIGCHLD, &a);
	ret = pid < 0 ? -errno : 0;
	/* The child has its own copy of the stack mapping (no CLONE_VM). */
	munmap(stack, INIT_STACK_SIZE);
	if (ret < 0)
		goto out;
	c = &lab->children[lab->nchildren];
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	c->reaped = false;
	c->status = 0;
	ret = lab->nchildren++;
out:
	if (a.parent_pidfd >= 0)
		close(a.parent_pidfd);
	return ret;
}

static struct lab_child *child_of(struct lab *lab, int handle)
{
	return (handle >= 0 && handle < lab->nchildren) ? &lab->children[handle] : NULL;
}

pid_t lab_spawn_pid(const struct lab *lab, int handle)
{
	return (handle >= 0 && handle < lab->nchildren) ? lab->children[handle].pid : -1;
}

static int child_reap(struct lab_child *c, int *status)
{
	if (!c->reaped) {
		if (waitpid(c->pid, &c->status, 0) < 0)
			return -errno;
		c->reaped = true;
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd = -1;
	}
	if (status)
		*status = c->status;
	return 0;
}

int lab_wait(struct lab *lab, int handle, int timeout_ms, int *status)
{
	struct lab_child *c = child_of(lab, handle);
	struct pollfd pfd;
	int r;

	if (!c)
		return -EINVAL;
	if (c->reaped || c->pidfd < 0)
		return child_reap(c, status);
	pfd = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return child_reap(c, status);
}

int lab_stop(struct lab *lab, int handle, int grace_ms, int *status)
{
	struct lab_child *c = child_of(lab, handle);
	int ret;

	if (!c)
		return -EINVAL;
	if (c->reaped)
		return child_reap(c, status);
	kill(c->pid, SIGTERM); /* the init forwards it to the program */
	ret = lab_wait(lab, handle, grace_ms, status);
	if (ret == -ETIMEDOUT) {
		kill(c->pid, SIGKILL); /* and the kernel kills the rest of its namespace */
		ret = child_reap(c, status);
	}
	return ret;
}
