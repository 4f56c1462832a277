/* The shipped profiles: every *.nft of <data>/nat-profiles, sorted (classify's and lifetime's
 * default list). lifetime measures in an IPv4 lab, so for it an IPv6 profile (header
 * "family: ipv6") is left out and said so rather than measured wrong; classify measures both. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "cli/cli.h"
#include "nft/profile.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int shipped(char paths[][CLI_PATH_LEN], int max, bool ipv6)
{
	char dir[CLI_PATH_LEN - 300], **names = calloc((size_t)max + 1, sizeof(*names));
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!names)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/nat-profiles", paths_data_dir());
	d = opendir(dir);
	if (!d) {
		int ret = -errno;
		fprintf(stderr, "punchlab: %s: %s\n", dir, strerror(errno));
		free(names);
		return ret;
	}
	while ((e = readdir(d)) && n < max) {
		size_t l = strlen(e->d_name);

		if (l > 4 && strcmp(e->d_name + l - 4, ".nft") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	for (int i = 0; i < n; i++) {
		char path[CLI_PATH_LEN];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i] ? names[i] : "");
		if (!ipv6 && names[i] && profile_family_of_file(path) == PROFILE_FAMILY_IPV6) {
			fprintf(stderr, "punchlab: %s: family ipv6, not measured (this command "
				"measures IPv4 profiles only)\n", path);
			free(names[i]);
			names[i--] = names[--n];
		}
	}
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	for (int i = 0; i < n; i++) {
		snprintf(paths[i], CLI_PATH_LEN, "%s/%s", dir, names[i] ? names[i] : "");
		free(names[i]);
	}
	free(names);
	return n;
}

int cli_shipped_profiles(char paths[][CLI_PATH_LEN], int max)
{
	return shipped(paths, max, false);
}

int cli_shipped_profiles_any_family(char paths[][CLI_PATH_LEN], int max)
{
	return shipped(paths, max, true);
}
