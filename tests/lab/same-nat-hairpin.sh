#!/bin/bash
# same-nat-hairpin.sh PUNCHLAB: same-nat tests hairpinning, enforced by the lab (issue 9). Its
# LAN is declared "isolate: yes", so the lab drops whatever passes between host-a and host-b
# untranslated; only a NAT that hairpins joins them, whatever addresses the engine tries.
#   1. the matrix: full-cone-hairpin is direct (udp, tcp, auto) over a flow that nat-a's
#      conntrack shows hairpinned; port-restricted-cone (no hairpin) is failed (udp, tcp) and
#      relayed (auto), as the theory now says;
#   2. a kept lab with port-restricted-cone: the engine also aims at the other's private
#      address (10.0.1.x), and those probes are dropped by the lab's rule (its counter moves),
#      so the pair fails; with full-cone-hairpin the same pair is direct to 203.0.113.2;
#   3. the control that shows the rule is what decides: the same LAN without "isolate"
#      (a copy of same-nat.yaml) lets the port-restricted cones connect over 10.0.1.x.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"
. "$(dirname "$0")/spawn-lib.sh"

snapshot >"$TMP/before"
FCH=full-cone-hairpin
PRC=port-restricted-cone

# --- 1. through the matrix ----------------------------------------------------------------
# The three parts run at once (spawn-lib.sh), each with labs of its own: one after another
# they took 15 s, of which the matrix 8.
matrix_steps() {
	local proto tech id dir
	run_cells 60 "$TMP/m" -t same-nat --profiles $FCH,$PRC --techniques plain,auto
	for proto in udp tcp; do
		for tech in $proto auto; do
			id=same-nat/$proto/$tech/$FCH~-
			expect_cell "$TMP/m" "$id" direct "full-cone-hairpin turns the peers' packets around"
			dir=$TMP/m/$(cell_field "$TMP/m" "$id" 'c["runs"][0]["log_dir"]')
			# the path went through nat-a's conntrack, translated: a hairpin flow between the
			# two hosts (mappings.txt: "nat-a: PROTO HOST:P -> PUBLIC:P remote ... hairpin ...")
			grep -E "^nat-a: $proto 10\.0\.1\.1[01]:[0-9]+ -> 203\.0\.113\.2:[0-9]+ remote 203\.0\.113\.2:[0-9]+ .*hairpin( |$)" \
				"$dir/mappings.txt" >/dev/null ||
				{ cat "$dir/mappings.txt" >&2; fail "$id: no hairpinned flow in nat-a's conntrack"; }
		done
		expect_cell "$TMP/m" same-nat/$proto/$proto/$PRC~- failed "no hairpin: nothing joins the peers"
		expect_cell "$TMP/m" same-nat/$proto/auto/$PRC~- relayed "no hairpin: only the relay"
	done
}

# --- 2. a kept lab: the engine's private-address probes meet the lab's rule ----------------
# lab_drops: the packets the lab's isolation rule in nat-a dropped between member ports.
lab_drops() {
	"$PUNCHLAB" exec --timeout 5 "$LAB" nat-a -- nft -j list table bridge punchlab_lab \
		>"$TMP/lab.json" || fail "nft list table bridge punchlab_lab in nat-a failed"
	python3 - "$TMP/lab.json" <<'PY'
import json, sys
n = 0
for obj in json.load(open(sys.argv[1]))["nftables"]:
    for e in obj.get("rule", {}).get("expr", []):
        if "counter" in e:
            n += e["counter"]["packets"]
print(n)
PY
}

kept_steps() {
	local drops side peer
	kept_lab -t same-nat --set nat-a=$PRC
	rdv_start rdv-prc 20 --listen "$RDV1:3478" --listen "$RDV2:3478"
	[ "$(lab_drops)" -eq 0 ] || fail "the lab's rule dropped packets before any peer ran"
	pair prc 2 host-a host-b --rendezvous "$RDV1:3478" --proto udp --technique udp
	expect_pair prc 1 failed "port-restricted-cone does not hairpin, the lab drops the rest"
	grep '"event":"probe"' "$TMP/prc.a" | grep -q '"to":"10\.0\.1\.11:' ||
		fail "peer a never aimed at host-b's private address: the test proves nothing"
	drops=$(lab_drops)
	note "lab rule dropped $drops packet(s) between host-a and host-b"
	[ "$drops" -gt 0 ] || fail "the engine's private-address probes were not dropped by the lab's rule"
	kill -TERM "$RDV_PID"
	wait_exit "$RDV_PID" 10
	"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

	kept_lab -t same-nat --set nat-a=$FCH
	rdv_start rdv-fch 20 --listen "$RDV1:3478" --listen "$RDV2:3478"
	pair fch 3 host-a host-b --rendezvous "$RDV1:3478" --proto udp --technique udp
	expect_pair fch 0 direct "full-cone-hairpin"
	for side in a b; do
		peer=$(result "$TMP/fch.$side" peer)
		[ "${peer%:*}" = 203.0.113.2 ] || fail "fch: peer $side's path is to $peer, expected the public 203.0.113.2"
	done
	[ "$(lab_drops)" -gt 0 ] || fail "fch: the private-address probes were not dropped by the lab's rule"
	kill -TERM "$RDV_PID"
	wait_exit "$RDV_PID" 10
	"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
}

# --- 3. control: the same LAN without isolation is a plain switch -------------------------
control_steps() {
	local peer
	sed '/^    isolate: yes$/d' "$SRCDIR/topologies/same-nat.yaml" >"$TMP/open-lan.yaml"
	! grep -q '^ *isolate:' "$TMP/open-lan.yaml" || fail "could not remove isolate from the copy"
	kept_lab -t "$TMP/open-lan.yaml" --set nat-a=$PRC
	rdv_start rdv-open 20 --listen "$RDV1:3478" --listen "$RDV2:3478"
	pair open 3 host-a host-b --rendezvous "$RDV1:3478" --proto udp --technique udp
	expect_pair open 0 direct "without isolation the private addresses reach each other"
	peer=$(result "$TMP/open.a" peer)
	[ "${peer%:*}" = 10.0.1.11 ] || fail "open: peer a's path is to $peer, expected host-b's 10.0.1.11"
	kill -TERM "$RDV_PID"
	wait_exit "$RDV_PID" 10
	"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
}

spawn matrix matrix_steps
spawn kept kept_steps
spawn control control_steps
joined matrix
joined kept
joined control
expect_nothing_left "$TMP/before" "the same-nat hairpin runs"
