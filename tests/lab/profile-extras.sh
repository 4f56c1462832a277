#!/bin/bash
# Lab test of the generator's options beyond the header's RFC 4787 classes
# (docs/profile-format.md "Generating profiles"):
#  - port-block: double-nat with a generated CGN of 8 ports per subscriber (--port-block 8).
#    host-a (behind nat-a, the CGN's subscriber 100.64.0.2) opens 12 flows at once to one
#    server endpoint: exactly 8 get through, all from subscriber 2's block (1032-1039), the
#    other 4 are refused; host-b (subscriber 3) still gets its 2 flows, from its own block
#    (1040-1047);
#  - pooling: topologies/pool.yaml (nat-a holds 203.0.113.2 and .3) with generated profiles
#    pooling over both: paired, each host's 16 flows all leave from one address; arbitrary,
#    host-a's 16 flows leave from both (all from one by chance: 1 in 32768);
#  - port-parity: same-port with a generated profile that keeps parity: host-a and host-b both
#    write from ports 5000-5005 to one server endpoint; host-b's ports are held by host-a's
#    mappings, so host-b gets other public ports, each of its internal port's parity.
# usage: profile-extras.sh PUNCHLAB_BINARY
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"
require_root

cat >"$TMP/srv.py" <<'EOF'
# Listen on 198.51.100.10:3478 until the file argv[2] exists (the test makes it once both
# hosts' senders have ended), then 0.5 s more for datagrams still on their way, for argv[1]
# seconds at most; print "PAYLOAD SOURCE-PORT SOURCE-ADDR" per datagram. (A fixed listening
# time cost 5 s per lab, and was shorter than python's start on a loaded machine could be.)
import os, select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.10", 3478))
print("ready", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    if os.path.exists(sys.argv[2]):
        end = min(end, time.time() + 0.5)
    if select.select([s], [], [], 0.1)[0]:
        d, src = s.recvfrom(200)
        print(d.decode(), src[1], src[0], flush=True)
EOF
cat >"$TMP/flows.py" <<'EOF'
# Open one UDP socket per port argv[2..] (0: any), each writes "argv[1]-PORT" to the server
# twice (a dropped first packet is not retried by the kernel, the second shows it stays so).
import socket, sys, time
socks = []
for p in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(p)))
    socks.append(s)
for _ in range(2):
    for s in socks:
        s.sendto(("%s-%d" % (sys.argv[1], s.getsockname()[1])).encode(), ("198.51.100.10", 3478))
    time.sleep(0.2)
EOF

failed=0
bad() {
	echo "FAIL: $*"
	failed=1
}

# up NAME TOPOLOGY NODE=PROFILE: a kept lab, removed at exit; the server listening.
up() {
	timeout 30 "$PUNCHLAB" lab up --keep --name "$1" -t "$SRCDIR/topologies/$2.yaml" \
		--set "$3" >/dev/null || fail "lab up $2 --set $3"
	OUR_LABS+=" $1"
	defer "down_if_kept $1"
	# emptied here, not only by the job's redirection: the job's shell may open the file after
	# the poll below first reads it, which then found the last lab's "ready" (and the test
	# failed at once: "the server did not start")
	: >"$TMP/srv.out"
	rm -f "$TMP/stop"
	timeout 30 "$PUNCHLAB" exec --timeout 25 "$1" server -- python3 "$TMP/srv.py" 20 \
		"$TMP/stop" >"$TMP/srv.out" 2>&1 &
	local i
	# bounded (by exec's own 25 s): python's start in a fresh node on a loaded machine has
	# taken seconds, and over 15 s once while three test suites shared the 2 cores
	for ((i = 0; i < 250; i++)); do
		grep -q ready "$TMP/srv.out" && break
		sleep 0.1
	done
	grep -q ready "$TMP/srv.out" || fail "the server did not start: $(cat "$TMP/srv.out")"
}

# 1. Port blocks in the CGN of double-nat.
"$PUNCHLAB" profile new --mapping endpoint-independent --filtering address-and-port-dependent \
	--ports random --hairpin yes --tcp-unsolicited drop --udp-timeout 120 --port-block 8 \
	--name cgn-block8 -o "$TMP/cgn-block8.nft" || fail "profile new --port-block 8"
grep -q '^# port-block: 8$' "$TMP/cgn-block8.nft" || bad "the header does not say port-block: 8"
lab="pb$$"
lab=${lab:0:12}
up "$lab" double-nat cgn="$TMP/cgn-block8.nft"
"$PUNCHLAB" exec --timeout 10 "$lab" host-a -- python3 "$TMP/flows.py" a \
	$(seq 6001 6012) || bad "host-a's flows"
"$PUNCHLAB" exec --timeout 10 "$lab" host-b -- python3 "$TMP/flows.py" b 6001 6002 ||
	bad "host-b's flows"
