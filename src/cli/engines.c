/* punchlab engines: every engine file under engines/ (or the ones named), its version, and
 * whether its program is installed; a file with mistakes is listed with them (exit 2). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "cli/cli.h"
#include "engine/adapter.h"

static const char engines_usage[] =
	"usage: punchlab engines [NAME|PATH...]\n"
	"  lists the engines (engines/*.yaml, or the ones named): name, version, whether the\n"
	"  program is installed (and where), the Debian packages it needs, its techniques,\n"
	"  whether its npm packages are installed, and whether the devices it needs (needs:)\n"
	"  can be opened by this user\n"
	"  exit 0; 2 when an engine file has mistakes (printed as FILE:LINE) or is missing\n";

/* One engine's line; returns 0 or EXIT_SETUP. */
static int engine_show(const char *ref, struct engine_file *e, struct diag_list *dl)
{
	char prog[PATH_MAX], version[128] = "-", techs[256] = "";
	size_t n = 0;
	bool have;
	int ret;

	memset(dl, 0, sizeof(*dl));
	ret = engine_file_load(e, ref, dl);
	if (ret == -ENOENT) {
		out_warnx(&out_std, "engine \"%s\" not found (looked for %s)", ref, e->path);
		return EXIT_SETUP;
	}
	if (ret < 0) {
		diag_print(dl, &out_std);
		return EXIT_SETUP;
	}
	have = engine_program_find(e, NULL, prog, sizeof(prog)) == 0;
	if (have)
		engine_version(e, prog, version, sizeof(version));
	for (int i = 0; i < e->ntechniques && n < sizeof(techs); i++)
		n += (size_t)snprintf(techs + n, sizeof(techs) - n, "%s%s/%s%s%s", i ? " " : "",
				      e->techniques[i].name, e->techniques[i].udp ? "udp" : "",
				      e->techniques[i].udp && e->techniques[i].tcp ? "+" : "",
				      e->techniques[i].tcp ? "tcp" : "");
	printf("%-12s %-36s %-10s %s\n", e->name, version, have ? "installed" : "missing",
	       have ? prog : e->program);
	printf("  %s\n  techniques: %s\n", e->description[0] ? e->description : "-", techs);
	if (e->npackages) {
		printf("  packages:");
		for (int i = 0; i < e->npackages; i++)
			printf(" %s", e->packages[i]);
		printf("%s\n", have ? "" : "  (sudo ci/bootstrap.sh installs them: run-matrix "
		       "--engine NAME)");
	}
	if (e->needs) {
		/* a device its programs open (needs:): rootless, a mode 0600 one is closed to us */
		char why[1024];
		int ok = engine_needs_check(e, why, sizeof(why));
		printf("  needs: %s, %s%s%s\n", engine_need_device(EF_NEED_TUN),
		       ok == 0 ? "which this user can open" : "which this user cannot open (",
		       ok == 0 ? "" : strerror(-ok), ok == 0 ? "" : "): punchlab matrix refuses the "
		       "engine, saying what to do (docs/rootless.md)");
	}
	if (e->npm_dir[0]) {
		/* its npm packages: installed by npm ci from the engine's package-lock.json */
		int npm = engine_npm_installed(e);
		char dir[PATH_MAX];
		engine_npm_dir(e, dir, sizeof(dir));
		printf("  npm: %s %s", dir, npm == 0 ? "installed" : npm == -ESTALE ?
		       "stale (package-lock.json is newer)" : "missing");
		if (npm < 0)
			printf("  (sudo ./run-matrix --engine %s runs npm ci there)", e->name);
		printf("\n");
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int engines_main(int argc, char **argv)
{
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char dir[PATH_MAX], *names[64];
	int n = 0, ret = 0;
	DIR *d = NULL;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(engines_usage, stdout);
		goto out;
	}
	if (!e || !dl) {
		ret = EXIT_SETUP;
		goto out;
	}
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			ret |= engine_show(argv[i], e, dl);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/engines", paths_data_dir());
	d = opendir(dir);
	if (!d) {
		out_warnx(&out_std, "no engines directory %s", dir);
		ret = EXIT_SETUP;
		goto out;
	}
	for (struct dirent *de; (de = readdir(d)) && n < 64;) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)
			names[n++] = strndup(de->d_name, l - 5);
	}
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	printf("%-12s %-36s %-10s %s\n", "ENGINE", "VERSION", "PROGRAM", "PATH");
	for (int i = 0; i < n; i++) {
		if (names[i])
			ret |= engine_show(names[i], e, dl);
		free(names[i]);
	}
out:
	if (d)
		closedir(d);
	free(e);
	free(dl);
	return ret ? EXIT_SETUP : 0;
}
