#!/bin/bash
# rootless-keep.sh PUNCHLAB: as an ordinary user (made by the test), `lab up --keep` keeps a lab
# held by a keeper process, with its record under $XDG_RUNTIME_DIR/punchlab; `lab list` shows
# it, `exec` runs in its nodes (a NAT node's ruleset is there, the host reaches the server
# through its NAT), `lab down` removes it with its keeper; `clean` removes another one; and
# nothing is left: no process of the user, no file under the runtime directory. An
# XDG_RUNTIME_DIR longer than the records' 300-byte paths allow is one sentence (exit 2), never a
# cut path; one of exactly the longest accepted length (200 bytes) keeps a lab.
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

# rl_runtime_of_length N: a directory the test user owns whose path is N bytes long
rl_runtime_of_length() {
	local dir=$RL_RUNTIME-long
	while [ $((${#dir} + 51)) -le "$1" ]; do dir+=/$(printf 'd%.0s' {1..50}); done
	[ ${#dir} -lt "$1" ] && dir+=/$(head -c $(($1 - ${#dir} - 1)) /dev/zero | tr '\0' e)
	mkdir -p "$dir" && chown -R "$RL_UID:$RL_GID" "$RL_RUNTIME-long" && chmod -R 700 "$RL_RUNTIME-long"
	echo "$dir"
}
long=$(rl_runtime_of_length 290)
[ ${#long} -eq 290 ] || fail "made a runtime directory of ${#long} bytes, not 290"
for verb in "lab up --keep" "lab list"; do
	# shellcheck disable=SC2086 # the verb's words
	as_user env XDG_RUNTIME_DIR="$long" timeout 30 "$RL_PUNCHLAB" $verb >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "$verb with a 290-byte XDG_RUNTIME_DIR: exit $rc, expected 2: $(cat "$TMP/err")"
	grep -q "^punchlab: without root, punchlab keeps its labs' records under \$XDG_RUNTIME_DIR/punchlab, and XDG_RUNTIME_DIR is 290 bytes long .*set it to a directory of at most 200 bytes" "$TMP/err" ||
		fail "$verb with a 290-byte XDG_RUNTIME_DIR: not the sentence: $(cat "$TMP/err")"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$verb: more than one line: $(cat "$TMP/err")"
done
[ -z "$(find "$RL_RUNTIME-long" -mindepth 1 -not -type d)" ] ||
	fail "a refused XDG_RUNTIME_DIR got files: $(find "$RL_RUNTIME-long" -not -type d)"
rm -rf "$RL_RUNTIME-long"
edge=$(rl_runtime_of_length 200)
lab3=$(as_user env XDG_RUNTIME_DIR="$edge" timeout 30 "$RL_PUNCHLAB" lab up --keep 2>"$TMP/err") ||
	fail "lab up --keep with a 200-byte XDG_RUNTIME_DIR failed: $(cat "$TMP/err")"
[ -f "$edge/punchlab/$lab3.lab" ] || fail "no record $edge/punchlab/$lab3.lab"
grep -q "^node host-a $edge/punchlab/netns/$lab3-host-a\$" "$edge/punchlab/$lab3.lab" ||
	fail "the record's pin paths are not whole: $(grep '^node' "$edge/punchlab/$lab3.lab")"
as_user env XDG_RUNTIME_DIR="$edge" timeout 10 "$RL_PUNCHLAB" exec "$lab3" host-a -- true ||
	fail "exec in a lab kept under a 200-byte XDG_RUNTIME_DIR failed"
as_user env XDG_RUNTIME_DIR="$edge" timeout 20 "$RL_PUNCHLAB" lab down "$lab3" 2>"$TMP/err" ||
	fail "lab down under a 200-byte XDG_RUNTIME_DIR failed: $(cat "$TMP/err")"
[ -z "$(find "$RL_RUNTIME-long" -mindepth 1 -not -type d)" ] ||
	fail "lab down left files: $(find "$RL_RUNTIME-long" -not -type d)"
rm -rf "$RL_RUNTIME-long"
rl_expect_clean "a lab kept under a 200-byte XDG_RUNTIME_DIR"
exit 0
