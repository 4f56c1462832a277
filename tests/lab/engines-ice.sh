#!/usr/bin/env bash
# engines-ice.sh PUNCHLAB: the ICE engine (engines/ice.yaml: src/ice's libnice driver, coturn on
# the server) and the engine-file feature it needs, stdin: (issue 11).
#   - `punchlab engines` lists ice, installed;
#   - port-restricted cone x port-restricted cone connects direct, attested direct; symmetric x
#     symmetric ends relayed through coturn, attested relayed; exit 0 against its theory; the
#     candidates went both ways through the harness; nothing of the engine is left running;
#   - stdin: written as soon as the captures it names are there, also a later role's (a server
#     waits for peer B's) or a late one (B's input waits for A's "checking" line), then closed;
#     a capture that does not come by its deadline makes the run `error`, phase stdin, naming
#     it, and nothing is left running;
#   - IPv6 (capability ipv6): in family 6, firewall x firewall direct over the hosts' own IPv6
#     addresses, attested direct; a random-port NAT66 on both sides relayed through coturn's
#     IPv6 relay address, attested relayed; in dual, ICE's priorities pick the pair: a host
#     pair over IPv6 where the homes' IPv6 is a firewall (no translation: host outranks any
#     server-reflexive IPv4 pair), the IPv4 server-reflexive pair where both families are
#     translated (NAT66: libnice 0.1.21 ranks its IPv4 addresses first, no RFC 8421 preference);
#   - the driver missing: one sentence naming the package, exit 2; the driver's bad input: exit 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
. "$(dirname "$0")/matrix-bg-lib.sh"
. "$(dirname "$0")/engines-ipv6-lib.sh"
require_root
ICE=$(dirname "$PUNCHLAB")/src/ice/ice
[ -x "$ICE" ] || fail "the ICE driver is not built ($ICE): ci/bootstrap.sh installs libnice-dev (PUNCHLAB_ENGINES=all or --engine ice) and rebuilds"
TURN=$(command -v turnserver) || fail "turnserver is not installed: ci/bootstrap.sh installs coturn (PUNCHLAB_ENGINES=all)"

SLEEPER="$TMP/sleeper"
cp "$(command -v sleep)" "$SLEEPER"
snapshot_all() { engine_snapshot "$SLEEPER" "$ICE" "$TURN"; }
snapshot_all >"$TMP/before"

# run_of DIR ID: outcome, first run's phase, attestation verdict, reason (ID -: the only cell)
run_of() {
	python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["cells"] if sys.argv[2] in ("-", c["id"])][0]
r = c["runs"][0]
print(c["outcome"], r["phase"] or "-", (r.get("attestation") or {}).get("verdict", "-"), r["reason"])
PY
}

# --- the engine is listed ------------------------------------------------------------------------
"$PUNCHLAB" engines >"$TMP/engines.out" 2>&1 || fail "punchlab engines: exit $?"
grep -Eq "^ice +libnice [^ ]+ +installed +$ICE$" "$TMP/engines.out" ||
	fail "punchlab engines does not list ice as installed at $ICE: $(grep -A3 '^ice' "$TMP/engines.out")"

# The ICE matrices (IPv4; family 6; dual, both pairs in one matrix) are independent: they run at
# once (8 cells, fewer than the adaptive jobs of one matrix of them), beside the stdin tests
# below (sh and sleep), and are checked after those.
PRC=two-nats/udp/udp/port-restricted-cone~port-restricted-cone/engine=ice
SYM=two-nats/udp/udp/symmetric~symmetric/engine=ice
PD=two-nats/udp/udp/port-restricted-cone~port-restricted-cone/engine=ice/family=dual
FD=two-nats/udp/udp/full-cone~full-cone/engine=ice/family=dual/ipv6-profile=nat66
NS=$(nat66_symmetric_profile "$TMP")
t_ice=$(now_ms)
run_matrix_bg ice 90 --cell "$PRC" --cell "$SYM" --no-classify -o "$TMP/ice"
run_matrix_bg ice6 90 --engine ice --family 6 --profiles "ipv6-firewall,$NS" --no-classify -o "$TMP/ice6"
run_matrix_bg icedual 90 --cell "$PD" --cell "$FD" --no-classify -o "$TMP/icedual"

# --- stdin: from a later role's capture, both ways; a capture that never comes ---------------------
cat >"$TMP/stdin.yaml" <<YAML
engine: stdin-test
program: sh
techniques:
  udp: { transports: [udp], deadline: 3s }
