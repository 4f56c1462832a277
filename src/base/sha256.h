/* SHA-256 (FIPS 180-4), for the profile file hashes recorded in matrix.json. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Hex digest (65 bytes with NUL) of a buffer. */
void sha256_hex(const void *data, size_t len, char hex[65]);

/* Hex digest of a file's contents. Returns 0 or -errno. */
int sha256_file_hex(const char *path, char hex[65]);
