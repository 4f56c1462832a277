#!/bin/bash
# nat64.sh PUNCHLAB: an IPv6-only home behind NAT64 against a peer on a public IPv4 address
# (issue 15 item 4; topologies/nat64.yaml, the topology key nat64, src/lab/nat64.c):
#   1. tayga runs confined to nat-a: the lab made its TUN device in the node (nothing in this
#      namespace), its files under the lab's own directory; host-a, which has no IPv4 at all,
#      reaches the server at 2001:db8:64::198.51.100.10 and the server sees nat-a's public
#      IPv4 address (tayga to its pool, then the profile's NAT44);
#   2. UDP hole punching by hand through it: host-a writes from port 6000 to host-b's address
#      synthesized in the NAT64 prefix; host-b sees 203.0.113.2:6000 (the port kept by tayga
#      and by NAT44) and answers it, and the answer reaches host-a from the synthesized
#      address: a direct path. Unsolicited traffic to that public endpoint from another port is
#      dropped (the NAT44 is a port-restricted cone);
#   3. punch (udp, tcp, technique auto) from host-a, rendezvous dialled at its synthesized
#      address: it registers (its public endpoint IPv4, port kept), but the endpoint it gets for
#      host-b is IPv4, which an IPv6-only host can not send to; without --nat64-prefix it sends
#      no probe, host-b's probes to a's public endpoint are filtered, and both fall back to the
#      relay: relayed (the failing case kept). With --nat64-prefix 2001:db8:64::/96 a, which
#      has no IPv4 route, aims at b's endpoint synthesized in the prefix (RFC 6052), and both
#      UDP and TCP go direct through tayga: a's result names the synthesized endpoint as its
#      path, b's names a's public IPv4 endpoint, and nat-a's conntrack holds the flow from
#      tayga's pool to b's endpoint, translated to a's public endpoint, answered (the NAT44 of
#      a direct path, not the relay's);
#   4. bad input: tayga missing (PUNCHLAB_TAYGA), a nat64 prefix of a length RFC 6052 does not
#      have, nat64 on a host node: one clear error each, exit 2; nothing left behind (no
#      namespace, no tayga, no directory, no nat64 device here).
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

[ -x /usr/sbin/tayga ] || fail "tayga is not installed (ci/bootstrap.sh installs it)"
snapshot >"$TMP/before"
PROBE=$SRCDIR/tests/lab/udp-probe.py
PREFIX=2001:db8:64:: NAT_A=203.0.113.2 B=203.0.113.18
# 198.51.100.10 and 203.0.113.18 embedded (RFC 6052 /96), as Python prints them
SRV6=${PREFIX}c633:640a B6=${PREFIX}cb00:7112

kept_lab -t nat64
dir=${TMPDIR:-/tmp}/punchlab-nat64-$LAB-nat-a
# 1. confined
[ -f "$dir/tayga.conf" ] || fail "no tayga.conf in $dir"
grep -qx "prefix ${PREFIX}/96" "$dir/tayga.conf" || fail "tayga.conf: $(cat "$dir/tayga.conf")"
ip link show nat64 >/dev/null 2>&1 && fail "a nat64 device in this namespace: tayga is not confined"
"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- ip link show nat64 | grep -q LOWER_UP ||
	fail "nat-a's nat64 device has no carrier: tayga is not attached"
pids=$(procs_of /usr/sbin/tayga)
[ -n "$pids" ] || fail "no tayga process"
for p in $pids; do
	[ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/self/ns/net)" ] &&
		fail "tayga $p runs in this namespace"
done
"$PUNCHLAB" exec --timeout 5 "$LAB" host-a -- ip -4 addr show scope global | grep -q inet &&
	fail "host-a has an IPv4 address"
"$PUNCHLAB" exec --timeout 8 "$LAB" server -- python3 "$PROBE" echo 4 7000 4 >"$TMP/srv" 2>&1 &
pe=$!
wait_for_line "$TMP/srv" listening 5 "$pe"
got=$("$PUNCHLAB" exec --timeout 6 "$LAB" host-a -- python3 "$PROBE" listen 6 5999 "$SRV6" 7000 3 | tail -1)
wait "$pe"
[ "$(tail -1 "$TMP/srv")" = "got $NAT_A 5999" ] ||
	fail "the server saw $(tail -1 "$TMP/srv"), expected $NAT_A 5999"
