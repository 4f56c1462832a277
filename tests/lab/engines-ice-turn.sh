#!/usr/bin/env bash
# engines-ice-turn.sh PUNCHLAB: the ICE engine's TURN relay over TCP and TLS (issue 15 item 2):
#   - ice on web-only x web-only (TCP to 80 and 443 only) with --rendezvous-port 443: relayed
#     through coturn over TLS on 443, attested relayed on TCP flows to :443 on both NATs, the
#     cell id naming /port=443 (its rerun line), as the theory says (exit 0); web-only x
#     full-cone too (A over TLS, B's NAT read for UDP);
#   - ice on udp-blocked x udp-blocked on the default port: relayed over TLS to 3478, attested;
#   - the negative: web-only x web-only with the TURN server on 3478 only: failed, as the theory
#     says (exit 0), and no TCP relay flow;
#   - the driver's TURN over plain TCP (--turn-tcp, an engine file variant): relayed on
#     udp-blocked; a TLS relay whose certificate the peers do not trust (another CA): no TLS
#     relay, failed, the handshake error said;
#   - the driver's bad input (--turn-tls/--turn-tcp not HOST:PORT, no credentials, --turn-ca
#     without --turn-tls or unreadable): exit 2, saying so;
#   - nothing of the engine is left running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
. "$(dirname "$0")/matrix-bg-lib.sh"
require_root
ICE=$(dirname "$PUNCHLAB")/src/ice/ice
[ -x "$ICE" ] || fail "the ICE driver is not built ($ICE): ci/bootstrap.sh installs libnice-dev (PUNCHLAB_ENGINES=all or --engine ice) and rebuilds"
TURN=$(command -v turnserver) || fail "turnserver is not installed: ci/bootstrap.sh installs coturn (PUNCHLAB_ENGINES=all)"
command -v openssl >/dev/null || fail "openssl is not installed: ci/bootstrap.sh installs it (engines/ice.yaml packages)"
ENGINE=$(dirname "$0")/../../engines/ice.yaml

engine_snapshot "$ICE" "$TURN" >"$TMP/before"

# check DIR ID OUTCOME VERDICT VIA PORT: the cell's outcome, its first run's attestation verdict,
# the theory agreeing; VIA: "A,B", each peer's relay_via or - (not checked); PORT (not -): each
# NAT of a peer whose VIA is turn-tcp or turn-tls holds a TCP flow to the TURN server's PORT
check() {
	python3 - "$@" <<'PY' || fail "$2: not as expected"
import json, sys, glob
path, cid, outcome, verdict, via, port = sys.argv[1:]
cells = {c["id"]: c for c in json.load(open(path + "/matrix.json"))["cells"]}
assert cid in cells, f"no cell {cid} in {list(cells)}"
c = cells[cid]
r = c["runs"][0]
a = r.get("attestation") or {}
got = (c["outcome"], a.get("verdict"), c["refs"]["theory"]["outcome"])
print(cid, got, c["reason"])
assert got == (outcome, verdict, outcome), got
assert not c["verdict"]["disagrees_theory"]
d = r["log_dir"]
ev = {e.split(" ", 1)[0]: e for e in a.get("evidence") or []}
for side, want in zip("ab", via.split(",")):
    if want == "-":
        continue
    res = [json.loads(l) for l in open(f"{path}/{d}/peer-{side}.out") if '"event":"result"' in l][0]
    tcp = want in ("turn-tcp", "turn-tls")
    assert res["relay_via"] == want and res["proto"] == ("tcp" if tcp else "udp"), res
    if tcp and port != "-":
        e = ev[f"nat-{side}"]
        assert e.split(": ", 1)[1].startswith("tcp ") and f"remote 198.51.100.10:{port} " in e, e
PY
}

# The five matrices below are independent (each cell its own lab, coturn and certificate), and
# half of their time is ICE's check timeout on the two cells that must fail: they run in two
# rounds of three cells at once (not all six: ICE's timeouts stay far from a loaded machine's
# limits), each round's longest (a failing cell, ~11 s) beside shorter ones, and are checked after.
WOWO=two-nats/udp/udp/web-only~web-only/engine=ice
UBUB=two-nats/udp/udp/udp-blocked~udp-blocked/engine=ice
WOFC=two-nats/udp/udp/web-only~full-cone/engine=ice

# TURN over plain TCP (an engine file variant), and a TLS relay the peers do not trust: another
# CA, so the peers' TLS handshake with coturn fails (the certificate is checked, so the tunnel is
# real TLS), and with no UDP out nothing else works
sed -e 's/--turn-tls, "{{rendezvous.host}}:{{port}}", --turn-ca, "{{dir}}\/turn-cert.pem"/--turn-tcp, "{{rendezvous.host}}:{{port}}"/' \
	-e 's/^engine: ice$/engine: ice-tcp/' "$ENGINE" >"$TMP/ice-tcp.yaml"
grep -q -- '--turn-tcp' "$TMP/ice-tcp.yaml" && ! grep -q -- '--turn-tls' "$TMP/ice-tcp.yaml" ||
	fail "could not make the TURN-TCP variant of $ENGINE"
TCPID=two-nats/udp/udp/udp-blocked~udp-blocked/engine=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-._"))' "$TMP/ice-tcp.yaml")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=not-the-turn-server -addext subjectAltName=IP:198.51.100.10 \
	-keyout "$TMP/other-key.pem" -out "$TMP/other-cert.pem" 2>/dev/null || fail "openssl req"
sed -e "s|--turn-ca, \"{{dir}}/turn-cert.pem\"|--turn-ca, \"$TMP/other-cert.pem\"|" \
	-e 's/^engine: ice$/engine: ice-untrusted/' "$ENGINE" >"$TMP/ice-untrusted.yaml"
