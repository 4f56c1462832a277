/* A program stopped right after lab_spawn() ends by its SIGTERM, not by the SIGKILL after the
 * grace period (issue 12: found when a lab with forwarders was torn down at once, as
 * `punchlab bench impair` does, and every lab down took the full grace period).
 *
 * The cause: the init of a PID namespace ignores a signal it has no handler for, also one from
 * the parent namespace (only SIGKILL and SIGSTOP are forced), and it was not dropped but lost:
 * a SIGTERM sent before the init had blocked its signals vanished. Spawned with them already
 * blocked, it is queued until the init takes it.
 *
 * 50 times: lab_spawn(sleep 100), at once lab_stop() with a 3 s grace; the status must be the
 * init's exit 143 (128 + SIGTERM passed on to the program), never a SIGKILL. Exit 0 pass,
 * 1 fail, 77 not root. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/topo.h"

int main(void)
{
	static struct topo t;
	struct diag_list dl = { .count = 0 };
	struct lab *lab = NULL;
	char *argv[] = { "sleep", "100", NULL };
	const struct lab_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	int bad = 0;

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (topo_parse_file(&t, PUNCHLAB_SOURCE_DIR "/topologies/two-nats.yaml", &dl) < 0 ||
	    lab_up(&t, NULL, &lab, &dl) < 0) {
		diag_print(&dl, &(struct out){ stdout, stderr });
		return 1;
	}
	for (int i = 0; i < 50; i++) {
		int status = 0, h = lab_spawn(lab, 0, argv, &o);

		if (h < 0 || lab_stop(lab, h, 3000, &status) < 0) {
			fprintf(stderr, "FAIL: spawn or stop %d failed\n", i);
			bad++;
			break;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 128 + 15) {
			fprintf(stderr, "FAIL: stop %d: wait status %#x, expected exit 143 (the "
				"program's SIGTERM), not the SIGKILL after the grace period\n", i,
				status);
			bad++;
		}
	}
	lab_down(lab);
	printf("%s: %d of 50 stops were SIGKILLs\n", bad ? "FAIL" : "ok", bad);
	return bad ? 1 : 0;
}
