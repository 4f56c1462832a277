#!/bin/bash
# Lab test of topologies/same-port.yaml: two hosts behind one NAT use the same private port at
# once, and the NAT must give the second another public port (no port overloading,
# RFC 4787 REQ-4). Both hosts bind port 5000 and write at once, host-a to S1 and host-b to S2
# (different remotes: where plain masquerade overloads the port), then both bind 5001 and
# write to S1 (the same remote: the kernel itself must move one). Every generated profile
# kind must keep the two apart, and the server must reach each host back through its own
# public port where the filtering lets it (endpoint-independent: a third address writes to
# both public ports). The shipped port-restricted-cone (plain masquerade) is measured too and
# shown to overload across remotes: docs/profile-format.md says so.
# usage: same-port.sh PUNCHLAB_BINARY
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"
require_root

cat >"$TMP/srv.py" <<'EOF'
# Listen on S1 and S2 (and answer nothing) until the four test datagrams (a5000, b5000, a5001,
# b5001) were heard, for argv[1] seconds at most; one line per datagram:
# "LOCAL-ADDR PAYLOAD SOURCE-ADDR:PORT". It ends as soon as the four are in (the test reads
# nothing else): a fixed listening time cost 6 s per profile.
import select, socket, sys, time
socks = []
for a in ("198.51.100.10", "198.51.100.11"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, 3478))
    socks.append(s)
print("ready", flush=True)
end = time.time() + float(sys.argv[1])
want = {"a5000", "b5000", "a5001", "b5001"}
while time.time() < end and want:
    r, _, _ = select.select(socks, [], [], 0.1)
    for s in r:
        d, src = s.recvfrom(200)
        print(s.getsockname()[0], d.decode(), "%s:%d" % src, flush=True)
        want.discard(d.decode())
EOF
cat >"$TMP/snd.py" <<'EOF'
# Bind argv[1], write argv[3] to argv[2]:3478, then wait up to argv[4] seconds for a datagram
# and print it ("got TEXT"). One is all the test sends to a host (poke.py's), so the wait ends
# with it.
import select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.sendto(sys.argv[3].encode(), (sys.argv[2], 3478))
end = time.time() + float(sys.argv[4])
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.1)
    if r:
        print("got", s.recv(200).decode(), flush=True)
        break
EOF
cat >"$TMP/poke.py" <<'EOF'
# From 198.51.100.11:3479 (an endpoint no host wrote to), write argv[2] to 203.0.113.2:argv[1].
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.11", 3479))
s.sendto(sys.argv[2].encode(), ("203.0.113.2", int(sys.argv[1])))
EOF

