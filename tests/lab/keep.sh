#!/bin/bash
# keep.sh PUNCHLAB: a kept lab from `lab up --keep` to `lab down`.
#   - `lab up --keep --name X` prints only X on stdout and pins every node as /run/netns/X-NODE
#   - `lab list` shows X, name first
#   - `ip -n X-host-a` sees host-a's address (the pins work for iproute2; `ip netns exec` uses
#     the same file, but also remounts /sys, which a chroot cannot do)
#   - `punchlab exec X NODE -- CMD` runs CMD in that node and passes its exit status through;
#     `--timeout 1` kills a longer CMD after ~1 s with 124 and leaves nothing running there
#   - programs started with `punchlab exec` in the background (a `sleep 600`, and a shell with a
#     `sleep 600` of its own in the background) are killed by `lab down X`: checked by pid and
#     start time, and the exec commands return (issue 9)
#   - `lab down X` removes the pins, the record and the namespaces; nothing else changes
. "$(dirname "$0")/lib.sh"
require_root

lab=plk$$
OUR_LABS=$lab
snapshot >"$TMP/before"
defer "down_if_kept $lab"

# --- up --keep --------------------------------------------------------------------------------
out=$("$PUNCHLAB" lab up --keep --name "$lab" 2>"$TMP/err")
rc=$?
cat "$TMP/err" >&2
[ "$rc" -eq 0 ] || fail "lab up --keep exited $rc"
[ "$out" = "$lab" ] || fail "lab up --keep printed \"$out\" on stdout, expected only \"$lab\""
for node in inet server nat-a nat-b host-a host-b; do
	[ -e "/run/netns/$lab-$node" ] || fail "no pin /run/netns/$lab-$node"
done
[ -f "/run/punchlab/$lab.lab" ] || fail "no record /run/punchlab/$lab.lab"
ip netns list | grep -q "^$lab-host-a\b" || fail "ip netns list does not show $lab-host-a"
# the namespaces the pins hold, to check they are gone after lab down
inodes=$(for p in /run/netns/"$lab"-*; do stat -L -c %i "$p"; done | sort -u)
[ "$(echo "$inodes" | wc -l)" -eq 6 ] || fail "expected 6 distinct namespaces, got: $inodes"

# --- lab list ---------------------------------------------------------------------------------
"$PUNCHLAB" lab list >"$TMP/list" || fail "lab list failed"
cat "$TMP/list"
awk -v l="$lab" '$1 == l { found = 1 } END { exit !found }' "$TMP/list" ||
	fail "lab list does not show $lab as the first field of a line"
grep "^$lab " "$TMP/list" | grep -q "two-nats" || fail "lab list does not name the topology"

# --- the pins work for iproute2 ----------------------------------------------------------------
ip netns list | grep -q "^$lab-host-a" || fail "ip netns list does not show the pins"
nsenter --net="/run/netns/$lab-host-a" ip -4 -o addr show >"$TMP/addr" || fail "entering the pinned namespace failed"
grep -q ' inet 10\.0\.1\.10/24 ' "$TMP/addr" || { cat "$TMP/addr"; fail "host-a lacks 10.0.1.10/24"; }
nsenter --net="/run/netns/$lab-nat-a" ip -4 -o addr show | grep -q ' inet 203\.0\.113\.2/28 ' ||
	fail "nat-a lacks 203.0.113.2/28"

# --- punchlab exec ------------------------------------------------------------------------------
"$PUNCHLAB" exec "$lab" host-a -- sh -c 'exit 7'
rc=$?
[ "$rc" -eq 7 ] || fail "exec ... sh -c 'exit 7' returned $rc, expected 7"
"$PUNCHLAB" exec "$lab" host-a -- true || fail "exec ... true failed"
# it runs in that node's namespace
want=$(stat -L -c %i "/run/netns/$lab-host-a")
got=$("$PUNCHLAB" exec "$lab" host-a -- readlink /proc/self/ns/net)
[ "$got" = "net:[$want]" ] || fail "exec ran in $got, expected host-a's net:[$want]"
got=$("$PUNCHLAB" exec "$lab" host-a -- ip -4 -o addr show)
grep -q ' inet 10\.0\.1\.10/24 ' <<<"$got" || fail "exec in host-a does not see 10.0.1.10/24"
"$PUNCHLAB" exec "$lab" host-a -- /nonexistent/program 2>/dev/null
rc=$?
[ "$rc" -eq 127 ] || fail "exec of a missing program returned $rc, expected 127"
"$PUNCHLAB" exec "$lab" no-such-node -- true 2>"$TMP/err"
rc=$?
[ "$rc" -eq 2 ] || fail "exec in a missing node returned $rc, expected 2"
grep -q 'no-such-node' "$TMP/err" || fail "the error does not name the missing node"
"$PUNCHLAB" exec nosuchlab$$ host-a -- true 2>/dev/null
rc=$?
[ "$rc" -eq 2 ] || fail "exec in a missing lab returned $rc, expected 2"

# --timeout: killed after ~1 s with 124, and the command (its process group) is gone
t0=$(now_ms)
"$PUNCHLAB" exec --timeout 1 "$lab" host-a -- sleep 5 2>"$TMP/err"
rc=$?
elapsed=$(($(now_ms) - t0))
note "exec --timeout 1 -- sleep 5: exit $rc after $elapsed ms"
[ "$rc" -eq 124 ] || fail "exec --timeout 1 -- sleep 5 returned $rc, expected 124"
[ "$elapsed" -ge 900 ] && [ "$elapsed" -le 2500 ] ||
	fail "exec --timeout 1 returned after $elapsed ms, expected about 1000"