grep -q "$TMP/other-cert.pem" "$TMP/ice-untrusted.yaml" || fail "could not make the untrusted variant"
UNID=two-nats/udp/udp/udp-blocked~udp-blocked/engine=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-._"))' "$TMP/ice-untrusted.yaml")

# round 1: web-only on 443 (web-only x full-cone: A relays over TLS, B sends UDP to A's relayed
# address; the lab reads each NAT for its own peer's transport), and the untrusted relay
run_matrix_bg wo443 90 --engine ice --cell "$WOWO" --cell "$WOFC" --rendezvous-port 443 --no-classify \
	--jobs 2 -o "$TMP/wo443"
run_matrix_bg untrusted 90 --engine "$TMP/ice-untrusted.yaml" --cell "$UNID" --no-classify -o "$TMP/untrusted"
wait_matrix wo443
wait_matrix untrusted
# round 2: udp-blocked on the default port (TLS to 3478) and the negative, web-only with the TURN
# server on 3478 (one matrix: same engine and port), beside TURN over plain TCP
run_matrix_bg def 90 --engine ice --cell "$UBUB" --cell "$WOWO" --no-classify --jobs 2 -o "$TMP/def"
run_matrix_bg tcp 90 --engine "$TMP/ice-tcp.yaml" --cell "$TCPID" --no-classify -o "$TMP/tcp"
wait_matrix def
wait_matrix tcp

# --- web-only on 443: TURN over TLS ----------------------------------------------------------------
wait_matrix wo443
show_matrix_output
[ "$RC" -eq 0 ] || fail "ice web-only x web-only on 443: exit $RC, expected 0"
check "$TMP/wo443" "$WOWO/port=443" relayed relayed turn-tls,turn-tls 443
check "$TMP/wo443" "$WOFC/port=443" relayed relayed turn-tls,- 443
grep -q "$WOWO/port=443" "$TMP/wo443/junit.xml" || fail "the JUnit report does not name the cell with its port"
# the certificate was made for this run and coturn served TLS with it
d=$(echo "$TMP"/wo443/cells/*web-only~web-only*/run-1)
openssl x509 -in "$d/turn-cert.pem" -noout -ext subjectAltName | grep -q "IP Address:198.51.100.10" ||
	fail "the run's TURN certificate does not name the server's address"
grep -q "^cert=$d/turn-cert.pem" "$d/turnserver.conf" || fail "coturn was not given the run's certificate"

# --- udp-blocked: TURN over TLS on the default port; the negative: web-only on 3478 -----------------
wait_matrix def
show_matrix_output
[ "$RC" -eq 0 ] || fail "ice udp-blocked x udp-blocked and web-only x web-only on 3478: exit $RC, expected 0 (relayed; failed, as its theory says)"
check "$TMP/def" "$UBUB" relayed relayed turn-tls,turn-tls 3478
check "$TMP/def" "$WOWO" failed none - -
python3 - "$TMP/def/matrix.json" "$WOWO" <<'PY' || fail "the theory does not say why web-only fails on 3478"
import json, sys
c = [c for c in json.load(open(sys.argv[1]))["cells"] if c["id"] == sys.argv[2]][0]
assert "lets out only tcp:80,443" in json.dumps(c), c["refs"]["theory"]
PY

# --- TURN over plain TCP, and a TLS relay the peers do not trust -------------------------------------
wait_matrix tcp
show_matrix_output
[ "$RC" -eq 0 ] || fail "ice over TURN-TCP on udp-blocked: exit $RC, expected 0"
check "$TMP/tcp" "$TCPID" relayed relayed turn-tcp,turn-tcp 3478

wait_matrix untrusted
show_matrix_output
python3 - "$TMP/untrusted/matrix.json" <<'PY' || fail "the untrusted TLS relay: not failed"
import json, sys
c = json.load(open(sys.argv[1]))["cells"][0]
print(c["id"], c["outcome"], c["reason"])
assert c["outcome"] == "failed", c["outcome"]
PY
grep -qi "TLS tunnel: connecting to the TURN server over TLS: .*certificate" "$TMP"/untrusted/cells/*/run-1/peer-a.err ||
	fail "the untrusted TLS relay: the peer did not say the certificate was refused: $(cat "$TMP"/untrusted/cells/*/run-1/peer-a.err)"

# --- the driver's bad input: exit 2, one sentence each ----------------------------------------------
bad() { # EXPECTED-TEXT ARGS...: the driver exits 2 saying EXPECTED-TEXT
	local want=$1 rc
	shift
	"$ICE" --side a "$@" </dev/null >/dev/null 2>"$TMP/bad.err"
	rc=$?
	[ $rc -eq 2 ] && grep -q -- "$want" "$TMP/bad.err" ||
		fail "ice $*: exit $rc, $(cat "$TMP/bad.err"), expected 2 and \"$want\""
}
bad '--turn-tls "198.51.100.10": expected HOST:PORT' --turn-tls 198.51.100.10
bad '--turn-tcp "x:0": expected HOST:PORT' --turn-tcp x:0
bad '--turn-tls needs --turn-user and --turn-password' --turn-tls 198.51.100.10:443
bad '--turn-ca is the CA of the --turn-tls server' --turn-ca "$TMP/other-cert.pem"
bad "--turn-ca $TMP/nothing.pem: " --turn-tls 198.51.100.10:443 --turn-ca "$TMP/nothing.pem" \
	--turn-user u --turn-password p

# only what this test added counts: other users of the machine may end their own turnservers
# meanwhile (procs_of matches by program)
none_added "the test" engine_snapshot "$ICE" "$TURN"
echo "PASS: engines-ice-turn"
