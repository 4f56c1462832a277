#!/usr/bin/env bash
# matrix-attest.sh PUNCHLAB: the lab attests every verdict; the engine's word alone proves
# nothing (issue 9). Engines given with --engine-binary, each a script that runs the real punch
# rendezvous but replaces the peers:
#   - liar: the peers print punch's result line "direct" without sending a packet: every cell
#     must be `disputed` (also symmetric x symmetric, which the theory calls failed), exit 1;
#   - half-liar: the peers run the real engine but print "direct" when it says failed (probes
#     were sent, nothing was delivered both ways): disputed, exit 1;
#   - crasher: the peers die of SIGSEGV without a result: `error` with phase crashed, exit 2
#     (cells expected to fail must not turn green);
#   - hanger: the peers never answer: `error` with phase hung, exit 2;
# and the real engine on the same cells: attested `direct` where it connects, with the NATs'
# conntrack entries (packets both ways) in matrix.json, exit 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

CELLS=(--cell two-nats/udp/udp/symmetric~symmetric --cell two-nats/udp/udp/full-cone~full-cone
	--cell two-nats/tcp/tcp/port-restricted-cone~port-restricted-cone)

# make_engine NAME PEER-BODY: a script that runs punch for the rendezvous (and --version) and
# PEER-BODY for `peer` ("$@" holds punch's peer arguments).
make_engine() {
	cat >"$TMP/$1" <<SH
#!/usr/bin/env bash
if [ "\$1" != peer ]; then exec "$PUNCH" "\$@"; fi
$2
SH
	chmod +x "$TMP/$1"
}
make_engine liar 'echo "{\"event\":\"result\",\"outcome\":\"direct\",\"technique\":\"udp\",\"time_to_connect_ms\":1,\"attempts\":1}"; exit 0'
make_engine half-liar '"'"$PUNCH"'" "$@" | sed "s/\"outcome\":\"failed\"/\"outcome\":\"direct\"/"; exit 0'
make_engine crasher 'kill -SEGV $$'
make_engine hanger 'exec sleep 600'

snapshot >"$TMP/before"

# outcome_of DIR ID: the cell's outcome and its first run's phase
outcome_of() {
	python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
c = [c for c in json.load(open(sys.argv[1]))["cells"] if c["id"] == sys.argv[2]][0]
print(c["outcome"], c["runs"][0]["phase"] or "-")
PY
}

run_matrix 60 "${CELLS[@]}" --engine-binary "$TMP/liar" --no-classify -o "$TMP/liar-out"
show_matrix_output
[ "$RC" -eq 1 ] || fail "a lying engine: exit $RC, expected 1 (disputed cells are regressions)"
for id in two-nats/udp/udp/symmetric~symmetric two-nats/udp/udp/full-cone~full-cone \
	two-nats/tcp/tcp/port-restricted-cone~port-restricted-cone; do
	got=$(outcome_of "$TMP/liar-out" "$id")
	[ "$got" = "disputed attestation" ] || fail "a lying engine: $id is \"$got\", expected disputed"
done

run_matrix 60 --cell two-nats/udp/udp/symmetric~symmetric \
	--cell two-nats/tcp/tcp/port-restricted-cone~symmetric --engine-binary "$TMP/half-liar" \
	--no-classify -o "$TMP/half-out"
show_matrix_output
[ "$RC" -eq 1 ] || fail "an engine that sends probes but lies: exit $RC, expected 1"
for id in two-nats/udp/udp/symmetric~symmetric two-nats/tcp/tcp/port-restricted-cone~symmetric; do
	got=$(outcome_of "$TMP/half-out" "$id")
	[ "$got" = "disputed attestation" ] || fail "half-liar: $id is \"$got\", expected disputed"
done

run_matrix 60 "${CELLS[@]}" --engine-binary "$TMP/crasher" --no-classify -o "$TMP/crash-out"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a crashing engine: exit $RC, expected 2"
got=$(outcome_of "$TMP/crash-out" two-nats/udp/udp/symmetric~symmetric)
[ "$got" = "error crashed" ] || fail "a crashing engine: \"$got\", expected error crashed"

run_matrix 60 --cell two-nats/udp/udp/symmetric~symmetric --engine-binary "$TMP/hanger" \
	--no-classify -o "$TMP/hang-out"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a hanging engine: exit $RC, expected 2"
got=$(outcome_of "$TMP/hang-out" two-nats/udp/udp/symmetric~symmetric)
[ "$got" = "error hung" ] || fail "a hanging engine: \"$got\", expected error hung"

# the real engine: attested, with its evidence
run_matrix 60 "${CELLS[@]}" --no-classify -o "$TMP/real-out"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the real engine: exit $RC, expected 0"
python3 - "$TMP/real-out/matrix.json" <<'PY' || fail "the real engine's cells are not attested"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["schema_version"] == 2, doc["schema_version"]
for c in doc["cells"]:
    r = c["runs"][0]
    a = r["attestation"]
    if c["outcome"] == "direct":
        assert r["engine_said"] == "direct", c["id"]
        assert a["verdict"] == "direct", (c["id"], a)
        # one two-way flow per NAT, with packets counted both ways
        assert len(a["evidence"]) >= 2, (c["id"], a)
        for line in a["evidence"]:
            pk = line.split(" packets ")[1].split()[0].split("/")
            assert int(pk[0]) > 0 and int(pk[1]) > 0, line
    else:
        assert c["id"].endswith("symmetric~symmetric"), c["id"]
        # registration alone makes a two-way flow with the relay: never a direct one
        assert c["outcome"] == "failed" and a["verdict"] in ("none", "relayed"), (c["id"], a)
PY
expect_nothing_left "$TMP/before" "the attestation cells"
