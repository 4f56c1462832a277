#!/bin/bash
# clean.sh PUNCHLAB: `punchlab clean` removes every kept lab and nothing else.
#   Two kept labs (two topologies), an unrelated named namespace (`ip netns add`) and an
#   unrelated file under /run/punchlab; clean removes both labs (their pins, records and
#   namespaces) and leaves the namespace and the file alone. `lab list` is oldest first.
#   A program started with `punchlab exec` in a lab is killed by clean: its exec returns.
. "$(dirname "$0")/lib.sh"
require_root

# clean removes every kept lab on the machine: do not destroy someone else's work outside CI.
others=$("$PUNCHLAB" lab list 2>/dev/null)
if [ -n "$others" ] && [ "${CI:-}" != true ]; then
	echo "SKIP ($TEST): kept labs exist that this test did not make; clean would remove them:"
	echo "$others"
	exit 77
fi

# Named so that the older one sorts last by name: list order must come from age, not name.
old=plcz$$
new=plca$$
other=pltestother$$
OUR_LABS="$old $new"
snapshot >"$TMP/before"
defer "down_if_kept $old"
defer "down_if_kept $new"

ip netns add "$other" || fail "ip netns add $other"
defer "ip netns del $other"
mkdir -p /run/punchlab
note=/run/punchlab/notes-$$.txt
echo "not a lab record" >"$note"
defer "rm -f $note"

[ "$("$PUNCHLAB" lab up --keep --name "$old")" = "$old" ] || fail "lab up --keep --name $old"
sleep 1.1 # records carry their creation time in seconds
[ "$("$PUNCHLAB" lab up --keep -t same-nat --name "$new")" = "$new" ] ||
	fail "lab up --keep -t same-nat --name $new"
inodes=$(for p in /run/netns/"$old"-* /run/netns/"$new"-*; do stat -L -c %i "$p"; done | sort -u)
[ "$(echo "$inodes" | wc -l)" -eq 11 ] || fail "expected 6 + 5 namespaces, got: $inodes"

"$PUNCHLAB" exec "$old" host-a -- sleep 600 &
exec_pid=$!
defer "kill_started $exec_pid"

"$PUNCHLAB" lab list >"$TMP/list" || fail "lab list failed"
cat "$TMP/list"
order=$(awk -v a="$old" -v b="$new" '$1 == a || $1 == b { printf "%s ", $1 }' "$TMP/list")
[ "$order" = "$old $new " ] || fail "lab list order is \"$order\", expected oldest first: $old $new"

"$PUNCHLAB" clean 2>"$TMP/err"
rc=$?
cat "$TMP/err"
[ "$rc" -eq 0 ] || fail "clean exited $rc"
grep -q "removed lab $old" "$TMP/err" || fail "clean did not report removing $old"
grep -q "removed lab $new" "$TMP/err" || fail "clean did not report removing $new"
for lab in $old $new; do
	ls /run/netns/"$lab"-* >/dev/null 2>&1 && fail "clean left pins of $lab"
	[ -e "/run/punchlab/$lab.lab" ] && fail "clean left the record of $lab"
done
[ -z "$("$PUNCHLAB" lab list)" ] || fail "lab list not empty after clean"
wait_exit "$exec_pid" 5
[ "$RC" -ne 0 ] || fail "exec -- sleep 600 in a cleaned lab returned 0"
# shellcheck disable=SC2086
expect_netns_gone "clean" $inodes

# ... and nothing else
[ -e "/run/netns/$other" ] || fail "clean removed the unrelated namespace $other"
nsenter --net="/run/netns/$other" true || fail "the unrelated namespace $other no longer works"
[ -f "$note" ] || fail "clean removed the unrelated file $note"
"$PUNCHLAB" clean 2>"$TMP/err" || fail "clean with nothing to clean failed"
[ -e "/run/netns/$other" ] || fail "a second clean removed $other"

ip netns del "$other" || fail "ip netns del $other"
rm -f "$note"
expect_nothing_left "$TMP/before" "clean"