[ "$got" = "got $SRV6 7000" ] || fail "host-a got $got, expected got $SRV6 7000"
note "ok: host-a (IPv6 only) -> $SRV6:7000, seen as $NAT_A:5999, answer from $SRV6"

# 2. a hole punch by hand: host-b (public) waits, host-a writes to b's synthesized address
"$PUNCHLAB" exec --timeout 8 "$LAB" host-b -- python3 "$PROBE" echo 4 7000 4 >"$TMP/b" 2>&1 &
pe=$!
wait_for_line "$TMP/b" listening 5 "$pe"
got=$("$PUNCHLAB" exec --timeout 6 "$LAB" host-a -- python3 "$PROBE" listen 6 6000 "$B6" 7000 3 | tail -1)
wait "$pe"
[ "$(tail -1 "$TMP/b")" = "got $NAT_A 6000" ] || fail "host-b saw $(tail -1 "$TMP/b"), expected $NAT_A 6000"
[ "$got" = "got $B6 7000" ] || fail "host-a got $got, expected got $B6 7000"
note "ok: hole punched by hand: [2001:db8:1::10]:6000 -> [$B6]:7000, b saw $NAT_A:6000 and its answer came back"
# the failing case: another port of host-b writes to the same public endpoint, unsolicited
"$PUNCHLAB" exec --timeout 8 "$LAB" host-a -- python3 "$PROBE" listen 6 6001 "$B6" 7000 2 \
	>"$TMP/a2" 2>&1 &
pl=$!
wait_for_line "$TMP/a2" listening 5 "$pl"
"$PUNCHLAB" exec --timeout 5 "$LAB" host-b -- python3 "$PROBE" send $B 7001 $NAT_A 6001 ||
	fail "host-b could not send"
wait "$pl"
[ "$(tail -1 "$TMP/a2")" = none ] || fail "another port of host-b reached host-a: $(tail -1 "$TMP/a2")"
note "ok: host-b's other port kept out (NAT44: port-restricted cone)"

# 3. punch: without the prefix relayed, with it direct
rdv_start rdv 30 --listen "$RDV1:3478" --listen "$RDV2:3478"
# punch_pair NAME PROTO [A's options...]: host-b and host-a, in that order, RC_A and RC_B set
punch_pair() {
	local name=$1 proto=$2 pb
	shift 2
	"$PUNCHLAB" exec --timeout 15 "$LAB" host-b -- "$PUNCH" peer --session "$name" --role b \
		--timeout 10 --json --rendezvous "$RDV1:3478" --proto "$proto" --technique auto \
		>"$TMP/$name.b" 2>"$TMP/$name.b.err" &
	pb=$!
	"$PUNCHLAB" exec --timeout 15 "$LAB" host-a -- "$PUNCH" peer --session "$name" --role a \
		--timeout 10 --json --rendezvous "[${PREFIX}c633:640a]:3478" --proto "$proto" \
		--technique auto "$@" >"$TMP/$name.a" 2>"$TMP/$name.a.err"
	# shellcheck disable=SC2034 # RC_A and RC_B are expect_pair's (punch-lib.sh)
	RC_A=$?
	wait "$pb"
	# shellcheck disable=SC2034
	RC_B=$?
}
# endpoints_field FILE KEY: KEY of the first endpoints event
endpoints_field() {
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l) if l.startswith("{") else {}
    if e.get("event") == "endpoints":
        print(e.get(sys.argv[2])); break' "$1" "$2"
}
for proto in udp tcp; do
	name=nat64-$proto
	punch_pair "$name" $proto
	expect_pair "$name" 3 relayed "$proto from an IPv6-only host through NAT64 without --nat64-prefix: the relay"
	pub=$(result "$TMP/$name.a" public) local=$(result "$TMP/$name.a" local)
	[ "$pub" = "$NAT_A:${local##*:}" ] || fail "$name: a registered as $pub, expected $NAT_A:${local##*:} (port kept)"
	peer=$(endpoints_field "$TMP/$name.a" peer_public)
	[ "$peer" = "$B:$(result "$TMP/$name.b" local | sed 's/.*://')" ] ||
		fail "$name: a was told $peer for b, expected b's IPv4 endpoint"
	[ "$(result "$TMP/$name.a" probes_sent)" = 0 ] ||
		fail "$name: a sent $(result "$TMP/$name.a" probes_sent) probes to an IPv4 endpoint"
	note "$name: a $local registered as $pub, told b = $peer (IPv4): 0 probes; b's $(result "$TMP/$name.b" attempts) attempts filtered; relayed"

	name=nat64-$proto-synth
	"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- conntrack -F >/dev/null 2>&1
	punch_pair "$name" $proto --nat64-prefix 2001:db8:64::/96
	expect_pair "$name" 0 direct "$proto from an IPv6-only host through NAT64, b's endpoint synthesized in the prefix"
	bport=$(result "$TMP/$name.b" local | sed 's/.*://')
	pub=$(result "$TMP/$name.a" public) apeer=$(result "$TMP/$name.a" peer) bpeer=$(result "$TMP/$name.b" peer)
	[ "$(endpoints_field "$TMP/$name.a" peer_public)" = "$B:$bport" ] &&
		[ "$(endpoints_field "$TMP/$name.a" peer_public_nat64)" = "[$B6]:$bport" ] ||
		fail "$name: a's endpoints event: $(grep '"endpoints"' "$TMP/$name.a" | head -1), expected peer_public $B:$bport and peer_public_nat64 [$B6]:$bport"
	[ "$apeer" = "[$B6]:$bport" ] || fail "$name: a's path goes to $apeer, expected [$B6]:$bport (b synthesized)"
	[ "$bpeer" = "$pub" ] || fail "$name: b's path goes to $bpeer, expected a's public endpoint $pub"
	# the lab's evidence: nat-a's conntrack has the IPv4 flow tayga made, from its pool to b's
	# endpoint, source-translated to a's public endpoint, with replies (b answered directly)
	"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- conntrack -L -p $proto --orig-dst $B \
		--orig-port-dst "$bport" 2>/dev/null >"$TMP/$name.ct"
	grep -E "dst=$B .*dport=$bport .*src=$B dst=${pub%:*} sport=$bport dport=${pub##*:}" "$TMP/$name.ct" |
		grep -qv UNREPLIED || fail "$name: no answered flow to $B:$bport translated to $pub in nat-a's conntrack: $(cat "$TMP/$name.ct")"
	note "$name: direct, a -> [$B6]:$bport (synthesized), b -> $pub; nat-a: $(head -1 "$TMP/$name.ct")"
