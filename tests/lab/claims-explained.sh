#!/usr/bin/env bash
# claims-explained.sh PUNCHLAB: a real default run (`punchlab matrix`, the 144 cells of
# two-nats) in which every disagreement with a documents' claim has its explanation
# (ci/expectations.yaml explanations:, keyed by claim and cell pattern) and every claim names its
# document, quote and strength. A new disagreement without an explanation fails this test: add
# one, correct on RFC 4787/5382, or fix the claim's scope (docs/expectations-format.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

snapshot >"$TMP/before"
run_matrix 150 -o "$TMP/out"
[ "$RC" -le 1 ] || { show_matrix_output; fail "punchlab matrix exited $RC (error cells or bad input)"; }
expect_nothing_left "$TMP/before" "the default matrix"

python3 - "$TMP/out/matrix.json" <<'PY' || { show_matrix_output; fail "a disagreement with the documents is not explained"; }
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == 144, "%d cells, expected the default 144" % len(cells)
bad, n = [], 0
for c in cells:
    refs, verdict = c["refs"], c["verdict"]
    claims = refs["claims"]
    assert (refs["claim"] is None) == (not claims), c["id"]
    for k in claims:
        assert k["id"] and k["source"] and k["quote"] and k["strength"], (c["id"], k)
        if k["disagrees"]:
            n += 1
            if not k["explanation"]:
                bad.append("%s: claim %s (%s %s), measured %s" % (c["id"], k["id"], k["outcome"],
                                                                  k["strength"], c["outcome"]))
    assert verdict["disagrees_claim"] == any(k["disagrees"] for k in claims), c["id"]
print("# %d claim disagreement(s) in the default run, %d unexplained" % (n, len(bad)))
for b in bad:
    print("# unexplained: " + b)
sys.exit(1 if bad else 0)
PY
note "every claim disagreement of the default run is explained"
