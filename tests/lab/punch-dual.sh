#!/bin/bash
# punch-dual.sh PUNCHLAB: punch tries both address families at once (issue 15 item 1,
# docs/punch.md "Both families at once"), in a kept topologies/two-nats-dual.yaml lab: the
# rendezvous listens on the server's IPv4 and IPv6 addresses, each peer gets --rendezvous
# (IPv4) and --rendezvous6 (IPv6); IPv6 starts first, IPv4 --family-delay later.
#  a. nat-a and nat-b symmetric (IPv4): their IPv6 is routed without a profile (a node runs
#     one profile of one family; an IPv6 companion profile is h-family's work): direct over
#     IPv6, family 6 kept by both, IPv4 "failed" or "cancelled", never direct; with udp and
#     with tcp. The IPv4 path is checked to fail alone first (a single-family run).
#  b. both port-restricted-cone: direct over either family, both peers keeping the same one
#     and verified; udp, tcp and auto.
#  c. the IPv6 rendezvous unreachable (a bogus address in the server's /64), IPv6 filtered at
#     one NAT, or no IPv6 route at all (two-nats): IPv4 direct, in time (inside a 2 s deadline),
#     family 4 kept, IPv6 not direct; without a route IPv4 does not wait for the delay.
#  d. the rendezvous pairs per family: its stats count one pairing per family of a dual run,
#     and an IPv4-only and an IPv6-only peer of one session are not paired.
#  e. the losing family is closed: after the verdict no packet of the losing family's
#     sockets reaches the other peer (nft counters on the other peer's NAT).
#  f. a router silent on NAT-PMP (portmap's IPv4 ask waits 1.5 s) does not stall IPv6.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
R4=198.51.100.10:3478
R6='[2001:db8:100::10]:3478'
BOGUS6='[2001:db8:100::99]:3478'

# fam FILE: the kept family, the per-family outcomes and the times of a peer's result
fam() {
	echo "family=$(result "$1" family) families=$(result "$1" families) ttc=$(result "$1" time_to_connect_ms) total=$(result "$1" total_ms)"
}

# a. symmetric IPv4 NATs: IPv6 wins
kept_lab -t two-nats-dual --set nat-a=symmetric --set nat-b=symmetric
rdv_start rdv 60 --listen "$R4" --listen 198.51.100.11:3478 --listen "$R6" \
	--listen '[2001:db8:100::11]:3478'

pair sym-v4 3 host-a host-b --rendezvous "$R4" --technique udp
expect_pair sym-v4 1 failed "udp between two symmetric NATs over IPv4 alone"
for tech in udp tcp; do
	name=sym-dual-$tech
	pair $name 5 host-a host-b --rendezvous "$R4" --rendezvous6 "$R6" --technique $tech
	expect_pair $name 0 direct "dual $tech: IPv6 is routed, IPv4 symmetric"
	for side in a b; do
		note "$name $side: $(fam "$TMP/$name.$side")"
		[ "$(result "$TMP/$name.$side" family)" = 6 ] || fail "$name $side kept family $(result "$TMP/$name.$side" family), expected 6"
		fams=$(result "$TMP/$name.$side" families)
		python3 -c 'import json,sys; f=json.loads(sys.argv[1]); sys.exit(0 if f["6"]=="direct" and f["4"] in ("failed","cancelled") else 1)' "$fams" ||
			fail "$name $side: families $fams, expected 6 direct and 4 failed or cancelled"
		[[ $(result "$TMP/$name.$side" peer) == "[2001:db8:"* ]] || fail "$name $side: peer $(result "$TMP/$name.$side" peer) is no IPv6 endpoint"
	done
done

