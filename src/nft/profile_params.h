/* Profile parameters: values a cell sets in place of a profile's own (docs/profile-format.md,
 * "Parameters"). Today the UDP mapping lifetimes: udp-timeout (both), udp-timeout-unreplied,
 * udp-timeout-replied.
 *
 * nft 1.0.6 accepts no variable where a timeout goes (a `ct timeout` policy: "unexpected '$',
 * expecting number"; a map's or an update statement's timeout: "expecting string", both
 * checked), so a cell with parameters loads a per-cell copy of the profile with the numbers
 * written in: profile_params_instance(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/out.h"

/* 0: the profile's own value. */
struct profile_params {
	int udp_unreplied;
	int udp_replied;
};

bool profile_params_empty(const struct profile_params *p);
bool profile_params_equal(const struct profile_params *a, const struct profile_params *b);

/* Apply one NAME=VALUE ("udp-timeout=5", "udp-timeout-unreplied=3s", "udp-timeout-replied=8")
 * to p. VALUE is whole seconds from 1 to 86400, an "s" suffix allowed. Returns 0, or -EINVAL
 * with why[len] naming what is wrong and what is expected (an unknown name lists the known
 * ones). */
int profile_param_set(struct profile_params *p, const char *arg, char *why, size_t len);

/* Several, comma-separated ("udp-timeout-unreplied=3,udp-timeout-replied=8"). Same returns. */
int profile_params_parse(struct profile_params *p, const char *list, char *why, size_t len);

/* The value of the cell id's udp-timeout dimension: "" without parameters, "5s" when both
 * lifetimes are set alike, else "UNREPLIED~REPLIED" with "-" for the profile's own ("3s~8s",
 * "3s~-"). 0 or -ENAMETOOLONG. */
int profile_params_id_format(const struct profile_params *p, char *buf, size_t len);
/* Its inverse. 0 or -EINVAL with why filled. */
int profile_params_id_parse(struct profile_params *p, const char *v, char *why, size_t len);

/* "udp-timeout=5" / "udp-timeout-unreplied=3,udp-timeout-replied=8": the command-line form,
 * for people and rerun commands. "" without parameters. Returns buf. */
char *profile_params_format(const struct profile_params *p, char *buf, size_t len);

/* Write a copy of the profile file `path` with p applied into a fresh directory under
 * $TMPDIR (or /tmp), line for line (diagnostics keep their line numbers), and put the copy's
 * path in out[len]: the header's udp-timeout line and every place of the ruleset the lifetimes
 * appear: the `unreplied`/`replied` of every `ct timeout` policy of protocol udp, and every
 * `timeout Ns` whose N is the header's replied (or unreplied) lifetime (dynamic maps and their
 * update statements). Errors go to dl as FILE:LINE: a bad header, a ruleset without a udp
 * `ct timeout` policy, a policy that disagrees with the header. Returns 0 (the caller removes
 * the copy with profile_params_instance_remove()), -EINVAL, or -errno. With empty p, out is
 * path itself and nothing is written. */
int profile_params_instance(const char *path, const struct profile_params *p, char *out,
			    size_t len, struct diag_list *dl);

/* Remove a copy made by profile_params_instance() (its file and directory); a path that is
 * not such a copy (the original, or "") is left alone. */
void profile_params_instance_remove(const char *copy);
