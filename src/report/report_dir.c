/* Every report of a run into one directory (`--out DIR`), each file written under a temporary
 * name and renamed into place, so that a reader (a CI step, a browser) never sees half of one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/paths.h"
#include "report/report.h"

enum report_format { FMT_JSON, FMT_JUNIT, FMT_MARKDOWN, FMT_HTML, FMT_TEXT };

static const struct {
	const char *name;
	enum report_format format;
} report_files[] = {
	{ "matrix.json", FMT_JSON },
	{ "junit.xml", FMT_JUNIT },
	{ "matrix.md", FMT_MARKDOWN },
	{ "index.html", FMT_HTML },
	{ "matrix.txt", FMT_TEXT },
};

static int dir_create(const char *dir, struct diag_list *dl)
{
	int ret = paths_mkdir_p(dir);

	if (ret < 0)
		diag_add(dl, dir, 0, "create directory: %s", strerror(-ret));
	return ret;
}

static int report_write_one(const struct results *r, FILE *f, enum report_format format,
			    const char *dir)
{
	switch (format) {
	case FMT_JSON: return report_json_write(r, f);
	case FMT_JUNIT: return report_junit_write(r, f);
	case FMT_MARKDOWN: return report_markdown_write(r, f);
	case FMT_HTML: return report_html_write(r, f, dir);
	case FMT_TEXT: return report_terminal_write(r, f, false);
	}
	return -EINVAL;
}

static int report_file_write(const struct results *r, const char *dir, const char *name,
			     enum report_format format, struct diag_list *dl)
{
	char path[4096], tmp[4200];
	FILE *f = NULL;
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return diag_add(dl, dir, 0, "path too long");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		ret = -errno;
		diag_add(dl, tmp, 0, "create: %s", strerror(-ret));
		goto out;
	}
	ret = report_write_one(r, f, format, dir);
	if (ret < 0) {
		diag_add(dl, tmp, 0, "write: %s", strerror(-ret));
		goto out;
	}
	ret = fclose(f) == 0 ? 0 : -errno;
	f = NULL;
	if (ret < 0) {
		diag_add(dl, tmp, 0, "write: %s", strerror(-ret));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		ret = -errno;
		diag_add(dl, path, 0, "rename from %s: %s", tmp, strerror(-ret));
		goto out;
	}
out:
	if (f)
		fclose(f);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

int report_dir_write(const struct results *r, const char *dir, struct diag_list *dl)
{
	int ret = dir_create(dir, dl);

	for (size_t i = 0; ret == 0 && i < sizeof(report_files) / sizeof(report_files[0]); i++)
		ret = report_file_write(r, dir, report_files[i].name, report_files[i].format, dl);
	return ret;
}
