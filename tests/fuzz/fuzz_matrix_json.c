/* libFuzzer target for the matrix.json reader (`matrix --baseline FILE`, `punchlab merge`):
 * baselines come from other machines and other versions, so whatever the bytes,
 * results_json_read() keeps its contract (fuzz_contract.h), never reads out of bounds and
 * leaves nothing allocated after results_free() (LeakSanitizer checks).
 *
 * The reader takes a path (it is jansson's json_loadf on the file), so each input is written to
 * a memory file and read back through /proc/self/fd: the reader is fuzzed unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_contract.h"
#include "matrix/results_json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct results r;
	static struct diag_list dl;
	static int fd = -1;
	static char path[64];
	size_t done = 0;
	int ret;

	if (fd < 0) {
		fd = memfd_create("fuzz-matrix-json", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	fuzz_diag_reset(&dl);
	ret = results_json_read(path, &r, &dl);
	fuzz_contract(ret, &dl);
	results_free(&r);
	return 0;
}
