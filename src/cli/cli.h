/* One entry point per verb (src/cli/<verb>.c); main.c's table routes to them. Each returns the
 * process exit code: 0 success, 1 a finding (a check or test failed), 2 usage or setup error. */
#pragma once

#define EXIT_FINDING 1
#define EXIT_SETUP 2

int lab_main(int argc, char **argv);
int clean_main(int argc, char **argv);
int exec_main(int argc, char **argv);
int bench_main(int argc, char **argv);
int bench_connect_main(int argc, char **argv); /* bench connect (cli/bench_connect.c) */
int matrix_main(int argc, char **argv);
int classify_main(int argc, char **argv);
int engines_main(int argc, char **argv);
int lifetime_main(int argc, char **argv);
int events_main(int argc, char **argv);
int run_main(int argc, char **argv);
int profile_main(int argc, char **argv);

/* Checks shared by the verbs that build labs: root, network namespaces, nf_tables. Prints one
 * sentence naming what is missing and how to fix it; returns 0 or EXIT_SETUP. Run by an ordinary
 * user it enters a user namespace first (preflight_enter(NULL, false)): rootless. */
int preflight_check(void);

/* main's entry for the verbs that build or touch labs (docs/rootless.md). As root:
 * preflight_check()'s kernel checks. As a user: with `lab`, join that kept lab's keeper (its
 * user and mount namespaces) when it has one, else enter a new user namespace; needs_state
 * first asks for $XDG_RUNTIME_DIR (where kept labs' records live). Must run while the process
 * is single-threaded. Returns 0 or EXIT_SETUP, one sentence printed. */
#include <stdbool.h>
int preflight_enter(const char *lab, bool needs_state);

/* The kept lab a verb's arguments name (argv[0] is the verb), or NULL: for main's table. */
const char *preflight_lab_of_exec(int argc, char **argv);
const char *preflight_lab_of_events(int argc, char **argv);

/* Load a topology by name or path, printing FILE:LINE errors. Returns 0 or EXIT_SETUP. */
struct topo;
int cli_load_topology(const char *arg, struct topo *t);

/* The shipped profiles (every *.nft of <data>/nat-profiles), sorted, at most max of them into
 * paths; IPv6 ones (header "family: ipv6") left out, each named on stderr. Returns the count,
 * or -errno (the directory named on stderr). */
#define CLI_PATH_LEN 1024
int cli_shipped_profiles(char paths[][CLI_PATH_LEN], int max);
/* The same with the IPv6 ones (classify measures both families). */
int cli_shipped_profiles_any_family(char paths[][CLI_PATH_LEN], int max);
/* punchlab bench engines (src/cli/bench_engines.c): n cells of overhead per installed shipped
 * engine; with nebula, its five-profile UDP matrix at the default jobs and at --jobs 1. */
#include <stdbool.h>
int bench_engines(const struct topo *t, int n, bool nebula);

/* punchlab bench impair (bench_impair.c): impairment accuracy over `seconds` per rate, and the
 * per-cell cost over n labs. Returns an exit code. */
int bench_impair_main(const struct topo *t, int n, double seconds);

/* punchlab bench rootless (bench_rootless.c): n cells' lab up + down as root and as uid in a
 * user namespace, alternating blocks; medians and the ratio. Returns an exit code. */
#include <sys/types.h>
int bench_rootless_main(const struct topo *t, int n, uid_t uid);
int merge_main(int argc, char **argv);
/* Repro bundles (docs/bundle.md): bundle.c writes one, replay.c checks and reruns it. */
int bundle_main(int argc, char **argv);
int replay_main(int argc, char **argv);

/* The default report directory "results/<prefix><UTC timestamp>" into buf (creates results/).
 * Returns 0 or -errno. */
#include <stddef.h>
int cli_default_out_dir(char *buf, size_t len, const char *prefix);
