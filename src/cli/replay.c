/* punchlab replay: check a repro bundle, show what it would run, and with --trust rerun its
 * cell from the bundled files and say whether the outcome matches (docs/bundle.md).
 *
 * Everything is verified in memory before anything reaches the disk (bundle_read): a bad
 * bundle leaves nothing behind. With --trust it is extracted into a fresh directory under
 * $TMPDIR, the cell is rerun by this punchlab's own `matrix` (never a shell) with
 * PUNCHLAB_DATA_DIR pointing into the bundle, so every shipped name the cell id uses resolves
 * to the bundled file, and the directory is removed afterwards, also when the run fails or is
 * interrupted. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/paths.h"
#include "bundle/bundle.h"
#include "bundle/command.h"
#include "cli/cli.h"
#include "config.h"
#include "engine/adapter.h"
#include "engine/engine_file.h"
#include "matrix/cell.h"
#include "matrix/results_json_read.h"

static const char replay_usage[] =
	"usage: punchlab replay BUNDLE [--trust]\n"
	"\n"
	"Check a repro bundle (punchlab bundle): its format version, safe paths, sizes and every\n"
	"file's SHA-256. Without --trust, show what rerunning it would run as root (the command,\n"
	"the NAT rulesets, the engine file's commands) and exit 2. With --trust, extract it into a\n"
	"temporary directory (removed afterwards), rerun the cell with the bundled files, and say\n"
	"whether the outcome matches and which versions differ. The engine's program is not in\n"
	"the bundle: replay names the version the cell ran with and the one installed here.\n"
	"\n"
	"  --trust        run it (needs root)\n"
	"  -o, --out DIR  keep the rerun's report (matrix.json, logs) in DIR; without it the\n"
	"                 report goes with the temporary directory\n"
	"\n"
	"Exit: 0 the outcome matches, 1 it differs, 2 a bad bundle, no --trust, or the cell could\n"
	"not be rerun.\n";

/* Where a rerun's files are: "<dir>" in the preview, the temporary directory when run. */
struct plan {
	struct command_words argv;    /* what runs: our punchlab, then matrix and its options */
	char notes[4][300];           /* options of the original left out, and why */
	int nnotes;
	char data_dir[PATH_MAX];
	char report_dir[PATH_MAX];
};

static void plan_note(struct plan *p, const char *fmt, const char *opt, const char *arg)
{
	if (p->nnotes < 4)
		snprintf(p->notes[p->nnotes++], sizeof(p->notes[0]), fmt, opt, arg);
}

/* The bundled file standing for a reference the original run named by path; shipped names
 * stay (PUNCHLAB_DATA_DIR resolves them into the bundle). */
