#!/bin/bash
# firewall.sh PUNCHLAB: the IPv4 firewall-only network (issue 15 item 2; nat-profiles/
# firewall.nft, topologies/two-firewalls.yaml: homes on routed public /28s, nothing translated):
#   1. connecting: punch (udp, then tcp) is direct between the two firewalled homes, each peer
#      reaching the other at the host's own address and port (no translation: the public
#      endpoint is the internal one); nat-a's conntrack holds the flow un-NATed (reply to the
#      host's own address) with packets both ways; and a mixed pair: the same with nat-b a
#      port-restricted cone (host-b then seen at nat-b's public address);
#   2. failing: what the firewall filters does not arrive: unsolicited UDP to host-a, an
#      unsolicited TCP connect to an open port of host-a (no answer at all: dropped, not
#      reset), anything to the firewall's own address; while RFC 6092's endpoint-independent
#      filtering lets in another address and another port once host-a wrote out (the
#      difference with nat-b's port-restricted cone, which keeps both out);
#   3. classify measures it as declared in its own lab (two-firewalls, picked by the header's
#      "translation: none") beside a NAT profile in two-nats: no translation (its mapping),
#      endpoint-independent filtering, ports kept, hairpinning n/a;
#   4. the matrix (-t two-firewalls): firewall x firewall, firewall x symmetric and back are
#      direct, attested by the lab on the un-NATed flows, as the theory predicts;
#   5. bad input: the firewall on a private LAN (two-nats), one clear error, exit 2.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"
. "$(dirname "$0")/probe-lib.sh"
. "$(dirname "$0")/spawn-lib.sh"

snapshot >"$TMP/before"
A=203.0.113.34 B=203.0.113.50 NAT_B=203.0.113.18

# punch_pair NAME PROTO WANT_PEER_OF_A WANT_PEER_OF_B: punch direct over PROTO; each peer's
# reported peer address as wanted; b sees a's own port (a's side translates nothing).
punch_pair() {
	local name=$1 proto=$2 want_b=$3 want_a=$4 peer local_a
	pair "$name" 5 host-a host-b --rendezvous "$RDV1:3478" --proto "$proto" --technique "$proto"
	expect_pair "$name" 0 direct "$proto through the firewall"
	peer=$(result "$TMP/$name.a" peer)
	[[ $peer == "$want_b:"* ]] || fail "$name: peer a reached $peer, expected $want_b:..."
	peer=$(result "$TMP/$name.b" peer)
	local_a=$(result "$TMP/$name.a" local)
	[ "$peer" = "$want_a:${local_a##*:}" ] ||
		fail "$name: peer b reached $peer, expected a's own endpoint $want_a:${local_a##*:}"
	"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- conntrack -L -p "$proto" >"$TMP/$name.ct" 2>/dev/null
	grep -F "src=$A " "$TMP/$name.ct" | grep -F "dst=$A " | grep -F "src=$want_b " |
		grep -Eq "packets=[1-9][0-9]* .*packets=[1-9]" || { cat "$TMP/$name.ct" >&2
		fail "$name: nat-a's conntrack has no un-NATed flow $A <-> $want_b with packets both ways"; }
	note "$name: $local_a -> $(result "$TMP/$name.a" peer), seen by b as $peer"
}

# 4. the matrix: cells with the firewall on either side, attested by the lab on un-NATed flows
# (the firewall's entry has no NAT), as the theory predicts (a firewall's endpoint-independent
# filtering lets the symmetric side's unannounced port in)
matrix_steps() {
	local id got
	local FF=two-firewalls/udp/auto/firewall~firewall
	local FS=two-firewalls/tcp/auto/firewall~symmetric
	local SF=two-firewalls/udp/auto/symmetric~firewall
	run_cells 120 "$TMP/m" --cell $FF --cell $FS --cell $SF --jobs 3
	for id in $FF $FS $SF; do
		got=$(cell_field "$TMP/m" "$id" '(c["outcome"], c["runs"][0]["attestation"]["verdict"], c["refs"]["theory"]["outcome"])')
		[ "$got" = "('direct', 'direct', 'direct')" ] ||
			fail "$id: (outcome, attestation, theory) $got, expected all direct"
		note "ok: $id: $got"
	done
}