roles:
  server:
    command: [sh, -c, "echo ready; read -r t; echo \"\$t\" >{{dir}}/server-got.txt; exec $SLEEPER 30"]
    ready: { line: "^ready$", deadline: 5s }
    # peer B starts last: the server's input waits for it
    stdin: { text: "server saw {{capture.peer-b.token}}\n", deadline: 5s }
  peers:
    command: [sh, -c, "echo token: tok-{{side}}-{{session}}; read -r t;
              echo '{\"event\":\"result\",\"outcome\":\"failed\",\"phase\":\"probing\",\"reason\":\"got '\$t'\"}'"]
    capture: { token: { regex: "^token: (tok-[a-z0-9-]+)" } }
    stdin: { text: "{{capture.peer-a.token}}+{{capture.peer-b.token}}\n", deadline: 5s }
outcome:
  json: { event: result }
YAML
run_matrix 30 --engine "$TMP/stdin.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/in"
show_matrix_output
got=$(run_of "$TMP/in" -)
case $got in "failed probing "*"A: failed, got tok-a-cell1+tok-b-cell1; B: failed, got tok-a-cell1+tok-b-cell1"*) ;;
	*) fail "stdin: \"$got\", expected both peers to have read both tokens" ;; esac
[ "$(cat "$TMP"/in/cells/*/run-1/server-got.txt)" = "server saw tok-b-cell1" ] ||
	fail "stdin: the server read \"$(cat "$TMP"/in/cells/*/run-1/server-got.txt)\", expected peer B's token"

# B says its token only after 1 s; A's input may wait 300 ms
sed -e 's|echo token: tok|[ {{side}} = a ] \|\| '"$SLEEPER"' 1; echo token: tok|' \
	-e '/^  peers:/,$ s/stdin: { text: \(.*\), deadline: 5s }/stdin: { text: \1, deadline: 300ms }/' \
	"$TMP/stdin.yaml" >"$TMP/late.yaml"
grep -q "deadline: 300ms" "$TMP/late.yaml" || fail "test bug: late.yaml has no 300 ms stdin deadline"
t0=$(now_ms)
run_matrix 30 --engine "$TMP/late.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/late"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a capture that never comes in time: exit $RC, expected 2 (an error cell)"
got=$(run_of "$TMP/late" -)
case $got in "error stdin "*" peer-a's stdin: {{capture.peer-b.token}} had no value within 300 ms of its start"*) ;;
	*) fail "a late capture: \"$got\", expected error, phase stdin, naming capture.peer-b.token" ;; esac
[ $(( $(now_ms) - t0 )) -lt 15000 ] || fail "a late capture took over 15 s"

# --- one pairing that connects direct, one that relays -------------------------------------------
wait_matrix ice
wait_matrix ice6
wait_matrix icedual
note "ice: 2 IPv4 cells, 4 family 6 cells and 2 dual cells at once, done $(( $(now_ms) - t_ice )) ms after their start"
wait_matrix ice
show_matrix_output
[ "$RC" -eq 0 ] || fail "ice: exit $RC, expected 0 (its theory: prc x prc direct, sym x sym relayed)"
got=$(run_of "$TMP/ice" "$PRC")
case $got in "direct - direct "*) ;; *) fail "ice prc x prc: \"$got\", expected direct, attested direct" ;; esac
got=$(run_of "$TMP/ice" "$SYM")
case $got in "relayed - relayed "*198.51.100.11:*) ;;
	*) fail "ice sym x sym: \"$got\", expected relayed through coturn (relay address 198.51.100.11), attested relayed" ;; esac
# each peer printed its offer, and its input carried both (the other's is what it used)
for d in "$TMP"/ice/cells/*/run-1; do
	a=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["offer"])' "$d/peer-a.out")
	b=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["offer"])' "$d/peer-b.out")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] || fail "ice: no offers in $d/peer-?.out"
	grep -q "3 of 3 remote candidates added" "$d/peer-a.err" || fail "ice: A did not take B's candidates: $(cat "$d/peer-a.err")"
	# B's input (A's offer) waited for A's late capture: A's "checking" line
	grep -q "\"checking\":\"$a\"" "$d/peer-a.out" || fail "ice: A printed no checking line with its offer"
	grep -q "3 of 3 remote candidates added" "$d/peer-b.err" || fail "ice: B did not take A's candidates: $(cat "$d/peer-b.err")"
	grep -q 'payload verified both ways' "$d/peer-b.out" || fail "ice: B did not verify the payload: $(tail -1 "$d/peer-b.out")"
	[ -s "$d/turnserver.pid" ] && ! grep -q '/var/log' "$d/turn.out" || fail "ice: coturn's pid file or log is not in the cell ($d)"
done

# --- IPv6: family 6 (direct, relayed) and dual (which family ICE nominates) ------------------------
# run_fam DIR ID-PART: outcome, the family its result line named, attestation verdict, reason
run_fam() {
	python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["cells"] if sys.argv[2] in c["id"]]
assert len(c) == 1, [x["id"] for x in d["cells"]]
r = c[0]["runs"][0]
print(c[0]["outcome"], r.get("family"), (r.get("attestation") or {}).get("verdict", "-"), r["reason"])
PY
}
wait_matrix ice6
show_matrix_output
[ "$RC" -eq 0 ] || fail "ice family 6: exit $RC, expected 0 (its theory: direct but relayed for NAT66-symmetric x NAT66-symmetric)"
got=$(run_fam "$TMP/ice6" "/ipv6-firewall~ipv6-firewall/")
case $got in "direct 6 direct A 2001:db8:1::10:"*" -> 2001:db8:2::10:"*) ;;
	*) fail "ice family 6 firewall x firewall: \"$got\", expected direct over the hosts' own IPv6 addresses, attested direct" ;; esac
got=$(run_fam "$TMP/ice6" "nat66-symmetric.nft~%2F")
case $got in "relayed 6 relayed "*2001:db8:100::11:*) ;;
	*) fail "ice family 6 NAT66-symmetric x NAT66-symmetric: \"$got\", expected relayed through coturn's IPv6 relay (2001:db8:100::11), attested relayed" ;; esac
grep -q '"candidates":\[{"type":"host","addr":"2001:db8:1::10:' "$TMP"/ice6/cells/*ipv6-firewall~ipv6-firewall*/run-1/peer-a.out ||
	fail "ice family 6: peer A's candidates are not IPv6 only: $(head -1 "$TMP"/ice6/cells/*ipv6-firewall~ipv6-firewall*/run-1/peer-a.out)"
