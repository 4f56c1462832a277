# engines-ipv6-lib.sh: sourced by the engines' lab tests for their IPv6 cells (after lib.sh).
# shellcheck shell=bash
# nat66_symmetric_profile DIR: writes DIR/nat66-symmetric.nft, a random-port NAT66 (masquerade
# random in an ip6 table: the IPv6 twin of nat-profiles/symmetric.nft) with a true header, and
# prints its path. No shipped IPv6 profile makes a pairing fail (a firewall and NAT66 masquerade
# both keep ports and map endpoint-independently): an engine's failing IPv6 cell needs this one.
nat66_symmetric_profile() {
	cat >"$1/nat66-symmetric.nft" <<'NFT'
# name: nat66-symmetric
# rfc3489: symmetric
# mapping: address-and-port-dependent
# filtering: address-and-port-dependent
# ports: random
# hairpin: no
# tcp-unsolicited: drop
# predictable: no
# transports: udp, tcp
# udp-timeout: 30
# family: ipv6
# description: Test profile: NAT66 with a random public port for every flow (symmetric over IPv6)
#
#   LAN $LAN_NET -- $LAN_IF [ nat66 ] $WAN_IF ($WAN_ADDR) -- internet      (all IPv6)

table ip6 punchlab_nat {
	ct timeout udp_mapping {
		protocol udp
		l3proto ip6
		policy = { unreplied : 30, replied : 30 }
	}

	chain timeouts {
		type filter hook prerouting priority filter; policy accept;
		ct state new meta l4proto udp ct timeout set "udp_mapping"
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname $WAN_IF masquerade random
	}

	# new inbound dropped in forward and input, ICMPv6 let through (neighbour discovery)
	chain forward {
		type filter hook forward priority filter; policy accept;
		meta l4proto ipv6-icmp accept
		iifname $WAN_IF ct state new,invalid drop
	}

	chain input {
		type filter hook input priority filter; policy accept;
		meta l4proto ipv6-icmp accept
		iifname $WAN_IF ct state new,invalid drop
	}
}
NFT
	echo "$1/nat66-symmetric.nft"
}

# evidence_of DIR ID-PART: the one cell of DIR/matrix.json whose id contains ID-PART: its
# outcome, its first run's phase ("-" without one) and attestation verdict, then the
# attestation's evidence lines.
evidence_of() {
	python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["cells"] if sys.argv[2] in c["id"]]
assert len(c) == 1, [x["id"] for x in d["cells"]]
r = c[0]["runs"][0]
a = r.get("attestation") or {}
print(c[0]["outcome"], r["phase"] or "-", a.get("verdict", "-"))
print("\n".join(a.get("evidence", [])))
PY
}
