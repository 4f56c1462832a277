#!/usr/bin/env bash
# engines-n2n.sh PUNCHLAB: n2n (engines/n2n.yaml, issue 11): an engine whose server relays.
#   - port-restricted x port-restricted: the edges meet, the engine says direct and the lab's
#     attestation sees the two-way flow between the NATs' public endpoints: direct;
#   - port-restricted x symmetric: the ping gets through the supernode only; the engine says
#     relayed (no edge heard the other answer directly) and the attestation agrees (two-way
#     flows with the server only): relayed, as the theory's relay-fallback rule says; exit 0;
#   - no edge or supernode is left running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root
EDGE=$(command -v edge) || fail "edge (n2n) is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"
SUPERNODE=$(command -v supernode) || fail "supernode (n2n) is not installed"
snapshot_all() { engine_snapshot "$EDGE" "$SUPERNODE"; }
snapshot_all >"$TMP/before"

# run_of DIR ID: outcome, the engine's word, attestation verdict
run_of() {
	python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["cells"] if c["id"] == sys.argv[2]][0]
r = c["runs"][0]
print(c["outcome"], r.get("engine_said", "-"), (r.get("attestation") or {}).get("verdict", "-"))
PY
}

PRC=two-nats/udp/udp/port-restricted-cone~port-restricted-cone/engine=n2n
SYM=two-nats/udp/udp/port-restricted-cone~symmetric/engine=n2n
run_matrix 60 --cell "$PRC" --cell "$SYM" --no-classify -o "$TMP/n2n"
show_matrix_output
[ "$RC" -eq 0 ] || fail "n2n: exit $RC, expected 0 (its theory: prc x prc direct, prc x sym relayed)"
got=$(run_of "$TMP/n2n" "$PRC")
[ "$got" = "direct direct direct" ] || fail "n2n prc x prc: \"$got\", expected direct, said direct, attested direct"
got=$(run_of "$TMP/n2n" "$SYM")
[ "$got" = "relayed relayed relayed" ] || fail "n2n prc x sym: \"$got\", expected relayed, said relayed, attested relayed"

none_added "the test" snapshot_all
note "n2n: prc x prc direct, prc x sym relayed through the supernode, both attested; nothing left"
