/* Fresh secrets for punch runs (punch_secret.h). */
#include "matrix/punch_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int punch_secret_make(char path[PUNCH_SECRET_PATH_LEN])
{
	unsigned char raw[32];
	char hex[2 * sizeof(raw) + 1];
	int fd, err = 0;

	snprintf(path, PUNCH_SECRET_PATH_LEN, "/tmp/punchlab-secret-XXXXXX");
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return errno ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	fd = mkstemp(path); /* mode 600: punch refuses a secret others can read */
	if (fd < 0) {
		err = -errno;
		path[0] = '\0';
		return err;
	}
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex))
		err = errno ? -errno : -EIO;
	close(fd);
	if (err)
		punch_secret_remove(path);
	return err;
}

void punch_secret_remove(char path[PUNCH_SECRET_PATH_LEN])
{
	if (path[0])
		unlink(path);
	path[0] = '\0';
}
