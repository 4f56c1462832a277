#!/usr/bin/env bash
# The benchmark's two ways build the identical lab: punchlab over netlink (lab up --keep) and the
# shell way (bench shell-lab up: one ip/nft process per step). Compared node by node: links
# (ip -d, with ifindexes, MACs and namespace ids normalised), addresses, routes, the nftables
# ruleset. Every topology, so bridges, the CGN and IPv4-only nodes are all covered.
. "$(dirname "$0")/lib.sh"
require_root

# Normalise what legitimately differs between two builds: lab names, MAC addresses, ifindexes,
# link-netns names/ids, timers, and the operational state, which the kernel's linkwatch moves
# from UNKNOWN to UP asynchronously (the admin flags <...UP,LOWER_UP> are compared as they are).
norm() {
	sed -E -e "s/\b$1-//g" \
		-e 's/([0-9a-f]{2}:){5}[0-9a-f]{2}/MAC/g' \
		-e 's/^[0-9]+: /N: /' -e 's/@if[0-9]+/@ifN/g' \
		-e 's/link-netns(id)? [^ ]+/link-netns X/g' \
		-e 's/ (id|ifindex) [0-9]+//g' \
		-e 's/(hello_timer|tcn_timer|topology_change_timer|gc_timer) +[0-9.]+/\1 T/g' \
		-e 's/ (bridge_id|designated_root|root_id|designated_bridge|designated_port|port_id|port_no|no) [^ ]+/ \1 X/g' \
		-e 's/ (forward_delay_timer|message_age_timer|hold_timer) +[0-9.]+/ \1 T/g' \
		-e 's/ handle [0-9]+//g' \
		-e 's/ state (UP|UNKNOWN|LOWERLAYERDOWN)/ state X/'
}

dump() { # LAB NODE
	local ns="$1-$2"
	{
		echo "== links"; ip -n "$ns" -d -o link show | sort -k2
		echo "== addresses"; ip -n "$ns" -o addr show | sed -E 's/ +valid_lft.*//' | sort -k2
		echo "== routes"; ip -n "$ns" route show; ip -n "$ns" -6 route show
		echo "== ruleset"; nsenter --net="/run/netns/$ns" nft list ruleset
		echo "== sysctls"; nsenter --net="/run/netns/$ns" sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter
	} 2>&1 | norm "$1"
}

fails=0
for topo in two-nats same-nat double-nat public-peer; do
	c=pli$$; s=pls$$
	"$PUNCHLAB" lab up --keep --name "$c" -t "$topo" >/dev/null || fail "$topo: lab up failed"
	defer "'$PUNCHLAB' lab down '$c'"
	"$PUNCHLAB" bench shell-lab up "$s" -t "$topo" || fail "$topo: the shell way failed"
	defer "'$PUNCHLAB' bench shell-lab down '$s' -t '$topo'"
	for pin in /run/netns/"$c"-*; do
		node=${pin#/run/netns/$c-}
		dump "$c" "$node" >"$TMP/c-$topo-$node"
		dump "$s" "$node" >"$TMP/s-$topo-$node"
		[ -s "$TMP/c-$topo-$node" ] || fail "$topo/$node: empty dump"
		if ! diff -u "$TMP/c-$topo-$node" "$TMP/s-$topo-$node" >"$TMP/diff"; then
			echo "# $topo/$node differs (netlink -, shell +):"; sed 's/^/#   /' "$TMP/diff" | head -40
			fails=$((fails + 1))
		fi
	done
	"$PUNCHLAB" lab down "$c"
	"$PUNCHLAB" bench shell-lab down "$s" -t "$topo"
	note "$topo: $(ls "$TMP"/c-"$topo"-* | wc -l) nodes compared"
done
[ "$fails" -eq 0 ] || fail "$fails node(s) differ between the netlink and the shell way"
note "netlink and shell way build identical labs"
