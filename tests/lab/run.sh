#!/bin/bash
# run.sh PUNCHLAB: `punchlab run`, one cell under the microscope (issue 13 items 1 and 2;
# docs/run.md).
#   - a direct UDP cell (port-restricted cone x full cone): exit 0; the live timeline on stdout;
#     timeline.txt holds both NATs' conntrack `new` events and their final dump, both peers'
#     engine events (their `result` lines), the attestation and the outcome, in time order;
#     timeline.jsonl is one JSON object a line with non-decreasing t_ms
#   - --pcap DIR: one pcap per interface of interest (hosts, each NAT's LAN and WAN, the server);
#     tcpdump reads them, and both NATs' WAN captures show the punched flow: the two NATs'
#     public endpoints (from the attestation's evidence) exchanging datagrams both ways
#   - a NAT event (nat-a reboot): conntrack `destroy` events of nat-a in the timeline, and the
#     event itself
#   - --keep: the lab stays (its record and pins), the rendezvous still runs, `punchlab exec`
#     reaches nat-a's conntrack, `lab down` removes it all
#   - matrix --pcap failed: the failed cell keeps its captures (linked from junit.xml and
#     matrix.json), the direct one has none left
#   - bad arguments: exit 2 with one line on stderr naming the argument, nothing left behind
. "$(dirname "$0")/lib.sh"
require_root
command -v tcpdump >/dev/null || fail "tcpdump is missing (ci/bootstrap.sh installs it)"

snapshot >"$TMP/before"

# The NAT event's cell (below) holds its path for 10 s after the event (CELL_EVENTS_RECOVER_MS):
# 13 s of the test's 18 when it ran alone. It starts first, in the background (bounded, killed
# by the teardown), and runs while the other steps do: each has a lab of its own.
timeout -k 5 90 "$PUNCHLAB" run --a port-restricted-cone --b port-restricted-cone \
	--events 'nat-a reboot@1s for 1s' -o "$TMP/r2" >"$TMP/r2.out" 2>"$TMP/r2.err" &
r2pid=$!
defer "kill_started $r2pid"

# --- a direct cell, its timeline and its captures -----------------------------------------------
"$PUNCHLAB" run --a port-restricted-cone --b full-cone --pcap "$TMP/pcap" -o "$TMP/r1" \
	>"$TMP/r1.out" 2>"$TMP/r1.err"
rc=$?
[ "$rc" -eq 0 ] || { cat "$TMP/r1.out" "$TMP/r1.err" >&2; fail "run exited $rc, expected 0 (direct as expected)"; }
grep -q "^outcome: direct (expected direct)" "$TMP/r1.out" || { cat "$TMP/r1.out" >&2; fail "no 'outcome: direct' line"; }
# the live view printed the entries as they came (before the summary)
grep -Eq '^ +[0-9.]+ ms  conntrack  nat-a +new ' "$TMP/r1.out" || fail "no live conntrack line on stdout"
tl=$(sed -n 's/^timeline: \([^ ]*\) .*/\1/p' "$TMP/r1.out")
[ -f "$tl" ] || fail "no timeline file named on stdout (got \"$tl\")"
head -1 "$tl" | grep -q '^# cell two-nats/udp/udp/port-restricted-cone~full-cone; t = 0 ms' ||
	fail "timeline.txt lacks its header: $(head -1 "$tl")"
for nat in nat-a nat-b; do
	grep -Eq "  conntrack  $nat +new +udp 10\.0\.[12]\.10:[0-9]+ -> 203\.0\.113\.[0-9]+:[0-9]+ remote " "$tl" ||
		fail "no conntrack new event of $nat with its tuple before and after NAT"
	grep -Eq "  dump       $nat +final +udp " "$tl" || fail "no final dump of $nat"
done
for peer in peer-a peer-b; do
	grep -Eq "  engine     $peer +line +\{\"event\":\"result\"" "$tl" || fail "no result event of $peer"
done
grep -Eq '  attest     lab +direct ' "$tl" || fail "no attestation"
grep -Eq '  outcome    cell +direct +engine said direct' "$tl" || fail "no outcome entry"
awk '{ t = $1 + 0; if (NR > 1 && $1 !~ /^#/ && t < last) { print "line " NR ": " t " < " last; bad = 1 } if ($1 !~ /^#/) last = t } END { exit bad }' "$tl" ||
	fail "timeline.txt is not in time order"
python3 - "${tl%.txt}.jsonl" <<'PY' || fail "timeline.jsonl is not one JSON object a line in time order"
import json, sys
last = -1e9
for n, line in enumerate(open(sys.argv[1]), 1):
    e = json.loads(line)
    assert set(e) == {"t_ms", "source", "who", "what", "text"}, e
    assert e["t_ms"] >= last, (n, e["t_ms"], last)
    last = e["t_ms"]
PY

