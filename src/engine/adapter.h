/* The adapter: what the cell runner needs to run any engine from its file. It renders command
 * lines and config files from a cell's variables, checks readiness, and reads a peer's outcome;
 * the cell runner (matrix/cell_runner.c) owns the processes. No code path here is taken only by
 * one engine. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "engine/engine_file.h"
#include "engine/template.h"
#include "lab/topo.h"

struct lab;

#define ENGINE_MAX_ARGS EF_MAX_ARGS

/* A command line: argv points into buf. */
struct engine_argv {
	char *argv[ENGINE_MAX_ARGS + 1];
	char buf[4096];
};

/* What one peer reported. */
struct engine_peer_result {
	bool reported;             /* its output (or exit code) gave an outcome */
	enum cell_outcome outcome; /* direct / relayed / failed */
	char phase[32];            /* failed: the phase that failed */
	char reason[200];
	char technique[16];        /* the technique that connected (auto picks one) */
	double time_to_connect_ms; /* < 0 when none */
	double ttfb_ms;            /* first verified path of any kind; < 0: none or not said */
	double time_to_direct_ms;  /* < 0: no direct path or not said */
	int attempts;
	char local[64], public_ep[64], peer[64];
	/* the transport the path uses when the engine says so ("tcp", "udp"; "" when it does not):
	 * punch's auto over UDP falls back to TCP where UDP does not get through */
	char proto[8];
	/* the path's address family when the engine says so (punch: "family", 4 or 6), else 0 */
	int family;
};

/* The variables every role of a cell shares (docs/engine-format.md "Variables"): the program,
 * session, cell directory, transport, technique, its deadline, the rendezvous port, the address
 * family, every topology role's addresses in the lab and each NAT's public (WAN) address, from
 * the topology (pure: the lab gives nodes exactly these). The addresses follow the family:
 * NODE.addr, .addr.N, .public (and .host, .host.N: the address as written before ":port",
 * bracketed for IPv6) are IPv4 in families 4 and dual, IPv6 in family 6; dual cells add the
 * IPv6 ones as NODE.addr6, .addr6.N, .host6, .host6.N, .public6. Returns 0 or -E2BIG. */
struct engine_cell {
	const char *program;       /* the resolved program */
	const char *session;
	const char *dir;           /* the cell's directory (absolute) */
	const char *transport;     /* udp, tcp */
	const char *technique;
	int deadline_ms;
	int port;
	const char *family;        /* "4" (also NULL), "6" or "dual": {{family}} */
	/* the cell's lab, for what its profiles do to addresses ({{NODE.reach}}): NULL gives no
	 * reach variables */
	const struct lab *lab;
};
int engine_vars_cell(const struct engine_cell *c, const struct topo *t, struct tpl_vars *v);

/* The engine file's own NODE.NAME values (vars:), rendered from the cell's variables and added
 * to them. 0, or -ENOENT / -E2BIG with why filled. */
int engine_vars_engine(const struct engine_file *e, struct tpl_vars *v, char *why, size_t wlen);

/* The role's own view on top of the cell's: role, side and, for peers, self/other/self-nat/
 * other-nat.* aliases. v is modified in place (call it on a copy per role). 0 or -E2BIG. */
int engine_vars_role(const struct ef_role *r, struct tpl_vars *v);

/* Render the role's command line. An optional group with a variable without a value is left
 * out; any other missing variable is an error. Returns 0, or -ENOENT / -E2BIG / -EINVAL with
 * why filled. */
int engine_argv_render(const struct ef_arg *args, int nargs, const struct tpl_vars *v,
		       struct engine_argv *a, char *why, size_t wlen);

/* Write the engine's config files into dir, rendered. 0 or -errno (why filled). */
int engine_files_write(const struct engine_file *e, const struct tpl_vars *v, const char *dir,
		       char *why, size_t wlen);

/* Set in v (capture.ROLE.NAME) every capture of the role its output has by now. Returns whether
 * all but the late ones (late: true) have a value. */
bool engine_role_capture(const struct ef_role *r, const char *output, struct tpl_vars *v);

/* Whether the role is ready: its ready condition holds on output (LINE/JSON) or in its node
 * (PORT, through /proc/PID/net of its process) and all its captures but the late ones have a
 * value, which are set in v as capture.ROLE.NAME. */
bool engine_role_ready(const struct ef_role *r, const char *output, pid_t pid,
		       struct tpl_vars *v);
/* What is still missing for readiness, for the error reason. */
void engine_role_waiting_for(const struct ef_role *r, const char *output, pid_t pid,
			     const struct tpl_vars *v, char *buf, size_t len);

/* Whether a peer's output already decides its outcome (a LINE outcome that matched); JSON and
 * exit-code outcomes decide at exit. pattern: the peer's rendered outcome pattern. */
bool engine_peer_decided(const struct engine_file *e, const char *pattern, const char *output);

/* A peer's outcome from its output and, when it exited, its wait status (exited false: it was
 * stopped at the deadline). pattern: the peer's rendered outcome pattern (LINE). */
void engine_peer_result(const struct engine_file *e, const char *pattern, const char *output,
			bool exited, int status, struct engine_peer_result *r);

/* The program: `binary` when given, else the file's program: an absolute path as is, else next
 * to punchlab, in the build tree (src/NAME/NAME), then on PATH. 0 with the path in buf, or
 * -ENOENT (buf holds what was looked for). */
int engine_program_find(const struct engine_file *e, const char *binary, char *buf, size_t len);

/* The engine's version: the first line of its version command's output ("punch 0.1.0"), or the
 * file's name when it has none. 0 or -errno. */
int engine_version(const struct engine_file *e, const char *program, char *buf, size_t len);
