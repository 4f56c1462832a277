#!/usr/bin/env bash
# engines-nebula.sh PUNCHLAB: setup commands, outcome by probe, and Nebula (issue 11).
#   - nebula (engines/nebula.yaml): port-restricted x port-restricted connects, attested (the
#     tunnel's UDP both ways between the NATs' public endpoints), port-restricted x symmetric
#     never does; exit 0 against its theory; certificates made by setup exist in the cell
#     directory; no nebula process is left running;
#   - IPv6 (capability ipv6): in family 6, firewall x NAT66 connects over IPv6, attested, and a
#     random-port NAT66 on both sides never does; in dual, symmetric x symmetric (never over
#     IPv4) connects over IPv6, the hosts' own addresses the lighthouse passed on, attested;
#   - a setup command that fails is `error`, phase setup, naming its output file and first line;
#     one that hangs is killed at its deadline, nothing left running;
#   - a daemon judged by a probe that ends during probing is `error` (crashed), not failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
. "$(dirname "$0")/matrix-bg-lib.sh"
. "$(dirname "$0")/engines-ipv6-lib.sh"
require_root
NEBULA=$(command -v nebula) || fail "nebula is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"
command -v ping >/dev/null || fail "ping (iputils-ping) is not installed: nebula's engine file asks for it"

SLEEPER="$TMP/sleeper"
cp "$(command -v sleep)" "$SLEEPER"
snapshot_all() { engine_snapshot "$SLEEPER" "$NEBULA"; }
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

# The three nebula matrices (IPv4, family 6, dual) are independent, and most of their time is
# the failing cells' 10 s deadline: they run at once (7 cells, fewer than the adaptive jobs one
# matrix of them would start) and are checked after.
PRC=two-nats/udp/udp/port-restricted-cone~port-restricted-cone/engine=nebula
SYM=two-nats/udp/udp/port-restricted-cone~symmetric/engine=nebula
SD=two-nats/udp/udp/symmetric~symmetric/engine=nebula/family=dual
NS=$(nat66_symmetric_profile "$TMP")
t0=$(now_ms)
run_matrix_bg neb 90 --cell "$PRC" --cell "$SYM" --no-classify -o "$TMP/neb"
run_matrix_bg neb6 90 --engine nebula --family 6 --profiles "ipv6-firewall,$NS" --no-classify -o "$TMP/neb6"
run_matrix_bg nebdual 90 --cell "$SD" --no-classify -o "$TMP/nebdual"
wait_matrix neb
wait_matrix neb6
wait_matrix nebdual
note "nebula: 2 IPv4 cells, 4 family 6 cells and 1 dual cell at once in $(( $(now_ms) - t0 )) ms"

# --- nebula: one pairing that connects, one that never does ------------------------------------
wait_matrix neb
show_matrix_output
[ "$RC" -eq 0 ] || fail "nebula: exit $RC, expected 0 (its theory: prc x prc direct, prc x sym failed)"
got=$(run_of "$TMP/neb" "$PRC")
case $got in "direct - direct "*) ;; *) fail "nebula prc x prc: \"$got\", expected direct, attested direct" ;; esac
got=$(run_of "$TMP/neb" "$SYM")
case $got in "failed probing "*) ;; *) fail "nebula prc x sym: \"$got\", expected failed in probing" ;; esac
for f in ca.crt peer-a.crt peer-b.key lighthouse.crt peer-a.yml lighthouse.yml setup-1.cmd probe.out; do
	ls "$TMP"/neb/cells/*port-restricted-cone~port-restricted-cone*/run-1/"$f" >/dev/null 2>&1 ||
		fail "nebula: $f is not in the cell directory"
done
grep -q "^nebula-cert ca " "$TMP"/neb/cells/*port-restricted-cone~port-restricted-cone*/run-1/setup-1.cmd ||
	fail "nebula: setup 1 is not nebula-cert ca"

# --- nebula over IPv6: family 6 (direct, failed) and dual ------------------------------------------
wait_matrix neb6
show_matrix_output
[ "$RC" -eq 0 ] || fail "nebula family 6: exit $RC, expected 0 (its theory: direct but failed for NAT66-symmetric x NAT66-symmetric)"
evidence_of "$TMP/neb6" "/ipv6-firewall~%2F" >"$TMP/neb6.fw"
head -1 "$TMP/neb6.fw" | grep -q '^direct - direct$' &&
	grep '^nat-a (peer A): udp ' "$TMP/neb6.fw" | grep -F '[2001:db8:1::10]:4242' | grep -qF '[2001:db8:b::2]:' ||
	fail "nebula family 6 firewall x NAT66-symmetric: expected direct over IPv6 (A's own address and B's NAT66; whichever side's handshake opened the flow), attested: $(cat "$TMP/neb6.fw")"
