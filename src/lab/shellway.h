/* The shell way: the same lab built with one `ip`/`nft` process per step, as shell harnesses
 * do. It exists only as the benchmark's baseline and for the test that both ways build the
 * identical lab; the product itself never runs ip or nft. */
#pragma once
#include "lab/topo.h"

/* Build topology t as named namespaces <name>-<node> (pinned by `ip netns add`), loading
 * profiles[n] (a resolved file path, or "" for none) into each node. Returns 0, or the failing
 * command's exit status (> 0) / -errno, after removing whatever it had made. */
int shellway_up(const struct topo *t, const char *name, char profiles[][4096]);

/* Remove what shellway_up made (`ip netns del` per node). */
int shellway_down(const struct topo *t, const char *name);
