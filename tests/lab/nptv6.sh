#!/bin/bash
# nptv6.sh PUNCHLAB: the NPTv6 profile (issue 15 item 1; nat-profiles/nptv6.nft) in the
# dual-stack topology (topologies/two-nats-dual.yaml), on both home routers:
#   1. connecting: punch over IPv6 (udp, then tcp) is direct, each peer reaching the other at
#      its EXTERNAL address (2001:db8:100N:efff::10, the internal one with the prefix
#      translated, interface identifier and port kept); nat-a's conntrack holds the flow with
#      the INTERNAL address (the translation is stateless, before and after conntrack) and
#      packets counted both ways;
#   2. stateless and checksum-neutral: a UDP datagram with a complete checksum (raw socket)
#      leaves nat-a with its source translated and the very checksum it was sent with, valid
#      for the new address; the foil, the stateful prefix NAT nft also writes (`snat ip6 prefix
#      to`, tests/data/profiles/nptv6-netmap.nft, RFC 6296's /48 without its adjustment word),
#      changes it;
#   3. failing: what the firewall filters does not arrive: unsolicited traffic to the external
#      address, a reply from another address or port than the one host-a wrote to
#      (address-and-port-dependent), and anything sent to the internal address directly;
#   4. bad input: nptv6 on a node whose LAN link has no second IPv6 prefix (its external one,
#      lab up), and an NPTv6 header of family ipv4 (classify): one clear error each, exit 2.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"
. "$(dirname "$0")/probe-lib.sh"

snapshot >"$TMP/before"
TOPO=$SRCDIR/topologies/two-nats-dual.yaml
CSUM=$SRCDIR/tests/lab/nptv6-csum.py
R1='[2001:db8:100::10]:3478'
R2='[2001:db8:100::11]:3478'
INT_A=2001:db8:1::10 EXT_A=2001:db8:1001:efff::10 EXT_B=2001:db8:1002:efff::10

# csum NAME SPORT: host-a sends one datagram from SPORT with a complete checksum, the server
# sniffs it; prints "SENT_CSUM GOT_SRC GOT_CSUM VALID".
csum() {
	local name=$1 sport=$2 ps sent
	"$PUNCHLAB" exec --timeout 8 "$LAB" server -- python3 "$CSUM" sniff server-eth0 7000 4 \
		>"$TMP/$name.sniff" 2>&1 &
	ps=$!
	wait_for_line "$TMP/$name.sniff" listening 5 "$ps"
	sent=$("$PUNCHLAB" exec --timeout 5 "$LAB" host-a -- python3 "$CSUM" send $INT_A "$sport" \
		2001:db8:100::10 7000) || fail "$name: host-a could not send"
	wait "$ps"
	read -r _ src _ got _ valid < <(tail -1 "$TMP/$name.sniff")
	echo "${sent##* } $src $got $valid"
}

kept_lab -t "$TOPO" --set nat-a=nptv6 --set nat-b=nptv6

