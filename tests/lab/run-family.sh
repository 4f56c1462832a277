#!/bin/bash
# run-family.sh PUNCHLAB: the bug-report tools for IPv6 and dual cells (issue 15's leftovers;
# docs/run.md "Address families", docs/events.md "Address families"):
#   1. `run --family 6` (ipv6-firewall x nat66) runs on two-nats-dual: direct as expected, its
#      cell id says family=6, the timeline holds IPv6 conntrack events, and --pcap's WAN
#      captures show the punched IPv6 flow both ways (tcpdump reads them); symmetric x
#      symmetric, failed over IPv4, is direct in dual over IPv6;
#   2. `run --family dual --ipv6-profile ipv6-firewall-ad --keep`: the kept lab's record holds
#      each NAT's IPv6 companion beside its profile; `events apply` of a reboot on the kept lab
#      (another process, attached from the record) leaves both rulesets loaded (ip and ip6
#      punchlab_nat). Before the record kept companions, the reboot dropped the IPv6 table;
#   3. a reboot in a dual cell (off for 1 s): both peers lose their path and recover it, over
#      the family they kept (the path-recovered lines say which), and the timeline's NAT event
#      names both rulesets reloaded; in family 6, a reboot reloads nat66 with its IPv6
#      variables and flushes its flows;
#   3b. bundles: a family 6 cell's holds the dual-stack twin (also classify's IPv6 lab) and its
#      IPv6 profiles, a dual cell's its IPv6 companion; `replay --trust` of the family 6 one
#      reproduces its outcome;
#   4. bad input, exit 2 and one line: --family 5; --ipv6-profile without --family dual; an
#      IPv4 profile in a family 6 cell; rebind and wan-address in family 6 and dual cells.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
command -v tcpdump >/dev/null || fail "tcpdump is missing (ci/bootstrap.sh installs it)"

snapshot >"$TMP/before"

# run_start NAME ARGS...: `punchlab run ARGS...` in the background, bounded (90 s, and the
# teardown kills it); run_wait NAME: wait for it, then RC, OUT and TL (its timeline.txt).
# run_ok NAME ARGS...: both at once.
declare -A RUN_PID
run_start() {
	local name=$1
	shift
	timeout -k 5 90 "$PUNCHLAB" run -o "$TMP/$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	RUN_PID[$name]=$!
	defer "kill_started ${RUN_PID[$name]}"
}
run_wait() {
	local name=$1
	wait "${RUN_PID[$name]}"
	RC=$?
	OUT=$TMP/$name.out
	[ "$RC" -eq 124 ] && fail "$name: punchlab run ran over 90 s"
	TL=$(sed -n 's/^timeline: \([^ ]*\) .*/\1/p' "$OUT")
	[ -f "$TL" ] || { cat "$OUT" "$TMP/$name.err" >&2; fail "$name: no timeline (exit $RC)"; }
}
run_ok() {
	run_start "$@"
	run_wait "$1"
}

# The two reboot cells (3. below) hold their path for 10 s after the event (CELL_EVENTS_RECOVER_MS):
# 12 and 11 s one after the other. They start first and run while 1, 2 and 3b run (their labs,
# rendezvous and NAT events are their own), and are judged when they are done.
run_start rr --family dual --a port-restricted-cone --b port-restricted-cone \
	--events 'nat-a reboot@1s for 1s' --no-classify
run_start r6r --family 6 --a nat66 --b ipv6-firewall --events 'nat-a reboot@1s' --no-classify

# --- 1. family 6: direct, IPv6 conntrack events, IPv6 captures ----------------------------------
run_ok r6 --family 6 --a ipv6-firewall --b nat66 --pcap "$TMP/pcap6"
[ "$RC" -eq 0 ] || { cat "$OUT" >&2; fail "run --family 6 exited $RC, expected 0"; }
grep -q '^cell two-nats/udp/udp/ipv6-firewall~nat66/family=6$' "$OUT" ||
	fail "run --family 6 names another cell: $(head -1 "$OUT")"
grep -q '^outcome: direct (expected direct)' "$OUT" || fail "family 6: not direct: $(grep '^outcome' "$OUT")"
grep -Eq '  conntrack  nat-b +new +udp \[2001:db8:2::10\]:[0-9]+ -> \[2001:db8:b::2\]:[0-9]+ ' "$TL" ||
	fail "family 6: no IPv6 conntrack event of nat-b (nat66 translating 2001:db8:2::10)"
# the punched flow in both WAN captures: A's address (not translated) and nat-b's public one
for wan in nat-a-eth0-wan nat-b-eth0-wan; do
	[ -s "$TMP/pcap6/$wan.pcap" ] || fail "no capture $wan.pcap: $(ls "$TMP/pcap6")"
	tcpdump -nr "$TMP/pcap6/$wan.pcap" >"$TMP/$wan.txt" 2>/dev/null || fail "tcpdump cannot read $wan.pcap"
	grep -Eq 'IP6 2001:db8:1::10\.[0-9]+ > 2001:db8:b::2\.[0-9]+: UDP' "$TMP/$wan.txt" ||
		{ cat "$TMP/$wan.txt" >&2; fail "$wan.pcap lacks A -> nat-b's public address over IPv6"; }
	grep -Eq 'IP6 2001:db8:b::2\.[0-9]+ > 2001:db8:1::10\.[0-9]+: UDP' "$TMP/$wan.txt" ||
		fail "$wan.pcap lacks nat-b's public address -> A over IPv6"
