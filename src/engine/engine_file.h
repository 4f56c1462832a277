/* Engine files: what a program needs to run in a cell, described in engines/NAME.yaml
 * (docs/engine-format.md), so that any peer-to-peer program joins the matrix without C.
 *
 * The model is plain data with fixed bounds (a cell copies nothing from it, it only reads it).
 * Command lines are templates: "{{name}}" is a variable the harness fills in per cell
 * (template.h); every variable a file names is checked when the file is parsed. */
#pragma once
#include <stdbool.h>

#include "base/out.h"
#include "base/outcome.h"
#include "lab/topo.h"

#define EF_NAME_MAX 32
#define EF_TEXT_MAX 256
#define EF_MAX_ROLES 6
#define EF_MAX_ARGS 48
#define EF_MAX_CAPTURES 4
#define EF_MAX_TECHNIQUES 8
#define EF_MAX_PACKAGES 4
#define EF_MAX_FILES 4
#define EF_FILE_MAX 2048
#define EF_MAX_SETUP 6
#define EF_MAX_SETUP_ARGS 24
#define EF_MAX_VARS 8

/* What a role waits for, or what ends a peer: one of these. */
enum ef_match_kind {
	EF_MATCH_NONE,   /* started is ready (readiness); never for an outcome */
	EF_MATCH_LINE,   /* an output line matching a POSIX extended regex */
	EF_MATCH_JSON,   /* an output line that is a JSON object whose member KEY is VALUE */
	EF_MATCH_PORT,   /* readiness only: a UDP or TCP port bound (TCP: listening) in its node */
};

struct ef_match {
	enum ef_match_kind kind;
	char pattern[EF_TEXT_MAX];  /* LINE: the regex (a template) */
	char key[EF_NAME_MAX];      /* JSON: the member */
	char value[EF_TEXT_MAX];    /* JSON: its string value */
	bool tcp;                   /* PORT: tcp (listening) or udp (bound) */
	char port[EF_NAME_MAX];     /* PORT: a template ("{{port}}") */
	int deadline_ms;            /* readiness: how long the role gets; 0 for outcomes */
	int line;
};

/* A value another role's command may use: {{capture.ROLE.NAME}}. */
struct ef_capture {
	char name[EF_NAME_MAX];
	char regex[EF_TEXT_MAX];    /* its first group (or whole match) is the value */
	char json[EF_NAME_MAX];     /* or: this member of the first JSON line that has it */
	/* late: printed after the role is ready (readiness does not wait for it); only stdin:
	 * templates may name it, and they wait for it */
	bool late;
	int line;
};

/* One command-line argument. Arguments with the same group > 0 form an optional group: it is
 * left out as a whole when one of its variables has no value in this cell (a second rendezvous
 * address the topology does not give, say). */
struct ef_arg {
	char text[EF_TEXT_MAX];
	int group;
	int line;
};

/* What the harness writes to a role's standard input, then closes it: a template that may name
 * captures of any role, also of one started after this one (two peers trading ICE candidates),
 * written as soon as every variable it names has a value; none by deadline_ms from the role's
 * start makes the run `error`, naming the missing one. text[0] == '\0': no input. */
struct ef_stdin {
	char text[EF_TEXT_MAX];
	int deadline_ms;
	int line;
};

struct ef_role {
	char name[EF_NAME_MAX];     /* peer-a, peer-b, or a server's name (rendezvous, relay...) */
	enum topo_role node;        /* the topology role whose node runs it */
	struct ef_arg args[EF_MAX_ARGS];
	int nargs;
	struct ef_match ready;
	struct ef_capture captures[EF_MAX_CAPTURES];
	int ncaptures;
	struct ef_stdin input;      /* stdin: */
	bool peer;                  /* peer-a or peer-b */
	int line;
};

/* A config file templated into the cell's directory before the roles start. */
struct ef_file {
	char name[EF_NAME_MAX];     /* file name inside the cell directory */
	char text[EF_FILE_MAX];     /* its content (a template) */
	int line;
};

/* A setup command: run once per cell run, after the files are written and before any role
 * starts (keys and certificates into the cell directory), to its end, within its deadline. */
struct ef_setup {
	struct ef_arg args[EF_MAX_SETUP_ARGS];
	int nargs;
	bool harness;               /* on the host, outside the lab (no node) */
	enum topo_role node;        /* else in this topology role's node (default rendezvous) */
	int deadline_ms;
	int line;
};

