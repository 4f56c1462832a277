#!/bin/bash
# punch-ipv6.sh PUNCHLAB: the engine over IPv6 (issue 5: "IPv6 tested on a lab link with
# 2001:db8::/32 addresses"), in the ipv6-link topology (tests/data/topologies/ipv6-link.yaml: two
# peers and a server routed through inet, no NAT). The rendezvous listens on the server's two
# IPv6 addresses only; udp and tcp must be direct between the peers' IPv6 addresses, each peer
# seeing its public endpoint equal to its local one (NAT kind "none").
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
TOPO=$SRCDIR/tests/data/topologies/ipv6-link.yaml
R1='[2001:db8:100::10]:3478'
R2='[2001:db8:100::11]:3478'

kept_lab -t "$TOPO"
rdv_start rdv 30 --listen "$R1" --listen "$R2"
grep -qF '"addresses":["[2001:db8:100::10]:3478","[2001:db8:100::11]:3478"]' "$TMP/rdv.rdv" ||
	fail "the rendezvous does not say it listens on both IPv6 addresses: $(head -1 "$TMP/rdv.rdv")"

for proto in udp tcp; do
	name=v6-$proto
	pair $name 3 host-a host-b --rendezvous "$R1" --proto $proto --technique $proto
	expect_pair $name 0 direct "$proto over IPv6"
	for side in a b; do
		if [ $side = a ]; then mine='[2001:db8:a::10]:' other='[2001:db8:b::10]:'
		else mine='[2001:db8:b::10]:' other='[2001:db8:a::10]:'; fi
		local_ep=$(result "$TMP/$name.$side" local)
		peer=$(result "$TMP/$name.$side" peer)
		nat=$(result "$TMP/$name.$side" nat)
		note "$name $side: local $local_ep, public $(result "$TMP/$name.$side" public), nat $nat, peer $peer, $(result "$TMP/$name.$side" time_to_connect_ms) ms"
		[[ $local_ep == "$mine"* ]] || fail "$name: peer $side's local endpoint is $local_ep, expected $mine..."
		[[ $peer == "$other"* ]] || fail "$name: peer $side reached $peer, expected $other..."
		[ "$(result "$TMP/$name.$side" public)" = "$local_ep" ] ||
			fail "$name: peer $side's public endpoint differs from its local one without a NAT"
		[ "$nat" = none ] || fail "$name: peer $side saw NAT kind $nat, expected none"
	done
done

kill -TERM "$RDV_PID"
wait_exit "$RDV_PID" 10
stats=$(grep '"event":"stats"' "$TMP/rdv.rdv")
note "rendezvous: $stats"
grep -q '"pairings":2,' <<<"$stats" || fail "the rendezvous did not count 2 pairings"
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
expect_nothing_left "$TMP/before" "the IPv6 runs"