done
kill -TERM "$RDV_PID"
wait_exit "$RDV_PID" 10
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
[ -e "$dir" ] && fail "$dir left behind"
[ -z "$(procs_of /usr/sbin/tayga)" ] || fail "tayga left running: $(procs_of /usr/sbin/tayga)"

# 4. bad input
out=$(PUNCHLAB_TAYGA=/nonexistent/tayga "$PUNCHLAB" lab up -t nat64 2>&1)
rc=$?
[ $rc = 2 ] || fail "tayga missing: exit $rc, expected 2: $out"
grep -qF 'nat64.yaml:' <<<"$out" &&
	grep -qF 'node "nat-a": nat64 2001:db8:64::/96 needs tayga (Debian package tayga) in the node: /nonexistent/tayga is missing' <<<"$out" ||
	fail "no clear error for tayga missing: $out"
note "ok: bad input: $out"
sed 's|nat64: 2001:db8:64::/96|nat64: 2001:db8:64::/80|' "$SRCDIR/topologies/nat64.yaml" >"$TMP/p80.yaml"
out=$("$PUNCHLAB" lab up -t "$TMP/p80.yaml" 2>&1)
rc=$?
[ $rc = 2 ] && grep -qF 'node "nat-a": nat64 "2001:db8:64::/80", expected an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052)' <<<"$out" ||
	fail "a /80 nat64 prefix: exit $rc: $out"
note "ok: bad input: $out"
sed 's|host-b: { kind: host, gateway: inet }|host-b: { kind: host, gateway: inet, nat64: 2001:db8:64::/96 }|' \
	"$SRCDIR/topologies/nat64.yaml" >"$TMP/host64.yaml"
out=$("$PUNCHLAB" lab up -t "$TMP/host64.yaml" 2>&1)
rc=$?
[ $rc = 2 ] && grep -qF 'node "host-b" is a host, expected nat64: only on nat nodes' <<<"$out" ||
	fail "nat64 on a host: exit $rc: $out"
note "ok: bad input: $out"

expect_nothing_left "$TMP/before" "the NAT64 runs"