# lab_steps B_PROFILE: 1. connecting, then 2. failing, in a lab of its own with nat-b running
# B_PROFILE. The two labs, and the matrix of 4., run at once (spawn-lib.sh): one after another
# they took 16 s, mostly probes waiting 2 s for datagrams that must not arrive.
lab_steps() {
	local b_profile=$1 want_b proto side to node pl po pw got
	kept_lab -t two-firewalls --set nat-b="$b_profile"
	rdv_start "rdv-$b_profile" 30 --listen "$RDV1:3478" --listen "$RDV2:3478"
	want_b=$B
	[ "$b_profile" = firewall ] || want_b=$NAT_B
	for proto in udp tcp; do
		punch_pair "$b_profile-$proto" $proto $want_b $A
	done
	kill -TERM "$RDV_PID"
	wait_exit "$RDV_PID" 10

	if [ "$b_profile" = firewall ]; then
		# TCP: an open TCP port of host-a, and the firewall's own address: the firewall drops
		# the SYN (no RST, no connection). Both connects wait out their 2 s while the UDP probes
		# below run (another protocol, other ports: they cannot open anything for each other),
		# rather than after them.
		"$PUNCHLAB" exec --timeout 8 "$LAB" host-a -- python3 -c '
import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 40010)); s.listen(1); print("listening", flush=True)
time.sleep(4)' >"$TMP/tcp-listen" 2>&1 &
		pl=$!
		wait_for_line "$TMP/tcp-listen" listening 5 "$pl"
		"$PUNCHLAB" exec --timeout 6 "$LAB" server -- python3 "$PROBE" connect $RDV1 $A 40010 2 \
			>"$TMP/tcp-open.got" &
		po=$!
		"$PUNCHLAB" exec --timeout 6 "$LAB" server -- python3 "$PROBE" connect $RDV1 203.0.113.2 22 2 \
			>"$TMP/tcp-own.got" &
		pw=$!
		for side in a b; do
			if [ $side = a ]; then to=$A node=host-a; else to=$B node=host-b; fi
			expect_probe "unsolicited-$side" none "nothing sent out: dropped" \
				$node $to 40001 - - $RDV1 5000
			expect_probe "other-address-$side" got "endpoint-independent filtering (RFC 6092)" \
				$node $to 40002 $RDV1 5000 $RDV2 5000
			expect_probe "other-port-$side" got "endpoint-independent filtering (RFC 6092)" \
				$node $to 40003 $RDV1 5000 $RDV1 5001
		done
		wait "$po"
		got=$(cat "$TMP/tcp-open.got")
		[ "$got" = none ] || fail "unsolicited TCP connect to host-a's open port: $got, expected none (dropped)"
		note "ok: unsolicited TCP to an open port: $got"
		kill_child "$pl"
		wait "$pw"
		got=$(cat "$TMP/tcp-own.got")
		[ "$got" = none ] || fail "TCP to the firewall's own address: $got, expected none (dropped)"
		note "ok: TCP to the firewall's own address: $got"
	else
		# the control: a NAT's port-restricted cone keeps out what the firewall let in
		expect_probe "nat-other-address" none "port-restricted cone (address-and-port-dependent)" \
			host-b $NAT_B 40002 $RDV1 5000 $RDV2 5000
		expect_probe "nat-other-port" none "port-restricted cone (address-and-port-dependent)" \
			host-b $NAT_B 40003 $RDV1 5000 $RDV1 5001
	fi
	"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
}

spawn lab-firewall lab_steps firewall
spawn lab-port-restricted-cone lab_steps port-restricted-cone
spawn matrix matrix_steps

# 3. classify, each profile in its own lab (while the steps above run)
out=$("$PUNCHLAB" classify firewall port-restricted-cone 2>&1)
rc=$?
[ $rc = 0 ] || fail "classify firewall port-restricted-cone: exit $rc: $out"
grep -Eq '^firewall +full-cone +no translation +EI +preserve +n/a +n/a +drop .* ok$' <<<"$out" ||
	fail "classify did not measure the firewall as declared: $out"
note "ok: classify: $(grep -E '^firewall +full-cone' <<<"$out")"

joined lab-firewall
joined lab-port-restricted-cone
joined matrix

# 5. bad input: no router routes two-nats's private LANs
out=$("$PUNCHLAB" lab up --set nat-a=firewall 2>&1)
rc=$?
[ $rc = 2 ] || fail "the firewall on a private LAN: exit $rc, expected 2: $out"
grep -qF -- '--set nat-a=firewall: node "nat-a": profile ' <<<"$out" &&
	grep -qF 'translates nothing (header "translation: none") but its LAN 10.0.1.0/24 is private address space' <<<"$out" ||
	fail "no clear error for a firewall on a private LAN: $out"
note "ok: bad input: $out"

expect_nothing_left "$TMP/before" "the firewall runs"