done
# behind nat66, B's own address
tcpdump -nr "$TMP/pcap6/nat-b-eth1-lan.pcap" 2>/dev/null | grep -Eq 'IP6 2001:db8:2::10\.[0-9]+ > 2001:db8:1::10\.[0-9]+: UDP' ||
	fail "nat-b's LAN capture lacks host-b's own IPv6 address"

# symmetric x symmetric: failed over IPv4 (family 4), direct in dual over IPv6 (the firewalls
# translate nothing): the run says the dual cell's outcome and the family its path took
run_ok rs --family dual --a symmetric --b symmetric --no-classify
[ "$RC" -eq 0 ] || { cat "$OUT" >&2; fail "run --family dual symmetric x symmetric exited $RC, expected 0"; }
grep -q '^cell two-nats/udp/udp/symmetric~symmetric/family=dual$' "$OUT" || fail "not the dual cell: $(head -1 "$OUT")"
grep -q '^outcome: direct (expected direct)' "$OUT" || fail "dual symmetric x symmetric: $(grep '^outcome' "$OUT")"
grep -Eq '  engine     peer-a +line +\{"event":"result","t_ms":[0-9.]+,"family":6,' "$TL" ||
	fail "dual symmetric x symmetric did not connect over IPv6"

# --- 2. a kept dual lab: the record keeps the companion; a reboot from another process ----------
run_ok rk --family dual --a port-restricted-cone --b full-cone --ipv6-profile ipv6-firewall-ad \
	--keep --no-classify
lab=$(sed -n 's/^lab \([a-z0-9]*\) is kept\. Get in:$/\1/p' "$OUT")
[ -n "$lab" ] || { cat "$OUT" >&2; fail "run --family dual --keep did not keep a lab (exit $RC)"; }
OUR_LABS=$lab # read by expect_nothing_left (lib.sh)
export OUR_LABS
defer "down_if_kept $lab"
[ "$RC" -eq 0 ] || fail "run --family dual --keep exited $RC"
rec=/run/punchlab/$lab.lab
grep -q "^topology .*/topologies/two-nats-dual.yaml$" "$rec" || fail "the kept lab is not two-nats-dual: $(cat "$rec")"
for nat in nat-a nat-b; do
	grep -q "^companion $nat .*/nat-profiles/ipv6-firewall-ad.nft$" "$rec" ||
		fail "the record of $lab lacks $nat's IPv6 companion: $(cat "$rec")"
done
grep -q "^profile nat-a .*/port-restricted-cone.nft$" "$rec" || fail "the record lost nat-a's profile"
tables() { "$PUNCHLAB" exec "$lab" nat-a -- nft list tables 2>&1 | sort | tr '\n' ' '; }
before_tables=$(tables)
case $before_tables in
*"table ip punchlab_nat"*"table ip6 punchlab_nat"*) ;;
*) fail "the kept nat-a does not run both rulesets: $before_tables" ;;
esac
timeout 30 "$PUNCHLAB" events apply "$lab" 'nat-a reboot@0s' >"$TMP/apply.out" 2>&1 ||
	{ cat "$TMP/apply.out" >&2; fail "events apply of a reboot on the kept dual lab failed"; }
grep -q 'ipv6-firewall-ad.nft reloaded' "$TMP/apply.out" ||
	{ cat "$TMP/apply.out" >&2; fail "the reboot does not say it reloaded the IPv6 companion"; }
after_tables=$(tables)
[ "$after_tables" = "$before_tables" ] ||
	fail "after a reboot, nat-a runs other tables: before: $before_tables; after: $after_tables"
# the companion reloaded with IPv6 variables: its WAN address is nat-a's IPv6 one
"$PUNCHLAB" exec "$lab" nat-a -- nft list table ip6 punchlab_nat >"$TMP/six.nft" 2>&1 ||
	fail "no ip6 punchlab_nat in nat-a after the reboot: $(cat "$TMP/six.nft")"
# rebind on a dual node: refused, naming what works
if timeout 30 "$PUNCHLAB" events apply "$lab" 'nat-a rebind@0s' >"$TMP/rebind.out" 2>&1; then
	fail "events apply of a rebind on a dual node succeeded, expected a refusal"
fi
grep -q 'reboot and link down work in every family' "$TMP/rebind.out" ||
	{ cat "$TMP/rebind.out" >&2; fail "the rebind refusal does not say what works"; }
"$PUNCHLAB" lab down "$lab" || fail "lab down $lab failed"
[ ! -e "$rec" ] || fail "lab down left the record of $lab"

