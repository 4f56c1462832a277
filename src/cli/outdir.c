#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"

int cli_default_out_dir(char *buf, size_t len, const char *prefix)
{
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (mkdir("results", 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(buf, len, "results/%s%s", prefix, stamp);
	return 0;
}
