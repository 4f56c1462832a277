/* The bad-input check of the engine file unit tests (engine_bad.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine_file.h"
#include "engine_bad.h"

void engine_bad_expect(const char *what, const char *file, const char *yaml, int line,
		       const char *wrong, const char *expect)
{
	/* on the heap: struct engine_file is large */
	struct engine_file *e = calloc(1, sizeof(*e));
	struct diag_list dl = { 0 };
	bool found = false;
	int ret;

	assert_non_null(e);
	ret = engine_file_parse_buffer(e, file, yaml, strlen(yaml), &dl);
	free(e);
	if (ret != -EINVAL || dl.count == 0)
		fail_msg("%s: accepted (ret %d)", what, ret);
	for (int k = 0; k < dl.count; k++)
		if (strcmp(dl.items[k].file, file) == 0 && dl.items[k].line == line &&
		    strstr(dl.items[k].msg, wrong) && strstr(dl.items[k].msg, expect))
			found = true;
	if (!found) {
		for (int k = 0; k < dl.count; k++)
			fprintf(stderr, "  got %s:%d: %s\n", dl.items[k].file, dl.items[k].line,
				dl.items[k].msg);
		fail_msg("%s: no error at line %d with \"%s\" and \"%s\"", what, line, wrong,
			 expect);
	}
}
