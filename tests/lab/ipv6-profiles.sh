#!/bin/bash
# ipv6-profiles.sh PUNCHLAB: the IPv6 profiles (issue 15 item 1) in the dual-stack topology
# (topologies/two-nats-dual.yaml), each on both home routers:
#   1. connecting: punch over IPv6 (udp, then tcp) is direct between the two homes, through
#      the inside addresses for the firewalls (no translation) and through the routers' public
#      IPv6 addresses for nat66; conntrack in nat-a holds the IPv6 flow the path used, with
#      packets counted both ways (the lab's attestation reads the same counters);
#   2. failing: inbound traffic the profile must filter does not arrive: unsolicited
#      traffic (every profile), from another address than the one host-a wrote to
#      (address-dependent: ipv6-firewall-ad, nat66), from another port of that address
#      (address-and-port-dependent: nat66); the RFC 6092 default ipv6-firewall lets both in;
#   3. bad input: an IPv6 profile on a node without IPv6 addresses, one clear error, exit 2;
#      a NAT event on an IPv6 profile, refused.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"
. "$(dirname "$0")/probe-lib.sh"
. "$(dirname "$0")/spawn-lib.sh"

snapshot >"$TMP/before"
TOPO=$SRCDIR/topologies/two-nats-dual.yaml
R1='[2001:db8:100::10]:3478'
R2='[2001:db8:100::11]:3478'

# steps PROFILE: 1 and 2 for PROFILE, in a kept lab of its own. The three profiles run at once
# (spawn-lib.sh): one after another they took 15 s, mostly the probes' 2 s waits for datagrams
# that must not arrive, which overlap as well as they add up.
steps() {
	local profile=$1 pub_a pub_b proto name peer port_b other_addr other_port out
	kept_lab -t "$TOPO" --set "nat-a=$profile" --set "nat-b=$profile"
	if [ "$profile" = nat66 ]; then pub_a=2001:db8:a::2 pub_b=2001:db8:b::2
	else pub_a=2001:db8:1::10 pub_b=2001:db8:2::10; fi

	# 1. connecting
	rdv_start "rdv-$profile" 30 --listen "$R1" --listen "$R2"
	for proto in udp tcp; do
		name=$profile-$proto
		pair "$name" 5 host-a host-b --rendezvous "$R1" --proto $proto --technique $proto
		expect_pair "$name" 0 direct "$proto over IPv6 through $profile on both sides"
		peer=$(result "$TMP/$name.a" peer)
		[[ $peer == "[$pub_b]:"* ]] || fail "$name: peer a reached $peer, expected [$pub_b]:..."
		peer=$(result "$TMP/$name.b" peer)
		[[ $peer == "[$pub_a]:"* ]] || fail "$name: peer b reached $peer, expected [$pub_a]:..."
		port_b=${peer##*:}
		# the path's flow in nat-a's conntrack, IPv6, packets both ways
		"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- conntrack -L -f ipv6 -p $proto \
			>"$TMP/$name.ct" 2>/dev/null
		# either direction: through an endpoint-independent filter b's first probe may
		# arrive before a's and open the flow from outside
		grep -F "src=2001:db8:1::10 " "$TMP/$name.ct" | grep -F "src=$pub_b " |
			grep -Eq "packets=[1-9][0-9]* .*packets=[1-9]" || { cat "$TMP/$name.ct" >&2
			fail "$name: nat-a's conntrack has no IPv6 flow to $pub_b with packets both ways"; }
		note "$name: $(result "$TMP/$name.a" local) -> $(result "$TMP/$name.a" peer), b's port $port_b, $(result "$TMP/$name.a" time_to_connect_ms) ms"
	done
	kill -TERM "$RDV_PID"
	wait_exit "$RDV_PID" 10

	# 2. failing: what the profile filters
	expect_probe "$profile-unsolicited" none "nothing sent out: every profile drops it" \
		host-a "$pub_a" 40001 - - 2001:db8:100::10 5000
	case $profile in
	ipv6-firewall) other_addr=got other_port=got ;;
	ipv6-firewall-ad) other_addr=none other_port=got ;;
	nat66) other_addr=none other_port=none ;;
	esac
	expect_probe "$profile-other-address" "$other_addr" "host-a wrote to ::10 port 5000, ::11 answers" \
		host-a "$pub_a" 40002 2001:db8:100::10 5000 2001:db8:100::11 5000
	expect_probe "$profile-other-port" "$other_port" "host-a wrote to ::10 port 5000, port 5001 answers" \
		host-a "$pub_a" 40003 2001:db8:100::10 5000 2001:db8:100::10 5001
	# NAT events reload IPv4 state: refused on an IPv6 profile, not run with IPv4 variables
	if [ "$profile" = nat66 ]; then
		out=$("$PUNCHLAB" events apply "$LAB" 'nat-a rebind@0s' 2>&1)
		grep -qF 'FAILED: node nat-a runs an IPv6 ruleset' <<<"$out" ||
			fail "events apply on an IPv6 profile: $out"
		note "ok: events on an IPv6 profile refused: $out"
	fi
	"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
}
for profile in ipv6-firewall ipv6-firewall-ad nat66; do
	spawn "$profile" steps "$profile"
done
for profile in ipv6-firewall ipv6-firewall-ad nat66; do
	joined "$profile"
done

# 3. bad input: two-nats has no IPv6 address
out=$("$PUNCHLAB" lab up --set nat-a=ipv6-firewall 2>&1)
rc=$?
[ $rc = 2 ] || fail "lab up with an IPv6 profile on an IPv4-only node: exit $rc, expected 2"
if ! grep -qF -- '--set nat-a=ipv6-firewall: node "nat-a": profile ' <<<"$out" ||
	! grep -qF 'is for IPv6 (header "family: ipv6") but the node has no IPv6 address on its WAN link' <<<"$out"; then
	fail "no clear error for an IPv6 profile on an IPv4-only node: $out"
fi
note "ok: bad input: $out"

expect_nothing_left "$TMP/before" "the IPv6 profile runs"