# e. the losing family is closed at the verdict: both families start together
# (--family-delay 0), IPv6 wins, both peers hold the path 3 s; from the moment both said
# "verified", no IPv4 packet of either peer reaches the other's NAT (each NAT counts the other
# NAT's public address in prerouting, before its own rules drop it). So that IPv4 is surely
# probing when IPv6 wins, nat-b drops the first 3000 bytes of UDP between the two homes' IPv6
# prefixes (about 20 probes: the first 60 ms or so of both peers' probe schedules).
"$PUNCHLAB" exec --timeout 5 "$LAB" nat-b -- nft -f - <<EOF || fail "IPv6 quota table in nat-b"
table ip6 duallate {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip6 saddr { 2001:db8:1::/64, 2001:db8:2::/64 } ip6 daddr { 2001:db8:1::/64, 2001:db8:2::/64 } meta l4proto udp quota until 3000 bytes drop
	}
}
EOF
for node in nat-a nat-b; do
	other=203.0.113.2
	[ $node = nat-a ] && other=203.0.113.18
	"$PUNCHLAB" exec --timeout 5 "$LAB" $node -- nft -f - <<EOF || fail "counter table in $node"
table ip dualcount {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr $other counter
	}
}
EOF
done
count() {
	"$PUNCHLAB" exec --timeout 5 "$LAB" "$1" -- nft -j list table ip dualcount |
		python3 -c 'import json,sys; print(sum(e["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "rule" in o for e in o["rule"]["expr"] if "counter" in e))'
}
name=sym-hold
HOLD=(--session "$name" --timeout 5 --json --rendezvous "$R4" --rendezvous6 "$R6" --technique udp
	--family-delay 0 --hold 3)
"$PUNCHLAB" exec --timeout 10 "$LAB" host-a -- "$PUNCH" peer --role a "${HOLD[@]}" \
	>"$TMP/$name.a" 2>"$TMP/$name.a.err" &
PID_a=$!
defer "kill_child $PID_a"
"$PUNCHLAB" exec --timeout 10 "$LAB" host-b -- "$PUNCH" peer --role b "${HOLD[@]}" \
	>"$TMP/$name.b" 2>"$TMP/$name.b.err" &
PID_b=$!
defer "kill_child $PID_b"
wait_for_line "$TMP/$name.a" '"event":"verified"' 5 "$PID_a"
wait_for_line "$TMP/$name.b" '"event":"verified"' 5 "$PID_b"
grep -q '"event":"family_result","t_ms":[0-9.]*,"family":4.*"outcome":"cancelled"' "$TMP/$name.a" ||
	fail "$name: peer a did not cancel its IPv4 attempt: $(grep family_result "$TMP/$name.a")"
ca1=$(count nat-a) cb1=$(count nat-b)
sleep 1.5
ca2=$(count nat-a) cb2=$(count nat-b)
note "$name: IPv4 packets from the other NAT, at the verdict / 1.5 s later: nat-a $ca1 / $ca2, nat-b $cb1 / $cb2"
{ [ "$ca1" -gt 0 ] && [ "$cb1" -gt 0 ]; } ||
	fail "$name: no IPv4 packet crossed before the verdict (the IPv4 attempt never probed: the test shows nothing)"
{ [ "$ca1" = "$ca2" ] && [ "$cb1" = "$cb2" ]; } ||
	fail "$name: the cancelled IPv4 attempt still sent packets after the verdict"
wait_exit "$PID_a" 10
RC_A=$RC
wait_exit "$PID_b" 10
RC_B=$RC
expect_pair $name 0 direct "held over IPv6"
kill -TERM "$RDV_PID"
stats=$(rdv_stats rdv "$RDV_PID")
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

# d. one pairing per family: sym-v4 (1), two dual runs that won over IPv6 before IPv4 started
# (1 each) and sym-hold, whose IPv4 attempts started with IPv6 and were paired too (2)
note "rendezvous: $stats"
grep -q '"pairings":5,' <<<"$stats" || fail "the rendezvous did not count 5 pairings (one per family that registered)"

# b. both port-restricted-cone: either family, verified, and both peers keep the same one
kept_lab -t two-nats-dual
rdv_start rdv2 60 --listen "$R4" --listen 198.51.100.11:3478 --listen "$R6" \
	--listen '[2001:db8:100::11]:3478'