static int ref_rewrite(const struct bundle_manifest *m, const char *kind, const char *root,
		       char *ref, size_t len, char *why, size_t wlen)
{
	const struct bundle_file *f;

	if (!ref[0] || !cell_ref_is_path(ref))
		return 0;
	f = manifest_file(m, kind, ref);
	if (!f) {
		snprintf(why, wlen, "the command names the %s %s, which the bundle does not hold",
			 kind, ref);
		return -EINVAL;
	}
	if ((size_t)snprintf(ref, len, "%s/%s", root, f->path) >= len) {
		snprintf(why, wlen, "the path %s/%s is too long", root, f->path);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The bundle's cell, its path references pointing into root. */
static int cell_rewrite(const struct bundle_manifest *m, const char *arg, const char *root,
			char *out, size_t len, char *why, size_t wlen)
{
	struct cell_spec s;
	int ret;

	if (cell_id_parse_msg(arg, &s, why, wlen) < 0)
		return -EINVAL;
	if (strcmp(s.id, m->cell) != 0) {
		snprintf(why, wlen, "the command reruns %s, but the bundle is of %s", s.id, m->cell);
		return -EINVAL;
	}
	if ((ret = ref_rewrite(m, "profile", root, s.profile_a, sizeof(s.profile_a), why, wlen)) ||
	    (ret = ref_rewrite(m, "profile", root, s.profile_b, sizeof(s.profile_b), why, wlen)) ||
	    (ret = ref_rewrite(m, "engine", root, s.engine, sizeof(s.engine), why, wlen)) ||
	    (ret = ref_rewrite(m, strcmp(s.engine_b, s.engine) ? "engine-b" : "engine", root,
			       s.engine_b, sizeof(s.engine_b), why, wlen)) ||
	    (ret = ref_rewrite(m, "impair", root, s.impair, sizeof(s.impair), why, wlen)))
		return ret;
	if (cell_spec_set_id(&s) < 0) {
		snprintf(why, wlen, "the cell id with the bundle's paths is too long");
		return -ENAMETOOLONG;
	}
	snprintf(out, len, "%s", s.id);
	return 0;
}

/* Options of `punchlab matrix` whose argument replay replaces or leaves out. */
enum opt_action { KEEP, CELL, TOPOLOGY, EXPECTATIONS, ENGINE, DROP_BINARY, DROP_BASELINE, DROP_OUT };
static const struct {
	const char *name;
	enum opt_action action;
} opt_table[] = {
	{ "--cell", CELL }, { "--topology", TOPOLOGY }, { "-t", TOPOLOGY },
	{ "--expectations", EXPECTATIONS }, { "--engine", ENGINE }, { "--engine-a", ENGINE },
	{ "--engine-b", ENGINE }, { "--engine-binary", DROP_BINARY },
	{ "--engine-binary-a", DROP_BINARY }, { "--engine-binary-b", DROP_BINARY },
	{ "--baseline", DROP_BASELINE }, { "--update-baseline", DROP_BASELINE },
	{ "--out", DROP_OUT }, { "-o", DROP_OUT },
};

/* Build what replay runs from the bundle's rerun line, its file references pointing into
 * root. self: this punchlab. 0, or -EINVAL with why. */
static int plan_build(const struct bundle_manifest *m, const char *self, const char *root,
		      const char *report_dir, struct plan *p, char *why, size_t wlen)
{
	struct command_words orig;
	int verb = -1, ret, cells = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->data_dir, sizeof(p->data_dir), "%s/data", root);
	if (report_dir)
		snprintf(p->report_dir, sizeof(p->report_dir), "%s", report_dir);
	else
		snprintf(p->report_dir, sizeof(p->report_dir), "%s/report", root);
	ret = command_split(m->rerun, &orig, why, wlen);
	if (ret) {
		char tmp[300];
		snprintf(tmp, sizeof(tmp), "%s", why);
		snprintf(why, wlen, "the bundle's command: %s", tmp);
		goto out;
	}
	for (int i = 0; i < orig.n && verb < 0; i++)
		if (strcmp(orig.w[i], "matrix") == 0)
			verb = i;
	if (verb < 0) {
		snprintf(why, wlen, "the bundle's command is not a punchlab matrix command: %s",
			 m->rerun);
		ret = -EINVAL;
		goto out;
	}
	ret = command_words_add(&p->argv, self);
	if (!ret)
		ret = command_words_add(&p->argv, "matrix");
	for (int i = verb + 1; i < orig.n && !ret; i++) {
		const char *w = orig.w[i], *eq = strchr(w, '='), *arg;
		enum opt_action act = KEEP;
		char name[64], val[2048];
		size_t nlen = eq && w[0] == '-' ? (size_t)(eq - w) : strlen(w);

		for (size_t k = 0; k < sizeof(opt_table) / sizeof(opt_table[0]); k++)
			if (strlen(opt_table[k].name) == nlen && strncmp(opt_table[k].name, w, nlen) == 0)
				act = opt_table[k].action;
		if (act == KEEP) {
			ret = command_words_add(&p->argv, w);
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)nlen, w);
		if (eq && w[0] == '-' && nlen < strlen(w)) {
			arg = eq + 1;
		} else if (i + 1 < orig.n) {
			arg = orig.w[++i];
		} else {
			snprintf(why, wlen, "the bundle's command ends with %s and no value", name);
			ret = -EINVAL;
			break;
		}
		snprintf(val, sizeof(val), "%s", arg);
		switch (act) {
		case CELL:
			cells++;
			ret = cell_rewrite(m, arg, root, val, sizeof(val), why, wlen);
			break;
		case TOPOLOGY:
			ret = ref_rewrite(m, "topology", root, val, sizeof(val), why, wlen);
			break;
		case EXPECTATIONS:
			ret = ref_rewrite(m, "expectations", root, val, sizeof(val), why, wlen);
			break;
		case ENGINE:
			ret = ref_rewrite(m, strcmp(name, "--engine-b") ? "engine" : "engine-b", root,
					  val, sizeof(val), why, wlen);
			break;
		case DROP_BINARY:
			plan_note(p, "%s %s left out: the engine's program is not in the bundle; the "
				  "one installed here runs", name, arg);
			continue;
		case DROP_BASELINE:
			plan_note(p, "%s %s left out: replay compares with the bundle's own outcome",
				  name, arg);
			continue;
		case DROP_OUT:
			continue;
		case KEEP:
			break;
		}
		if (!ret)
			ret = command_words_add(&p->argv, name);
		if (!ret)
			ret = command_words_add(&p->argv, val);
	}
	if (!ret && cells != 1) {
		snprintf(why, wlen, "the bundle's command names %d cells, expected exactly one "
			 "(--cell %s)", cells, m->cell);
		ret = -EINVAL;
	}
	if (!ret)
		ret = command_words_add(&p->argv, "--out");
	if (!ret)
		ret = command_words_add(&p->argv, p->report_dir);
	if (!ret)
		ret = command_words_add(&p->argv, "--no-color");
	if (ret == -E2BIG || ret == -ENOMEM)
		snprintf(why, wlen, "the bundle's command is too long");
out:
	command_words_free(&orig);
	return ret;
}

