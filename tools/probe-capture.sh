#!/bin/bash
# Regenerates the import fixtures under tests/data/probe/ (real outputs of Debian's stun-client
# and coturn's turnutils_natdiscovery, captured in labs): for every shipped profile a lab with
# that profile in nat-a and coturn (two addresses, so RFC 5780) in the server node, both tools
# run in host-a. Plus lifetime captures against a copy of port-restricted-cone whose UDP
# timeout is 4 s: natdiscovery -t -T 2 (alive) and -T 7 (gone).
# Usage (root, from the source tree, after ninja -C build): tools/probe-capture.sh [DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
pl=$top/build/punchlab
out=${1:-$top/tests/data/probe}   # another directory: capture there (to compare)
tmp=$(mktemp -d)
lab=
cleanup() {
	[ -n "$lab" ] && "$pl" lab down "$lab" >/dev/null 2>&1
	[ -n "${turn_pid:-}" ] && kill "$turn_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
turn_up() {
	"$pl" exec --timeout 60 "$lab" server -- turnserver -n --listening-ip=198.51.100.10 \
		--listening-ip=198.51.100.11 --listening-port=3478 --no-tls --no-dtls --no-cli \
		--pidfile="$tmp/turn.pid" --userdb="$tmp/turndb" --log-file="$tmp/turn.log" \
		--no-stdout-log >/dev/null 2>&1 &
	turn_pid=$!   # our punchlab exec; coturn's pid file holds its pid inside the lab's PID namespace
	for _ in $(seq 50); do [ -s "$tmp/turn.pid" ] && break; sleep 0.1; done
	sleep 0.3
}
turn_down() {
	kill "$turn_pid" 2>/dev/null   # coturn dies with the exec's PID namespace
	wait "$turn_pid" 2>/dev/null || true   # killed: not an error
	turn_pid=
	rm -f "$tmp/turn.pid"
}
for f in "$top"/nat-profiles/*.nft; do
	p=$(basename "$f" .nft)
	lab=$("$pl" lab up --keep --set "nat-a=$p")
	turn_up
	"$pl" exec --timeout 30 "$lab" host-a -- stun 198.51.100.10 >"$out/stun-client-$p.txt" 2>&1 || true
	"$pl" exec --timeout 30 "$lab" host-a -- turnutils_natdiscovery -m -f -H 198.51.100.10 \
		>"$out/natdiscovery-$p.txt" 2>&1
	turn_down
	"$pl" lab down "$lab"
	lab=
done
sed -e 's/^# udp-timeout: 30$/# udp-timeout: 4/' -e 's/unreplied : 30, replied : 30/unreplied : 4, replied : 4/' \
	"$top/nat-profiles/port-restricted-cone.nft" >"$tmp/prc4.nft"
grep -q 'replied : 4' "$tmp/prc4.nft"
lab=$("$pl" lab up --keep --set "nat-a=$tmp/prc4.nft")
turn_up
"$pl" exec --timeout 30 "$lab" host-a -- turnutils_natdiscovery -t -T 2 198.51.100.10 \
	>"$out/natdiscovery-lifetime-alive-2.txt" 2>&1
"$pl" exec --timeout 30 "$lab" host-a -- turnutils_natdiscovery -t -T 7 198.51.100.10 \
	>"$out/natdiscovery-lifetime-gone-7.txt" 2>&1
turn_down
