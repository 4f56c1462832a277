/* What an engine's programs need from the machine beyond the lab (docs/engine-format.md
 * "Devices"): the `needs:` key of an engine file, and whether this machine gives it to the user
 * punchlab runs as. Today one device: /dev/net/tun, which nebula and n2n open to make their
 * overlay interface. Inside a lab node the TUNSETIFF that follows is fine rootless (it needs
 * CAP_NET_ADMIN over the node's network namespace, which the user namespace gives), but opening
 * the device is a file permission check against the machine's inode, owned by a root the user
 * namespace does not map: a mode 0600 device stays closed to the user, whatever the namespace
 * (docs/rootless.md). Checked once before any cell runs, so such an engine is one sentence, not a
 * matrix of `error` cells. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/userns.h"
#include "engine/engine_file.h"
#include "engine/engine_file_internal.h"

static const struct {
	const char *word;
	unsigned bit;
	const char *device;
} needs[] = {
	{ "tun", EF_NEED_TUN, "/dev/net/tun" },
};

#define NNEEDS (sizeof(needs) / sizeof(needs[0]))

static void need_add(struct parse *p, yaml_node_t *w, const char *s)
{
	for (size_t i = 0; i < NNEEDS; i++)
		if (strcmp(needs[i].word, s) == 0) {
			p->e->needs |= needs[i].bit;
			return;
		}
	ERR(p, w, "needs: \"%s\" is unknown, expected tun (the program opens /dev/net/tun)", s);
}

void engine_file_needs_parse(struct parse *p, yaml_node_t *v)
{
	p->e->needs_line = yaml_line(v);
	engine_file_words(p, v, "needs", "a list of devices the engine's programs open, [tun]",
			  "a word, tun", need_add);
}

const char *engine_need_device(unsigned bit)
{
	for (size_t i = 0; i < NNEEDS; i++)
		if (needs[i].bit == bit)
			return needs[i].device;
	return NULL;
}

/* The test seam: PUNCHLAB_TEST_DENY_DEVICE names a device to treat as not openable (EACCES), so
 * a test shows the refusal on a machine whose device is open to all (mode 0666, Debian's udev
 * default) and as root. Like PUNCHLAB_TEST_NO_USERNS it can only take something away. */
static bool denied_by_test(const char *device)
{
	const char *seam = getenv("PUNCHLAB_TEST_DENY_DEVICE");

	return seam && strcmp(seam, device) == 0;
}

/* Open the device read-write as the caller would, and close it at once: opening /dev/net/tun
 * makes nothing (an interface exists only after TUNSETIFF). */
static int device_open_check(const char *device)
{
	int fd;

	if (denied_by_test(device))
		return -EACCES;
	fd = open(device, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int engine_needs_check(const struct engine_file *e, char *why, size_t len)
{
	why[0] = '\0';
	for (size_t i = 0; i < NNEEDS; i++) {
		const char *dev = needs[i].device;
		int ret;

		if (!(e->needs & needs[i].bit))
			continue;
		ret = device_open_check(dev);
		if (ret == 0)
			continue;
		/* a user, in its user namespace or not yet (punchlab engines lists as the user) */
		if ((ret == -EACCES || ret == -EPERM) && (userns_rootless() || geteuid() != 0))
			snprintf(why, len, "engine %s needs %s (needs: [%s] in %s), which this user "
				 "cannot open read-write (%s) and a user namespace does not change "
				 "that: make it mode 0666 (as root: chmod 0666 %s; Debian's udev "
				 "does), or run as root with sudo", e->name, dev, needs[i].word,
				 e->path, strerror(-ret), dev);
		else if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
			snprintf(why, len, "engine %s needs %s (needs: [%s] in %s), which this "
				 "machine does not have (%s): load the tun module (modprobe tun) or "
				 "boot a kernel built with CONFIG_TUN", e->name, dev, needs[i].word,
				 e->path, strerror(-ret));
		else
			snprintf(why, len, "engine %s needs %s (needs: [%s] in %s), which cannot "
				 "be opened read-write (%s): give the user running punchlab read and "
				 "write access to it", e->name, dev, needs[i].word, e->path,
				 strerror(-ret));
		return ret;
	}
	return 0;
}
