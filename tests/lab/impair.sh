#!/bin/bash
# impair.sh PUNCHLAB: impaired links (issue 12, docs/impairments.md), measured on the wire.
#   - delay: 20 ms on inet:server gives ping RTTs from inet of 40 ms and more (both directions)
#   - loss: 10% on inet:nat-a loses about 19% of 400 pings from nat-a (each crosses it twice); bounds
#     loose enough never to flake (7-35%), but 0% (no impairment) fails
#   - jitter: 20 ms +- 10 ms on inet:nat-b spreads the middle half of the RTTs over more than
#     4 ms, and 3 ms more than the delay-only link shows
#   - rate: 8mbit on nat-b:host-b makes a 1 MB TCP transfer take about a second (not 0.1 s)
#   - the forwarders are gone after `lab down`; so is everything else of the lab; and after a
#     kill -9 of a `lab up` that holds an impaired lab
#   - bad specs, unknown links, a bad impair: in a topology file and an unknown preset: exit 2
#     with the message (FILE:LINE for the file)
#   - one matrix cell under the lte preset connects (punch udp, full cone x full cone), its id
#     carries /impair=lte, and its time to connect shows the added round trips
. "$(dirname "$0")/lib.sh"
require_root

lab=pim$$
OUR_LABS=$lab
snapshot >"$TMP/before"
defer "down_if_kept $lab"
impair_bin=$(dirname "$PUNCHLAB")/src/impair/punchlab-impair
[ -x "$impair_bin" ] || fail "no forwarder at $impair_bin"

# pids running our forwarder binary
forwarders() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$(readlink -f "$impair_bin")" ] || continue
		grep -q '^State:.*Z' "$p/status" 2>/dev/null || echo "${p#/proc/}"
	done
}
forwarders | sort >"$TMP/fwd-before"

# --- bad input: exit 2 and the message ------------------------------------------------------
expect_exit2() { # MESSAGE CMD...
	local want=$1 rc
	shift
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ "$rc" -eq 2 ] || { cat "$TMP/err" >&2; fail "$* exited $rc, expected 2"; }
	grep -qF -- "$want" "$TMP/err" || { cat "$TMP/err" >&2; fail "$*: no \"$want\" in its error"; }
}
expect_exit2 "--impair inet:nat-a=delay 40: delay 40: expected a unit: us, ms or s" \
	timeout 10 "$PUNCHLAB" lab up --impair 'inet:nat-a=delay 40'
expect_exit2 'no link between "inet" and "nat-c", expected one of: inet:server, inet:nat-a' \
	timeout 10 "$PUNCHLAB" lab up --impair 'inet:nat-c=delay 4ms'
expect_exit2 'preset "nosuch" not found' \
	timeout 10 "$PUNCHLAB" lab up --impairment nosuch
sed 's|^  - ends: { inet: 203.0.113.1/28, nat-a: 203.0.113.2/28 }$|&\n    impair: "loss 2"|' \
	"$SRCDIR/topologies/two-nats.yaml" >"$TMP/bad.yaml"
line=$(grep -n 'impair: "loss 2"' "$TMP/bad.yaml" | cut -d: -f1)
[ -n "$line" ] || fail "could not write the bad topology"
expect_exit2 "$TMP/bad.yaml:$line: link: impair: loss 2: expected a percentage" \
	timeout 10 "$PUNCHLAB" lab up -t "$TMP/bad.yaml"
expect_exit2 'preset "nosuch" not found' \
	timeout 30 "$PUNCHLAB" matrix --impairments none,nosuch --no-classify -o "$TMP/bad-matrix"
expect_exit2 "--impair inet:nat-a=jitter: jitter: missing value" \
	timeout 30 "$PUNCHLAB" matrix --impair 'inet:nat-a=jitter' --no-classify -o "$TMP/bad-matrix"

# --- a kept lab with four impaired links ------------------------------------------------------
"$PUNCHLAB" lab up --keep --name "$lab" \
	--impair 'inet:server=delay 20ms' \
	--impair 'inet:nat-a=loss 10%' \
	--impair 'inet:nat-b=delay 20ms jitter 10ms' \
	--impair 'nat-b:host-b=rate 8mbit' >"$TMP/up" 2>"$TMP/err" ||
	{ cat "$TMP/err" >&2; fail "lab up --keep with --impair failed"; }
