/* The bad-input check of the engine file unit tests (test_engine_file.c, test_engine_needs.c,
 * test_engine_npm.c). Include after <cmocka.h>. */
#pragma once

/* Parse yaml as the engine file called file: it must be refused (-EINVAL) with an error at
 * file:line whose message holds both wrong and expect. Else the test fails, naming the case
 * what and printing every error the parser said. */
void engine_bad_expect(const char *what, const char *file, const char *yaml, int line,
		       const char *wrong, const char *expect);