/* Lines of a ruleset that do something (its header and comments left out). */
static void print_ruleset(const struct tar_entry *e, const struct bundle_file *f)
{
	const char *p = (const char *)e->data, *end = p + e->size;

	printf("\n  %s (%s %s):\n", f->path, f->kind, f->ref);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *s = p;
		size_t n = (nl ? (size_t)(nl - p) : (size_t)(end - p));

		while (s < p + n && (*s == ' ' || *s == '\t'))
			s++;
		if (s < p + n && *s != '#')
			printf("    %.*s\n", (int)n, p);
		p += n + 1;
	}
}

static void print_args(const struct ef_arg *a, int n)
{
	for (int i = 0; i < n; i++) {
		bool open = a[i].group && (i == 0 || a[i - 1].group != a[i].group);
		bool close = a[i].group && (i == n - 1 || a[i + 1].group != a[i].group);
		printf(" %s%s%s", open ? "[" : "", a[i].text, close ? "]" : "");
	}
	printf("\n");
}

/* The engine file's commands, templates as written ({{...}} is filled in per cell). */
static int print_engine(const struct bundle *b, const struct bundle_file *f, const char *need)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	const struct tar_entry *t = bundle_entry(b, f->path);
	char prog[PATH_MAX];
	int ret = -ENOMEM;

	if (!e || !dl || !t)
		goto out;
	ret = engine_file_parse_buffer(e, f->path, (const char *)t->data, t->size, dl);
	if (ret < 0) {
		printf("\n  %s: not a valid engine file (%s:%d: %s)\n", f->path,
		       dl->count ? dl->items[0].file : f->path, dl->count ? dl->items[0].line : 0,
		       dl->count ? dl->items[0].msg : strerror(-ret));
		goto out;
	}
	printf("\n  engine %s (%s): program %s, the cell ran version %s", e->name, f->path,
	       e->program, need[0] ? need : "?");
	if (engine_program_find(e, NULL, prog, sizeof(prog)) == 0)
		printf("; found here: %s\n", prog);
	else
		printf("; NOT found here (looked for %s)\n", prog);
	if (e->nversion) {
		printf("    version:");
		print_args(e->version, e->nversion);
	}
	for (int i = 0; i < e->nsetup; i++) {
		printf("    setup %d (%s):", i + 1,
		       e->setup[i].harness ? "on this machine, outside the lab"
					   : topo_role_name(e->setup[i].node));
		print_args(e->setup[i].args, e->setup[i].nargs);
	}
	for (int i = 0; i < e->nroles; i++) {
		printf("    %s (node %s):", e->roles[i].name, topo_role_name(e->roles[i].node));
		print_args(e->roles[i].args, e->roles[i].nargs);
	}
	if (e->outcome.kind == EF_OUTCOME_PROBE) {
		printf("    probe (node %s):", topo_role_name(e->outcome.probe.node));
		print_args(e->outcome.probe.args, e->outcome.probe.nargs);
	}
	for (int i = 0; i < e->nfiles; i++)
		printf("    file %s written into the cell's directory\n", e->files[i].name);
	ret = 0;
