#!/bin/bash
# attest-ipv6.sh PUNCHLAB: the lab attests IPv6 cells and cells through firewalls that do not
# translate (issue 15 item 1), from its own conntrack, through `punchlab run` on
# topologies/two-nats-dual.yaml with punch over IPv6 (tests/lab/punch-ipv6.yaml):
#   1. direct, attested: ipv6-firewall on both sides (no translation: the flows have no NAT,
#      and the one in nat-b may have been opened by A's first probe), over UDP and TCP; nat66
#      against ipv6-firewall-ad (translated on one side only). The timeline holds the NATs'
#      IPv6 conntrack events (new, update) and final dumps; the attestation's evidence is the
#      IPv6 flow joining the endpoints each engine reported, packets counted both ways;
#   2. refused: a peer that says direct over a relayed path (the real engine relaying, its
#      word rewritten) is `disputed`, the lab's verdict `relayed`; the honest relayed run stays
#      `relayed`;
#   3. refused: peers that say direct where A only sent (a flow with no reply packets, which
#      B's firewall never let in) are `disputed`, the lab's verdict `none`;
#   4. one entry by its original tuple (ct_get_flow(), through tests/lab/ct_get.c) in a kept
#      lab: IPv6 untranslated (ipv6-firewall), IPv4 translated (port-restricted-cone); a tuple
#      that is not there: not found.
# Before the attestation read IPv6 (and un-NATed) flows, case 1 was `disputed` ("no flow
# between peer A and the other side") and the timeline showed no conntrack event at all.
. "$(dirname "$0")/lib.sh"
require_root
CT_GET=${2:?usage: $0 PUNCHLAB CT_GET}
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
ENGINE=$SRCDIR/tests/lab/punch-ipv6.yaml
PROBE=$SRCDIR/tests/lab/udp-probe.py

# run6 NAME ARGS...: `punchlab run -t two-nats-dual --family 6 --engine punch-ipv6.yaml ARGS...`, bounded;
# RC its exit code, TL its timeline.txt, JSON its matrix.json.
run6() {
	local name=$1
	shift
	timeout -k 5 60 "$PUNCHLAB" run -t two-nats-dual --family 6 --engine "$ENGINE" --no-classify \
		-o "$TMP/$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	RC=$?
	[ "$RC" -eq 124 ] && fail "$name: punchlab run $* ran over 60 s"
	[ "$RC" -eq 2 ] && { cat "$TMP/$name.out" "$TMP/$name.err" >&2; fail "$name: punchlab run $* exited 2"; }
	TL=$(sed -n 's/^timeline: \([^ ]*\) .*/\1/p' "$TMP/$name.out")
	JSON=$TMP/$name/matrix.json
	if [ ! -f "$TL" ] || [ ! -f "$JSON" ]; then
		cat "$TMP/$name.out" "$TMP/$name.err" >&2
		fail "$name: no timeline or matrix.json"
	fi
}

# run_field EXPR: a Python expression over the run `r` (matrix.json's only cell's first run).
run_field() {
	python3 - "$JSON" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["cells"][0]["runs"][0]
print(eval(sys.argv[2]))
PY
}

# expect_run NAME RC OUTCOME VERDICT: the run exited RC with OUTCOME, the lab's verdict VERDICT.
expect_run() {
	local got
	got="$RC $(run_field 'r["outcome"] + " " + r["attestation"]["verdict"]')"
	if [ "$got" != "$2 $3 $4" ]; then
		grep -E '  (attest|outcome|dump) ' "$TL" >&2
		fail "$1: exit/outcome/verdict $got, expected $2 $3 $4"
	fi
	note "ok: $1: $3, the lab says $4"
}

# --- 1. direct, attested -------------------------------------------------------------------------
for c in "fw-udp ipv6-firewall ipv6-firewall udp" "fw-tcp ipv6-firewall ipv6-firewall tcp" \
	"nat66-ad nat66 ipv6-firewall-ad udp"; do
	read -r name a b proto <<<"$c"
	run6 "$name" --a "$a" --b "$b" --proto "$proto"
	expect_run "$name" 0 direct direct
	# both NATs' IPv6 flows as they happened, and in the final dump
	for nat in nat-a nat-b; do
		grep -Eq "  conntrack  $nat +new +$proto \[2001:db8:[12]::10\]:[0-9]+ -> \[2001:db8:[12ab]::[0-9a-f]+\]:[0-9]+ remote \[2001:db8:" "$TL" ||
			{ cat "$TL" >&2; fail "$name: no IPv6 conntrack new event of $nat in the timeline"; }
		grep -Eq "  dump       $nat +final +$proto \[2001:db8:" "$TL" ||
			fail "$name: no IPv6 flow in $nat's final dump"
	done
	# the firewall's flows are said to be untranslated
	if [ "$b" = ipv6-firewall ]; then
		grep -Eq "  conntrack  nat-b +(new|update) .*\(not NATed\)$" "$TL" ||
			fail "$name: nat-b's flows are not marked (not NATed)"
	fi
	# the evidence: per NAT, the IPv6 flow between the reported endpoints, packets both ways
	python3 - "$JSON" <<'PY' || fail "$name: the evidence is not each side's IPv6 flow with packets both ways"
import json, re, sys
r = json.load(open(sys.argv[1]))["cells"][0]["runs"][0]
a = r["attestation"]
for side, nat in (("A", "nat-a"), ("B", "nat-b")):
    assert "%s: two-way" % nat in a["summary"] and "the endpoint it reported" in a["summary"], a
    lines = [l for l in a["evidence"] if l.startswith("%s (peer %s): " % (nat, side))]
    # the first line of a side is its direct flow (the relay's follows)
    m = re.search(r" remote (\[[0-9a-f:]+\]:\d+) .* packets (\d+)/(\d+) ", lines[0])
    assert m and int(m.group(2)) > 0 and int(m.group(3)) > 0, lines
    assert "2001:db8:100::" not in m.group(1), lines
