#!/bin/bash
# sigterm.sh PUNCHLAB: `punchlab lab up` (no --keep) holds the lab until SIGTERM, then removes
# it and exits 0 with nothing left behind. The signal arrives while the lab is up, and a second
# time during the build (it is blocked then, and taken once the lab stands).
. "$(dirname "$0")/lib.sh"
require_root

snapshot >"$TMP/before"
"$PUNCHLAB" lab up >"$TMP/out" 2>"$TMP/err" &
pid=$!
defer "kill_started $pid"
wait_for_line "$TMP/err" '^lab [a-z0-9]+ is up' 20 "$pid"
cat "$TMP/err"
lab=$(sed -nE 's/^lab ([a-z0-9]+) is up.*/\1/p' "$TMP/err")
OUR_LABS=$lab
grep -q "topology two-nats" "$TMP/err" || fail "lab up did not say it built two-nats"
inodes=$(netns_inodes_of "$pid")
[ "$(echo "$inodes" | wc -l)" -eq 6 ] || fail "expected lab up to hold 6 namespaces"

kill -TERM "$pid"
wait_exit "$pid" 10
cat "$TMP/err"
[ "$RC" -eq 0 ] || fail "lab up exited $RC after SIGTERM, expected 0"
grep -q "^lab $lab: .*, removing" "$TMP/err" || fail "lab up did not say it removes the lab"
# shellcheck disable=SC2086
expect_netns_gone "SIGTERM of lab up" $inodes
expect_nothing_left "$TMP/before" "SIGTERM of lab up"

# SIGTERM as soon as punchlab runs, most likely during the build (it blocks the signal before
# building and takes it once the lab stands): exit 0, or 143 when the signal came before it
# was blocked; nothing left either way
"$PUNCHLAB" lab up >"$TMP/out" 2>"$TMP/err" &
pid=$!
defer "kill_started $pid"
for ((i = 0; i < 200; i++)); do
	[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$PUNCHLAB" ] && break
	sleep 0.01
done
kill -TERM "$pid"
wait_exit "$pid" 10
cat "$TMP/err"
[ "$RC" -eq 0 ] || [ "$RC" -eq 143 ] ||
	fail "lab up exited $RC after an early SIGTERM, expected 0 (or 143 before it blocked it)"
expect_nothing_left "$TMP/before" "early SIGTERM of lab up"
