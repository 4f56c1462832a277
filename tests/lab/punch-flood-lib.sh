# Shared by tests/lab/punch-flood.sh and tests/bench/rendezvous-flood.sh (sourced after lib.sh
# and punch-lib.sh): a rendezvous under a flood from 10,080 spoofed source endpoints
# (203.0.113.128/25 x 80 ports, from the flood node of tests/data/topologies/flood.yaml) while
# legitimate peers register. Every wait is bounded; the lab goes with the teardown list.
# shellcheck shell=bash

# flood_lab: a kept flood lab (LAB); inet routes the spoofed sources to the flood node, which
# takes them as local, so whatever the rendezvous answers them comes back there to be counted.
flood_lab() {
	kept_lab -t "$SRCDIR/tests/data/topologies/flood.yaml"
	"$PUNCHLAB" exec --timeout 5 "$LAB" inet -- ip route add 203.0.113.128/25 via 203.0.113.34 ||
		fail "route to the spoofed sources in inet"
	"$PUNCHLAB" exec --timeout 5 "$LAB" flood -- ip route add local 203.0.113.128/25 dev lo ||
		fail "local route for the spoofed sources in the flood node"
}

# flood_round NAME RATE SECONDS SESSIONS: a fresh rendezvous (its JSON in $TMP/NAME.rdv); the
# flood at RATE packets/s for SECONDS (RATE 0: none) from the flood node (its JSON in
# $TMP/NAME.flood); half a second in, one real pairing (udp, host-a and host-b, session NAME)
# and `punch load` of SESSIONS sessions from host-a (its JSON in $TMP/NAME.load), both while
# the flood lasts. Then the rendezvous's stats line in $TMP/NAME.stats.
flood_round() {
	local name=$1 rate=$2 secs=$3 sessions=$4 fpid=
	rdv_start "$name" $((secs + 6)) --listen $RDV1:3478 --listen $RDV2:3478
	local rpid=$RDV_PID
	if [ "$rate" -gt 0 ]; then
		"$PUNCHLAB" exec --timeout $((secs + 10)) "$LAB" flood -- "$PY" \
			"$SRCDIR/tests/lab/punch-flood.py" $RDV1 3478 "$PUNCH_SECRET_FILE" "$name" \
			--rate "$rate" --seconds "$secs" >"$TMP/$name.flood" 2>"$TMP/$name.flood.err" &
		fpid=$!
		defer "kill_child $fpid"
		sleep 0.5
	fi
	pair "$name" 4 host-a host-b --rendezvous $RDV1:3478 --technique udp
	"$PUNCHLAB" exec --timeout $((secs + 5)) "$LAB" host-a -- "$PUNCH" load --rendezvous \
		$RDV1:3478 --sessions "$sessions" --window 64 --timeout "$((secs > 2 ? secs - 1 : 1))" \
		--json >"$TMP/$name.load" 2>"$TMP/$name.load.err"
	if [ -n "$fpid" ]; then
		wait_exit "$fpid" $((secs + 15))
		[ "$RC" -eq 0 ] || { cat "$TMP/$name.flood.err" >&2; fail "punch-flood.py exited $RC"; }
	fi
	kill -TERM "$rpid"
	wait_exit "$rpid" 10
	grep '"event":"stats"' "$TMP/$name.rdv" >"$TMP/$name.stats" || fail "no stats line at exit"
}
