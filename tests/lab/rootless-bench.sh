#!/bin/bash
# rootless-bench.sh PUNCHLAB: the benchmarks' shell-way baseline as an ordinary user (made by the
# test), docs/rootless.md: `bench lab` builds its shell-way labs (ip netns add, one ip/nft
# process a step) under a /run of its own user namespace's, and prints both series and their
# ratio; nothing of it shows in the machine's /run/netns, nothing is left. `bench shell-lab`,
# whose lab must outlive the command in /run/netns, says in one sentence that it needs root
# (exit 2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless-lib.sh"

ls /run/netns >"$TMP/netns.before" 2>/dev/null
as_user timeout 120 "$RL_PUNCHLAB" bench lab -n 3 --shell-n 3 >"$TMP/bench" 2>&1 ||
	fail "rootless bench lab failed: $(cat "$TMP/bench")"
for line in "^netlink   cells=3 " "^shell     cells=3 " "^ratio     shell/netlink: median"; do
	grep -q "$line" "$TMP/bench" || fail "rootless bench lab printed no \"$line\": $(cat "$TMP/bench")"
done
ls /run/netns >"$TMP/netns.after" 2>/dev/null
diff "$TMP/netns.before" "$TMP/netns.after" >/dev/null ||
	fail "rootless bench lab changed the machine's /run/netns: $(diff "$TMP/netns.before" "$TMP/netns.after")"

as_user timeout 30 "$RL_PUNCHLAB" bench shell-lab up plrl >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 2 ] || fail "rootless bench shell-lab up: exit $rc, expected 2: $(cat "$TMP/err")"
grep -q "^punchlab: bench shell-lab keeps its lab under /run/netns .* run it as root (sudo)" "$TMP/err" ||
	fail "rootless bench shell-lab up: not the sentence: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "rootless bench shell-lab: more than one line: $(cat "$TMP/err")"
rl_expect_clean "rootless bench lab"
exit 0