out:
	free(e);
	free(dl);
	return ret;
}

static void print_summary(const char *file, const struct bundle *b)
{
	const struct bundle_manifest *m = &b->m;

	printf("bundle %s: format %d, made %s; %d files, every SHA-256 checked\n", file,
	       m->format_version, m->created, b->nentries);
	printf("cell %s: %s in %d run%s, with engine %s %s%s%s%s%s, %s, %s, %s\n", m->cell,
	       m->outcome, m->runs, m->runs == 1 ? "" : "s", m->versions.engine,
	       m->versions.engine_version, m->versions.engine_b[0] ? " ~ " : "",
	       m->versions.engine_b, m->versions.engine_b[0] ? " " : "",
	       m->versions.engine_b_version, m->versions.harness, m->versions.kernel,
	       m->versions.nft);
	printf("its command: %s\n", m->rerun);
}

static void print_plan(const struct plan *p, bool preview)
{
	char line[8192];

	command_join(&p->argv, line, sizeof(line));
	printf("\n%s, as root:\n  PUNCHLAB_DATA_DIR=%s %s\n", preview ? "replay would run" : "running",
	       p->data_dir, line);
	for (int i = 0; i < p->nnotes; i++)
		printf("  (%s)\n", p->notes[i]);
}

static void print_preview(const struct bundle *b)
{
	const struct bundle_manifest *m = &b->m;

	printf("\nthe nftables rulesets it loads, as root (comments left out):\n");
	for (int i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].kind, "profile") || !strcmp(m->files[i].kind, "rules"))
			print_ruleset(bundle_entry(b, m->files[i].path), &m->files[i]);
	printf("\nthe engine's commands, as root in the lab's nodes ({{...}} is filled in per "
	       "cell):\n");
	for (int i = 0; i < m->nfiles; i++) {
		bool a = !strcmp(m->files[i].kind, "engine"), bb = !strcmp(m->files[i].kind, "engine-b");
		if (a || bb)
			print_engine(b, &m->files[i], a ? m->versions.engine_version
							: m->versions.engine_b_version);
	}
}

/* --- running ------------------------------------------------------------------------------- */

static volatile sig_atomic_t child_pid, stop_signal;
static const int stop_signals[3] = { SIGINT, SIGTERM, SIGHUP };

/* Ctrl-C, SIGTERM, SIGHUP: remembered, and passed on to the rerun when one runs, so that replay
 * always gets to remove its temporary directory (only SIGKILL can keep it from that). */
