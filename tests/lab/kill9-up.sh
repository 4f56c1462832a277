#!/bin/bash
# kill9-up.sh PUNCHLAB: kill -9 of `punchlab lab up` (no --keep) once the lab is up leaves no
# namespace (nothing references the ones it held), no link in the root namespace, no pin, no
# record and no process.
. "$(dirname "$0")/lib.sh"
require_root

snapshot >"$TMP/before"
"$PUNCHLAB" lab up -t two-nats >"$TMP/out" 2>"$TMP/err" &
pid=$!
defer "kill_started $pid"
wait_for_line "$TMP/err" '^lab [a-z0-9]+ is up' 20 "$pid"
lab=$(sed -nE 's/^lab ([a-z0-9]+) is up.*/\1/p' "$TMP/err")
OUR_LABS=$lab
inodes=$(netns_inodes_of "$pid")
[ "$(echo "$inodes" | wc -l)" -eq 6 ] ||
	fail "expected lab up to hold 6 namespaces, it holds: $(echo $inodes)"
ls /run/netns/"$lab"-* >/dev/null 2>&1 && fail "lab up without --keep pinned its nodes"
[ -s "$TMP/out" ] && fail "lab up without --keep printed on stdout: $(cat "$TMP/out")"

kill -9 "$pid"
wait "$pid" 2>/dev/null
# shellcheck disable=SC2086
expect_netns_gone "kill -9 of lab up" $inodes
expect_nothing_left "$TMP/before" "kill -9 of lab up"
