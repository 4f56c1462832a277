/* Finding the project's data: topologies/ and nat-profiles/. */
#pragma once
#include <stddef.h>

/* The directory holding topologies/ and nat-profiles/: $PUNCHLAB_DATA_DIR when set, the source
 * tree when this binary runs from its build tree, the installed data directory otherwise. */
const char *paths_data_dir(void);

/* Resolve a user's argument to a file: an existing path (anything with a '/' or that exists),
 * else <data>/<subdir>/<arg><ext>. Returns 0 with the path in buf, or -ENOENT. */
int paths_resolve(const char *subdir, const char *ext, const char *arg, char *buf, size_t len);

/* mkdir -p: create dir and its missing parents (mode 0755). Returns 0 or -errno (errno set). */
int paths_mkdir_p(const char *dir);

/* Remove everything inside dir, which stays (what rm -rf would remove below it, dotfiles too):
 * no symlink is followed and no other file system entered. Thread-safe (no nftw: it passes no
 * context).
 * 0, or the first -errno (what could be removed is gone). */
int paths_empty_dir(const char *dir);

/* The longest $XDG_RUNTIME_DIR a rootless kept lab accepts, in bytes: the records' paths under
 * it (.../punchlab/netns/LAB-NODE, .../punchlab/LAB.lab.tmp, a portmap node's files) are kept in
 * 300-byte fields (src/lab/registry.h), and a longer one would cut them. */
#define PATHS_RUNTIME_DIR_MAX 200

/* Where kept labs' records live: /run/punchlab as root; $XDG_RUNTIME_DIR/punchlab rootless
 * (userns_rootless(), or not root yet: /run is not the user's to write, and the runtime directory is private to
 * the user and emptied at logout, as /run is at boot). NULL with errno ENOENT when rootless and
 * XDG_RUNTIME_DIR is unset or not an absolute path, ENAMETOOLONG when it is longer than
 * PATHS_RUNTIME_DIR_MAX (never a cut path). */
const char *paths_state_dir(void);

/* Where kept labs' namespaces are pinned: /run/netns as root (where `ip netns` looks);
 * <state dir>/netns rootless (bind mounts that exist only in the keeper's mount namespace).
 * NULL with errno ENOENT as paths_state_dir(). */
const char *paths_netns_dir(void);