wait_matrix icedual
show_matrix_output
[ "$RC" -eq 0 ] || fail "ice dual (prc x prc with IPv6 firewalls, fc x fc behind NAT66 too): exit $RC, expected 0"
got=$(run_fam "$TMP/icedual" "$PD")
case $got in "direct 6 direct A 2001:db8:1::10:"*) ;;
	*) fail "ice dual prc x prc (IPv6 firewalls): \"$got\", expected the IPv6 host pair nominated, attested direct" ;; esac
got=$(run_fam "$TMP/icedual" "$FD")
case $got in "direct 4 direct A 203.0.113.2:"*) ;;
	*) fail "ice dual fc x fc behind NAT66 too: \"$got\", expected the IPv4 server-reflexive pair nominated (libnice's priorities), attested direct" ;; esac

# --- the driver missing; the driver's own bad input ------------------------------------------------
sed 's/^program: ice$/program: ice-not-built-here/' "$SRCDIR/engines/ice.yaml" >"$TMP/ice.yaml"
run_matrix 30 --engine "$TMP/ice.yaml" --profiles full-cone --no-classify -o "$TMP/missing"
show_matrix_output
[ "$RC" -eq 2 ] || fail "the driver missing: exit $RC, expected 2"
[ "$(grep -c . "$TMP/matrix.err")" -eq 1 ] && grep -q "ice-not-built-here not found.*libnice-dev" "$TMP/matrix.err" ||
	fail "the driver missing: expected one sentence naming libnice-dev, got: $(cat "$TMP/matrix.err")"
"$ICE" --side c >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- '--side "c": expected a (controlling) or b (controlled)' "$TMP/bad.err" ||
	fail "ice --side c: exit $rc, $(cat "$TMP/bad.err"), expected 2 and what --side takes"
"$ICE" --side a --turn 198.51.100.10:3478 >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- '--turn needs --turn-user and --turn-password' "$TMP/bad.err" ||
	fail "ice --turn without credentials: exit $rc, $(cat "$TMP/bad.err"), expected 2"
"$ICE" --side a --turn 2001:db8:100::10:3478 >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- '--turn "2001:db8:100::10:3478": expected HOST:PORT (an IPv4 address or a bracketed IPv6 one' "$TMP/bad.err" ||
	fail "ice --turn with an unbracketed IPv6 address: exit $rc, $(cat "$TMP/bad.err"), expected 2"
"$ICE" --side a --turn 198.51.100.10:3478 --turn "[2001:db8:100::10]:3478" --turn 198.51.100.11:3478 >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- '--turn "198.51.100.11:3478": at most two' "$TMP/bad.err" ||
	fail "ice with three --turn: exit $rc, $(cat "$TMP/bad.err"), expected 2"
"$ICE" --side a --local 2001:db8:1::zz >/dev/null 2>"$TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- '--local "2001:db8:1::zz": expected an IPv4 or IPv6 address' "$TMP/bad.err" ||
	fail "ice --local with a bad address: exit $rc, $(cat "$TMP/bad.err"), expected 2"

# only what this test added counts: other users of the machine may end their own
# turnservers meanwhile (procs_of matches by program)
none_added "the test" snapshot_all
note "ice connects prc x prc (attested direct) and relays sym x sym through coturn (attested relayed); over IPv6 too (family 6 and dual); stdin: carries later roles' captures and errs on a late one; a missing driver names libnice-dev; nothing left"