touch "$TMP/stop" # both senders have ended: the server drains and exits
wait
na=$(awk '$1 ~ /^a-/ { print $1 }' "$TMP/srv.out" | sort -u | wc -l)
nb=$(awk '$1 ~ /^b-/ { print $1 }' "$TMP/srv.out" | sort -u | wc -l)
pa=$(awk '$1 ~ /^a-/ { print $2 }' "$TMP/srv.out" | sort -un | tr '\n' ' ')
pb=$(awk '$1 ~ /^b-/ { print $2 }' "$TMP/srv.out" | sort -un | tr '\n' ' ')
echo "port-block 8: host-a opened 12 flows, $na got through, from public ports $pa"
echo "port-block 8: host-b opened 2 flows, $nb got through, from public ports $pb"
[ "$na" = 8 ] || bad "host-a: $na of 12 flows got through a block of 8, expected 8"
[ "$nb" = 2 ] || bad "host-b: $nb of 2 flows got through its own block, expected 2"
for p in $pa; do
	if [ "$p" -lt 1032 ] || [ "$p" -gt 1039 ]; then bad "host-a's public port $p is outside 1032-1039"; fi
done
for p in $pb; do
	if [ "$p" -lt 1040 ] || [ "$p" -gt 1047 ]; then bad "host-b's public port $p is outside 1040-1047"; fi
done
timeout 10 "$PUNCHLAB" lab down "$lab" || bad "lab down"

# 2. Port parity where the internal port is held.
"$PUNCHLAB" profile new --mapping endpoint-independent --filtering address-and-port-dependent \
	--ports preserve --hairpin no --tcp-unsolicited drop --udp-timeout 30 --port-parity yes \
	-o "$TMP/parity.nft" || fail "profile new --port-parity yes"
grep -q '^# port-parity: yes$' "$TMP/parity.nft" || bad "the header does not say port-parity"
lab="pp$$"
lab=${lab:0:12}
up "$lab" same-port nat-a="$TMP/parity.nft"
"$PUNCHLAB" exec --timeout 10 "$lab" host-a -- python3 "$TMP/flows.py" a $(seq 5000 5005) ||
	bad "host-a's flows"
"$PUNCHLAB" exec --timeout 10 "$lab" host-b -- python3 "$TMP/flows.py" b $(seq 5000 5005) ||
	bad "host-b's flows"
touch "$TMP/stop" # both senders have ended: the server drains and exits
wait
n=0
while read -r tag port _; do
	case $tag in
	a-*) [ "${tag#a-}" = "$port" ] || bad "host-a's port ${tag#a-} was not preserved ($port)" ;;
	b-*)
		n=$((n + 1))
		in=${tag#b-}
		[ "$port" != "$in" ] || bad "host-b shares public port $port with host-a"
		[ $((port % 2)) = $((in % 2)) ] || bad "host-b's port $in became $port: parity lost"
		;;
	esac
done < <(grep -v ready "$TMP/srv.out" | sort -u)
echo "port-parity: host-b's held ports 5000-5005 became $(awk '$1 ~ /^b-/ { print $2 }' \
	"$TMP/srv.out" | sort -u | tr '\n' ' ')"
[ "$n" = 6 ] || bad "the server heard $n of host-b's 6 flows"
timeout 10 "$PUNCHLAB" lab down "$lab" || bad "lab down"

# 3. Address pooling, paired and arbitrary.
for how in paired arbitrary; do
	"$PUNCHLAB" profile new --mapping endpoint-independent \
		--filtering address-and-port-dependent --ports preserve --hairpin no \
		--tcp-unsolicited drop --udp-timeout 30 --pooling $how \
		--pool 203.0.113.2,203.0.113.3 -o "$TMP/$how.nft" || fail "profile new --pooling $how"
	grep -q "^# pooling: $how 203.0.113.2, 203.0.113.3$" "$TMP/$how.nft" ||
		bad "the header does not say pooling: $how"
	lab="po$$${how:0:1}"
	lab=${lab:0:12}
	up "$lab" pool nat-a="$TMP/$how.nft"
	"$PUNCHLAB" exec --timeout 10 "$lab" host-a -- python3 "$TMP/flows.py" a $(seq 7001 7016) ||
		bad "host-a's flows"
	"$PUNCHLAB" exec --timeout 10 "$lab" host-b -- python3 "$TMP/flows.py" b $(seq 7001 7016) ||
		bad "host-b's flows"
	touch "$TMP/stop" # both senders have ended: the server drains and exits
	wait
	for h in a b; do
		n=$(awk -v h="$h" 'index($1, h "-") == 1 { print $1 }' "$TMP/srv.out" | sort -u | wc -l)
		addrs=$(awk -v h="$h" 'index($1, h "-") == 1 { print $3 }' "$TMP/srv.out" | sort -u |
			tr '\n' ' ')
		echo "pooling $how: host-$h's $n flows left from $addrs"
		[ "$n" = 16 ] || bad "pooling $how: the server heard $n of host-$h's 16 flows"
		for a in $addrs; do
			case $a in 203.0.113.2 | 203.0.113.3) ;; *) bad "pooling $how: address $a" ;; esac
		done
		if [ $how = paired ] && [ "$(echo "$addrs" | wc -w)" != 1 ]; then
			bad "paired pooling: host-$h's flows left from $addrs"
		fi
		if [ $how = arbitrary ] && [ $h = a ] && [ "$(echo "$addrs" | wc -w)" != 2 ]; then
			bad "arbitrary pooling: host-a's 16 flows all left from $addrs"
		fi
	done
	timeout 10 "$PUNCHLAB" lab down "$lab" || bad "lab down"
done

[ $failed = 0 ] || exit 1
echo "PASS: profile-extras"
