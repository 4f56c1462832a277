/* Keeping a lab after punchlab exits: pin each node's namespace as /run/netns/<lab>-<node>
 * (where `ip netns exec` looks) and write a record under /run/punchlab/. Rootless, under
 * $XDG_RUNTIME_DIR/punchlab/ with a keeper process (docs/rootless.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/userns.h"
#include "lab/lab_internal.h"
#include "lab/registry.h"

int lab_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 12)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
			return 0;
	return 1;
}

/* iproute2 makes /run/netns a shared mount point so that pins made in one mount namespace show
 * in the others; do the same, so our pins behave like `ip netns add`'s. Rootless, the pins live
 * in the keeper's mount namespace only (docs/rootless.md): a plain directory will do. */
static int netns_dir_prepare(void)
{
	if (!NETNS_RUN_DIR)
		return -errno;
	if (userns_rootless())
		return paths_mkdir_p(NETNS_RUN_DIR);
	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* not a mount point yet: bind it onto itself, then share it */
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

void lab_unpin_nodes(struct lab *lab)
{
	struct registry_record r;
	char rec[300];

	for (int n = 0; n < lab->topo.nnodes; n++) {
		if (!lab->nodes[n].pinned[0])
			continue;
		umount2(lab->nodes[n].pinned, MNT_DETACH);
		unlink(lab->nodes[n].pinned);
		lab->nodes[n].pinned[0] = '\0';
	}
	/* rootless: the keeper spawned by lab_pin() holds the namespaces; it goes too */
	if (registry_read(lab->name, &r) == 0 && r.keeper > 0 &&
	    registry_proc_start(r.keeper) == r.keeper_start)
		kill(r.keeper, SIGKILL);
	snprintf(rec, sizeof(rec), "%s/%s.lab", REGISTRY_DIR, lab->name);
	unlink(rec);
	lab->pinned = false;
}

int lab_pin_add(struct lab *lab, int handle)
{
	struct registry_record r;
	pid_t pid = lab_spawn_pid(lab, handle);
	int lock, ret;

	if (!lab->pinned || pid <= 0)
		return -EINVAL;
	lock = registry_lock();
	if (lock < 0)
		return lock;
	ret = registry_read(lab->name, &r);
	if (ret == 0)
		ret = registry_add_pid(&r, pid);
	if (ret == 0)
		ret = registry_write(&r);
	registry_unlock(lock);
	return ret;
}

int lab_pin(struct lab *lab, struct diag_list *dl)
{
	struct registry_record r = { 0 };
	char rec[300];
	int ret, confirm = -1;

	if (!REGISTRY_DIR)
		return diag_add(dl, "XDG_RUNTIME_DIR", 0, "rootless kept labs live under "
				"$XDG_RUNTIME_DIR/punchlab, expected XDG_RUNTIME_DIR to name a directory");
	snprintf(rec, sizeof(rec), "%s/%s.lab", REGISTRY_DIR, lab->name);
	if (access(rec, F_OK) == 0)
		return diag_add(dl, rec, 0, "a kept lab named %s exists already, expected a new "
				"name (punchlab lab list)", lab->name);
	ret = netns_dir_prepare();
	if (ret < 0)
		return diag_add(dl, NETNS_RUN_DIR, 0, "prepare for pinning: %s", strerror(-ret));

	snprintf(r.name, sizeof(r.name), "%s", lab->name);
	r.created = time(NULL);
	snprintf(r.topology, sizeof(r.topology), "%s", lab->topo.file);
	lab->pinned = true; /* from here on, lab_down() undoes what was pinned */
	for (int n = 0; n < lab->topo.nnodes; n++) {
		char *pin = lab->nodes[n].pinned, src[64];
		int fd;

		snprintf(pin, PATH_MAX, "%s/%s-%s", NETNS_RUN_DIR, lab->name,
			 lab->topo.nodes[n].name);
		fd = open(pin, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (fd < 0) {
			ret = -errno;
			diag_add(dl, pin, 0, "create pin file: %s", strerror(-ret));
			pin[0] = '\0';
			goto fail;
		}
		close(fd);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", lab->nodes[n].netns);
		if (mount(src, pin, "none", MS_BIND, NULL) < 0) {
			ret = -errno;
			diag_add(dl, pin, 0, "bind the namespace of node %s: %s",
				 lab->topo.nodes[n].name, strerror(-ret));
			goto fail;
		}
		snprintf(r.node[r.nnodes], sizeof(r.node[0]), "%s", lab->topo.nodes[n].name);
		snprintf(r.profile[r.nnodes], sizeof(r.profile[0]), "%s", lab->nodes[n].profile);
		snprintf(r.companion[r.nnodes], sizeof(r.companion[0]), "%s",
			 lab->nodes[n].companion);
		snprintf(r.pinned[r.nnodes++], sizeof(r.pinned[0]), "%s", pin);
	}
	for (int i = 0; i < lab->nchildren && r.npids < REGISTRY_MAX_PIDS; i++)
		if (!lab->children[i].reaped) {
			r.pid[r.npids] = lab->children[i].pid;
			r.pid_start[r.npids++] = registry_proc_start(lab->children[i].pid);
		}
	if (userns_rootless()) {
		/* The pins are mounts of this process's mount namespace, which ends with its last
		 * process: a keeper stays in it (and in the user namespace that owns the lab) */
		r.keeper = userns_keeper_spawn(&confirm);
		if (r.keeper < 0) {
			ret = r.keeper;
			r.keeper = 0;
			diag_add(dl, rec, 0, "start the lab's keeper: %s", strerror(-ret));
			goto fail;
		}
		r.keeper_start = registry_proc_start(r.keeper);
	}
	ret = registry_write(&r);
	if (ret < 0) {
		diag_add(dl, rec, 0, "write the lab record: %s", strerror(-ret));
		if (confirm >= 0)
			close(confirm); /* unconfirmed, the keeper ends */
		goto fail;
	}
	if (confirm >= 0) {
		/* the record names the keeper now: it may stay */
		if (write(confirm, "k", 1) != 1)
			ret = diag_add(dl, rec, 0, "confirm the lab's keeper: %s", strerror(errno));
		close(confirm);
		if (ret < 0)
			goto fail;
	}
	return 0;
fail:
	lab_unpin_nodes(lab);
	return ret;
}