got=$(evidence_of "$TMP/neb6" "nat66-symmetric.nft~%2F" | head -1)
case $got in "failed probing "*) ;; *) fail "nebula family 6 NAT66-symmetric x NAT66-symmetric: \"$got\", expected failed in probing" ;; esac
wait_matrix nebdual
show_matrix_output
[ "$RC" -eq 0 ] || fail "nebula dual: exit $RC, expected 0 (its theory: symmetric x symmetric direct over IPv6)"
evidence_of "$TMP/nebdual" "$SD" >"$TMP/nebdual.ev"
head -1 "$TMP/nebdual.ev" | grep -q '^direct - direct$' &&
	grep -q 'nat-a (peer A): udp \[2001:db8:1::10\]:4242 -> \[2001:db8:1::10\]:4242 remote \[2001:db8:2::10\]:4242' "$TMP/nebdual.ev" ||
	fail "nebula dual sym x sym: expected direct between the hosts' own IPv6 addresses, attested: $(cat "$TMP/nebdual.ev")"

# --- a setup that fails, a setup that hangs -----------------------------------------------------
cat >"$TMP/badsetup.yaml" <<YAML
engine: badsetup
program: $SLEEPER
techniques:
  udp: { transports: [udp], deadline: 1s }
setup:
  - command: [sh, -c, "echo made >{{dir}}/made.txt"]
    node: harness
    deadline: 2s
  - command: [sh, -c, "echo 'bad key {{session}}' >&2; exit 3"]
    node: peer-a
    deadline: 2s
roles:
  peers:
    command: ["{{program}}", "30"]
outcome:
  probe: { command: ["true"] }
YAML
run_matrix 30 --engine "$TMP/badsetup.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/bad"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a failing setup: exit $RC, expected 2 (an error cell)"
got=$(run_of "$TMP/bad" -)
case $got in "error setup "*" setup 2 (sh) exited 3: bad key cell1; see cells/"*"/setup-2.err") ;;
	*) fail "a failing setup: \"$got\", expected an error in setup naming setup-2.err and its line" ;; esac
[ "$(cat "$TMP"/bad/cells/*/run-1/made.txt)" = made ] || fail "setup 1 (on the harness) did not run first"
[ -e "$TMP"/bad/cells/*/run-1/peer-a.cmd ] && fail "a role started after a failing setup"

sed -e 's/deadline: 2s/deadline: 300ms/' -e "s|\[sh, -c, \"echo 'bad.*|[\"$SLEEPER\", \"30\"]|" \
	"$TMP/badsetup.yaml" >"$TMP/slowsetup.yaml"
t0=$(now_ms)
run_matrix 30 --engine "$TMP/slowsetup.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/slow"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a hanging setup: exit $RC, expected 2"
grep -q '"setup 2 (.*sleeper) did not finish within 300 ms; see cells/.*/setup-2.err"' "$TMP/slow/matrix.json" ||
	fail "a hanging setup: no reason naming its deadline: $(grep -o '"reason": "[^"]*"' "$TMP/slow/matrix.json")"
[ $(( $(now_ms) - t0 )) -lt 15000 ] || fail "a hanging setup took over 15 s (its deadline is 0.3 s)"
procs_of "$SLEEPER" | grep -q . && fail "the hanging setup is still running: $(procs_of "$SLEEPER")"

# --- a daemon that ends while it is probed ------------------------------------------------------
cat >"$TMP/quitter.yaml" <<YAML
engine: quitter
program: $SLEEPER
techniques:
  udp: { transports: [udp], deadline: 5s }
roles:
  peers:
    command: ["{{program}}", "0.3"]
outcome:
  probe: { command: ["false"], interval: 100ms }
YAML
run_matrix 30 --engine "$TMP/quitter.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/quit"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a daemon that ends while probed: exit $RC, expected 2 (error)"
grep -q '"phase": "crashed"' "$TMP/quit/matrix.json" && grep -q "ended while it was probed" "$TMP/quit/matrix.json" ||
	fail "a daemon that ends while probed: not an error (crashed): $(grep -o '"reason": "[^"]*"' "$TMP/quit/matrix.json")"

none_added "the test" snapshot_all
note "nebula connects prc x prc (attested) and fails prc x sym; failing and hanging setups and a daemon ending under the probe are errors; nothing left"
