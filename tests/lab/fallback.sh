#!/usr/bin/env bash
# fallback.sh PUNCHLAB: networks that force a fallback (issue 15 item 2), punch's cells:
#   - udp-blocked (outbound: no-udp): udp/udp x full-cone fails in registration (nothing of UDP
#     leaves); udp/auto falls back to TCP by itself: direct over TCP against full-cone, relayed
#     over TCP against symmetric, each attested by the lab on TCP flows (the engine says tcp);
#     tcp/auto connects directly and tcp/relay is relayed over TCP, attested;
#   - web-only (outbound: tcp:80,443) x full-cone: with the default rendezvous port 3478 tcp/auto
#     fails in registration; with --rendezvous-port 443 it reaches the relay on 443: relayed,
#     attested, its flows to port 443, and so does udp/auto (falling back to TCP); the cells'
#     ids end in /port=443, and the id alone reruns the cell on 443;
#   - every cell as the theory predicts (exit 0, none disagreeing with it), nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

snapshot >"$TMP/before"

# check DIR ID OUTCOME VERDICT PORT: the cell's outcome, its first run's attestation verdict, the
# theory agreeing, and (PORT not -) a relay flow to that port in its reason
check() {
	python3 - "$1/matrix.json" "$2" "$3" "$4" "$5" <<'PY' || fail "$2: not as expected"
import json, sys
path, cid, outcome, verdict, port = sys.argv[1:]
cells = {c["id"]: c for c in json.load(open(path))["cells"]}
c = cells[cid]
r = c["runs"][0]
got = (c["outcome"], r["attestation"]["verdict"], c["refs"]["theory"]["outcome"])
print(cid, got, c["reason"])
assert got == (outcome, verdict, outcome), got
assert not c["verdict"]["disagrees_theory"]
if port != "-":
    assert f":{port} (relay)" in c["reason"], c["reason"]
PY
}

UU=two-nats/udp/udp/udp-blocked~full-cone
UB=two-nats/udp/auto/udp-blocked~full-cone
US=two-nats/udp/auto/udp-blocked~symmetric
TB=two-nats/tcp/auto/udp-blocked~full-cone
RB=two-nats/tcp/relay/udp-blocked~full-cone
run_matrix 120 --cell "$UU" --cell "$UB" --cell "$US" --cell "$TB" --cell "$RB" --no-classify \
	--jobs 2 -o "$TMP/ub"
show_matrix_output
[ "$RC" -eq 0 ] || fail "udp-blocked cells: exit $RC, expected 0"
check "$TMP/ub" "$UU" failed none -
check "$TMP/ub" "$UB" direct direct -
check "$TMP/ub" "$US" relayed relayed 3478
check "$TMP/ub" "$TB" direct direct -
check "$TMP/ub" "$RB" relayed relayed 3478
# the fallback is the engine's own, said in its events: both peers, once
for side in a b; do
	n=$(grep -c '"event":"fallback","t_ms":[0-9.]*,"from":"udp","to":"tcp"' \
		"$TMP/ub/cells/two-nats_udp_auto_udp-blocked~full-cone/run-1/peer-$side.out")
	[ "$n" = 1 ] || fail "peer $side fell back $n times, expected once"
done

WO=two-nats/tcp/auto/web-only~full-cone
run_matrix 60 --cell "$WO" --no-classify -o "$TMP/wo3478"
show_matrix_output
[ "$RC" -eq 0 ] || fail "web-only on 3478: exit $RC, expected 0"
check "$TMP/wo3478" "$WO" failed none -
# a non-default port is part of the cell id (port=443), so its rerun line reproduces it; udp/auto
# gets there too: UDP never leaves, it falls back to TCP and reaches the relay on 443
WU=two-nats/udp/auto/web-only~full-cone
run_matrix 60 --cell "$WO" --cell "$WU" --rendezvous-port 443 --no-classify --jobs 2 \
	-o "$TMP/wo443"
show_matrix_output
[ "$RC" -eq 0 ] || fail "web-only on 443: exit $RC, expected 0"
check "$TMP/wo443" "$WO/port=443" relayed relayed 443
check "$TMP/wo443" "$WU/port=443" relayed relayed 443
for side in a b; do
	grep -q '"event":"fallback","t_ms":[0-9.]*,"from":"udp","to":"tcp"' \
		"$TMP/wo443/cells/two-nats_udp_auto_web-only~full-cone_port=443/run-1/peer-$side.out" ||
		fail "udp/auto on web-only: peer $side did not fall back to TCP"
done
# the rerun line: the id alone (no --rendezvous-port) runs it on 443 again
run_matrix 60 --cell "$WO/port=443" --no-classify -o "$TMP/wo443again"
[ "$RC" -eq 0 ] || fail "web-only rerun by id on 443: exit $RC, expected 0"
check "$TMP/wo443again" "$WO/port=443" relayed relayed 443

run_matrix 10 --cell "$WO" --rendezvous-port 0 -o "$TMP/bad"
[ "$RC" -eq 2 ] || fail "--rendezvous-port 0: exit $RC, expected 2"
grep -q -- "--rendezvous-port 0: expected a port, 1..65535" "$TMP/matrix.err" ||
	fail "--rendezvous-port 0 said: $(cat "$TMP/matrix.err")"

expect_nothing_left "$TMP/before" "the fallback cells"
echo "PASS: fallback"
