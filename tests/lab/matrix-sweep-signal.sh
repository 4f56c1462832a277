#!/usr/bin/env bash
# matrix-sweep-signal.sh PUNCHLAB: a signal-delay sweep (issue 12 item 5): the rendezvous' answer
# reaches peer B N ms after A (punch peer --signal-delay, from {{signal_delay_ms}} in peer B's
# command only). Two TCP RST NATs (the simultaneous-open race) give a curve of their own points
# in every report, naming the dimension; the same NATs over udp are flat 1.0 (UDP punching waits
# for no moment); an engine file without the variable, or two sweeps at once, are bad input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root
snapshot >"$TMP/before"

CELL=two-nats/tcp/tcp/port-restricted-cone-rst~port-restricted-cone-rst
run_matrix 180 --cell "$CELL" --sweep signal-delay=0..100ms/50 --repeat 3 --no-classify \
	-o "$TMP/tcp"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the tcp sweep: exit $RC, expected 0 (a sweep point is judged by its allowed outcomes)"
python3 - "$TMP/tcp/matrix.json" "$CELL" 3 0 50 100 <<'PY' || fail "the tcp sweep's points are not in matrix.json"
import json, sys
d, cell, runs = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
values = [int(v) for v in sys.argv[4:]]
ids = sorted(c["id"] for c in d["cells"])
assert ids == sorted(cell + "/signal-delay=%dms" % v for v in values), ids
for c in d["cells"]:
    assert c["signal_delay_ms"] in values and "stagger_ms" not in c, c
    assert len(c["runs"]) == runs, (c["id"], len(c["runs"]))
    assert c["outcome"] != "error", (c["id"], c["reason"])
(s,) = d["sweeps"]
assert s["cell"] == cell and s["dimension"] == "signal-delay", s
assert [p["signal_delay_ms"] for p in s["points"]] == values, s["points"]
for p in s["points"]:
    assert p["ms"] == p["signal_delay_ms"] and "stagger_ms" not in p, p
    assert p["runs"] == runs and 0 <= p["direct"] <= runs, p
    assert abs(p["success_rate"] - p["direct"] / p["runs"]) < 1e-9, p
    assert p["id"] == cell + "/signal-delay=%dms" % p["signal_delay_ms"], p
PY
grep -q "^Sweep of $CELL: success rate by signal delay" "$TMP/matrix.out" ||
	fail "no signal-delay sweep table in the terminal"
[ "$(grep -cE '^  (0|50|100) ms +[0-3]/3 +(0|1)\.[0-9]{2} ' "$TMP/matrix.out")" -eq 3 ] ||
	fail "the terminal's sweep table lacks its three points"
grep -q '^| signal delay | direct / runs | success rate |$' "$TMP/tcp/matrix.md" ||
	fail "matrix.md's sweep table does not name its dimension"
[ "$(grep -cE '^\| (0|50|100) ms \| [0-3] / 3 \| [01]\.[0-9]{2} \|$' "$TMP/tcp/matrix.md")" -eq 3 ] ||
	fail "matrix.md's sweep table lacks its three points"
python3 - "$TMP/tcp/index.html" <<'PY' || fail "no SVG plot of the signal-delay curve in index.html"
import re, sys
svg = re.search(r'<svg class="sweep".*?</svg>', open(sys.argv[1]).read(), re.S)
assert svg, "no <svg class=sweep>"
assert "signal delay (ms)</text>" in svg.group(0), "the axis does not name the dimension"
pts = re.search(r'<polyline[^>]* points="([^"]+)"', svg.group(0)).group(1).split()
assert len(pts) == 3 and svg.group(0).count("<circle") == 3, pts
PY
grep -q -- "--cell $CELL/signal-delay=50ms" "$TMP/matrix.out" || fail "no rerun line names a sweep point"

# the mechanism: only peer B is told the delay, and B held the answer that long
run_dir="$TMP/tcp/cells/$(echo "$CELL" | tr / _)_signal-delay=100ms/run-1"
grep -q -- "--signal-delay" "$run_dir/peer-b.cmd" || fail "peer B's command lacks --signal-delay"
! grep -q -- "--signal-delay" "$run_dir/peer-a.cmd" || fail "peer A was given a signal delay"
python3 - "$run_dir/peer-b.out" <<'PY' || fail "peer B did not act on the answer 100 ms late"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
held = [e for e in ev if e["event"] == "signal_held"]
got = [e for e in ev if e["event"] == "endpoints"]
assert held and held[0]["delay_ms"] == 100, held
assert got and got[0]["t_ms"] - held[0]["t_ms"] >= 100, (held, got)
PY

# udp between the same NATs punches whenever the endpoints come: flat 1.0
UCELL=two-nats/udp/udp/port-restricted-cone-rst~port-restricted-cone-rst
run_matrix 120 --cell "$UCELL" --sweep signal-delay=0..200ms/100 --repeat 2 --no-classify \
	-o "$TMP/udp"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the udp sweep: exit $RC, expected 0"
python3 - "$TMP/udp/matrix.json" <<'PY' || fail "the udp sweep is not flat 1.0"
import json, sys
(s,) = json.load(open(sys.argv[1]))["sweeps"]
assert s["dimension"] == "signal-delay", s
assert [p["signal_delay_ms"] for p in s["points"]] == [0, 100, 200], s["points"]
assert all(p["runs"] == 2 and p["success_rate"] == 1.0 for p in s["points"]), s["points"]
PY

# bad input: an engine file that never names {{signal_delay_ms}} cannot be swept by it
# (the signal-delay group is a line of its own in the peers' command: drop it; if it is the
# command's last line, its closing bracket moves to the line before)
if grep -q 'signal_delay_ms}}ms"\]\]$' "$SRCDIR/engines/punch.yaml"; then
	sed -e '/\[--hold, "{{hold_s}}"/s/\],$/]]/' -e '/signal_delay_ms/d' \
		"$SRCDIR/engines/punch.yaml" >"$TMP/nosig.yaml"
else
	sed -e '/signal_delay_ms/d' "$SRCDIR/engines/punch.yaml" >"$TMP/nosig.yaml"
fi
! grep -q signal_delay_ms "$TMP/nosig.yaml" || fail "nosig.yaml still names {{signal_delay_ms}}"
run_matrix 60 --engine "$TMP/nosig.yaml" --engine-binary "$PUNCH" --profiles full-cone \
	--proto udp --techniques plain --sweep signal-delay=0..100ms/50 --no-classify -o "$TMP/bad"
[ "$RC" -eq 2 ] || fail "an engine without {{signal_delay_ms}}: exit $RC, expected 2"
grep -q "nosig.yaml:[0-9]*: cell .*signal-delay=0ms has a signal delay, but this engine cannot be given one: expected {{signal_delay_ms}}" \
	"$TMP/matrix.err" || { cat "$TMP/matrix.err" >&2; fail "no clear error for an engine without {{signal_delay_ms}}"; }
[ ! -e "$TMP/bad" ] || fail "a refused run wrote reports"
# bad input: two sweeps at once
run_matrix 60 --cell "$CELL" --sweep stagger=0..100ms/50 --sweep signal-delay=0..100ms/50 -o "$TMP/bad"
[ "$RC" -eq 2 ] || fail "two sweeps: exit $RC, expected 2"
grep -q -- "--sweep signal-delay=0..100ms/50: expected one --sweep per run" "$TMP/matrix.err" ||
	fail "no clear error for two sweeps"

none_added "the test" snapshot
note "a signal-delay sweep: tcp over two RST NATs (3 points x 3 runs) in every report; udp flat 1.0; bad input refused"
