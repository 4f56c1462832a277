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
#include <pthread.h>
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
#include "lab/proc.h"

#define INIT_STACK_SIZE (256 * 1024)

/* The init and the program's process run on the stack given to clone(), which AddressSanitizer
 * never registered: before every call that does not return (_exit, exec) ASan tried to clean a
 * stack it could not find, and wrote "WARNING: ASan is ignoring requested
 * __asan_handle_no_return" to the program's stderr, i.e. into the cell's logs, where tests read
 * the program's own words (ci/test --sanitize). Nothing here touches the heap to check. */
#define PROC_NO_ASAN __attribute__((no_sanitize("address")))
#define EXIT_DEADLINE 124  /* as timeout(1) */
#define EXIT_EXEC_FAILED 127

struct init_args {
	int netns;
	int parent_pidfd;
	char *const *argv;
	int fds[3]; /* stdin, stdout, stderr for the program; -1 = keep */
	int timeout_ms;
	bool foreground; /* see proc.h */
	bool detach;     /* lab_spawn_opts.detach: no parent death signal */
};

static int pidfd_open_self(void)
{
	return (int)syscall(SYS_pidfd_open, getpid(), 0);
}

/* write(2) only: no stdio between clone() and exec (see the top of this file) */
PROC_NO_ASAN static void say(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		return;
}

PROC_NO_ASAN static void program_exec(const struct init_args *a)
{
	sigset_t none;

	if (!a->foreground)
		setpgid(0, 0);
	/* The default mask, not the caller's: a caller that reads its stop signals from a
	 * signalfd has them blocked, and a program inheriting that would ignore SIGTERM. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(a->argv[0], a->argv);
	say("punchlab: cannot run ");
	say(a->argv[0]);
	say(errno == ENOENT ? ": no such program\n" : ": not executable\n");
	_exit(EXIT_EXEC_FAILED);
}

PROC_NO_ASAN static int init_main(void *arg)
{
	const struct init_args *a = arg;
	struct pollfd pfd = { .fd = a->parent_pidfd, .events = POLLIN };
	sigset_t mask;
	pid_t prog;

	if (!a->detach) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The parent may have died before prctl() took effect: its pidfd is then
		 * readable. */
		if (a->parent_pidfd >= 0 && poll(&pfd, 1, 0) != 0)
			_exit(EXIT_DEADLINE);
	}
	if (setns(a->netns, CLONE_NEWNET) < 0) {
		say("punchlab: cannot enter the node's network namespace\n");
		_exit(EXIT_EXEC_FAILED);
	}
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
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGALRM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* Not fork(): glibc's fork() takes its malloc and stdio locks for the atfork handlers,
	 * and this process is a copy of a multi-threaded one in which another thread may have
	 * held them at clone() time: they would never be released here. The raw system call
	 * copies the process and runs no user-space handlers. */
	prog = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (prog < 0)
		_exit(EXIT_EXEC_FAILED);
	if (prog == 0)
		program_exec(a);
	if (a->timeout_ms > 0) {
		struct itimerval it = { .it_value = { .tv_sec = a->timeout_ms / 1000,
						      .tv_usec = (a->timeout_ms % 1000) * 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
	}
	for (int guard = 0; guard < 1000000; guard++) {
		siginfo_t si;
		int sig = sigwaitinfo(&mask, &si), status;
		pid_t w;

		if (sig == SIGALRM)
			_exit(EXIT_DEADLINE); /* PID 1 leaving kills the whole namespace */
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			/* a foreground program got the terminal's own signals already */
			if (!a->foreground || si.si_code != SI_KERNEL)
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

pid_t proc_spawn(int netns, char *const argv[], const struct lab_spawn_opts *opts,
		 bool foreground)
{
	struct init_args a = { .netns = netns, .argv = argv, .fds = { -1, -1, -1 },
			       .foreground = foreground };
	sigset_t block, old;
	char *stack;
	pid_t pid;

	if (netns < 0 || !argv || !argv[0])
		return -EINVAL;
	if (opts) {
		a.fds[0] = opts->stdin_fd;
		a.fds[1] = opts->stdout_fd;
		a.fds[2] = opts->stderr_fd;
		a.timeout_ms = opts->timeout_ms;
		a.detach = opts->detach;
	}
	a.parent_pidfd = pidfd_open_self();
	/* The init is born with the signals it waits for already blocked. The init of a PID
	 * namespace ignores a signal it has no handler for, even one from the parent namespace
	 * (only SIGKILL and SIGSTOP are forced): a SIGTERM sent before init_main() blocked it
	 * would be lost, and a lab torn down right after it was built would wait out every
	 * program's grace period (tests/lab/spawn_stop.c). A blocked signal is queued instead. */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	stack = mmap(NULL, INIT_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		pid = -errno;
	} else {
		pid = clone(init_main, stack + INIT_STACK_SIZE, CLONE_NEWPID | SIGCHLD, &a);
		if (pid < 0)
			pid = -errno;
		/* The child has its own copy of the stack mapping (no CLONE_VM). */
		munmap(stack, INIT_STACK_SIZE);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (a.parent_pidfd >= 0)
		close(a.parent_pidfd);
	return pid;
}

int lab_child_add(struct lab *lab, pid_t pid)
{
	struct lab_child *c;

	if (lab->nchildren >= LAB_MAX_CHILDREN)
		return -ENOSPC;
	c = &lab->children[lab->nchildren];
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	c->reaped = false;
	c->status = 0;
	return lab->nchildren++;
}

/* Children killed and not waited for (proc_reap_later), process-wide: labs are built and torn
 * down in many threads. */
static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t reap_pids[4 * LAB_MAX_CHILDREN];
static int reap_n;

void proc_reap_later_collect(void)
{
	pthread_mutex_lock(&reap_lock);
	for (int i = 0; i < reap_n;)
		if (waitpid(reap_pids[i], NULL, WNOHANG) != 0) /* reaped, or not ours any more */
			reap_pids[i] = reap_pids[--reap_n];
		else
			i++;
	pthread_mutex_unlock(&reap_lock);
}

void proc_reap_later(struct lab_child *c)
{
	bool queued = false;

	kill(c->pid, SIGKILL); /* the kernel kills the rest of its PID namespace */
	pthread_mutex_lock(&reap_lock);
	if (reap_n < (int)(sizeof(reap_pids) / sizeof(reap_pids[0]))) {
		reap_pids[reap_n++] = c->pid;
		queued = true;
	}
	pthread_mutex_unlock(&reap_lock);
	if (!queued)
		waitpid(c->pid, NULL, 0); /* the list is full: wait for this one */
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->reaped = true; /* as far as the lab is concerned */
	c->status = SIGKILL;
}

int lab_spawn(struct lab *lab, int node, char *const argv[], const struct lab_spawn_opts *opts)
{
	pid_t pid;
	int h;

	if (node < 0 || node >= lab->topo.nnodes || !argv || !argv[0])
		return -EINVAL;
	if (lab->nchildren >= LAB_MAX_CHILDREN)
		return -ENOSPC;
	pid = proc_spawn(lab->nodes[node].netns, argv, opts, false);
	if (pid < 0)
		return (int)pid;
	h = lab_child_add(lab, pid);
	if (h < 0) { /* cannot happen: checked above, and this thread alone adds */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return h;
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
