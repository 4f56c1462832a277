/* libFuzzer target: a repro bundle as replay reads it (src/bundle/: gzip, ustar, paths,
 * manifest, checksums), from untrusted bytes. Also the ustar reader and the manifest parser on
 * their own, since gzip's CRC keeps random bytes from reaching them through the whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bundle/bundle.h"
#include "bundle/command.h"
#include "bundle/manifest.h"
#include "bundle/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle b;
	struct bundle_manifest m;
	struct tar_entry *e = NULL;
	struct command_words cw;
	char why[512], *line;

	bundle_read_buffer(data, size, &b, why, sizeof(why));
	bundle_free(&b);
	if (tar_parse(data, size, 64, &e, why, sizeof(why)) >= 0)
		free(e);
	manifest_parse((const char *)data, size, &m, why, sizeof(why));
	manifest_free(&m);
	line = malloc(size + 1);
	if (line) {
		for (size_t i = 0; i < size; i++)
			line[i] = data[i] ? (char)data[i] : ' ';
		line[size] = '\0';
		command_split(line, &cw, why, sizeof(why));
		command_words_free(&cw);
		free(line);
	}
	return 0;
}
