/* Loading an nftables ruleset file into a namespace through libnftables. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/out.h"

struct nft_var {
	const char *name;  /* WAN_IF, LAN_IF, WAN_ADDR, LAN_ADDR, LAN_NET (the profile contract) */
	const char *value;
};

/* Load the ruleset file `path` into the calling thread's current network namespace, with the
 * given variables defined as if by `nft -D NAME=VALUE`. Errors are added to dl as
 * FILE:LINE: nftables: <message> (libnftables reports the location). Returns 0 or -EINVAL /
 * -ENOMEM. */
int nft_ruleset_load(const char *path, const struct nft_var *vars, int nvars,
		     struct diag_list *dl);

/* Run nft commands from a buffer in the calling thread's current network namespace (no
 * variables: libnftables applies them to files only). With json, listings come as JSON. On
 * success *out (when not NULL) receives the output, malloc'd (caller frees); on failure
 * err[len] holds libnftables' message. Returns 0, -EINVAL (rejected) or -ENOMEM. */
int nft_ruleset_run(const char *cmds, bool json, char **out, char *err, size_t len);