# new_forwarders N FILE: wait (bounded) until N forwarders more than before run (they exec
# after lab up returns), their pids into FILE
new_forwarders() {
	local i
	for ((i = 0; i < 100; i++)); do
		forwarders | sort | comm -13 "$TMP/fwd-before" - >"$2"
		[ "$(grep -c . "$2")" -ge "$1" ] && break
		sleep 0.05
	done
	[ "$(grep -c . "$2")" -eq "$1" ] || fail "expected $1 forwarders, found: $(cat "$2")"
}
new_forwarders 4 "$TMP/fwd-up"
ours=$(cat "$TMP/fwd-up")
in_ns() { # NODE CMD...
	local node=$1
	shift
	nsenter --net="/run/netns/$lab-$node" "$@"
}

# rtts FILE: the RTTs (ms) of a ping's output, one a line
rtts() { sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$1"; }
# iqr FILE: the interquartile range of the RTTs (robust to the tails a busy machine adds)
iqr() { rtts "$1" | python3 -c 'import sys; v = sorted(float(x) for x in sys.stdin); print("%.3f" % (v[len(v) * 3 // 4] - v[len(v) // 4]))'; }

# delay: RTT over one link of 20 ms each way
in_ns inet timeout 20 ping -n -c 100 -i 0.02 198.51.100.10 >"$TMP/ping-delay" ||
	{ cat "$TMP/ping-delay"; fail "ping through the delayed link failed"; }
read -r min avg max < <(sed -n 's|.*= \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p' "$TMP/ping-delay")
iqr_delay=$(iqr "$TMP/ping-delay")
note "delay 20ms each way: RTT min/avg/max $min/$avg/$max ms, interquartile range $iqr_delay ms"
awk -v m="$min" 'BEGIN { exit !(m >= 40 && m < 50) }' ||
	fail "RTT min $min ms through a 20 ms link, expected 40 ms and more (and below 50)"

# loss: 10% each way, 400 pings. First the neighbour entry of 203.0.113.1, through the same lossy
# link: an ARP exchange lost there (19%) makes the kernel hold at most 3 packets while it asks
# again a second later, so about 200 of the measured pings (5 ms apart) would be dropped before
# they reach the link: 38.5% lost, seen once in a fresh chroot. Bounded: 8 tries.
for ((i = 0; i < 8; i++)); do
	in_ns nat-a timeout 5 ping -n -q -c 1 -W 1 203.0.113.1 >/dev/null 2>&1 && break
done
in_ns nat-a timeout 30 ping -n -q -c 400 -i 0.005 -W 1 203.0.113.1 >"$TMP/ping-loss"
lost=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$TMP/ping-loss")
note "loss 10% each way: $lost% of 400 pings lost (expected about 19%)"
awk -v l="$lost" 'BEGIN { exit !(l >= 7 && l <= 35) }' ||
	fail "lost $lost% of pings through a 10%-loss link, expected 7-35%"

# jitter: 20 ms +- 10 ms each way; the same pings as over the delay-only link, compared by
# their interquartile ranges (a busy machine adds tails to both, not a spread to the middle)
in_ns nat-b timeout 30 ping -n -c 100 -i 0.02 203.0.113.17 >"$TMP/ping-jitter" ||
	{ cat "$TMP/ping-jitter"; fail "ping through the jittered link failed"; }
read -r min avg max < <(sed -n 's|.*= \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p' "$TMP/ping-jitter")
iqr_jitter=$(iqr "$TMP/ping-jitter")
note "delay 20ms jitter 10ms each way: RTT min/avg/max $min/$avg/$max ms, interquartile range $iqr_jitter ms"
awk -v a="$min" -v j="$iqr_jitter" -v d="$iqr_delay" 'BEGIN { exit !(a >= 20 && j > 4 && j > d + 3) }' ||
	fail "RTTs through a 20+-10 ms link: min $min ms, interquartile range $iqr_jitter ms (the delay-only link's: $iqr_delay ms), expected at least 20 ms and a range above 4 ms and 3 ms above the other's"

# rate: 1 MB over 8 mbit is 1 s of payload alone
in_ns nat-b timeout 20 nc -l -p 5001 >"$TMP/received" &
listener=$!
defer "kill_started $listener"
for ((i = 0; i < 50; i++)); do
	in_ns nat-b ss -ltn | grep -q ':5001 ' && break
	sleep 0.05
done
start=$(date +%s.%N)
head -c 1000000 /dev/zero | in_ns host-b timeout 20 nc -N 10.0.2.1 5001 ||
	fail "the transfer over the rate-limited link failed"
end=$(date +%s.%N)
wait "$listener"
bytes=$(stat -c %s "$TMP/received")
secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
note "rate 8mbit: 1 MB in $secs s ($bytes bytes received)"
[ "$bytes" -eq 1000000 ] || fail "received $bytes bytes of 1000000"
awk -v t="$secs" 'BEGIN { exit !(t >= 0.9 && t < 5) }' ||
	fail "1 MB over an 8 mbit link took $secs s, expected about 1 s"

# --- lab down: forwarders and everything else gone -------------------------------------------
timeout 20 "$PUNCHLAB" lab down "$lab" || fail "lab down failed"
for ((i = 0; i < 50; i++)); do
	left=$(for p in $ours; do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" && echo "$p"; done)
	[ -z "$left" ] && break
	sleep 0.1
done
[ -z "$left" ] || fail "forwarders still running after lab down: $left"
expect_nothing_left "$TMP/before" "lab down of an impaired lab"

# --- kill -9 of lab up: its forwarders die with it ---------------------------------------------
"$PUNCHLAB" lab up --impair 'inet:server=delay 5ms' --impair 'inet:nat-a=loss 1%' 2>"$TMP/err9" &
up=$!
defer "kill_started $up"
for ((i = 0; i < 100; i++)); do
	grep -q "is up" "$TMP/err9" && break
	sleep 0.05
done
grep -q "is up" "$TMP/err9" || { cat "$TMP/err9" >&2; fail "lab up with --impair did not come up"; }
new_forwarders 2 "$TMP/fwd-9"
ours9=$(cat "$TMP/fwd-9")
kill -9 "$up"
wait "$up" 2>/dev/null
for ((i = 0; i < 50; i++)); do
	left=$(for p in $ours9; do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" && echo "$p"; done)
	[ -z "$left" ] && break
	sleep 0.1
done
[ -z "$left" ] || fail "forwarders still running after kill -9 of lab up: $left"
expect_nothing_left "$TMP/before" "kill -9 of an impaired lab up"

# --- one matrix cell under lte ----------------------------------------------------------------
cell=two-nats/udp/udp/full-cone~full-cone/impair=lte
timeout 60 "$PUNCHLAB" matrix --cell "$cell" --no-classify -o "$TMP/m" --no-color >"$TMP/m.out" 2>&1 ||
	{ cat "$TMP/m.out"; fail "matrix --cell $cell exited $?"; }
python3 - "$TMP/m/matrix.json" "$cell" <<'PY' || fail "the lte cell is not direct with its impairment"
import json, sys
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["id"] == sys.argv[2]]
assert len(cells) == 1, "no cell " + sys.argv[2]
c = cells[0]
print("# %s: %s, impair %s, time to connect %.1f ms" % (c["id"], c["outcome"], c.get("impair"), c["time_to_connect_ms"]))
assert c["outcome"] == "direct", c["outcome"]
assert c.get("impair") == "lte"
# lte adds 20 ms each way on each NAT's link: peer to peer is 80 ms per round trip at least
assert c["time_to_connect_ms"] >= 80, c["time_to_connect_ms"]
PY
grep -q 'impair=lte' "$TMP/m.out" || fail "the terminal report does not show impair=lte"
expect_nothing_left "$TMP/before" "the lte matrix cell"
echo "ok: delay, loss, jitter and rate measured; forwarders gone; bad input exit 2; lte cell direct"
