#!/bin/bash
# rootless-kill9.sh PUNCHLAB: kill -9 of an ordinary user's matrix run (made by the test) in the
# middle of its cells leaves nothing behind: none of the network namespaces it held, no process
# of the user (no keeper: a run without --keep makes none), no file under its runtime directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless-lib.sh"

as_user "$RL_PUNCHLAB" matrix --no-color --jobs 2 --out "$RL_WORK/m" >"$TMP/out" 2>&1 &
pid=$!
defer "kill_started $pid"
# the punchlab process (as_user's subshell and setpriv exec into it, env too)
for ((i = 0; i < 100; i++)); do
	main=$(pgrep -u "$RL_UID" -x punchlab | head -1)
	[ -n "$main" ] && [ "$(netns_inodes_of "$main" | wc -l)" -ge 6 ] && break
	sleep 0.05
done
[ -n "$main" ] || fail "the rootless matrix run did not start: $(cat "$TMP/out")"
inodes=$(netns_inodes_of "$main")
# its own home namespace too (docs/rootless.md: a rootless run lives in one of its own)
inodes+=$'\n'$(stat -L -c %i "/proc/$main/ns/net")
[ "$(echo "$inodes" | wc -l)" -ge 7 ] ||
	fail "expected a cell's namespaces, the run holds: $(tr '\n' ' ' <<<"$inodes")"
note "killing punchlab $main holding $(echo "$inodes" | wc -l) network namespaces"
kill -9 "$main"
wait "$pid" 2>/dev/null
# shellcheck disable=SC2086
expect_netns_gone "kill -9 of a rootless matrix run" $inodes
rl_expect_clean "kill -9 of a rootless matrix run"
exit 0
