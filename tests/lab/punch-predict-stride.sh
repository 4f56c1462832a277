#!/bin/bash
# punch-predict-stride.sh PUNCHLAB: predict against the test profile whose sequential ports step
# by 3 (tests/data/profiles/sequential-stride3.nft, issue 5), over UDP and TCP, facing a
# port-restricted cone and a stride-1 sequential NAT. A profile given by path cannot be named in
# a matrix cell id (cell_id_parse splits at "/"), so the lab is kept (`lab up --keep --set
# nat-a=PATH`) and the peers run by hand. Each peer must report what it learned: its own NAT
# sequential with stride 3 (peer a), the other's likewise (peer b).
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
STRIDE3=$SRCDIR/tests/data/profiles/sequential-stride3.nft
[ -f "$STRIDE3" ] || fail "no $STRIDE3"

for other in port-restricted-cone symmetric-sequential; do
	kept_lab --set nat-a="$STRIDE3" --set nat-b=$other
	rdv_start "rdv-$other" 30 --listen $RDV1:3478 --listen $RDV2:3478
	for proto in udp tcp; do
		name=p$proto-${other%%-*}
		pair "$name" 3 host-a host-b --rendezvous $RDV1:3478 --proto $proto --technique predict
		expect_pair "$name" 0 direct "predict over $proto, stride 3 x $other"
		got="$(result "$TMP/$name.a" nat) $(result "$TMP/$name.a" stride)"
		[ "$got" = "sequential 3" ] || fail "$name: peer a saw its NAT as \"$got\", expected \"sequential 3\""
		got=$(result "$TMP/$name.b" peer_nat)
		[ "$got" = sequential ] || fail "$name: peer b was told the other NAT is \"$got\", expected sequential"
		[ "$(result "$TMP/$name.a" technique)" = predict ] || fail "$name: not connected by predict"
		note "$name: a public $(result "$TMP/$name.a" public), b reached a at $(result "$TMP/$name.b" peer), $(result "$TMP/$name.a" time_to_connect_ms) ms"
	done
	kill -TERM "$RDV_PID"
	wait_exit "$RDV_PID" 10
	"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
done
expect_nothing_left "$TMP/before" "the predict runs"
