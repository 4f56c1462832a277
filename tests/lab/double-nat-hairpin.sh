#!/bin/bash
# double-nat-hairpin.sh PUNCHLAB: what was wrong in double-nat (issue 9), and that it stays fixed.
# Peers behind two home NATs meet by hairpinning in the CGN. A cone peer's probe at the port it
# predicts for a sequential peer often reaches the CGN before that peer's own flow has made the
# mapping. The CGN used to hand such a packet (from its inside, to its own public address, no
# mapping) to its own stack; the conntrack entry left behind then held the public port, and the
# sequential peer's hairpinned flow was moved to another port that the cone's filter refused:
# cone x sequential fell back to the relay (4 of 6 such cells in one run). The CGN now drops it.
#   1. the mechanism, deterministically, in a kept lab (two port-restricted home NATs): host-b
#      first sends to the CGN's public port 41000, which nobody owns yet; then host-a sends from
#      10.0.1.10:41000 (preserved by nat-a and the CGN) to host-b's public endpoint. host-b must
#      receive it from 203.0.113.2:41000; before the fix it never arrived (port moved, filtered);
#   2. the matrix: predict between a cone and a sequential home NAT is direct, both orders, udp
#      and tcp, every one of 3 runs; two sequential home NATs relay under auto, as the theory
#      says (their ports collide on the CGN).
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
PRC=port-restricted-cone
SS=symmetric-sequential

# --- 1. an early packet to an unmapped public port of the CGN steals nothing ---------------
kept_lab -t double-nat --set nat-a=$PRC --set nat-b=$PRC
# host-b: register a mapping through the CGN (to the server: the CGN learns it), probe the CGN's
# public port 41000 before anyone owns it, then wait (bounded) for host-a's datagram.
"$PUNCHLAB" exec --timeout 10 "$LAB" host-b -- "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.2.10", 40000))
s.sendto(b"register", ("198.51.100.10", 9))
s.sendto(b"early", ("203.0.113.2", 41000))
print("ready", flush=True)
s.settimeout(3)
try:
    while True:
        data, src = s.recvfrom(100)
        if data == b"hello":
            print("from %s:%d" % src, flush=True)
            break
except socket.timeout:
    print("nothing", flush=True)
' >"$TMP/b.out" 2>"$TMP/b.err" &
bpid=$!
defer "kill_child $bpid"
wait_for_line "$TMP/b.out" '^ready' 5 "$bpid"
"$PUNCHLAB" exec --timeout 5 "$LAB" host-a -- "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.10", 41000))
for _ in range(3):
    s.sendto(b"hello", ("203.0.113.2", 40000))
' || fail "host-a could not send"
wait_exit "$bpid" 8
got=$(sed -n 2p "$TMP/b.out")
note "host-b: $got"
if [ "$got" != "from 203.0.113.2:41000" ]; then
	"$PUNCHLAB" exec --timeout 5 "$LAB" cgn -- conntrack -L 2>/dev/null | sed 's/^/#   cgn: /' >&2
	fail "host-a's hairpinned datagram: $got, expected from 203.0.113.2:41000 (the early packet took the port)"
fi
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"

# --- 2. the cells the issue saw relayed -------------------------------------------------------
cells=()
for proto in udp tcp; do
	cells+=(--cell "double-nat/$proto/predict/$PRC~$SS" --cell "double-nat/$proto/predict/$SS~$PRC"
		--cell "double-nat/$proto/auto/$SS~$SS")
done
run_cells 80 "$TMP/m" --repeat 3 "${cells[@]}"
for proto in udp tcp; do
	expect_cell "$TMP/m" double-nat/$proto/predict/$PRC~$SS direct "the cone aims at the predicted port"
	expect_cell "$TMP/m" double-nat/$proto/predict/$SS~$PRC direct "the cone aims at the predicted port"
	expect_cell "$TMP/m" double-nat/$proto/auto/$SS~$SS relayed "equal sequential ports collide on the CGN"
done
expect_nothing_left "$TMP/before" "the double-nat hairpin runs"
