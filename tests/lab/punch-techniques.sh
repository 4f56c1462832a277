#!/bin/bash
# punch-techniques.sh PUNCHLAB: every technique of the punch engine (issue 5) on one pairing where
# it must connect and one where it must not, each cell in its own fresh two-nats lab through
# `punchlab matrix --cell`, all cells at once (the slowest, birthday's 6 s deadline, sets the
# pace). Outcomes are read from matrix.json, every run of a cell must agree.
#   udp       port-restricted x port-restricted: direct;     symmetric x symmetric: failed
#   tcp       port-restricted x port-restricted (drop): direct; symmetric x port-restricted: failed
#   predict   sequential x sequential, UDP and TCP: direct;  symmetric x symmetric (random): failed
#   birthday  symmetric x port-restricted: direct;           symmetric x symmetric: failed
#   relay     symmetric x symmetric, UDP and TCP: relayed    (the failing case, a server that
#             refuses to relay, is in punch-rendezvous.sh: the matrix cannot express it)
#   auto      symmetric x symmetric: relayed;                sequential x port-restricted: direct,
#             by predict
#   tcp-ttl   symmetric x symmetric: failed                  (the connecting case, 20 runs and
#             the NATs' reject counters, is punch-tcp-ttl.sh)
# The other punch tests: punch-tcp-ttl.sh, punch-predict-stride.sh, punch-same-subnet.sh,
# punch-ipv6.sh, punch-rendezvous.sh.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"

PRC=port-restricted-cone
SYM=symmetric
SEQ=symmetric-sequential
T=two-nats
# id | outcome | why
CELLS="
$T/udp/udp/$PRC~$PRC|direct|both cones keep the port they registered from
$T/udp/udp/$SYM~$SYM|failed|each side's NAT maps the probes to a port nobody announced
$T/tcp/tcp/$PRC~$PRC|direct|NATs that drop unsolicited SYNs let a simultaneous open through
$T/tcp/tcp/$SYM~$PRC|failed|the symmetric side's SYN comes from an unannounced port, filtered
$T/udp/predict/$SEQ~$SEQ|direct|both NATs' next ports are predicted from their stride
$T/tcp/predict/$SEQ~$SEQ|direct|the same over TCP
$T/udp/predict/$SYM~$SYM|failed|random ports cannot be predicted
$T/udp/birthday/$SYM~$PRC|direct|256 sockets against 4096 probes: no hit has chance e^-16
$T/udp/birthday/$SYM~$SYM|failed|birthday needs one side whose public port is known
$T/udp/relay/$SYM~$SYM|relayed|the rendezvous relays
$T/tcp/relay/$SYM~$SYM|relayed|the rendezvous relays over TCP
$T/udp/auto/$SYM~$SYM|relayed|no direct step applies or connects, relay is last
$T/udp/auto/$SEQ~$PRC|direct|auto's predict step connects
$T/tcp/tcp-ttl/$SYM~$SYM|failed|a low TTL opens a mapping, it cannot predict a random port
"
args=()
while IFS='|' read -r id _ _; do
	[ -n "$id" ] && args+=(--cell "$id")
done <<<"$CELLS"

t0=$(now_ms)
run_cells 60 "$TMP/m" "${args[@]}"
note "$(($(now_ms) - t0)) ms for $((${#args[@]} / 2)) cells"

while IFS='|' read -r id want why; do
	[ -n "$id" ] && expect_cell "$TMP/m" "$id" "$want" "$why"
done <<<"$CELLS"

# auto reached direct by the step it should have used
used=$(cell_field "$TMP/m" "$T/udp/auto/$SEQ~$PRC" 'c["runs"][0]["technique_used"]')
[ "$used" = predict ] || fail "$T/udp/auto/$SEQ~$PRC connected by $used, expected predict"
used=$(cell_field "$TMP/m" "$T/udp/auto/$SYM~$SYM" 'c["runs"][0]["technique_used"]')
[ "$used" = relay ] || fail "$T/udp/auto/$SYM~$SYM ended with $used, expected relay"
# a failed cell is a NAT result: the engine ran and names the phase, never crashed or hung
phases=$(python3 - "$TMP/m/matrix.json" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["cells"]:
    for r in c["runs"]:
        if r["outcome"] == "failed":
            print(c["id"], r["phase"])
PY
)
while read -r line; do
	note "failed in phase: $line"
done <<<"$phases"
bad=$(grep -v ' probing$' <<<"$phases" || true)
[ -z "$bad" ] || fail "failed cells should fail while probing, got: $bad"

expect_nothing_left "$TMP/before" "the punch technique cells"
