# Sourced after matrix-lib.sh by claims-explained.sh and by the engine tests that check their
# engine's claims on a matrix they run anyway (one run of those cells, not two).
# shellcheck shell=bash

# explained DIR CELLS: every claim disagreement of DIR/matrix.json (CELLS cells) is explained
# (ci/expectations.yaml explanations:), and every claim names its document, quote and strength
explained() {
python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == int(sys.argv[2]), "%d cells, expected %s" % (len(cells), sys.argv[2])
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
print("# %d claim disagreement(s) in %d cell(s), %d unexplained" % (n, len(cells), len(bad)))
for b in bad:
    print("# unexplained: " + b)
    # also on stderr: a CI log that keeps only the tail of a failed test's output (after the
    # long matrix output) must still name the cell
    print("unexplained: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# engine_claims_explained ENGINE DIR: the last run_matrix (its output in $TMP/matrix.out) was
# ENGINE's matrix into DIR: every disagreement explained, also on the terminal
engine_claims_explained() {
	local n
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cells"]))' "$2/matrix.json")
	explained "$2" "$n" || { show_matrix_output; fail "engine $1: a disagreement with the documents is not explained"; }
	if grep -q "NOT EXPLAINED" "$TMP/matrix.out"; then
		fail "engine $1: the terminal shows NOT EXPLAINED"
	fi
}

# The engines whose claims their own test checks, on cells it runs for its other checks too
# (claims-explained.sh leaves them out): ENGINE=TEST.
# shellcheck disable=SC2034 # read by claims-explained.sh
CLAIMS_CHECKED_ELSEWHERE=(libp2p=engines-libp2p)