failed=0
check() { # check PROFILE-FILE EXPECT(apart|overload) EI-FILTERING(yes|no)
	local prof=$1 expect=$2 eif=$3 name lab i pa pb qa qb
	name=$(basename "$prof" .nft)
	lab="sp$$${#OUR_LABS}"
	lab=${lab:0:12}
	OUR_LABS+=" $lab"
	timeout 30 "$PUNCHLAB" lab up --keep --name "$lab" -t "$SRCDIR/topologies/same-port.yaml" \
		--set nat-a="$prof" >/dev/null || fail "$name: lab up"
	defer "down_if_kept $lab"
	# emptied here, not only by the job's redirection: the job's shell may open the file after
	# the polls below first read it, which then found the last profile's "ready" (the test
	# failed at once: "the server did not start") or, as likely, its four datagrams
	: >"$TMP/srv.out"
	timeout 30 "$PUNCHLAB" exec --timeout 25 "$lab" server -- python3 "$TMP/srv.py" 20 \
		>"$TMP/srv.out" 2>&1 &
	# bounded (by exec's own 25 s): python's start in a fresh node on a loaded machine has
	# taken seconds, and over 15 s once while three test suites shared the 2 cores
	for ((i = 0; i < 250; i++)); do
		grep -q ready "$TMP/srv.out" && break
		sleep 0.1
	done
	grep -q ready "$TMP/srv.out" || fail "$name: the server did not start: $(cat "$TMP/srv.out")"
	# at once: both hosts from port 5000, to different remotes; then to the same remote. The
	# 5000 sockets wait for poke.py's datagram only where one comes (endpoint-independent
	# filtering); elsewhere nothing reads them (the mappings live in conntrack, not the socket)
	local hold=0
	[ "$eif" = yes ] && hold=15
	# every wait below ends on its condition; the bounds are for python's start on a loaded
	# machine (seconds, see above), which the old fixed 3 s windows did not always cover
	"$PUNCHLAB" exec --timeout 20 "$lab" host-a -- python3 "$TMP/snd.py" 5000 198.51.100.10 a5000 $hold \
		>"$TMP/a.out" 2>&1 &
	local ja=$!
	"$PUNCHLAB" exec --timeout 20 "$lab" host-b -- python3 "$TMP/snd.py" 5000 198.51.100.11 b5000 $hold \
		>"$TMP/b.out" 2>&1 &
	local jb=$!
	"$PUNCHLAB" exec --timeout 20 "$lab" host-a -- python3 "$TMP/snd.py" 5001 198.51.100.10 a5001 0 &
	"$PUNCHLAB" exec --timeout 20 "$lab" host-b -- python3 "$TMP/snd.py" 5001 198.51.100.10 b5001 0 &
	# until the server heard all four (the senders' exec deadline bounds it; every profile
	# here passes all four on, so only a failing run waits the whole 20 s)
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c ' [ab]500[01] ' "$TMP/srv.out")" = 4 ] && break
		sleep 0.1
	done
	pa=$(awk '$2 == "a5000" { sub(/.*:/, "", $3); print $3 }' "$TMP/srv.out")
	pb=$(awk '$2 == "b5000" { sub(/.*:/, "", $3); print $3 }' "$TMP/srv.out")
	qa=$(awk '$2 == "a5001" { sub(/.*:/, "", $3); print $3 }' "$TMP/srv.out")
	qb=$(awk '$2 == "b5001" { sub(/.*:/, "", $3); print $3 }' "$TMP/srv.out")
	echo "$name: port 5000 to two remotes -> public $pa and $pb; 5001 to one remote -> $qa and $qb"
	if [ -z "$pa" ] || [ -z "$pb" ] || [ -z "$qa" ] || [ -z "$qb" ]; then
		cat "$TMP/srv.out"
		echo "FAIL: $name: the server did not hear all four"
		failed=1
	elif [ "$qa" = "$qb" ]; then
		echo "FAIL: $name: two hosts share public port $qa towards one remote"
		failed=1
	elif [ "$expect" = apart ] && [ "$pa" = "$pb" ]; then
		echo "FAIL: $name: two hosts share public port $pa (port overloading)"
		failed=1
	elif [ "$expect" = overload ] && [ "$pa" != "$pb" ]; then
		echo "FAIL: $name: expected plain masquerade to overload port 5000, got $pa and $pb"
		failed=1
	fi
	if [ "$eif" = yes ] && [ -n "$pa" ] && [ -n "$pb" ]; then
		# endpoint-independent filtering: a third endpoint reaches each host on its own port
		"$PUNCHLAB" exec --timeout 10 "$lab" server -- python3 "$TMP/poke.py" "$pa" to-a
		"$PUNCHLAB" exec --timeout 10 "$lab" server -- python3 "$TMP/poke.py" "$pb" to-b
	fi
	wait "$ja" "$jb"
	if [ "$eif" = yes ]; then
		grep -q "got to-a" "$TMP/a.out" || { echo "FAIL: $name: host-a not reached on $pa"; failed=1; }
		grep -q "got to-b" "$TMP/b.out" || { echo "FAIL: $name: host-b not reached on $pb"; failed=1; }
	fi
	wait
	timeout 10 "$PUNCHLAB" lab down "$lab" || fail "$name: lab down"
}

mkdir "$TMP/gen"
gen() { # gen MAPPING FILTERING PORTS: the generated profile's path
	local f="$TMP/gen/$1-$2-$3.nft"
	"$PUNCHLAB" profile new --mapping "$1" --filtering "$2" --ports "$3" --hairpin no \
		--tcp-unsolicited drop --udp-timeout 30 -o "$f" || fail "profile new $*"
	echo "$f"
}
EI=endpoint-independent AD=address-dependent APD=address-and-port-dependent
check "$(gen $EI $EI preserve)" apart yes
check "$(gen $EI $APD preserve)" apart no
check "$(gen $AD $AD preserve)" apart no
check "$(gen $APD $APD preserve)" apart no
check "$(gen $EI $EI sequential)" apart yes
check "$SRCDIR/nat-profiles/port-restricted-cone.nft" overload no

[ $failed = 0 ] || exit 1
echo "PASS: same-port"