# the captures: every interface of interest, readable by tcpdump
for f in host-a-eth0 host-b-eth0 nat-a-eth0-wan nat-a-eth1-lan nat-b-eth0-wan nat-b-eth1-lan server-eth0; do
	[ -s "$TMP/pcap/$f.pcap" ] || fail "no capture $f.pcap in --pcap's directory: $(ls "$TMP/pcap")"
	tcpdump -nr "$TMP/pcap/$f.pcap" >"$TMP/$f.txt" 2>"$TMP/tcpdump.err" || { cat "$TMP/tcpdump.err" >&2; fail "tcpdump cannot read $f.pcap"; }
done
# the punched flow: the attestation's evidence names each NAT's public endpoint and the other's
ev=$(grep -E '  attest     lab +evidence +nat-a \(peer A\): udp .* remote 203\.0\.113\.' "$tl" | head -1)
pub_a=$(echo "$ev" | sed -E 's/.* -> (203\.0\.113\.[0-9]+):([0-9]+) remote .*/\1.\2/')
pub_b=$(echo "$ev" | sed -E 's/.* remote (203\.0\.113\.[0-9]+):([0-9]+) .*/\1.\2/')
if [ -z "$ev" ] || [ "$pub_a" = "$ev" ] || [ "$pub_b" = "$ev" ]; then
	fail "no direct evidence line in the attestation: $ev"
fi
note "punched flow: $pub_a <-> $pub_b"
for wan in nat-a-eth0-wan nat-b-eth0-wan; do
	grep -q "IP $pub_a > $pub_b: UDP" "$TMP/$wan.txt" || { cat "$TMP/$wan.txt" >&2; fail "$wan.pcap lacks $pub_a > $pub_b"; }
	grep -q "IP $pub_b > $pub_a: UDP" "$TMP/$wan.txt" || fail "$wan.pcap lacks $pub_b > $pub_a"
done
# behind the NAT, host-a's side of the same flow carries its private address
grep -Eq "IP 10\.0\.1\.10\.[0-9]+ > ${pub_b//./\\.}: UDP" "$TMP/nat-a-eth1-lan.txt" ||
	fail "nat-a's LAN capture lacks host-a's packets to $pub_b"

# --- --keep -----------------------------------------------------------------------------------
"$PUNCHLAB" run --a full-cone --b symmetric --keep -o "$TMP/r3" >"$TMP/r3.out" 2>"$TMP/r3.err"
rc=$?
lab=$(sed -n 's/^lab \([a-z0-9]*\) is kept\. Get in:$/\1/p' "$TMP/r3.out")
[ -n "$lab" ] || { cat "$TMP/r3.out" "$TMP/r3.err" >&2; fail "run --keep did not say which lab it kept (exit $rc)"; }
OUR_LABS=$lab # read by expect_nothing_left (lib.sh)
export OUR_LABS
defer "down_if_kept $lab"
[ "$rc" -eq 0 ] || fail "run --keep exited $rc"
[ -f "/run/punchlab/$lab.lab" ] || fail "no record of the kept lab $lab"
grep -q "punchlab lab down $lab" "$TMP/r3.out" || fail "run --keep does not say how to remove the lab"
grep -q "nsenter --net=/run/netns/$lab-nat-a" "$TMP/r3.out" || fail "run --keep does not say how to enter a node"
pid=$(sed -n 's/^still running: rendezvous (init pid \([0-9]*\), node server).*/\1/p' "$TMP/r3.out")
[ -n "$pid" ] || fail "run --keep does not say the rendezvous still runs: $(grep '^still' "$TMP/r3.out")"
if [ "$(ps -o stat= -p "$pid" | cut -c1)" = Z ] || ! kill -0 "$pid" 2>/dev/null; then
	fail "the kept rendezvous (pid $pid) is not running"
fi
"$PUNCHLAB" exec "$lab" nat-a -- conntrack -L >"$TMP/ct" 2>&1 || { cat "$TMP/ct" >&2; fail "exec into the kept nat-a failed"; }
grep -q 'src=10\.0\.1\.10 ' "$TMP/ct" || { cat "$TMP/ct" >&2; fail "the kept nat-a holds none of host-a's flows"; }
"$PUNCHLAB" lab down "$lab" || fail "lab down $lab failed"
[ ! -e "/run/netns/$lab-nat-a" ] || fail "lab down left the pin of nat-a"
for ((i = 0; i < 50; i++)); do
	st=$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)
	[ -z "$st" ] || [ "$st" = Z ] && break
	sleep 0.1
done
[ -z "$st" ] || [ "$st" = Z ] || fail "the kept rendezvous (pid $pid) survived lab down"

# --- --keep and kill -9 mid-run: the lab is pinned from lab up and its servers are in its record
# as they start, so `lab down` removes everything; the peers die with punchlab ------------------
"$PUNCHLAB" run --a port-restricted-cone --b port-restricted-cone --events 'nat-a reboot@1s for 1s' \
	--keep --no-classify -o "$TMP/r4" >"$TMP/r4.out" 2>"$TMP/r4.err" &
