#!/usr/bin/env bash
# matrix-baseline.sh PUNCHLAB: baselines. A 2-profile UDP matrix saved with --update-baseline
# (exit 0); a forged baseline that says direct where the run measures failed gives exactly one
# regression (exit 1, one JUnit <failure>, named in matrix.md's "What changed"); a forged
# baseline that says failed where the run measures direct gives an improvement (exit 0).
# Cells: port-restricted-cone x symmetric over udp, technique plain; neither is listed as
# timing-dependent in ci/expectations.yaml, so the theory (direct for the cone pair, failed
# wherever symmetric faces a port-restricted filter) holds every time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

ARGS=(--profiles "port-restricted-cone,symmetric" --proto udp --techniques plain)

snapshot >"$TMP/before"
run_matrix 60 "${ARGS[@]}" -o "$TMP/first" --update-baseline "$TMP/base.json"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the first run exited $RC, expected 0"
cmp -s "$TMP/first/matrix.json" "$TMP/base.json" ||
	fail "--update-baseline did not save the run's matrix.json"
outcomes "$TMP/first" >"$TMP/first.outcomes"
note "first run:"
sed 's/^/#   /' "$TMP/first.outcomes"
FAILED=$(awk '$2 == "failed" { print $1; exit }' "$TMP/first.outcomes")
DIRECT=$(awk '$2 == "direct" { print $1; exit }' "$TMP/first.outcomes")
{ [ -n "$FAILED" ] && [ -n "$DIRECT" ]; } || fail "expected a failed and a direct cell in the first run"

# forge BASE-IN BASE-OUT CELL OUTCOME: the baseline with CELL's outcome (and its runs') set.
forge() {
	python3 - "$@" <<'PY'
import json, sys
src, dst, cell, outcome = sys.argv[1:]
d = json.load(open(src))
hit = [c for c in d["cells"] if c["id"] == cell]
assert len(hit) == 1, "no cell %s in the baseline" % cell
hit[0]["outcome"] = outcome
for r in hit[0]["runs"]:
    r["outcome"] = outcome
json.dump(d, open(dst, "w"), indent=1)
PY
}

# check_report DIR CELL VERDICT: JUnit failures and matrix.md's "What changed" section.
check_report() {
	python3 - "$@" <<'PY'
import json, sys, xml.etree.ElementTree as ET
out, cell, verdict = sys.argv[1:]
d = json.load(open(out + "/matrix.json"))
s = d["summary"]
want_reg = 1 if verdict == "regression" else 0
want_imp = 1 if verdict == "improvement" else 0
assert (s["regressions"], s["improvements"]) == (want_reg, want_imp), \
    "summary: %d regressions, %d improvements" % (s["regressions"], s["improvements"])
c = {c["id"]: c for c in d["cells"]}[cell]
assert c["verdict"][verdict], "%s is not marked %s: %s" % (cell, verdict, c["verdict"])
assert c["refs"]["baseline"] is not None, "%s: no baseline reference" % cell
others = [x["id"] for x in d["cells"] if x["id"] != cell and
          (x["verdict"]["regression"] or x["verdict"]["improvement"])]
assert not others, "other cells changed: %s" % others

junit = ET.parse(out + "/junit.xml").getroot()
failures = [tc.get("name") for tc in junit.iter("testcase") if tc.find("failure") is not None]
assert failures == ([cell] if want_reg else []), "JUnit failures: %s" % failures

md = open(out + "/matrix.md").read()
assert "## What changed" in md, "matrix.md has no What changed section"
section = md.split("## What changed", 1)[1].split("\n## ", 1)[0]
row = [l for l in section.splitlines() if "`%s`" % cell in l]
assert row, "What changed does not name %s:\n%s" % (cell, section)
word = "**regression**" if want_reg else "improvement"
assert word in row[0], "the row for %s does not say %s: %s" % (cell, word, row[0])
PY
}

# a regression: the baseline says direct where the run measures failed
forge "$TMP/base.json" "$TMP/base-reg.json" "$FAILED" direct
run_matrix 60 "${ARGS[@]}" -o "$TMP/reg" --baseline "$TMP/base-reg.json"
show_matrix_output
[ "$RC" -eq 1 ] || fail "a forged regression of $FAILED exited $RC, expected 1"
outcomes "$TMP/reg" | cmp -s - "$TMP/first.outcomes" ||
	fail "the second run measured differently from the first (flaky cell?)"
check_report "$TMP/reg" "$FAILED" regression || fail "the regression's report"

# an improvement: the baseline says failed where the run measures direct
forge "$TMP/base.json" "$TMP/base-imp.json" "$DIRECT" failed
run_matrix 60 "${ARGS[@]}" -o "$TMP/imp" --baseline "$TMP/base-imp.json"
show_matrix_output
[ "$RC" -eq 0 ] || fail "a forged improvement of $DIRECT exited $RC, expected 0"
check_report "$TMP/imp" "$DIRECT" improvement || fail "the improvement's report"
grep -q "improvement" "$TMP/matrix.out" || fail "the terminal output does not mention the improvement"

expect_nothing_left "$TMP/before" "three baseline runs"
note "regression of $FAILED: exit 1; improvement of $DIRECT: exit 0"