/* An engine's own per-node value, NODE.NAME (peer-a.overlay: 10.42.0.1): a template, so a peer
 * reaches it as self.NAME / other.NAME like the lab's addresses. */
struct ef_var {
	char name[EF_NAME_MAX];     /* NODE.NAME as written */
	char text[EF_TEXT_MAX];
	int line;
};

/* The outcome of daemons that never exit: a command run in a peer's node again and again
 * (ping over the overlay) until it exits 0 (the engine says direct, or relayed when `relayed`
 * matches a peer's output) or the technique's deadline passes (failed). */
struct ef_probe {
	struct ef_arg args[EF_MAX_SETUP_ARGS];
	int nargs;
	enum topo_role node;        /* ROLE_PEER_A (default) or ROLE_PEER_B: whose command it is */
	int interval_ms;            /* between the starts of two tries */
	struct ef_match relayed;    /* LINE on either peer's output: the path is relayed */
	/* or the other way round: LINE on either peer's output: the path is direct; a probe
	 * that succeeds without it (by the deadline) means the engine relays (its data goes
	 * through its server until it has a direct path, like n2n) */
	struct ef_match direct;
	int line;
};

/* How a peer's output says what happened. */
enum ef_outcome_kind {
	EF_OUTCOME_JSON,  /* the last line that is a JSON object with KEY = VALUE carries members
			   * outcome (direct|relayed|failed), phase, reason, technique,
			   * time_to_connect_ms, ttfb_ms, time_to_direct_ms, attempts, local,
			   * public, peer (punch's result) */
	EF_OUTCOME_LINE,  /* a line matching the pattern: the engine says `direct`; none by the
			   * technique's deadline: `failed` (for programs that never exit, like nc) */
	EF_OUTCOME_EXIT,  /* only the exit code map below */
	EF_OUTCOME_PROBE, /* a probe command (struct ef_probe) after both peers are ready */
};

struct ef_outcome {
	enum ef_outcome_kind kind;
	struct ef_match match;      /* JSON or LINE */
	struct ef_probe probe;      /* PROBE */
	/* exit code -> outcome; CELL_ERROR: not mapped. Applies to every kind when the output
	 * decided nothing. */
	enum cell_outcome exit_map[256];
	int line;
};

struct ef_technique {
	char name[EF_NAME_MAX];     /* the technique as cells name it (udp, tcp, auto...) */
	bool udp, tcp;              /* transports it works over */
	int deadline_ms;            /* the engine's own deadline in a zero-delay lab */
	int line;
};

/* Capabilities drive the theory for this engine (matrix/theory.h). */
enum ef_capability {
	EF_CAP_RENDEZVOUS = 1 << 0,     /* learns the other's public endpoint from a server */
	EF_CAP_PEER_REFLEXIVE = 1 << 1, /* answers a peer from a source it was not told of */
	EF_CAP_SIMULTANEOUS_OPEN = 1 << 2,
	EF_CAP_PORT_PREDICTION = 1 << 3,
	EF_CAP_BIRTHDAY = 1 << 4,
	EF_CAP_RELAY = 1 << 5,
	EF_CAP_IGNORES_ICMP = 1 << 6,   /* keeps going after an ICMP port unreachable */
	EF_CAP_RELAY_FALLBACK = 1 << 7, /* every technique relays through its server where no
					 * direct path is made (n2n's supernode) */
	EF_CAP_SINGLE_PROBE = 1 << 8,   /* each side sends one probe toward the other, A's first,
					 * and never repeats it (n2n's REGISTER) */
	EF_CAP_FRESH_PORT_DIALS = 1 << 9, /* its direct dials leave from a fresh ephemeral port,
					   * never the port it listens on and announces (js-libp2p
					   * over TCP): only a side without a NAT can be reached */
	EF_CAP_PORT_MAPPING = 1 << 10,  /* asks the router for a mapping of its socket (NAT-PMP,
					 * UPnP-IGD) and announces it (punch's portmap, auto) */
	EF_CAP_RELAY_TCP = 1 << 11,     /* reaches its relay over TCP (or TLS) on the rendezvous
					 * port too, whatever the cell's transport (ice's TURN) */
	EF_CAP_IPV6 = 1 << 12,          /* speaks IPv6: runs family 6 and dual cells, its command
					 * taking the family's variables (docs/engine-format.md) */
};

