#!/bin/bash
# punch-rendezvous.sh PUNCHLAB: the rendezvous under bad input, and relay's failing case
# (issue 5, "Bad input"; issue 14, authentication).
#   1. from the inet node (a server-side address of its own), punch-hostile.py sends truncated,
#      oversized, garbage, bad-length, bad-attribute, unknown-type, missing-attribute and
#      peer-to-peer datagrams; spoofed REGISTERs and BINDs without the secret (no MAC, a forged
#      one, another session's); a replay of a valid REGISTER, a stale one, unpadded ones, a
#      RELAY and a BYE with the wrong token; a garbage TCP frame and an oversized TCP frame
#      length, then floods 12,000 datagrams from that one source: nothing is ever answered,
#      but for the messages of another wire version, which get a version error no longer
#      than themselves;
#   2. then a normal pairing still works, over UDP and TCP;
#   3. the rendezvous's stats line (at SIGTERM) counts every drop by its reason, exactly, and
#      the flood partly as rate-limited;
#   4. relay against a rendezvous started with --no-relay fails (exit 1), the server saying so;
#   5. 300 sessions through a table of 100 (--max-sessions): all pair, newcomers evict.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
kept_lab -t two-nats
rdv_start rdv 60 --listen $RDV1:3478 --listen $RDV2:3478
rdv=$RDV_PID

# --- 1. hostile packets --------------------------------------------------------------------------
"$PUNCHLAB" exec --timeout 20 "$LAB" inet -- "$PY" "$SRCDIR/tests/lab/punch-hostile.py" $RDV1 3478 "$PUNCH_SECRET_FILE" \
	>"$TMP/hostile.json" 2>"$TMP/hostile.err" ||
	{ cat "$TMP/hostile.err" >&2; fail "punch-hostile.py failed"; }
note "hostile: $(cat "$TMP/hostile.json")"
kill -0 "$rdv" 2>/dev/null || fail "the rendezvous died under hostile packets"

# --- 2. a normal pairing still works -------------------------------------------------------------
pair after-udp 2 host-a host-b --rendezvous $RDV1:3478 --technique udp
expect_pair after-udp 0 direct "udp pairing after the hostile packets"
pair after-tcp 2 host-a host-b --rendezvous $RDV1:3478 --proto tcp --technique tcp
expect_pair after-tcp 0 direct "tcp pairing after the hostile packets"

# --- 3. the stats line counts the drops ----------------------------------------------------------
kill -TERM "$rdv"
wait_exit "$rdv" 10
[ "$RC" -eq 0 ] || fail "the rendezvous exited $RC after SIGTERM, expected 0"
grep '"event":"stats"' "$TMP/rdv.rdv" >"$TMP/stats.json" || fail "no stats line at exit"
note "stats: $(cat "$TMP/stats.json")"
python3 - "$TMP/hostile.json" "$TMP/stats.json" <<'PY' || fail "the stats line does not count the drops"
import json, sys
h = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
bad = []
if h["answers"]:
    bad.append("%d answers to malformed packets" % h["answers"])
if not h["registered"]:
    bad.append("the valid REGISTER (the replay's original) was not answered")
for v in h["version"]:
    # the source of a message of another version is unverified: the answer says which
    # version the server speaks and is never longer than the request
    if not v["is_error"] or v["version"] != 2 or v["answer"] > v["request"] or not v["answer"]:
        bad.append("version mismatch: %s (expected an ERROR of version 2, at most as long as "
                   "the request)" % v)
    if v["request"] >= 28 and v["code"] != h["version_expected"]:
        bad.append("version mismatch: error code %s, expected %d" % (v["code"],
                                                                     h["version_expected"]))
if st["version_replies"] != len(h["version"]):
    bad.append("version_replies %s, expected %d" % (st["version_replies"], len(h["version"])))
if st["unverified_tx_bytes"] > st["unverified_rx_bytes"]:
    bad.append("more bytes sent to unverified sources (%d) than they sent (%d)" %
               (st["unverified_tx_bytes"], st["unverified_rx_bytes"]))
if not h["tcp_closed"]:
    bad.append("the connection with an oversized frame length was not closed")
for reason, n in h["sent"].items():
    key = reason if reason == "tcp_bad_frames" else "drop_" + reason
    got = st.get(key)
    if reason == "bad_magic":
        # the flood is bad magic too: every flood datagram is either that or rate-limited
        lo, hi = n, n + h["flood"]
        if not (lo <= got <= hi) or got + st["drop_rate_limited"] > hi:
            bad.append("%s %s + drop_rate_limited %s, expected %d..%d in all" %
                       (key, got, st["drop_rate_limited"], lo, hi))
    elif got != n:
        bad.append("%s %s, expected %d" % (key, got, n))
if st["drop_rate_limited"] <= 0:
    bad.append("the flood of %d in %.2f s from one source was not rate-limited" %
               (h["flood"], h["flood_s"]))
if st["pairings"] != 2:
    bad.append("pairings %s, expected 2 (the two normal ones)" % st["pairings"])
for b in bad:
    print("  " + b, file=sys.stderr)
print("# drops counted: " + ", ".join("%s %s" % (k, v) for k, v in st.items()
                                       if (k.startswith("drop_") or k == "tcp_bad_frames") and v))
sys.exit(1 if bad else 0)
PY

# --- 4. relay against a server that refuses to relay -------------------------------------------
rdv_start norelay 30 --listen $RDV1:3479 --no-relay
pair norelay 2 host-a host-b --rendezvous $RDV1:3479 --technique relay
expect_pair norelay 1 failed "relay when the rendezvous refuses to relay"
grep -q '"event":"server_error"' "$TMP/norelay.a" "$TMP/norelay.b" ||
	note "no server_error event (the peers saw the relay flag off in registered)"
note "relay refused: $(result "$TMP/norelay.a" phase): $(result "$TMP/norelay.a" reason)"
kill -TERM "$RDV_PID"
wait_exit "$RDV_PID" 10

# --- 5. a full session table evicts instead of refusing every newcomer ------------------------
# 300 sessions through a table of 100: the old server answered the 200 newcomers `busy` and
# paired 100; now each newcomer evicts the stalest session (waiting ones first).
rdv_start full 30 --listen $RDV1:3480 --max-sessions 100
full_pid=$RDV_PID
"$PUNCHLAB" exec --timeout 20 "$LAB" host-a -- "$PUNCH" load --rendezvous $RDV1:3480 \
	--sessions 300 --window 16 --timeout 10 --json >"$TMP/full.load" 2>"$TMP/full.load.err" ||
	{ cat "$TMP/full.load" "$TMP/full.load.err" >&2; fail "punch load through a full table exited $?"; }
kill -TERM "$full_pid"
wait_exit "$full_pid" 10
note "full table: $(cat "$TMP/full.load"); $(grep -o '"busy":[0-9]*,.*"sessions_evicted":[0-9]*\|"sessions_evicted":[0-9]*' "$TMP/full.rdv" | head -1)"
python3 - "$TMP/full.load" "$TMP/full.rdv" <<'PY' || fail "a full session table"
import json, sys
load = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
st = [json.loads(l) for l in open(sys.argv[2]) if '"event":"stats"' in l][-1]
bad = []
if load["paired"] != 300:
    bad.append("%d of 300 sessions paired through a table of 100" % load["paired"])
if st["sessions_evicted"] < 200 or st["sessions"] > 100:
    bad.append("sessions_evicted %d, sessions %d: expected >= 200 and <= 100" %
               (st["sessions_evicted"], st["sessions"]))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
expect_nothing_left "$TMP/before" "the rendezvous tests"
