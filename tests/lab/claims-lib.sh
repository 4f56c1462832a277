# Sourced after matrix-lib.sh by claims-explained.sh and by the engine tests that check their
# engine's claims on a matrix they run anyway (one run of those cells, not two).
# shellcheck shell=bash

# explained DIR CELLS [CELLS-FILE]: every claim disagreement of DIR/matrix.json (CELLS cells) is
# explained (ci/expectations.yaml explanations:), and every claim names its document, quote and
# strength. CELLS-FILE gets a line per cell with an unexplained one: "regression" or
# "as-expected" (the cell's verdict in that run), TAB, its id, TAB, its rerun command.
explained() {
python3 - "$1/matrix.json" "$2" ${3:+"$3"} <<'PY'
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == int(sys.argv[2]), "%d cells, expected %s" % (len(cells), sys.argv[2])
bad, unexplained_cells, n = [], [], 0
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
    if any(k["disagrees"] and not k["explanation"] for k in claims):
        # for claims_confirmed: a cell that also did not do what the lab's own expectations
        # say (a regression: a timing flake, or a real bug) can be run again; one that did
        # cannot be excused by a second run
        unexplained_cells.append("%s\t%s\t%s" % (
            "regression" if verdict["regression"] else "as-expected", c["id"], c["rerun"]))
print("# %d claim disagreement(s) in %d cell(s), %d unexplained" % (n, len(cells), len(bad)))
if len(sys.argv) > 3:
    with open(sys.argv[3], "w") as f:
        f.write("".join(x + "\n" for x in unexplained_cells))
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
	cp "$TMP/matrix.out" "$TMP/engine-$1.out"
	claims_confirmed "$2" "$n" || fail "engine $1: a disagreement with the documents is not explained"
	# the terminal says so too (unless a flake was confirmed: its first run's terminal did)
	if [ ! -s "$TMP/unexplained.list" ] && grep -q "NOT EXPLAINED" "$TMP/engine-$1.out"; then
		fail "engine $1: the terminal shows NOT EXPLAINED"
	fi
}

# The engines whose claims their own test checks, on cells it runs for its other checks too
# (claims-explained.sh leaves them out): ENGINE=TEST.
# shellcheck disable=SC2034 # read by claims-explained.sh
CLAIMS_CHECKED_ELSEWHERE=(libp2p=engines-libp2p)

# claims_confirmed DIR CELLS: explained DIR CELLS; or, when every cell with an unexplained
# disagreement was also a regression in that run (it did not do what the lab's own expectations
# say: a run starved past its deadline on a slow machine, or a real bug), each such cell runs
# again by its printed rerun command, 3 times: it must then do what the lab expects every time
# (exit 0) with every disagreement explained, or this fails. A cell that did what the lab
# expects and still disagrees unexplained is never run again: that is a missing explanation.
# 1 when not confirmed (the output shown). The matrix's own regression check (ci/test's last
# step, run-matrix) is where a cell that regresses every time fails.
claims_confirmed() {
	local dir=$1 n=$2 list="$TMP/unexplained.list" verdict id rerun i=0
	explained "$dir" "$n" "$list" && return 0
	show_matrix_output
	[ -s "$list" ] || return 1
	grep -qv '^regression' "$list" && return 1
	while IFS=$'\t' read -r verdict id rerun; do
		i=$((i + 1))
		eval "set -- ${rerun#sudo build/punchlab matrix }"
		run_matrix 120 "$@" --repeat 3 -o "$TMP/confirm-$i"
		if [ "$RC" -ne 0 ] || ! explained "$TMP/confirm-$i" 1; then
			show_matrix_output
			echo "unexplained again: $id (rerun: $rerun)" >&2
			return 1
		fi
		note "FLAKE: $id was a regression with an unexplained claim disagreement in the first run (its output above); run again 3 times it did what the lab expects, every disagreement explained"
	done <"$list"
	return 0
}