# --- 3b. bundles of IPv6 and dual cells: the twin, classify's IPv6 lab, the companion; a replay
# reproduces the family 6 cell (before the twin went in, the replay stopped: "has no IPv6
# address and no dual-stack twin", exit 2) -------------------------------------------------------
bundle_of() { # bundle_of NAME ID: bundle cell ID of run NAME into $TMP/NAME.tar.gz, list its data/
	"$PUNCHLAB" bundle "$2" --from "$TMP/$1" -o "$TMP/$1.tar.gz" >"$TMP/$1.bundle" 2>&1 ||
		{ cat "$TMP/$1.bundle" >&2; fail "bundle of $2 failed"; }
	tar tzf "$TMP/$1.tar.gz" | grep '^data/' | sort >"$TMP/$1.data"
}
bundle_of r6 'two-nats/udp/udp/ipv6-firewall~nat66/family=6'
for f in data/topologies/two-nats.yaml data/topologies/two-nats-dual.yaml \
	 data/nat-profiles/ipv6-firewall.nft data/nat-profiles/nat66.nft; do
	grep -qx "$f" "$TMP/r6.data" || fail "the family 6 bundle lacks $f: $(tr '\n' ' ' <"$TMP/r6.data")"
done
bundle_of rk 'two-nats/udp/udp/port-restricted-cone~full-cone/family=dual/ipv6-profile=ipv6-firewall-ad'
for f in data/topologies/two-nats-dual.yaml data/nat-profiles/ipv6-firewall-ad.nft \
	 data/nat-profiles/port-restricted-cone.nft data/nat-profiles/full-cone.nft; do
	grep -qx "$f" "$TMP/rk.data" || fail "the dual bundle lacks $f: $(tr '\n' ' ' <"$TMP/rk.data")"
done
timeout -k 5 90 "$PUNCHLAB" replay "$TMP/r6.tar.gz" --trust >"$TMP/replay.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q 'outcome direct, as in the bundle: reproduced' "$TMP/replay.out" ||
	{ cat "$TMP/replay.out" >&2; fail "the family 6 bundle did not replay (exit $rc)"; }

# --- 3. a reboot in a dual cell: lost and recovered, over the family kept -----------------------
run_wait rr # started at the top
[ "$RC" -eq 0 ] || { cat "$OUT" >&2; fail "the dual reboot cell exited $RC, expected 0"; }
grep -Eq '  nat-event  lab +end +nat-a reboot@1s for 1s: ruleset .*/port-restricted-cone.nft and .*/ipv6-firewall.nft reloaded \(booted\)' "$TL" ||
	fail "the reboot's entry does not name both rulesets reloaded: $(grep nat-event "$TL")"
grep -Eq '  nat-event  engine +recovered +path lost: yes; recovered: yes via direct' "$TL" ||
	fail "the dual cell did not lose and recover its path: $(grep 'nat-event  engine' "$TL")"
kept=$(grep -o '"event":"result".*' "$TL" | grep -o '"family":[46]' | sort -u)
[ "$(echo "$kept" | wc -l)" -eq 1 ] || fail "the peers kept different families: $kept"
for peer in peer-a peer-b; do
	grep -Eq "  engine     $peer +line +\{\"event\":\"path-recovered\",\"t_ms\":[0-9.]+,${kept//\"/\\\"}," "$TL" ||
		fail "$peer did not recover over the family it kept ($kept)"
done
note "dual reboot: recovered over ${kept#*:}"

# a reboot of an IPv6 profile (family 6): nat66 reloaded with its IPv6 variables, the flows of
# both families flushed (before, NAT events refused every node with an IPv6 profile)
run_wait r6r # started at the top
[ "$RC" -eq 0 ] || { cat "$OUT" >&2; fail "the family 6 reboot cell exited $RC, expected 0"; }
grep -Eq '  nat-event  lab +start +nat-a reboot@1s: ruleset .*/nat66.nft reloaded, conntrack flushed: [1-9][0-9]* flows \(both families\) before, [0-9]+ after' "$TL" ||
	fail "the family 6 reboot's entry does not say nat66 was reloaded and its flows flushed: $(grep nat-event "$TL")"

# --- 4. bad input ---------------------------------------------------------------------------------
# bad WANT ARGS...: punchlab run ARGS exits 2 with one line saying WANT
bad() {
	local want=$1
	shift
	expect_one_error "$want" run "$@" -o "$TMP/bad"
}
bad "--family 5: expected 4, 6 or dual" --family 5 --a ipv6-firewall --b nat66
bad "--ipv6-profile nat66: .*expected --family dual" --a full-cone --b full-cone --ipv6-profile nat66
bad "expected --family dual" --family 6 --a ipv6-firewall --b nat66 --ipv6-profile nat66
bad "family" --family 6 --a full-cone --b nat66
bad "nat-a rebind is an IPv4 event (family 4 only): in family 6 cells, expected reboot or link down" \
	--family 6 --a ipv6-firewall --b nat66 --events 'nat-a rebind@1s'
bad "nat-b wan-address is an IPv4 event (family 4 only): in family dual cells" \
	--family dual --a full-cone --b full-cone --events 'nat-b wan-address@1s'

expect_nothing_left "$TMP/before" "punchlab run --family"
echo "PASS ($TEST)"
