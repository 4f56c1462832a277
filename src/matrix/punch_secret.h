/* A secret for the punch programs that a verb runs by itself, outside an engine file (lifetime
 * probes, recovery cells). punch authenticates every message with a secret shared by the
 * rendezvous and both peers (docs/punch.md, "Threat model"): each run gets a fresh one. */
#ifndef MATRIX_PUNCH_SECRET_H
#define MATRIX_PUNCH_SECRET_H

#include <stddef.h>

#define PUNCH_SECRET_PATH_LEN 48

/* Write 32 random bytes as hex into a new file of mode 600 under /tmp; its name into @path.
 * Returns 0 or -errno. The caller removes it with punch_secret_remove(). */
int punch_secret_make(char path[PUNCH_SECRET_PATH_LEN]);
/* Remove the file (no-op for an empty path). */
void punch_secret_remove(char path[PUNCH_SECRET_PATH_LEN]);

#endif