for tech in udp tcp auto; do
	name=prc-dual-$tech
	pair $name 5 host-a host-b --rendezvous "$R4" --rendezvous6 "$R6" --technique $tech
	expect_pair $name 0 direct "dual $tech between two port-restricted cones"
	fa=$(result "$TMP/$name.a" family) fb=$(result "$TMP/$name.b" family)
	note "$name a: $(fam "$TMP/$name.a")"
	note "$name b: $(fam "$TMP/$name.b")"
	[ "$fa" = "$fb" ] || fail "$name: peer a kept IPv$fa, peer b IPv$fb"
	for side in a b; do
		peer=$(result "$TMP/$name.$side" peer)
		case $fa in
		6) [[ $peer == "[2001:db8:"* ]] ;;
		4) [[ $peer == 203.0.113.* ]] ;;
		esac || fail "$name $side: kept IPv$fa but its peer is $peer"
	done
done

# d'. sessions are per family: a peer over IPv4 only and one over IPv6 only with the same
# session id are never paired (each would get an endpoint of the other family, which it cannot
# punch): both fail waiting for the other peer, in phase endpoint-exchange.
name=cross
"$PUNCHLAB" exec --timeout 4 "$LAB" host-a -- "$PUNCH" peer --session $name --timeout 1 --json \
	--rendezvous "$R4" --technique udp >"$TMP/$name.a" 2>"$TMP/$name.a.err" &
pa=$!
"$PUNCHLAB" exec --timeout 4 "$LAB" host-b -- "$PUNCH" peer --session $name --timeout 1 --json \
	--rendezvous "$R6" --technique udp >"$TMP/$name.b" 2>"$TMP/$name.b.err"
RC_B=$?
wait "$pa"
RC_A=$?
expect_pair $name 1 failed "an IPv4 and an IPv6 registration of one session"
for side in a b; do
	[ "$(result "$TMP/$name.$side" phase)" = endpoint-exchange ] ||
		fail "$name $side: phase $(result "$TMP/$name.$side" phase), expected endpoint-exchange"
done

# f. a router that never answers NAT-PMP does not stall IPv6: --technique portmap asks the
# router over IPv4 for up to 1.5 s (NAT-PMP, then UPnP-IGD; IPv6 runs as udp), nat-a drops
# NAT-PMP silently and offers no UPnP. When the ask blocked the process, nothing of IPv6 could
# happen meanwhile and host-a could not end before 1.5 s; with the ask in its thread, IPv6 is
# verified, IPv4 cancelled mid-ask, and host-a is done long before the ask could have ended.
# (nat-a's drop counter shows whether the request left before IPv6 won: often, not always.)
"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- nft -f - <<EOF || fail "NAT-PMP drop table in nat-a"
table ip pmdrop {
	chain input {
		type filter hook input priority filter; policy accept;
		udp dport 5351 counter drop
	}
}
EOF
name=pm-silent
pair $name 5 host-a host-b --rendezvous "$R4" --rendezvous6 "$R6" --technique portmap --family-delay 0
expect_pair $name 0 direct "dual portmap, a router silent on NAT-PMP"
total=$(result "$TMP/$name.a" total_ms)
asks=$("$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- nft list table ip pmdrop | grep -o 'packets [0-9]*')
note "$name a: $(fam "$TMP/$name.a"); NAT-PMP requests dropped by nat-a: $asks"
# IPv4 starts in the same moment as IPv6 (--family-delay 0), before any answer can come, so its
# ask was under way before IPv6 verified: had it blocked, IPv6 could not have verified sooner
first=$(grep -oE '"event":"(start","t_ms":[0-9.]*,"family":4|verified","t_ms":[0-9.]*,"family":6)' "$TMP/$name.a" | head -1)
[[ $first == *'"start"'* ]] || fail "$name: IPv6 verified before IPv4 started (the test shows nothing): $first"
[ "$(result "$TMP/$name.a" families)" = '{"6": "direct", "4": "cancelled"}' ] ||
	fail "$name a: families $(result "$TMP/$name.a" families), expected 6 direct, 4 cancelled"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1500 else 1)' "$total" ||
	fail "$name: host-a ended after $total ms: the IPv4 ask (1.5 s) held up the IPv6 run"

