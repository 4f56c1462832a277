#!/bin/bash
# impair-tcp.sh PUNCHLAB: TCP through impaired links (issue 12, docs/impairments.md).
#   - registration over TCP through links slower than punch's first retry: 30 ms on each NAT's
#     link (60 ms to the rendezvous and back) connects in 10 of 10 runs. Before the fix punch
#     closed an unanswered SYN after 25 ms and sent a new one from the same port; the first
#     SYN's late SYN-ACK met the new sequence number, the host reset it, the NAT's conntrack
#     entry went to CLOSE and the new handshake's ACK left un-NATed: 0 of 10 registered.
#   - the README's lte matrix command (`punchlab matrix --impairments lte`) on a subset of its
#     profiles: udp and tcp, plain and auto, exit 0 against the expectations, every cell's id
#     carrying /impair=lte and the grids titled so
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root
snapshot >"$TMP/before"

# --- TCP registration through 60 ms round trips ----------------------------------------------
cell=two-nats/tcp/tcp/full-cone~full-cone
run_matrix 120 --cell "$cell" --impair 'inet:nat-a=delay 30ms' --impair 'inet:nat-b=delay 30ms' \
	--repeat 10 -j 5 --no-classify -o "$TMP/reg"
python3 - "$TMP/reg/matrix.json" "$cell" <<'PY' || { show_matrix_output; fail "TCP through 30 ms links: not 10 of 10 direct"; }
import json, sys
c = [c for c in json.load(open(sys.argv[1]))["cells"] if c["id"] == sys.argv[2]][0]
runs = [r["outcome"] for r in c["runs"]]
print("# %s with 30 ms on each NAT's link: %d of %d direct (%s)" % (
    sys.argv[2], runs.count("direct"), len(runs), c.get("reason")))
assert len(runs) == 10 and runs.count("direct") == 10, runs
PY
[ "$RC" -eq 0 ] || { show_matrix_output; fail "matrix exited $RC"; }
expect_nothing_left "$TMP/before" "TCP cells through delayed links"

# --- the README's lte matrix, on two profiles --------------------------------------------------
run_matrix 180 --impairments lte --profiles full-cone,port-restricted-cone --no-classify \
	-o "$TMP/lte"
[ "$RC" -eq 0 ] || { show_matrix_output; fail "matrix --impairments lte exited $RC, expected 0"; }
python3 - "$TMP/lte/matrix.json" <<'PY' || { show_matrix_output; fail "the lte matrix is not what the README shows"; }
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
kinds = sorted({(c["proto"], c["technique"]) for c in cells})
print("# lte matrix: %d cells, %s" % (len(cells), ", ".join("%s/%s" % k for k in kinds)))
assert kinds == [("tcp", "auto"), ("tcp", "tcp"), ("udp", "auto"), ("udp", "udp")], kinds
assert len(cells) == 16, len(cells)
for c in cells:
    assert c["id"].endswith("/impair=lte") and c.get("impair") == "lte", c["id"]
    # full and port-restricted cones connect each other directly, under lte too
    assert c["outcome"] == "direct", (c["id"], c["outcome"], c.get("reason"))
PY
for grid in two-nats/udp/udp two-nats/tcp/tcp two-nats/udp/auto two-nats/tcp/auto; do
	grep -q "^$grid impair=lte" "$TMP/matrix.out" || { show_matrix_output; fail "no $grid impair=lte grid"; }
done
expect_nothing_left "$TMP/before" "the lte matrix"
echo "ok: TCP registration through 60 ms round trips, 10 of 10 direct; the lte matrix exits 0"
