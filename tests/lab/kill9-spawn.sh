#!/bin/bash
# kill9-spawn.sh PUNCHLAB SPAWN_LIFETIME: kill -9 of a process holding a lab whose node runs a
# program that forked a grandchild (tests/lab/spawn_lifetime.c) leaves nothing behind:
#   - within 2 s the program's init, its child and grandchild are gone (PR_SET_PDEATHSIG kills
#     the init, and the end of the init's PID namespace kills the rest);
#   - within 5 s nothing references the lab's network namespaces (no process or thread inside,
#     no open fd, no bind mount), so the kernel has freed them and their links;
#   - the root namespace's links, /run/netns and /run/punchlab are as before.
# (Counting namespaces with lsns would also count other users' and misses fd-held ones; the
# inodes of this lab's own namespaces are exact.)
. "$(dirname "$0")/lib.sh"
SPAWN=${2:?usage: $0 PUNCHLAB SPAWN_LIFETIME}
require_root

# alive PID START: the same process (not a reused pid) still runs; a zombie holds nothing
alive() {
	local stat state start
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	state=${stat%% *}
	start=$(awk '{ print $20 }' <<<"$stat")
	[ "$start" = "$2" ] && [ "$state" != Z ] && [ "$state" != X ]
}

snapshot >"$TMP/before"
"$SPAWN" >"$TMP/out" 2>"$TMP/err" &
pid=$!
defer "kill_started $pid"
wait_for_line "$TMP/out" '^ready$' 20 "$pid"
cat "$TMP/out"
grep -q '^proc .* 2$' "$TMP/out" || fail "no grandchild reported"
inodes=$(awk '$1 == "netns" { print $2 }' "$TMP/out")
[ "$(echo "$inodes" | sort -u | wc -l)" -eq 6 ] || fail "expected 6 node namespaces"
# the tree and the namespaces exist before the kill (else the checks below prove nothing)
# shellcheck disable=SC2086
[ -n "$(netns_refs $inodes)" ] || fail "the lab's namespaces are not visible before the kill"
awk '$1 == "init" || $1 == "proc" { print $2, $3 }' "$TMP/out" >"$TMP/tree"
while read -r p s; do
	alive "$p" "$s" || fail "process $p is not running before the kill"
done <"$TMP/tree"

t0=$(now_ms)
kill -9 "$pid"
wait "$pid" 2>/dev/null

for ((i = 0; i < 40; i++)); do
	left=$(while read -r p s; do alive "$p" "$s" && echo "$p"; done <"$TMP/tree")
	[ -z "$left" ] && break
	sleep 0.05
done
note "processes gone $(($(now_ms) - t0)) ms after kill -9"
[ -z "$left" ] || fail "processes still alive 2 s after kill -9: $left"

# shellcheck disable=SC2086
expect_netns_gone "kill -9 of the lab's holder" $inodes
note "namespaces gone $(($(now_ms) - t0)) ms after kill -9"
expect_nothing_left "$TMP/before" "kill -9 of the lab's holder"
