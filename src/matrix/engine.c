#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "matrix/engine.h"

extern const struct engine_ops engine_punch;

static const struct engine_ops *const engines[] = { &engine_punch };

const struct engine_ops *engine_find(const char *name)
{
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}

int engine_argv_add(struct engine_argv *a, int *argc, const char *fmt, ...)
{
	size_t used = 0;
	va_list ap;
	int n;

	if (*argc > 0)
		used = (size_t)(a->argv[*argc - 1] - a->buf) + strlen(a->argv[*argc - 1]) + 1;
	if (*argc >= ENGINE_MAX_ARGS - 1 || used >= sizeof(a->buf))
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + used, sizeof(a->buf) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - used)
		return -E2BIG;
	a->argv[(*argc)++] = a->buf + used;
	a->argv[*argc] = NULL;
	return 0;
}