static void forward_signal(int sig)
{
	stop_signal = sig;
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static void signals_catch(struct sigaction old[3])
{
	struct sigaction sa = { .sa_handler = forward_signal };

	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(stop_signals[i], &sa, &old[i]);
}

static void signals_restore(const struct sigaction old[3])
{
	for (int i = 0; i < 3; i++)
		sigaction(stop_signals[i], &old[i], NULL);
}

/* Run argv with PUNCHLAB_DATA_DIR set and wait for it (the temporary directory is removed after
 * it, not under it). The stop signals are blocked from before the fork until child_pid is set,
 * so none is lost in between. Returns its exit code, or -errno (-EINTR: stopped before it). */
static int run_child(const struct plan *p)
{
	sigset_t stop, prev;
	int status = 0, ret;
	pid_t pid;

	sigemptyset(&stop);
	for (int i = 0; i < 3; i++)
		sigaddset(&stop, stop_signals[i]);
	fflush(NULL);
	sigprocmask(SIG_BLOCK, &stop, &prev);
	if (stop_signal) {
		sigprocmask(SIG_SETMASK, &prev, NULL);
		return -EINTR;
	}
	pid = fork();
	if (pid == 0) {
		/* exec resets the handlers to their defaults; the mask it keeps: restore it */
		sigprocmask(SIG_SETMASK, &prev, NULL);
		setenv("PUNCHLAB_DATA_DIR", p->data_dir, 1);
		execv(p->argv.w[0], p->argv.w); /* this punchlab, as shown */
		fprintf(stderr, "punchlab: replay: exec %s: %s\n", p->argv.w[0], strerror(errno));
		_exit(127);
	}
	ret = pid < 0 ? -errno : 0;
	if (pid > 0)
		child_pid = pid;
	sigprocmask(SIG_SETMASK, &prev, NULL);
	if (ret < 0)
		return ret;
	while ((ret = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	child_pid = 0;
	if (ret < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The installed program of a bundled engine file and its version ("" when it has none). */
static int engine_here(const struct bundle *b, const char *kind, char *prog, size_t plen,
		       char *ver, size_t vlen, char *why, size_t wlen)
{
	const struct bundle_file *f = manifest_file(&b->m, kind, NULL);
	const struct tar_entry *t = f ? bundle_entry(b, f->path) : NULL;
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	int ret = -ENOMEM;

	ver[0] = '\0';
	if (!e || !dl)
		goto out;
	if (!t) {
		snprintf(why, wlen, "the bundle holds no %s file", kind);
		ret = -EINVAL;
		goto out;
	}
	ret = engine_file_parse_buffer(e, f->path, (const char *)t->data, t->size, dl);
	if (ret < 0) {
		snprintf(why, wlen, "%s:%d: %s", f->path, dl->count ? dl->items[0].line : 0,
			 dl->count ? dl->items[0].msg : strerror(-ret));
		goto out;
	}
	ret = engine_program_find(e, NULL, prog, plen);
	if (ret < 0) {
		snprintf(why, wlen, "engine %s: its program %s is not installed here (looked for "
			 "%s); the bundle does not carry it", e->name, e->program, prog);
		goto out;
	}
	engine_version(e, prog, ver, vlen);
	/* "punch 0.1.0" -> "0.1.0", as matrix.json records it */
	if (strncmp(ver, e->name, strlen(e->name)) == 0 && ver[strlen(e->name)] == ' ')
		memmove(ver, ver + strlen(e->name) + 1, strlen(ver + strlen(e->name)));
	ret = 0;
out:
	free(e);
	free(dl);
	return ret;
}

/* An engine with npm packages finds them next to its file, which in a replay is the bundle's
 * copy: point that directory at this machine's installed packages (like the program, they are
 * not in the bundle). Only for a shipped engine's one-component directory, created inside
 * root; rm of root removes the link, not what it points to (FTW_PHYS). */
static void npm_link(const struct bundle *b, const char *root)
{
	for (int i = 0; i < b->m.nfiles; i++) {
		const struct bundle_file *f = &b->m.files[i];
		const struct tar_entry *t = bundle_entry(b, f->path);
		struct engine_file *e;
		struct diag_list *dl;
		char why[200], link[PATH_MAX], target[PATH_MAX];

		if ((strcmp(f->kind, "engine") && strcmp(f->kind, "engine-b")) ||
		    strncmp(f->path, "data/engines/", 13) || !t)
			continue;
		e = calloc(1, sizeof(*e));
		dl = calloc(1, sizeof(*dl));
		if (e && dl &&
		    engine_file_parse_buffer(e, f->path, (const char *)t->data, t->size, dl) == 0 &&
		    e->npm_dir[0] && !strchr(e->npm_dir, '/') &&
		    bundle_path_check(e->npm_dir, why, sizeof(why)) == 0) {
			snprintf(link, sizeof(link), "%s/data/engines/%s", root, e->npm_dir);
			snprintf(target, sizeof(target), "%s/engines/%s", paths_data_dir(), e->npm_dir);
			if (access(target, F_OK) == 0 && symlink(target, link) < 0)
				fprintf(stderr, "punchlab: replay: link %s to %s: %s\n", link, target,
					strerror(errno));
		}
		free(e);
		free(dl);
	}
}

static int version_row(const char *what, const char *then, const char *now)
{
	bool differs = strcmp(then, now) != 0;

	printf("  %-16s %-32s %s%s\n", what, then, now, differs ? "   DIFFERS" : "");
	return differs;
}

/* Every profile the rerun loaded is a bundled file (by SHA-256): what proves it ran with the
 * bundle's rulesets and not with same-named files of this machine. */
static bool profiles_from_bundle(const struct bundle_manifest *m, const struct results *r)
{
	bool all = true;

	for (int i = 0; i < r->meta.nprofiles; i++) {
		bool found = false;
		for (int j = 0; j < m->nfiles && !found; j++)
			found = !strcmp(m->files[j].kind, "profile") &&
				!strcmp(m->files[j].sha256, r->meta.profiles[i].sha256);
		if (!found) {
			fprintf(stderr, "punchlab: replay: the rerun loaded profile %s (SHA-256 %s), "
				"which is not a file of the bundle\n", r->meta.profiles[i].name,
				r->meta.profiles[i].sha256);
			all = false;
		}
	}
	return all;
}

/* Compare the rerun's report with the bundle: 0 same outcome, 1 not, 2 no usable rerun. */
static int judge(const struct bundle *b, const struct plan *p, int child_rc)
{
	const struct bundle_manifest *m = &b->m;
	char path[PATH_MAX + 16];
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct results r = { 0 };
	const struct cell_result *c;
	enum cell_outcome then;
	int ret = EXIT_SETUP, differ = 0;

	snprintf(path, sizeof(path), "%s/matrix.json", p->report_dir);
	if (!dl || access(path, R_OK) < 0 || results_json_read(path, &r, dl) < 0 || r.ncells != 1) {
		fprintf(stderr, "punchlab: replay: the rerun produced no report of the cell (punchlab "
			"matrix exited %d): nothing to compare\n", child_rc);
		goto out;
	}
	c = &r.cells[0];
	if (cell_outcome_parse(m->outcome, &then) < 0) {
		fprintf(stderr, "punchlab: replay: the bundle's outcome \"%s\" is not an outcome\n",
			m->outcome);
		goto out;
	}
	if (!profiles_from_bundle(m, &r))
		goto out;
	printf("\nversions           %-32s %s\n", "the bundle", "here");
	differ += version_row("kernel", m->versions.kernel, r.meta.kernel);
	differ += version_row("libnftables", m->versions.nft, r.meta.nft_version);
	differ += version_row("punchlab", m->versions.harness, r.meta.harness_version);
	differ += version_row(m->versions.engine, m->versions.engine_version, r.meta.engine_version);
	if (m->versions.engine_b[0])
		differ += version_row(m->versions.engine_b, m->versions.engine_b_version,
				      r.meta.engine_b_version);
	if (differ)
		printf("(%d version%s differ%s: a different outcome may come from %s)\n", differ,
		       differ == 1 ? "" : "s", differ == 1 ? "s" : "", differ == 1 ? "it" : "them");
	if (c->outcome == then) {
		printf("\noutcome %s, as in the bundle: reproduced\n", cell_outcome_name(c->outcome));
		ret = 0;
	} else if (c->outcome == CELL_ERROR) {
		printf("\noutcome error (the bundle: %s): the cell could not be rerun here: %s\n",
		       m->outcome, c->nruns ? c->runs[0].reason : "?");
		ret = EXIT_SETUP;
	} else {
		printf("\noutcome %s, the bundle says %s: NOT reproduced (%s)\n",
		       cell_outcome_name(c->outcome), m->outcome, c->nruns ? c->runs[0].reason : "");
		ret = EXIT_FINDING;
	}
out:
	results_free(&r);
	free(dl);
	return ret;
}

static bool dir_new_or_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return errno == ENOENT;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

int replay_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trust", no_argument, NULL, 'T' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char why[1024], self[PATH_MAX], root[PATH_MAX] = "", prog[PATH_MAX], ver[128];
	struct bundle b;
	struct plan p = { .argv = { .n = 0 } };
	bool trust = false, made = false, caught = false;
	struct sigaction old_sigs[3];
	const char *file, *tmpdir = getenv("TMPDIR"), *out_dir = NULL;
	ssize_t n;
	int c, ret = EXIT_SETUP;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'T': trust = true; break;
		case 'o': out_dir = optarg; break;
		case 'h': fputs(replay_usage, stdout); return 0;
		default: fputs(replay_usage, stderr); return EXIT_SETUP;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "punchlab: replay needs one bundle file\n%s", replay_usage);
		return EXIT_SETUP;
	}
	file = argv[optind];
	if (out_dir && !dir_new_or_empty(out_dir)) {
		/* the outcome is read back from DIR/matrix.json: an old one must not stand in for it */
		fprintf(stderr, "punchlab: replay: -o %s: expected a new or empty directory\n", out_dir);
		return EXIT_SETUP;
	}
	/* like every verb that builds labs: root first, before anything is printed */
	if (trust && preflight_check() != 0)
		return EXIT_SETUP;
	if (bundle_read(file, &b, why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab: replay %s: %s; nothing was extracted or run\n", file, why);
		bundle_free(&b);
		return EXIT_SETUP;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	print_summary(file, &b);
	if (!trust) {
		if (plan_build(&b.m, self, "<dir>", out_dir, &p, why, sizeof(why)) < 0) {
			fprintf(stderr, "punchlab: replay %s: %s\n", file, why);
			goto out;
		}
		print_plan(&p, true);
		printf("  (<dir>: a new temporary directory holding the bundle's files, removed "
		       "afterwards)\n");
		print_preview(&b);
		printf("\nNothing was run. A bundle runs rulesets and commands as root: read the "
		       "above, then\n  sudo punchlab replay %s --trust\n", file);
		goto out;
	}
	/* the engine's program is not in the bundle: the version the cell ran, the one here */
	for (int side = 0; side < 2; side++) {
		const char *kind = side ? "engine-b" : "engine";
		const char *name = side ? b.m.versions.engine_b : b.m.versions.engine;
		const char *need = side ? b.m.versions.engine_b_version : b.m.versions.engine_version;

		if (side && !manifest_file(&b.m, kind, NULL))
			break;
		if (engine_here(&b, kind, prog, sizeof(prog), ver, sizeof(ver), why, sizeof(why)) < 0) {
			fprintf(stderr, "punchlab: replay: %s; the cell ran version %s: install it, then "
				"replay again\n", why, need);
			goto out;
		}
		printf("engine %s: the cell ran version %s; installed here: %s (%s)%s\n", name, need,
		       ver, prog, strcmp(ver, need) ? ", ANOTHER VERSION: the outcome may differ "
		       "because of it" : "");
	}
	snprintf(root, sizeof(root), "%s/punchlab-replay-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	signals_catch(old_sigs);
	caught = true;
	if (!mkdtemp(root)) {
		fprintf(stderr, "punchlab: replay: create %s: %s\n", root, strerror(errno));
		goto out;
	}
	made = true;
	if (plan_build(&b.m, self, root, out_dir, &p, why, sizeof(why)) < 0 ||
	    bundle_extract(&b, root, why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab: replay %s: %s\n", file, why);
		goto out;
	}
	npm_link(&b, root);
	print_plan(&p, false);
	c = stop_signal ? -EINTR : run_child(&p);
	if (stop_signal) {
		fprintf(stderr, "punchlab: replay: interrupted (signal %d)\n", (int)stop_signal);
		ret = 128 + stop_signal;
		goto out;
	}
	if (c < 0) {
		fprintf(stderr, "punchlab: replay: run punchlab matrix: %s\n", strerror(-c));
		goto out;
	}
	ret = judge(&b, &p, c);
out:
	if (made) {
		int rm = bundle_rm_tree(root);
		if (rm < 0)
			fprintf(stderr, "punchlab: replay: remove %s: %s\n", root, strerror(-rm));
	}
	if (caught)
		signals_restore(old_sigs);
	command_words_free(&p.argv);
	bundle_free(&b);
	return ret;
}
