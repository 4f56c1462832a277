#!/usr/bin/env bash
# matrix-sweep.sh PUNCHLAB: a timing sweep (issue 12 item 5). Two TCP RST NATs (the race of
# simultaneous open, theory rst-race-both) swept over peer B's stagger: every point is a cell of
# its own (stagger=Nms in its id) run --repeat times; matrix.json carries the curve's points
# (rates in 0..1), the terminal and matrix.md a table, index.html an inline SVG plot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root
snapshot >"$TMP/before"

CELL=two-nats/tcp/tcp/port-restricted-cone-rst~port-restricted-cone-rst
run_matrix 180 --cell "$CELL" --sweep stagger=0..100ms/50 --repeat 3 --no-classify -o "$TMP/sweep"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the sweep: exit $RC, expected 0 (a sweep point is judged by its allowed outcomes)"
python3 - "$TMP/sweep/matrix.json" "$CELL" <<'PY' || fail "the sweep's points are not in matrix.json"
import json, sys
d, cell = json.load(open(sys.argv[1])), sys.argv[2]
ids = sorted(c["id"] for c in d["cells"])
assert ids == sorted(cell + "/stagger=%dms" % v for v in (0, 50, 100)), ids
for c in d["cells"]:
    assert c["stagger_ms"] in (0, 50, 100), c
    assert len(c["runs"]) == 3, (c["id"], len(c["runs"]))
    assert c["outcome"] != "error", (c["id"], c["reason"])
(s,) = d["sweeps"]
assert s["cell"] == cell and s["dimension"] == "stagger", s
assert [p["stagger_ms"] for p in s["points"]] == [0, 50, 100], s["points"]
for p in s["points"]:
    assert p["runs"] == 3, p
    assert 0 <= p["direct"] <= p["runs"], p
    assert 0.0 <= p["success_rate"] <= 1.0, p
    assert abs(p["success_rate"] - p["direct"] / p["runs"]) < 1e-9, p
    assert p["id"] == cell + "/stagger=%dms" % p["stagger_ms"], p
PY
grep -q "^Sweep of $CELL: success rate by stagger" "$TMP/matrix.out" || fail "no sweep table in the terminal"
[ "$(grep -cE '^  (0|50|100) ms +[0-3]/3 +(0|1)\.[0-9]{2} ' "$TMP/matrix.out")" -eq 3 ] ||
	fail "the terminal's sweep table lacks its three points"
grep -q "^## Timing sweeps" "$TMP/sweep/matrix.md" || fail "no sweep section in matrix.md"
[ "$(grep -cE '^\| (0|50|100) ms \| [0-3] / 3 \| [01]\.[0-9]{2} \|$' "$TMP/sweep/matrix.md")" -eq 3 ] ||
	fail "matrix.md's sweep table lacks its three points"
python3 - "$TMP/sweep/index.html" <<'PY' || fail "no SVG plot of the curve in index.html"
import re, sys
html = open(sys.argv[1]).read()
svg = re.search(r'<svg class="sweep".*?</svg>', html, re.S)
assert svg, "no <svg class=sweep>"
pts = re.search(r'<polyline[^>]* points="([^"]+)"', svg.group(0)).group(1).split()
assert len(pts) == 3, pts
assert svg.group(0).count("<circle") == 3
PY
# the rerun line of a point reruns that point
grep -q -- "--cell $CELL/stagger=50ms" "$TMP/matrix.out" || fail "no rerun line names a sweep point"

none_added "the test" snapshot
note "a stagger sweep over two RST NATs (tcp): 3 points x 3 runs, the curve in matrix.json, the terminal, matrix.md and an SVG"