# c. the IPv6 rendezvous unreachable (nobody has 2001:db8:100::99): IPv4 direct well inside a
# 2 s deadline, IPv6 not direct; and the same run over IPv4 alone for comparison (printed)
pair v4-alone 2 host-a host-b --rendezvous "$R4" --technique udp
expect_pair v4-alone 0 direct "udp over IPv4 alone"
for tech in udp tcp; do
	name=bogus6-$tech
	pair $name 2 host-a host-b --rendezvous "$R4" --rendezvous6 "$BOGUS6" --technique $tech
	expect_pair $name 0 direct "dual $tech, IPv6 rendezvous unreachable"
	for side in a b; do
		note "$name $side: $(fam "$TMP/$name.$side")"
		[ "$(result "$TMP/$name.$side" family)" = 4 ] || fail "$name $side kept family $(result "$TMP/$name.$side" family), expected 4"
		fams=$(result "$TMP/$name.$side" families)
		python3 -c 'import json,sys; f=json.loads(sys.argv[1]); sys.exit(0 if f["4"]=="direct" and f["6"]!="direct" else 1)' "$fams" ||
			fail "$name $side: families $fams, expected 4 direct and 6 not"
	done
done
# c, filtered: nat-a's forwarding drops every IPv6 packet (an IPv6 firewall that lets nothing
# through): host-a's IPv6 registration never arrives, host-b's is never paired; IPv4 direct.
"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- nft -f - <<EOF || fail "IPv6 drop table in nat-a"
table ip6 dualblock {
	chain block {
		type filter hook forward priority filter; policy drop;
	}
}
EOF
name=filtered6
pair $name 2 host-a host-b --rendezvous "$R4" --rendezvous6 "$R6" --technique udp
expect_pair $name 0 direct "dual udp, IPv6 filtered at nat-a"
for side in a b; do
	note "$name $side: $(fam "$TMP/$name.$side") phases=$(result "$TMP/$name.$side" families_phase)"
	[ "$(result "$TMP/$name.$side" families)" = '{"6": "cancelled", "4": "direct"}' ] ||
		fail "$name $side: families $(result "$TMP/$name.$side" families), expected 6 cancelled, 4 direct"
done
note "v4-alone a: $(fam "$TMP/v4-alone.a")"
kill -TERM "$RDV_PID"
rdv_stats rdv2 "$RDV_PID" >/dev/null
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

# c'. no IPv6 route at all (two-nats has no IPv6): the IPv6 attempt fails at once, phase
# registration, and IPv4 starts without waiting for the delay (--family-delay 1.5, 2 s timeout)
kept_lab -t two-nats
rdv_start rdv3 30 --listen "$R4" --listen 198.51.100.11:3478
name=noroute6
pair $name 2 host-a host-b --rendezvous "$R4" --rendezvous6 "$R6" --technique udp --family-delay 1.5
expect_pair $name 0 direct "dual udp without any IPv6 route"
for side in a b; do
	note "$name $side: $(fam "$TMP/$name.$side") phases=$(result "$TMP/$name.$side" families_phase)"
	[ "$(result "$TMP/$name.$side" families)" = '{"6": "failed", "4": "direct"}' ] ||
		fail "$name $side: families $(result "$TMP/$name.$side" families)"
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1500 else 1)' "$(result "$TMP/$name.$side" total_ms)" ||
		fail "$name $side: IPv4 waited for the family delay although IPv6 had failed"
done
kill -TERM "$RDV_PID"
rdv_stats rdv3 "$RDV_PID" >/dev/null
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
expect_nothing_left "$TMP/before" "the dual-family runs"