runpid=$!
defer "kill_started $runpid"
wait_for_line "$TMP/r4.out" 'engine +peer-b +line' 20 "$runpid"
lab4=$(sed -n 's/.* --keep: lab \([a-z0-9]*\) pinned as .*/\1/p' "$TMP/r4.out")
[ -n "$lab4" ] || { cat "$TMP/r4.out" >&2; fail "run --keep did not say, at lab up, which lab it pinned"; }
OUR_LABS="$lab $lab4"
defer "down_if_kept $lab4"
kill -9 "$runpid"
wait "$runpid" 2>/dev/null
[ -f "/run/punchlab/$lab4.lab" ] || fail "after kill -9, no record of the kept lab $lab4"
grep -q '^pid ' "/run/punchlab/$lab4.lab" || fail "the record of $lab4 names no server: $(cat "/run/punchlab/$lab4.lab")"
"$PUNCHLAB" lab down "$lab4" || fail "lab down $lab4 (after kill -9) failed"

# --- matrix --pcap failed: kept for the failed cell only, and linked -----------------------------
"$PUNCHLAB" matrix --cell two-nats/udp/udp/full-cone~full-cone --cell two-nats/udp/udp/symmetric~symmetric \
	--pcap failed --no-classify -o "$TMP/m" >"$TMP/m.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { cat "$TMP/m.out" >&2; fail "matrix --pcap failed exited $rc"; }
ls "$TMP"/m/cells/two-nats_udp_udp_symmetric~symmetric/run-1/nat-a-eth0-wan.pcap >/dev/null ||
	fail "the failed cell lost its captures"
! ls "$TMP"/m/cells/two-nats_udp_udp_full-cone~full-cone/run-1/*.pcap >/dev/null 2>&1 ||
	fail "the direct cell kept its captures under --pcap failed"
grep -q '\[\[ATTACHMENT|cells/two-nats_udp_udp_symmetric~symmetric/run-1/nat-a-eth0-wan.pcap\]\]' "$TMP/m/junit.xml" ||
	fail "junit.xml does not link the failed cell's captures"
python3 - "$TMP/m/matrix.json" <<'PY' || fail "matrix.json does not list the failed cell's captures (and only its)"
import json, sys
d = json.load(open(sys.argv[1]))
caps = {c["id"]: c["runs"][0].get("captures") for c in d["cells"]}
assert "nat-b-eth0-wan.pcap" in caps["two-nats/udp/udp/symmetric~symmetric"], caps
assert not caps["two-nats/udp/udp/full-cone~full-cone"], caps
PY
tcpdump -nr "$TMP"/m/cells/two-nats_udp_udp_symmetric~symmetric/run-1/nat-a-eth0-wan.pcap 2>/dev/null | grep -q 'UDP' ||
	fail "the failed cell's capture holds no UDP"

# --- bad arguments ----------------------------------------------------------------------------
# bad WANT ARGS...: punchlab run ARGS exits 2 with one line saying WANT
bad() {
	local want=$1
	shift
	expect_one_error "$want" run "$@" -o "$TMP/bad"
}
bad "missing --a PROFILE"
bad "missing --b PROFILE" --a full-cone
bad "--proto sctp: expected udp or tcp" --a full-cone --b full-cone --proto sctp
bad "--technique tcp-ttl" --a full-cone --b full-cone --technique tcp-ttl
bad "nosuch: profile not found" --a nosuch --b full-cone
bad "--cell names the whole cell" --cell two-nats/udp/udp/full-cone~full-cone --a full-cone
bad 'unexpected argument "extra"' --a full-cone --b full-cone extra
bad "--impair nosuch=delay" --a full-cone --b full-cone --impair nosuch=delay
bad "--stagger -5" --a full-cone --b full-cone --stagger -5

# --- a NAT event: the reboot flushes nat-a's conntrack, seen as destroy events ------------------
# (started at the top, judged last: the other steps ran meanwhile)
wait "$r2pid"
rc=$?
[ "$rc" -ne 124 ] || fail "the events run ran over 90 s"
tl2=$(sed -n 's/^timeline: \([^ ]*\) .*/\1/p' "$TMP/r2.out")
[ -f "$tl2" ] || { cat "$TMP/r2.out" "$TMP/r2.err" >&2; fail "the events run wrote no timeline (exit $rc)"; }
grep -Eq '  conntrack  nat-a +destroy +udp 10\.0\.1\.10:' "$tl2" || fail "no conntrack destroy event of nat-a after its reboot"
grep -Eq '  nat-event  lab +start +nat-a reboot@1s' "$tl2" || fail "no NAT event entry for the reboot"
grep -Eq '  dump       nat-[ab] +refresh ' "$tl2" || fail "no refresh from the periodic dumps in a 10 s hold"

expect_nothing_left "$TMP/before" "punchlab run"
echo "PASS ($TEST)"
