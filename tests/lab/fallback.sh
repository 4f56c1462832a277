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
WO=two-nats/tcp/auto/web-only~full-cone
WU=two-nats/udp/auto/web-only~full-cone
# Two matrices at once, each in its own directory (the cells are separate labs): one at the
# default rendezvous port, one with --rendezvous-port 443. Before, four matrices ran one after
# another (31 s), mostly waiting out registration deadlines and relays; now the slowest cell
# (web-only on 3478, failing in registration, about 9 s) bounds the test. The default-port
# matrix also carries the rerun line's check (a cell id ending in /port=443, given without
# --rendezvous-port, runs on 443): a third matrix of its own before.
# at_once NAME SECONDS ARGS...: `punchlab matrix ARGS... -o $TMP/NAME` in the background,
# bounded (the teardown kills it); its output in $TMP/NAME.out and .err, its pid in PIDS[NAME].
declare -A PIDS
at_once() {
	local name=$1 secs=$(($2 * ${PUNCHLAB_TEST_SLOWDOWN:-1}))
	shift 2
	timeout -k 5 "$secs" "$PUNCHLAB" matrix --no-color "$@" -o "$TMP/$name" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	PIDS[$name]=$!
	defer "kill_started ${PIDS[$name]}"
}
# joined NAME WHAT: wait for matrix NAME, show its output; it must have exited 0
joined() {
	local rc
	wait "${PIDS[$1]}"
	rc=$?
	sed 's/^/#   /' "$TMP/$1.out" "$TMP/$1.err"
	[ "$rc" -ne 124 ] || fail "$2: punchlab matrix ran over its time"
	[ "$rc" -eq 0 ] || fail "$2: exit $rc, expected 0"
}
# the default port (3478): the udp-blocked cells, web-only failing to register, and the rerun by id
at_once ub 120 --cell "$UU" --cell "$UB" --cell "$US" --cell "$TB" --cell "$RB" --cell "$WO" \
	--cell "$WO/port=443" --no-classify --jobs 7
# with --rendezvous-port 443 the web-only cells reach the relay on 443
at_once wo443 60 --cell "$WO" --cell "$WU" --rendezvous-port 443 --no-classify --jobs 2
joined ub "udp-blocked cells, web-only on 3478 and its rerun by id on 443"
joined wo443 "web-only on 443"

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

# web-only with the default rendezvous port 3478: tcp/auto fails in registration
check "$TMP/ub" "$WO" failed none -
# a non-default port is part of the cell id (port=443), so its rerun line reproduces it; udp/auto
# gets there too: UDP never leaves, it falls back to TCP and reaches the relay on 443
check "$TMP/wo443" "$WO/port=443" relayed relayed 443
check "$TMP/wo443" "$WU/port=443" relayed relayed 443
for side in a b; do
	grep -q '"event":"fallback","t_ms":[0-9.]*,"from":"udp","to":"tcp"' \
		"$TMP/wo443/cells/two-nats_udp_auto_web-only~full-cone_port=443/run-1/peer-$side.out" ||
		fail "udp/auto on web-only: peer $side did not fall back to TCP"
done
# the rerun line: the id alone (no --rendezvous-port) runs it on 443 again
check "$TMP/ub" "$WO/port=443" relayed relayed 443

run_matrix 10 --cell "$WO" --rendezvous-port 0 -o "$TMP/bad"
[ "$RC" -eq 2 ] || fail "--rendezvous-port 0: exit $RC, expected 2"
grep -q -- "--rendezvous-port 0: expected a port, 1..65535" "$TMP/matrix.err" ||
	fail "--rendezvous-port 0 said: $(cat "$TMP/matrix.err")"

expect_nothing_left "$TMP/before" "the fallback cells"
echo "PASS: fallback"
