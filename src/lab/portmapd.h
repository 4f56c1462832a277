/* Port-mapping routers (docs/portmap.md): a NAT node whose profile says "portmap: upnp, natpmp"
 * (or pcp) runs Debian's miniupnpd in the node, confined to it.
 *
 * Per node, a directory $TMPDIR/punchlab-portmap-<lab>-<node> holds miniupnpd's config, pid
 * file, lease file and log; the daemon's nftables chains live in the profile's own table (the
 * profile provides them, docs/portmap.md says which). The daemon and its STUN responder
 * (punchlab-stunecho) are lab children: lab_down() ends them with the namespaces, and removes
 * the directory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/out.h"

struct lab;

/* The miniupnpd the lab runs: $PUNCHLAB_MINIUPNPD when set (tests point it at a missing file),
 * else /usr/sbin/miniupnpd. */
const char *lab_portmapd_program(void);

/* Start miniupnpd in every NAT node whose profile offers port mapping, and wait (bounded) until
 * it answers. keep: the lab outlives this process (no parent death signal). Returns 0, or
 * -errno with dl naming the profile line and what is wrong (miniupnpd missing, a daemon that
 * exited: with its last log line). */
int lab_portmapd_start(struct lab *lab, bool keep, struct diag_list *dl);

/* Remove the per-node directories of a lab whose programs have ended (no-op when none). */
void lab_portmapd_cleanup(const struct lab *lab);

/* Remove the directory of node's daemon in lab lab_name, if any (`lab down` of a kept lab). */
void lab_portmapd_remove(const char *lab_name, const char *node_name);

/* The directory of node's daemon into buf; 0, or -ENAMETOOLONG. */
int lab_portmapd_dir(const char *lab_name, const char *node_name, char *buf, size_t len);
