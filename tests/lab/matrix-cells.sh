#!/usr/bin/env bash
# matrix-cells.sh PUNCHLAB: single cells that once went wrong, each run at least 3 times
# (--repeat; these probabilistic cells run as often as their rate test needs), must connect
# directly every time, and the run must exit 0.
#   udp/birthday/port-restricted-cone~symmetric-sequential: birthday gave the sockets to the
#   cone side and the spray to the per-destination side when that side was sequential rather
#   than random (and so, 1 run in ~500, when two random ports fell within a stride's reach):
#   failed every time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

CELLS=(
	two-nats/udp/birthday/port-restricted-cone~symmetric-sequential
	two-nats/udp/birthday/symmetric-sequential~port-restricted-cone
)

snapshot >"$TMP/before"
args=()
for c in "${CELLS[@]}"; do
	args+=(--cell "$c")
done
run_matrix 60 "${args[@]}" --repeat 3 -o "$TMP/out"
show_matrix_output
[ "$RC" -eq 0 ] || fail "punchlab matrix exited $RC, expected 0"
expect_nothing_left "$TMP/before" "the cells"
python3 - "$TMP/out/matrix.json" "${CELLS[@]}" <<'PY' || fail "a cell did not connect directly every time"
import json, sys
cells = {c["id"]: c for c in json.load(open(sys.argv[1]))["cells"]}
bad = []
for i in sys.argv[2:]:
    runs = [r["outcome"] for r in cells[i]["runs"]]
    if len(runs) < 3 or runs != ["direct"] * len(runs):
        bad.append("%s: %s" % (i, runs))
assert not bad, "; ".join(bad)
PY
