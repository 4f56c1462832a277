/* Rootless: punchlab run by an ordinary user builds its labs inside a user namespace of its own
 * (docs/rootless.md). The user is root inside it, with every capability over the namespaces it
 * creates there (network, mount, PID), and no more than the user outside it.
 *
 * A kept lab outlives the command through a keeper: a process that stays in the lab's user and
 * mount namespaces (its pinned network namespaces are bind mounts that exist only in that mount
 * namespace). `exec` and `events` join the keeper's namespaces; `lab down` and `clean` kill it. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* True once this process entered a user namespace as an ordinary user (userns_unshare() or
 * userns_join()): kept labs then live under $XDG_RUNTIME_DIR, not /run. */
bool userns_rootless(void);

/* Enter a new user namespace (the caller's uid and gid mapped to 0, setgroups denied), a new
 * mount namespace whose mounts propagate nowhere, and a new network namespace (only lo, up) as
 * the orchestrator's home. The caller must be single-threaded. Returns 0
 * or -errno: -EPERM (or -ENOSPC, -EINVAL) where the kernel or a sandbox forbids it. The test seam
 * PUNCHLAB_TEST_NO_USERNS=1 makes it fail with -EPERM, as in a chroot or under a sysctl that
 * forbids unprivileged user namespaces (a test must not change the machine's sysctls). */
int userns_unshare(void);

/* Join the user, mount and network namespaces of the process pidfd refers to (a keeper), keeping the
 * working directory by name. The caller must be single-threaded and own the namespace (same
 * uid). Returns 0 or -errno. */
int userns_join(int pidfd);

/* Fork a keeper: a process in the caller's user, mount and network namespaces that holds them
 * (and so the lab's pins) until it is killed. It leaves the caller's session and closes every
 * file descriptor, so a shell's $(...) around the caller does not wait for it. It stays only
 * once the caller confirms, by writing one byte to *confirm_fd (then closing it), that a record
 * names it; closing *confirm_fd without writing, or dying, ends it. Async-signal-safe in the
 * child, so callable from a multithreaded process. Returns its pid (and *confirm_fd, O_CLOEXEC,
 * the caller's to close) or -errno. */
pid_t userns_keeper_spawn(int *confirm_fd);