# 1. connecting
rdv_start rdv 30 --listen "$R1" --listen "$R2"
for proto in udp tcp; do
	name=nptv6-$proto
	pair "$name" 5 host-a host-b --rendezvous "$R1" --proto $proto --technique $proto
	expect_pair "$name" 0 direct "$proto over IPv6 through NPTv6 on both sides"
	peer=$(result "$TMP/$name.a" peer)
	[[ $peer == "[$EXT_B]:"* ]] || fail "$name: peer a reached $peer, expected [$EXT_B]:..."
	peer=$(result "$TMP/$name.b" peer)
	[[ $peer == "[$EXT_A]:"* ]] || fail "$name: peer b reached $peer, expected [$EXT_A]:..."
	port_a=${peer##*:} local_a=$(result "$TMP/$name.a" local)
	[ "$port_a" = "${local_a##*:}" ] || fail "$name: a's port $local_a became $port_a: NPTv6 keeps ports"
	"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- conntrack -L -f ipv6 -p $proto \
		>"$TMP/$name.ct" 2>/dev/null
	grep -F "src=$INT_A " "$TMP/$name.ct" | grep -F "src=$EXT_B " |
		grep -Eq "packets=[1-9][0-9]* .*packets=[1-9]" || { cat "$TMP/$name.ct" >&2
		fail "$name: nat-a's conntrack has no flow $INT_A <-> $EXT_B with packets both ways"; }
	! grep -Fq "$EXT_A" "$TMP/$name.ct" ||
		fail "$name: nat-a's conntrack knows the external address: the translation is not stateless"
	note "$name: $local_a -> $(result "$TMP/$name.a" peer), seen by b from [$EXT_A]:$port_a"
done
kill -TERM "$RDV_PID"
wait_exit "$RDV_PID" 10

# 2. checksum-neutral
read -r sent src got valid < <(csum neutral 6001)
[ "$src" = $EXT_A ] || fail "checksum: the server saw the datagram from $src, expected $EXT_A"
[ "$valid" = yes ] || fail "checksum: $got is not valid for $src"
[ "$got" = "$sent" ] || fail "checksum: sent $sent, arrived $got: NPTv6 is checksum-neutral"
note "ok: checksum $sent sent from $INT_A, arrived unchanged from $EXT_A"

# 3. failing: what the firewall filters
expect_probe unsolicited none "nothing sent out" host-a $EXT_A 40001 - - 2001:db8:100::10 5000
expect_probe other-address none "host-a wrote to ::10 port 5000, ::11 answers" \
	host-a $EXT_A 40002 2001:db8:100::10 5000 2001:db8:100::11 5000
expect_probe other-port none "host-a wrote to ::10 port 5000, port 5001 answers" \
	host-a $EXT_A 40003 2001:db8:100::10 5000 2001:db8:100::10 5001
expect_probe the-reply got "the control: the endpoint host-a wrote to answers" \
	host-a $EXT_A 40004 2001:db8:100::10 5000 2001:db8:100::10 5000
expect_probe internal none "host-a wrote to ::10 port 5000, which answers to the internal address" \
	host-a $INT_A 40005 2001:db8:100::10 5000 2001:db8:100::10 5000
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

# 2b. the foil: stateful prefix NAT without the adjustment word changes the checksum
kept_lab -t "$TOPO" --set "nat-a=$SRCDIR/tests/data/profiles/nptv6-netmap.nft"
read -r sent src got valid < <(csum netmap 6002)
[ "$src" = 2001:db8:1001::10 ] || fail "netmap: the server saw the datagram from $src"
[ "$valid" = yes ] || fail "netmap: $got is not valid for $src"
[ "$got" != "$sent" ] || fail "netmap: the checksum stayed $sent, expected the kernel to rewrite it"
note "ok: netmap (snat ip6 prefix to): checksum $sent became $got"
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

# 4. bad input
sed '/1001:efff::1\/64/s/, 2001:db8:1001:efff::1\/64//' "$TOPO" >"$TMP/no-ext.yaml"
grep -q "1001:efff::1/64" "$TMP/no-ext.yaml" && fail "could not remove nat-a's external prefix"
out=$("$PUNCHLAB" lab up -t "$TMP/no-ext.yaml" --set nat-a=nptv6 2>&1)
rc=$?
[ $rc = 2 ] || fail "nptv6 without an external prefix: exit $rc, expected 2: $out"
grep -qF -- '--set nat-a=nptv6: node "nat-a": profile ' <<<"$out" &&
	grep -qF 'translates its LAN prefix (header "translation: prefix") but its LAN link has one IPv6 prefix' <<<"$out" ||
	fail "no clear error for nptv6 without an external prefix: $out"
note "ok: bad input: $out"
sed 's/^# family: ipv6$/# family: ipv4/' "$SRCDIR/nat-profiles/nptv6.nft" >"$TMP/nptv4.nft"
# (read where headers are read: classify, matrix; a lab loads what it is given)
out=$("$PUNCHLAB" classify "$TMP/nptv4.nft" 2>&1)
rc=$?
[ $rc = 2 ] || fail "an NPTv6 header of family ipv4: exit $rc, expected 2: $out"
grep -qF "$TMP/nptv4.nft:12: translation: prefix is NPTv6, for family ipv6 only (family is ipv4)" <<<"$out" ||
	fail "no clear error for translation prefix with family ipv4: $out"
note "ok: bad input: $out"

expect_nothing_left "$TMP/before" "the NPTv6 runs"
