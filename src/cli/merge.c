/* punchlab merge: join the report directories of several runs (the shards of one matrix, run
 * by a CI system's parallel jobs) into one report: cells joined, verdicts recomputed, every
 * report written again, each run's logs copied along so the merged report links to them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "cli/cli.h"
#include "matrix/results_json_read.h"
#include "matrix/results_merge.h"
#include "report/report.h"

static const char merge_usage[] =
	"usage: punchlab merge DIR... [--out DIR]\n"
	"\n"
	"Join the reports of several matrix runs (usually the --shard K/N slices of one matrix)\n"
	"into one: reads DIR/matrix.json of each (a path to a .json file works too), joins the\n"
	"cells (a cell in two inputs must be identical), recomputes the verdicts, copies each\n"
	"run's logs and writes every report (index.html, matrix.json, junit.xml, matrix.md,\n"
	"matrix.txt) to the output directory. Needs no privileges.\n"
	"\n"
	"  -o, --out DIR   output directory (default results/merged-<timestamp>)\n"
	"  --no-color      plain terminal output\n"
	"\n"
	"Exit: 0 no regression, 1 regressions, 2 an error cell, missing shards or bad input.\n";

/* DIR/matrix.json, or the argument itself when it names a file. */
static void input_json_path(const char *arg, char *buf, size_t len)
{
	struct stat st;

	if (stat(arg, &st) == 0 && S_ISREG(st.st_mode))
		snprintf(buf, len, "%s", arg);
	else
		snprintf(buf, len, "%s/matrix.json", arg);
}

/* The directory a matrix.json sits in: its log_dir paths are relative to it. */
static void input_dir(const char *json_path, char *buf, size_t len)
{
	const char *slash = strrchr(json_path, '/');

	if (!slash)
		snprintf(buf, len, ".");
	else
		snprintf(buf, len, "%.*s", (int)(slash - json_path), json_path);
}

/* A log_dir read from a file is data: it may only name something below the report dir. */
static bool log_dir_safe(const char *p)
{
	if (!p[0] || p[0] == '/')
		return false;
	for (const char *s = p; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s))
		if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0'))
			return false;
	return true;
}


static int file_copy(const char *from, const char *to)
{
	char buf[65536];
	int in = -1, out = -1, ret = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = -errno;
		goto out;
	}
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0) {
				ret = -errno;
				goto out;
			}
			done += w;
		}
	}
	if (n < 0)
		ret = -errno;
out:
	if (out >= 0 && close(out) < 0 && !ret)
		ret = -errno;
	if (in >= 0)
		close(in);
	return ret;
}

/* cp -r of regular files and directories (logs hold nothing else worth keeping). */
static int tree_copy(const char *from, const char *to, int depth)
{
	DIR *d = NULL;
	struct dirent *e;
	int ret;

	if (depth > 8)
		return 0;
	ret = paths_mkdir_p(to);
	if (ret < 0)
		goto out;
	d = opendir(from);
	if (!d) {
		ret = -errno;
		goto out;
	}
	while ((e = readdir(d))) {
		char src[4096], dst[4096];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(src, sizeof(src), "%s/%s", from, e->d_name) >= sizeof(src) ||
		    (size_t)snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name) >= sizeof(dst)) {
			ret = -ENAMETOOLONG;
			goto out;
		}
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			ret = tree_copy(src, dst, depth + 1);
		else if (S_ISREG(st.st_mode))
			ret = file_copy(src, dst);
		if (ret < 0)
			goto out;
	}
out:
	if (d)
		closedir(d);
	return ret;
}

static bool cell_known(const struct results *r, const char *id)
{
	for (int i = 0; i < r->ncells; i++)
		if (strcmp(r->cells[i].spec.id, id) == 0)
			return true;
	return false;
}

/* Copy each run's logs from its input directory into the output; when another input already
 * used the same log_dir (runs numbered per shard), this one goes under from-<k>/. A cell that
 * is already merged is left alone: if it is the same cell, the first copy's logs serve, and
 * if not, the merge fails anyway. */
