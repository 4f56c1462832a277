#!/bin/bash
# rootless-keep.sh PUNCHLAB: as an ordinary user (made by the test), `lab up --keep` keeps a lab
# held by a keeper process, with its record under $XDG_RUNTIME_DIR/punchlab; `lab list` shows
# it, `exec` runs in its nodes (a NAT node's ruleset is there, the host reaches the server
# through its NAT), `lab down` removes it with its keeper; `clean` removes another one; and
# nothing is left: no process of the user, no file under the runtime directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless-lib.sh"

lab=$(as_user timeout 30 "$RL_PUNCHLAB" lab up --keep 2>"$TMP/err") ||
	fail "rootless lab up --keep failed: $(cat "$TMP/err")"
note "kept lab $lab"
[ -f "$RL_RUNTIME/punchlab/$lab.lab" ] || fail "no record $RL_RUNTIME/punchlab/$lab.lab"
[ -e "/run/punchlab/$lab.lab" ] && fail "a rootless lab wrote root's record /run/punchlab/$lab.lab"
keeper=$(awk '$1 == "keeper" { print $2 }' "$RL_RUNTIME/punchlab/$lab.lab")
[ -n "$keeper" ] || fail "the record of a rootless kept lab names no keeper"
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$keeper/status" 2>/dev/null)" = "$RL_UID" ] ||
	fail "keeper $keeper is not a process of the test user"
# the keeper holds the lab's namespaces: they are not the machine's
[ "$(readlink "/proc/$keeper/ns/user")" = "$(readlink /proc/self/ns/user)" ] &&
	fail "the keeper runs in the machine's user namespace"

as_user timeout 10 "$RL_PUNCHLAB" lab list >"$TMP/list" 2>&1 || fail "lab list failed: $(cat "$TMP/list")"
grep -q "^$lab " "$TMP/list" || fail "lab list does not show $lab: $(cat "$TMP/list")"

# an ordinary user's PATH (no sbin): punchlab adds the sbin directories inside, as sudo's
# secure_path does
RL_PATH=/usr/local/bin:/usr/bin:/bin as_user timeout 10 "$RL_PUNCHLAB" exec "$lab" nat-a -- \
	nft list tables >"$TMP/nft" 2>&1 ||
	fail "exec nft in nat-a failed: $(cat "$TMP/nft")"
grep -q '^table ' "$TMP/nft" || fail "no nftables table in nat-a: $(cat "$TMP/nft")"
as_user timeout 10 "$RL_PUNCHLAB" exec "$lab" host-a -- ping -c 1 -W 2 198.51.100.10 >"$TMP/ping" 2>&1 ||
	fail "host-a cannot ping the server through its NAT: $(cat "$TMP/ping")"
# the exit status passes through
as_user timeout 10 "$RL_PUNCHLAB" exec "$lab" host-a -- sh -c 'exit 7'
[ $? -eq 7 ] || fail "exec did not pass the exit status through"

as_user timeout 20 "$RL_PUNCHLAB" lab down "$lab" 2>"$TMP/err" || fail "lab down failed: $(cat "$TMP/err")"
[ -e "$RL_RUNTIME/punchlab/$lab.lab" ] && fail "lab down left the record"
as_user timeout 10 "$RL_PUNCHLAB" exec "$lab" host-a -- true 2>"$TMP/err"
[ $? -eq 2 ] || fail "exec in a removed lab did not exit 2"
grep -q "no kept lab named" "$TMP/err" || fail "exec in a removed lab: $(cat "$TMP/err")"
rl_expect_clean "rootless lab down"

lab2=$(as_user timeout 30 "$RL_PUNCHLAB" lab up --keep -t same-nat 2>"$TMP/err") ||
	fail "rootless lab up --keep -t same-nat failed: $(cat "$TMP/err")"
as_user timeout 20 "$RL_PUNCHLAB" clean 2>"$TMP/err" || fail "clean failed: $(cat "$TMP/err")"
grep -q "removed lab $lab2" "$TMP/err" || fail "clean did not remove $lab2: $(cat "$TMP/err")"
rl_expect_clean "rootless clean"
exit 0
