#!/bin/bash
# punch-same-subnet.sh PUNCHLAB: two home NATs whose LANs both use 10.0.1.0/24 with the host on
# 10.0.1.10 (tests/data/topologies/same-subnet.yaml, issue 5). The peer's private endpoint is
# then an address of the sender itself: a probe aimed at it never leaves the host, and the
# engine must not take it (or its own probe) for the peer.
#   1. the matrix: udp and tcp between two port-restricted cones are direct, and neither peer's
#      result names its own address (or any 10.0.1.10 endpoint) as the peer;
#   2. a kept lab, both peers on the same port (40000): the other's private endpoint is exactly
#      our own local endpoint; udp and tcp (where a connect to it would be a self-connect) are
#      still direct to the other NAT's public address.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
TOPO=$SRCDIR/tests/data/topologies/same-subnet.yaml
PRC=port-restricted-cone

# check_peer FILE OTHER-PUBLIC-ADDR WHAT: the peer in FILE's result is OTHER-PUBLIC-ADDR:port,
# not its own local or public endpoint.
check_peer() {
	local file=$1 want=$2 what=$3 peer mine pub
	peer=$(result "$file" peer)
	mine=$(result "$file" local)
	pub=$(result "$file" public)
	note "$what: local $mine, public $pub, peer $peer, self_ignored $(result "$file" self_ignored)"
	if [ "$peer" = "$mine" ] || [ "$peer" = "$pub" ]; then
		fail "$what: the peer is its own endpoint $peer"
	fi
	[ "${peer%:*}" = "$want" ] || fail "$what: the peer is $peer, expected the other NAT's $want"
	# our own endpoint is never a target (a probe there would come back to us, a TCP connect
	# to it would be a self-connect)
	! grep '"event":"probe"' "$file" | grep -qF "\"to\":\"$mine\"" ||
		fail "$what: probed its own endpoint $mine"
}

# --- 1. through the matrix ----------------------------------------------------------------
run_cells 60 "$TMP/m" -t "$TOPO" --cell same-subnet/udp/udp/$PRC~$PRC \
	--cell same-subnet/tcp/tcp/$PRC~$PRC
for proto in udp tcp; do
	id=same-subnet/$proto/$proto/$PRC~$PRC
	expect_cell "$TMP/m" "$id" direct "both hosts 10.0.1.10, behind two cones"
	dir=$TMP/m/$(cell_field "$TMP/m" "$id" 'c["runs"][0]["log_dir"]')
	check_peer "$dir/peer-a.out" 203.0.113.18 "matrix $proto, peer a"
	check_peer "$dir/peer-b.out" 203.0.113.2 "matrix $proto, peer b"
done

# --- 2. the same port on both sides: our own endpoint is the other's private one ----------
kept_lab -t "$TOPO"
rdv_start rdv 30 --listen $RDV1:3478 --listen $RDV2:3478
for proto in udp tcp; do
	name=same-$proto
	pair $name 3 host-a host-b --rendezvous $RDV1:3478 --proto $proto --technique $proto \
		--port 40000
	expect_pair $name 0 direct "$proto, both peers 10.0.1.10:40000"
	got=$(result "$TMP/$name.a" peer_private)
	[ "$got" = '["10.0.1.10:40000"]' ] ||
		fail "$name: peer a was told the other's private endpoint $got, expected [\"10.0.1.10:40000\"]"
	check_peer "$TMP/$name.a" 203.0.113.18 "$proto, port 40000, peer a"
	check_peer "$TMP/$name.b" 203.0.113.2 "$proto, port 40000, peer b"
done
kill -TERM "$RDV_PID"
wait_exit "$RDV_PID" 10
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
expect_nothing_left "$TMP/before" "the same-subnet runs"
