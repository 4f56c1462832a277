#!/bin/bash
# punch-race.sh PUNCHLAB: auto races its techniques instead of queueing them (issue 12 item 2,
# docs/punch.md "auto").
#  1. Time to connect of auto against the pairing's fastest technique alone, in one matrix
#     run (medians of the direct runs): symmetric x port-restricted-cone over UDP, which only
#     birthday opens, and symmetric-sequential x port-restricted-cone over TCP, which only
#     predict opens. The ratio is printed; it must stay below 4 (the target is 2; the queue
#     before the race took the udp or tcp and tcp-ttl steps' deadlines first: about 2 s
#     against birthday's ~0.2 s, 5 s against predict's ~6 ms).
#  2. A relay-only pair (symmetric x symmetric, UDP): ends `relayed`, with its first byte
#     over the relay (ttfb_ms) well before the direct steps give up (their deadline: 2 s).
#  3. Relay first, then direct: runs whose first verified path was the relay and whose
#     outcome is direct are attested direct by the lab (docs/attestation.md), and the peers'
#     events show the order (first_byte via relay, then verified).
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
RUNS=10
UDP_AUTO=two-nats/udp/auto/symmetric~port-restricted-cone
UDP_ALONE=two-nats/udp/birthday/symmetric~port-restricted-cone
TCP_AUTO=two-nats/tcp/auto/symmetric-sequential~port-restricted-cone
TCP_ALONE=two-nats/tcp/predict/symmetric-sequential~port-restricted-cone
RELAY_ONLY=two-nats/udp/auto/symmetric~symmetric

mkdir -p "$TMP/race"
run_cells 300 "$TMP/race" --repeat $RUNS --cell $UDP_AUTO --cell $UDP_ALONE --cell $TCP_AUTO \
	--cell $TCP_ALONE --cell $RELAY_ONLY

# 1. auto within 4x of the fastest technique alone (1 ms floor: both "at once" below it)
for pair in "$UDP_AUTO $UDP_ALONE" "$TCP_AUTO $TCP_ALONE"; do
	read -r auto_id alone_id <<<"$pair"
	expect_cell "$TMP/race" "$auto_id" direct "auto reaches it"
	expect_cell "$TMP/race" "$alone_id" direct "the technique alone reaches it"
	auto=$(cell_field "$TMP/race" "$auto_id" 'c["ttc_p50_ms"]')
	alone=$(cell_field "$TMP/race" "$alone_id" 'c["ttc_p50_ms"]')
	tech=$(cell_field "$TMP/race" "$alone_id" 'c["technique"]')
	ratio=$(python3 -c "print('%.2f' % ($auto / max($alone, 1.0)))")
	note "$auto_id: auto median $auto ms, $tech alone $alone ms: ratio $ratio"
	python3 -c "import sys; sys.exit(0 if $ratio < 4 else 1)" ||
		fail "$auto_id: auto took $ratio times its fastest technique alone (target 2, limit 4)"
done

# 2. relay-only: relayed, first byte over the relay long before the direct steps give up
expect_cell "$TMP/race" $RELAY_ONLY relayed "no direct technique applies"
ttfb=$(cell_field "$TMP/race" $RELAY_ONLY '[r.get("ttfb_ms") for r in c["runs"]]')
note "$RELAY_ONLY: first byte per run (ms): $ttfb"
cell_field "$TMP/race" $RELAY_ONLY \
	'all(r.get("ttfb_ms") is not None and r["ttfb_ms"] < 1000 for r in c["runs"])' | grep -qx True ||
	fail "$RELAY_ONLY: a run had no first byte, or not within 1 s: $ttfb"
p50=$(cell_field "$TMP/race" $RELAY_ONLY 'c["ttfb_p50_ms"]')
python3 -c "import sys; sys.exit(0 if $p50 < 500 else 1)" ||
	fail "$RELAY_ONLY: first byte median $p50 ms (the relay is one round trip through the server)"

# 3. relay first, then direct: attested direct, events in that order
python3 - "$TMP/race" "$TCP_AUTO" "$UDP_AUTO" <<'PY' || fail "relay-then-direct runs: see above"
import json, os, sys
root = sys.argv[1]
cells = {c["id"]: c for c in json.load(open(os.path.join(root, "matrix.json")))["cells"]}
seen = 0
for cid in sys.argv[2:]:
    for i, r in enumerate(cells[cid]["runs"]):
        if r["outcome"] != "direct" or r.get("ttfb_ms") is None or \
           r["ttfb_ms"] >= r["time_to_direct_ms"]:
            continue
        seen += 1
        if r["attestation"]["verdict"] != "direct":
            sys.exit("%s run %d: relay first, then direct, attested %s: %s" % (
                cid, i + 1, r["attestation"]["verdict"], r["attestation"]["summary"]))
        for side in "ab":
            evs = [json.loads(l) for l in open(os.path.join(root, r["log_dir"], "peer-%s.out" % side))
                   if l.startswith("{")]
            names = [e["event"] for e in evs]
            res = evs[-1]
            if res.get("first_via") == "relay" and \
               not ("first_byte" in names and "verified" in names and
                    names.index("first_byte") < names.index("verified")):
                sys.exit("%s run %d peer %s: first_via relay without first_byte before verified" %
                         (cid, i + 1, side))
if not seen:
    sys.exit("no run verified the relay before the direct path (expected over TCP predict, "
             "whose first SYN waits for the shared moment)")
print("# %d runs verified the relay first, then a direct path: all attested direct" % seen)
PY

expect_nothing_left "$TMP/before" "the race runs"
