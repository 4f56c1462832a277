/* libFuzzer target for `punchlab profile import`'s parsers (src/cli/profile_import_parse.c):
 * the saved output of stun-client or turnutils_natdiscovery, text a user brings from another
 * machine. The first byte picks the tool (detected, stun-client, natdiscovery) and how many
 * lifetime timers are given; the rest is the file. Whatever it holds, import_parse() returns 0,
 * or -EINVAL with a located message, and what it accepts gives `profile new` a value for each
 * of its six flags. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/profile_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t timers[] = { 2, 7, 30 };
	static struct import_result r;
	struct diag d = { .line = 0 };
	const char *argv[2 * IK_MAX];
	unsigned defaulted;
	FILE *f;
	int ret;

	if (size < 2)
		return 0; /* fmemopen refuses an empty buffer */
	f = fmemopen((void *)(data + 1), size - 1, "r");
	if (!f)
		return 0;
	ret = import_parse(f, "fuzz.txt", (enum import_tool)(data[0] % 3), timers,
			   data[0] / 3 % 4, &r, &d);
	fclose(f);
	if (ret < 0 && (ret != -EINVAL || !d.msg[0] || d.line < 0))
		abort();
	if (ret == 0) {
		if (import_profile_args(&r, argv, &defaulted) != 2 * IK_MAX)
			abort();
		for (int i = 0; i < 2 * IK_MAX; i++)
			if (!argv[i] || !argv[i][0])
				abort();
	}
	return 0;
}
