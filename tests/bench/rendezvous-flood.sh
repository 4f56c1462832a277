#!/bin/bash
# rendezvous-flood.sh PUNCHLAB: the rendezvous under a flood from spoofed sources (issue 14
# item 3), run by `meson test --benchmark bench-rendezvous` (root). Prints, asserts nothing
# (tests/lab/punch-flood.sh checks amplification <= 1 and that some registrations are served).
# One round per flood rate in FLOOD_RATES (packets/s offered; default "0 20000 40000"), each
# with a fresh rendezvous in the flood lab (tests/data/topologies/flood.yaml) for FLOOD_SECONDS
# (default 4): punch-flood.py sends forged REGISTERs and BINDs, version-1 REGISTERs and
# replays of a recorded valid REGISTER from 203.0.113.128/25 x 80 ports (10,080 endpoints),
# while one real pair connects and `punch load` registers FLOOD_SESSIONS sessions (default
# 2000) from host-a. Per round: the flood's achieved rate, the amplification before
# verification (bytes that came back to the spoofed sources over the bytes they sent, as they
# arrived there, and the server's own count), the share of load's sessions paired, its
# registrations/s, and the real pair's outcome.
. "$(dirname "$0")/../lab/lib.sh"
require_root
. "$(dirname "$0")/../lab/punch-lib.sh"
. "$(dirname "$0")/../lab/punch-flood-lib.sh"

secs=${FLOOD_SECONDS:-4}
sessions=${FLOOD_SESSIONS:-2000}
flood_lab
for rate in ${FLOOD_RATES:-0 20000 40000}; do
	flood_round "r$rate" "$rate" "$secs" "$sessions"
	[ -s "$TMP/r$rate.flood" ] || echo '{}' >"$TMP/r$rate.flood"
	python3 - "$rate" "$TMP/r$rate.flood" "$TMP/r$rate.stats" "$TMP/r$rate.load" \
		"$(result "$TMP/r$rate.a" outcome)/$(result "$TMP/r$rate.b" outcome)" <<'PY'
import json, sys
rate = int(sys.argv[1])
f = json.load(open(sys.argv[2]))
st = json.load(open(sys.argv[3]))
try:
    load = json.loads(open(sys.argv[4]).read().strip().splitlines()[-1])
except (ValueError, IndexError):
    load = {}
srv = st["unverified_tx_bytes"] / st["unverified_rx_bytes"] if st["unverified_rx_bytes"] else 0
print("flood %6d pps offered, %6s achieved, %5s endpoints | amplification %s (at the "
      "sources), %.4f (server) | legitimate: %s of %s sessions paired (%.1f %%), %s "
      "registrations/s, pair %s | server drops: bad_mac %d, replayed %d, wrong_version %d, "
      "rate_limited %d" %
      (rate, f.get("pps", 0), f.get("endpoints", 0), f.get("amplification", "-"), srv,
       load.get("paired", 0), load.get("sessions", 0),
       100.0 * load.get("paired", 0) / load["sessions"] if load.get("sessions") else 0,
       load.get("registrations_per_s", 0), sys.argv[5], st["drop_bad_mac"],
       st["drop_replayed"], st["drop_wrong_version"], st["drop_rate_limited"]))
PY
done
"$PUNCHLAB" lab down "$LAB" >/dev/null