static int logs_copy(struct results *in, const char *in_dir, int k, const char *out_dir,
		     const struct results *merged)
{
	for (int i = 0; i < in->ncells; i++) {
		if (cell_known(merged, in->cells[i].spec.id))
			continue;
		for (int j = 0; j < in->cells[i].nruns; j++) {
			struct cell_run *run = &in->cells[i].runs[j];
			char src[4096], dst[4096], rel[sizeof(run->log_dir)];
			struct stat st;
			int ret;

			if (!log_dir_safe(run->log_dir)) {
				if (run->log_dir[0])
					fprintf(stderr, "punchlab: %s: ignoring log_dir \"%s\" (not a path "
						"inside the report directory)\n", in->cells[i].spec.id,
						run->log_dir);
				continue;
			}
			snprintf(src, sizeof(src), "%s/%s", in_dir, run->log_dir);
			if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
				continue; /* the logs were not kept with the artifact: nothing to link */
			snprintf(rel, sizeof(rel), "%s", run->log_dir);
			snprintf(dst, sizeof(dst), "%s/%s", out_dir, rel);
			if (stat(dst, &st) == 0 &&
			    (size_t)snprintf(rel, sizeof(rel), "from-%d/%s", k, run->log_dir) < sizeof(rel))
				snprintf(dst, sizeof(dst), "%s/%s", out_dir, rel);
			ret = tree_copy(src, dst, 0);
			if (ret < 0) {
				fprintf(stderr, "punchlab: copy %s to %s: %s\n", src, dst, strerror(-ret));
				return ret;
			}
			snprintf(run->log_dir, sizeof(run->log_dir), "%s", rel);
		}
	}
	return 0;
}

/* "K/N" shards: say which are missing, so a merged report of a partial fan-out is marked. */
static bool shards_complete(char (*shards)[16], int n)
{
	int total = 0, seen[256] = { 0 }, distinct = 0;

	for (int i = 0; i < n; i++) {
		int k, t;
		if (sscanf(shards[i], "%d/%d", &k, &t) != 2 || k < 1 || k > t || t > 255)
			return true; /* not sharded runs: nothing to check */
		if (total && t != total) {
			fprintf(stderr, "punchlab: the inputs are slices of different shardings (%d and "
				"%d)\n", total, t);
			return false;
		}
		total = t;
		distinct += !seen[k];
		seen[k] = 1;
	}
	if (total && distinct < total) {
		fprintf(stderr, "punchlab: only %d of %d shards given; missing:", distinct, total);
		for (int k = 1; k <= total; k++)
			if (!seen[k])
				fprintf(stderr, " %d/%d", k, total);
		fputs(" (the merged report is marked incomplete)\n", stderr);
		return false;
	}
	return true;
}

int merge_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "no-color", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct results merged = { 0 };
	struct diag_list *dl = NULL;
	char out_dir[512] = "", (*shards)[16] = NULL;
	bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	int c, ret = EXIT_SETUP, ninputs;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': snprintf(out_dir, sizeof(out_dir), "%s", optarg); break;
		case 'C': color = false; break;
		case 'h': fputs(merge_usage, stdout); return 0;
		default: fputs(merge_usage, stderr); return EXIT_SETUP;
		}
	}
	ninputs = argc - optind;
	if (ninputs < 1) {
		fprintf(stderr, "punchlab: merge needs at least one report directory\n%s", merge_usage);
		return EXIT_SETUP;
	}
	if (!out_dir[0] && cli_default_out_dir(out_dir, sizeof(out_dir), "merged-") < 0) {
		out_warn(&out_std, -errno, "create results/");
		return EXIT_SETUP;
	}
	dl = calloc(1, sizeof(*dl));
	shards = calloc((size_t)ninputs, sizeof(*shards));
	if (!dl || !shards) {
		out_warn(&out_std, -ENOMEM, "merge");
		goto out;
	}
	c = paths_mkdir_p(out_dir);
	if (c < 0) {
		out_warn(&out_std, c, "create %s", out_dir);
		goto out;
	}
	for (int i = 0; i < ninputs; i++) {
		char path[4096], dir[4096];
		struct results in;

		input_json_path(argv[optind + i], path, sizeof(path));
		input_dir(path, dir, sizeof(dir));
		if (results_json_read(path, &in, dl) < 0)
			goto out;
		memcpy(shards[i], in.meta.shard, sizeof(shards[i]));
		c = logs_copy(&in, dir, i + 1, out_dir, &merged);
		if (c == 0)
			c = results_merge(&merged, &in, path, dl);
		results_free(&in);
		if (c == -ENOMEM)
			out_warn(&out_std, c, "merge %s", path);
		if (c < 0)
			goto out;
	}
	if (!shards_complete(shards, ninputs))
		merged.meta.incomplete = true;
	for (int i = 0; i < merged.ncells; i++)
		results_judge_cell(&merged.cells[i]);

	report_terminal_write(&merged, stdout, color);
	if (report_dir_write(&merged, out_dir, dl) < 0)
		goto out;
	printf("\nmerged %d input%s, %d cells: %s/ (index.html, matrix.json, junit.xml, matrix.md)\n",
	       ninputs, ninputs == 1 ? "" : "s", merged.ncells, out_dir);
	ret = results_exit_code(&merged);
out:
	if (dl && (dl->count || dl->dropped))
		diag_print(dl, &out_std);
	results_free(&merged);
	free(shards);
	free(dl);
	return ret;
}