"$PUNCHLAB" exec --timeout 1 "$lab" host-a -- sh -c 'sleep 5 & sleep 5' 2>/dev/null
rc=$?
[ "$rc" -eq 124 ] || fail "exec --timeout 1 -- sh -c 'sleep 5 & sleep 5' returned $rc"
refs=$(netns_refs "$want" | grep -v '^mount ' || true)
[ -z "$refs" ] || fail "processes left in host-a after --timeout: $refs"
# a fast command under --timeout keeps its status
"$PUNCHLAB" exec --timeout 5 "$lab" host-a -- sh -c 'exit 3'
rc=$?
[ "$rc" -eq 3 ] || fail "exec --timeout 5 -- sh -c 'exit 3' returned $rc, expected 3"

# --- a second lab of the same name is refused, the first is untouched --------------------------
"$PUNCHLAB" lab up --keep --name "$lab" >"$TMP/out2" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 2 ] || fail "a second lab up --keep --name $lab returned $rc, expected 2"
[ ! -s "$TMP/out2" ] || fail "a refused lab up --keep printed on stdout"
[ -e "/run/netns/$lab-host-a" ] || fail "the refused second lab removed the first one's pins"
nsenter --net="/run/netns/$lab-host-a" true || fail "the first lab's host-a is no longer usable"

# --- programs started with exec in the background ----------------------------------------------
# proc_in_netns NETNS-INODE ARGV...: pids of the live processes in that namespace running ARGV
proc_in_netns() {
	local ino=$1 p want
	shift
	want=$(printf '%s\n' "$@")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "net:[$ino]" ] || continue
		[ "$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null)" = "$want" ] || continue
		awk '$3 != "Z" { found = 1 } END { exit !found }' "$p/stat" 2>/dev/null && echo "${p#/proc/}"
	done
	return 0
}
# start_time PID: field 22 of /proc/PID/stat (after the command name, which may hold spaces)
start_time() {
	sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'
}
# alive PID START: the process PID with that start time still runs (a zombie does not)
alive() {
	[ "$(start_time "$1")" = "$2" ] && ! awk '{ exit $0 !~ /\) Z / }' "/proc/$1/stat" 2>/dev/null
}
"$PUNCHLAB" exec "$lab" host-a -- sleep 600 &
exec1=$!
defer "kill_started $exec1"
"$PUNCHLAB" exec "$lab" host-b -- sh -c 'sleep 600 & exec sleep 599' &
exec2=$!
defer "kill_started $exec2"
ino_a=$(stat -L -c %i "/run/netns/$lab-host-a")
ino_b=$(stat -L -c %i "/run/netns/$lab-host-b")
progs=""
for ((i = 0; i < 50; i++)); do
	progs="$(proc_in_netns "$ino_a" sleep 600) $(proc_in_netns "$ino_b" sleep 600) $(proc_in_netns "$ino_b" sleep 599)"
	[ "$(echo "$progs" | wc -w)" -eq 3 ] && break
	sleep 0.1
done
[ "$(echo "$progs" | wc -w)" -eq 3 ] || fail "the sleeps started with exec are not all running: \"$progs\""
started=""
for p in $progs; do
	started+=" $p:$(start_time "$p")"
done
note "programs started with exec (pid:start time):$started"
"$PUNCHLAB" lab down "$lab" || fail "lab down $lab (with programs started by exec) failed"
for ((i = 0; i < 50; i++)); do
	left=""
	for ps in $started; do
		alive "${ps%%:*}" "${ps#*:}" && left+=" $ps"
	done
	[ -z "$left" ] && break
	sleep 0.1
done
[ -z "$left" ] || fail "programs started with exec still run 5 s after lab down (pid:start):$left"
wait_exit "$exec1" 5
note "exec -- sleep 600 returned $RC after lab down"
[ "$RC" -ne 0 ] || fail "exec of a program that lab down killed returned 0"
wait_exit "$exec2" 5
[ "$RC" -ne 0 ] || fail "exec of a shell that lab down killed returned 0"
ls /run/netns/"$lab"-* >/dev/null 2>&1 && fail "lab down left $(ls -d /run/netns/"$lab"-*)"
# shellcheck disable=SC2086
expect_netns_gone "lab down with programs started by exec" $inodes

# --- lab down ---------------------------------------------------------------------------------
# a second kept lab of the same name, for the checks of lab down itself
out=$("$PUNCHLAB" lab up --keep --name "$lab")
[ "$out" = "$lab" ] || fail "lab up --keep --name $lab again printed \"$out\""
inodes=$(for p in /run/netns/"$lab"-*; do stat -L -c %i "$p"; done | sort -u)
"$PUNCHLAB" lab down "$lab" || fail "lab down $lab failed"
ls /run/netns/"$lab"-* >/dev/null 2>&1 && fail "lab down left $(ls -d /run/netns/"$lab"-*)"
[ -e "/run/punchlab/$lab.lab" ] && fail "lab down left the record"
"$PUNCHLAB" lab list | grep -q "^$lab " && fail "lab list still shows $lab"
# shellcheck disable=SC2086
expect_netns_gone "lab down" $inodes
"$PUNCHLAB" lab down "$lab" 2>/dev/null
rc=$?
[ "$rc" -eq 2 ] || fail "lab down of a removed lab returned $rc, expected 2"
expect_nothing_left "$TMP/before" "lab up --keep / lab down"
