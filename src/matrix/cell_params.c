#include "matrix/cell_params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "matrix/cell.h"
#include "nft/profile_params.h"

static int one(const char *ref, const struct profile_params *p, char *out, size_t len,
	       char *why, size_t wlen)
{
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char path[4096];
	int ret;

	if (!dl)
		return -ENOMEM;
	ret = paths_resolve("nat-profiles", ".nft", ref, path, sizeof(path));
	if (ret < 0)
		snprintf(why, wlen, "profile \"%s\" not found (looked for %s)", ref, path);
	else if ((ret = profile_params_instance(path, p, out, len, dl)) < 0)
		snprintf(why, wlen, "%s:%d: %s", dl->count ? dl->items[0].file : path,
			 dl->count ? dl->items[0].line : 0,
			 dl->count ? dl->items[0].msg : strerror(-ret));
	free(dl);
	return ret;
}

int cell_profiles_prepare(const struct cell_spec *spec, char *a, char *b, size_t len, char *why,
			  size_t wlen)
{
	struct profile_params p = cell_spec_params(spec);
	int ret;

	a[0] = b[0] = '\0';
	if (profile_params_empty(&p))
		return 0;
	ret = one(spec->profile_a, &p, a, len, why, wlen);
	if (ret == 0 && spec->profile_b[0])
		ret = one(spec->profile_b, &p, b, len, why, wlen);
	if (ret < 0)
		cell_profiles_release(a, b);
	return ret;
}

void cell_profiles_release(char *a, char *b)
{
	profile_params_instance_remove(a);
	profile_params_instance_remove(b);
	a[0] = b[0] = '\0';
}
