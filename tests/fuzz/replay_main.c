/* The reproducer for builds without libFuzzer (gcc, no -Dfuzzing): runs a fuzz target once on
 * each file named on the command line, as libFuzzer's own main does when given files, so that
 * the seed corpora and every crash ever found (tests/fuzz/regressions/) are replayed by the
 * ordinary test suite too. A crash or abort in the target fails the test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	int ret = -1;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *p = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!p)
				goto out;
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		goto out;
	}
	LLVMFuzzerTestOneInput(buf, len);
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue; /* libFuzzer's flags (replay.sh passes -error_exitcode=1) */
		if (replay(argv[i]) < 0)
			return 1;
		n++;
	}
	printf("%d inputs replayed\n", n);
	return 0;
}