/* Devices of the machine an engine's programs open (needs:, engine_file_needs.c). */
enum ef_need {
	EF_NEED_TUN = 1 << 0,           /* /dev/net/tun: a TUN/TAP overlay (nebula, n2n) */
};

struct engine_file {
	char path[512];
	char name[EF_NAME_MAX];
	char description[EF_TEXT_MAX];
	char program[EF_TEXT_MAX];  /* a name (looked up next to punchlab, in the build tree, on
				     * PATH) or an absolute path */
	struct ef_arg version[8];   /* the command printing the version on its first line */
	int nversion;
	char packages[EF_MAX_PACKAGES][EF_NAME_MAX]; /* Debian packages it needs */
	int npackages;
	unsigned capabilities;      /* enum ef_capability bits */
	struct ef_technique techniques[EF_MAX_TECHNIQUES];
	int ntechniques;
	struct ef_file files[EF_MAX_FILES];
	int nfiles;
	struct ef_setup setup[EF_MAX_SETUP];
	int nsetup;
	struct ef_var vars[EF_MAX_VARS];
	int nvars;
	struct ef_role roles[EF_MAX_ROLES]; /* servers first (in file order), then peer-a, peer-b */
	int nroles;
	struct ef_outcome outcome;
	/* npm: { dir: DIR }: the engine's npm packages, installed by `npm ci` (ci/bootstrap.sh)
	 * from DIR/package-lock.json into DIR/node_modules; DIR is relative to the engine file's
	 * directory. Empty: none. engine_file_npm.c. */
	char npm_dir[EF_TEXT_MAX];
	int npm_line;
	/* jobs: N: cells at once when --jobs is not given (what the machine can start at once:
	 * a Node program costs about a second of CPU to start); 0: the matrix's default */
	int jobs;
	/* needs: [tun]: enum ef_need bits, checked before any cell runs (engine_needs_check) */
	unsigned needs;
	int needs_line;
};

/* Parse and check an engine file. Every mistake is added to dl as FILE:LINE: what is wrong,
 * what is expected. Returns 0, -EINVAL when dl holds errors, another -errno when the file cannot
 * be read (also in dl). */
int engine_file_parse(struct engine_file *e, const char *path, struct diag_list *dl);
/* The same from a buffer; name stands for the file in diagnostics. */
int engine_file_parse_buffer(struct engine_file *e, const char *name, const char *buf,
			     size_t len, struct diag_list *dl);

/* Find and parse an engine by name (engines/NAME.yaml under the data directory) or path.
 * Returns 0, -ENOENT (path[] holds where it looked), or -EINVAL (dl). */
int engine_file_load(struct engine_file *e, const char *ref, struct diag_list *dl);

/* The role by name, NULL when absent. */
const struct ef_role *engine_file_role(const struct engine_file *e, const char *name);
/* The technique by name offered over tcp or udp, NULL when the engine does not offer it. */
const struct ef_technique *engine_file_technique(const struct engine_file *e, const char *name,
						 bool tcp);
/* The engine's npm directory, absolute (the engine file's directory + npm: dir). 0, or -ENOENT
 * when the file declares no npm: (buf empty), -ENAMETOOLONG. */
int engine_npm_dir(const struct engine_file *e, char *buf, size_t len);
/* Whether `npm ci` installed the engine's npm packages: DIR/node_modules/.package-lock.json
 * exists and is no older than DIR/package-lock.json. 0 (also for an engine without npm:),
 * -ENOENT (never installed), -ESTALE (package-lock.json changed since). */
int engine_npm_installed(const struct engine_file *e);

/* Whether the user punchlab runs as (rootless: in its user namespace) can open read-write every
 * device the engine needs:. 0, or the -errno of the first that cannot be opened (-EACCES: a
 * mode 0600 /dev/net/tun seen by a user; -ENOENT: no such device) with why filled with one
 * sentence naming the engine, the device and what to do. Test seam: PUNCHLAB_TEST_DENY_DEVICE=
 * DEVICE makes that device fail with -EACCES. */
int engine_needs_check(const struct engine_file *e, char *why, size_t len);
/* The device of a need bit ("/dev/net/tun"), NULL when unknown. */
const char *engine_need_device(unsigned bit);

/* Capability bit by its file word ("peer-reflexive"), 0 when unknown; and its word. */
unsigned engine_capability_parse(const char *word);
const char *engine_capability_name(unsigned bit);