PY
	note "$name: $(grep -E '  attest     lab +direct ' "$TL" | sed 's/.*direct  *//')"
done

# --- 2. a relayed path is not direct ---------------------------------------------------------------
# the real engine relays; the liar rewrites its outcome to direct
cat >"$TMP/relay-liar.sh" <<SH
#!/usr/bin/env bash
if [ "\$1" != peer ]; then exec "$PUNCH" "\$@"; fi
"$PUNCH" "\$@" | sed 's/"outcome":"relayed"/"outcome":"direct"/'
SH
chmod +x "$TMP/relay-liar.sh"
run6 relay --a ipv6-firewall --b ipv6-firewall --technique relay
expect_run relay 0 relayed relayed
run6 relay-liar --a ipv6-firewall --b ipv6-firewall --technique relay --engine-binary "$TMP/relay-liar.sh"
expect_run relay-liar 1 disputed relayed
run_field 'r["reason"]' | grep -qF "the engine says direct, but the lab saw no direct path" ||
	fail "relay-liar: the reason does not say why: $(run_field 'r["reason"]')"

# --- 3. a flow without reply packets is not direct -----------------------------------------------
# A sends three datagrams to B's address from port 7000 to 7001; B never sends, so its
# firewall drops them. Both claim a direct path between exactly those endpoints.
cat >"$TMP/oneway-liar.sh" <<SH
#!/usr/bin/env bash
if [ "\$1" != peer ]; then exec "$PUNCH" "\$@"; fi
case " \$* " in
*" --role a "*)
	for i in 1 2 3; do python3 "$PROBE" send 2001:db8:1::10 7000 2001:db8:2::10 7001; done
	lep='[2001:db8:1::10]:7000' pep='[2001:db8:2::10]:7001' ;;
*)	lep='[2001:db8:2::10]:7001' pep='[2001:db8:1::10]:7000' ;;
esac
echo "{\"event\":\"result\",\"outcome\":\"direct\",\"technique\":\"udp\",\"proto\":\"udp\",\"time_to_connect_ms\":1,\"attempts\":1,\"local\":\"\$lep\",\"peer\":\"\$pep\"}"
SH
chmod +x "$TMP/oneway-liar.sh"
run6 oneway-liar --a ipv6-firewall --b ipv6-firewall --engine-binary "$TMP/oneway-liar.sh"
expect_run oneway-liar 1 disputed none
summary=$(run_field 'r["attestation"]["summary"]')
grep -qF "nat-a: 1 flow(s) between peer A and [2001:db8:2::10]:7001, the endpoint it reported, none two-way" <<<"$summary" ||
	fail "oneway-liar: the summary does not name A's one-way flow: $summary"
grep -qF "nat-b: no flow between peer B and [2001:db8:1::10]:7000" <<<"$summary" ||
	fail "oneway-liar: the summary does not say nat-b let nothing in: $summary"
grep -Eq "  dump       nat-a +final +udp \[2001:db8:1::10\]:7000 -> .* remote \[2001:db8:2::10\]:7001 UNREPLIED .* packets 3/0 " "$TL" ||
	{ grep -E '  dump ' "$TL" >&2; fail "oneway-liar: nat-a's final dump lacks the one-way flow (3/0 packets)"; }
note "ok: oneway-liar: $summary"

# --- 4. one lookup by the original tuple, both families, translated or not -----------------------
# ct_get NAME NODE ARGS... WANT: ct_get in NODE of the kept lab matches the pattern WANT
ct_get() {
	local name=$1 node=$2 want=${*: -1} got
	got=$("$CT_GET" "/run/netns/$LAB-$node" "${@:3:$#-3}")
	# shellcheck disable=SC2053 # WANT is a pattern
	[[ $got == $want ]] || fail "$name: ct_get in $node: \"$got\", expected \"$want\""
	note "ok: $name: $got"
}
kept_lab -t "$SRCDIR/topologies/two-nats-dual.yaml" --set nat-a=ipv6-firewall \
	--set nat-b=port-restricted-cone
"$PUNCHLAB" exec --timeout 5 "$LAB" host-a -- python3 "$PROBE" send 2001:db8:1::10 7100 \
	2001:db8:2::10 7101 || fail "host-a could not send over IPv6"
"$PUNCHLAB" exec --timeout 5 "$LAB" host-b -- python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.2.10", 7300))
s.sendto(b"x", ("198.51.100.10", 7301))' || fail "host-b could not send over IPv4"
ct_get ipv6-firewall nat-a udp 2001:db8:1::10 7100 2001:db8:2::10 7101 \
	"udp [[]2001:db8:1::10]:7100 -> [[]2001:db8:1::10]:7100 remote [[]2001:db8:2::10]:7101 UNREPLIED *s packets 1/0 bytes */0 no-nat"
ct_get port-restricted-cone nat-b udp 10.0.2.10 7300 198.51.100.10 7301 \
	"udp 10.0.2.10:7300 -> 203.0.113.18:* remote 198.51.100.10:7301 UNREPLIED *s packets 1/0 * nat"
got=$("$CT_GET" "/run/netns/$LAB-nat-a" udp 2001:db8:1::10 7100 2001:db8:2::10 7102)
rc=$?
if [ "$rc" != 1 ] || [ "$got" != "no such entry" ]; then
	fail "ct_get of a tuple that is not there: exit $rc, \"$got\""
fi
note "ok: a tuple that is not there: $got"
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

expect_nothing_left "$TMP/before" "the IPv6 attestation runs"
