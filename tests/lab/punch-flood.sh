#!/bin/bash
# punch-flood.sh PUNCHLAB: the rendezvous under a flood from 10,080 spoofed source endpoints
# (issue 14 item 3). From the flood node of tests/data/topologies/flood.yaml, punch-flood.py
# sends forged REGISTERs and BINDs (no valid MAC), wire-version-1 REGISTERs and replays of one
# valid REGISTER it recorded, from 203.0.113.128/25 x 80 ports, while a real pair of peers
# connects and `punch load` registers 300 sessions. Checks, and nothing about time:
#   - amplification before verification at most 1: the bytes that came back to the spoofed
#     sources (counted where they arrive) over the bytes they sent, and the server's own count;
#   - some legitimate registrations served under the flood: the pair, or load's sessions;
#   - every kind of flood packet dropped for its reason (bad MAC, replay, version).
# The figures (share served, registrations/s with and without a flood) are the benchmark's:
# tests/bench/rendezvous-flood.sh.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"
. "$(dirname "$0")/punch-flood-lib.sh"

snapshot >"$TMP/before"
flood_lab
flood_round flood 20000 3 300
note "flood: $(cat "$TMP/flood.flood")"
note "load under the flood: $(cat "$TMP/flood.load")"
note "pair under the flood: a $(result "$TMP/flood.a" outcome), b $(result "$TMP/flood.b" outcome)"
note "stats: $(cat "$TMP/flood.stats")"
python3 - "$TMP/flood.flood" "$TMP/flood.stats" "$TMP/flood.load" "$(result "$TMP/flood.a" outcome)" \
	"$(result "$TMP/flood.b" outcome)" <<'PY' || fail "the rendezvous under the flood"
import json, sys
f = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
try:
    load = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
except (ValueError, IndexError):
    load = {"paired": 0, "sessions": 0}
pair = sys.argv[4:6]
bad = []
if f["endpoints"] < 10000:
    bad.append("the flood came from %d endpoints, expected >= 10000" % f["endpoints"])
if f["amplification"] is None or f["amplification"] > 1:
    bad.append("amplification %s (bytes back to spoofed sources / bytes they sent), "
               "expected <= 1" % f["amplification"])
if st["unverified_tx_bytes"] > st["unverified_rx_bytes"]:
    bad.append("server: %d bytes to unverified sources for %d from them" %
               (st["unverified_tx_bytes"], st["unverified_rx_bytes"]))
if f["captured_original"] != "answered":
    bad.append("the recorded REGISTER was %s when first sent" % f["captured_original"])
for key, what in (("drop_bad_mac", "forged"), ("drop_replayed", "replayed"),
                  ("drop_wrong_version", "wrong-version")):
    if st[key] <= 0:
        bad.append("%s 0: the %s packets were not dropped as such" % (key, what))
served = load.get("paired", 0) + (2 if pair == ["direct", "direct"] else 0)
if served <= 0:
    bad.append("no legitimate registration served under the flood (pair %s, load %s)" %
               (pair, load))
print("# amplification before verification: %.4f (flood %d packets, %d B from %d endpoints; "
      "%d B back); legitimate: pair %s, load %d of %d sessions paired" %
      (f["amplification"] or 0, f["packets"], f["bytes"], f["endpoints"], f["back_bytes"],
       "/".join(pair), load.get("paired", 0), load.get("sessions", 0)))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
expect_nothing_left "$TMP/before" "the flood test"
