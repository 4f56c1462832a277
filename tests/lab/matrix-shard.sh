#!/usr/bin/env bash
# matrix-shard.sh PUNCHLAB: --shard 1/2 and --shard 2/2 of the small matrix (the cells of
# tests/data/matrix-small.expected) run into two directories, and `punchlab merge` joins them:
# the shards are disjoint, each is marked as its slice, and the merged matrix.json holds every
# cell exactly once, equal to the union (same cell objects, outcomes and logs), and is whole;
# its grids (terminal and HTML) keep rows and columns in one profile order;
# a merge of one shard alone is marked incomplete and exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

EXPECTED=$SRCDIR/tests/data/matrix-small.expected
ARGS=(--profiles "full-cone,port-restricted-cone,symmetric" --proto "udp,tcp" --techniques plain)

snapshot >"$TMP/before"
for k in 1 2; do
	run_matrix 60 "${ARGS[@]}" --shard "$k/2" -o "$TMP/s$k"
	show_matrix_output
	[ "$RC" -eq 0 ] || fail "--shard $k/2 exited $RC, expected 0"
done
expect_nothing_left "$TMP/before" "two shards"

# merge needs no privileges and no lab; bounded all the same
timeout 30 "$PUNCHLAB" merge "$TMP/s1" "$TMP/s2" --out "$TMP/merged" --no-color \
	>"$TMP/merge.out" 2>&1
RC=$?
sed 's/^/#   /' "$TMP/merge.out"
[ "$RC" -eq 0 ] || fail "punchlab merge exited $RC, expected 0"

python3 - "$TMP/s1" "$TMP/s2" "$TMP/merged" "$EXPECTED" <<'PY' || fail "the merged matrix"
import json, os, sys
s1, s2, merged, expected = sys.argv[1:]
load = lambda d: json.load(open(os.path.join(d, "matrix.json")))
a, b, m = load(s1), load(s2), load(merged)
want = sorted(l.split()[0] for l in open(expected) if l.strip())
ids = lambda d: [c["id"] for c in d["cells"]]

assert a["meta"]["shard"] == "1/2" and b["meta"]["shard"] == "2/2", (a["meta"]["shard"], b["meta"]["shard"])
assert ids(a) and ids(b), "an empty shard: %d + %d cells" % (len(ids(a)), len(ids(b)))
both = set(ids(a)) & set(ids(b))
assert not both, "cells in both shards: %s" % sorted(both)
assert sorted(ids(a) + ids(b)) == want, "the shards together are not the small matrix"

mi = ids(m)
assert len(mi) == len(set(mi)), "a cell twice in the merge: %s" % sorted(i for i in mi if mi.count(i) > 1)
assert sorted(mi) == want, "merged cells %s, expected %s" % (sorted(mi), want)
assert m["meta"]["incomplete"] is False and m["meta"]["shard"] == "", m["meta"]
assert m["summary"]["cells"] == len(want), m["summary"]

# every merged cell equals its shard's cell (verdicts are recomputed: equal here, no baseline)
src = {c["id"]: c for c in a["cells"] + b["cells"]}
for c in m["cells"]:
    s = src[c["id"]]
    for key in ("outcome", "profile_a", "profile_b", "proto", "technique", "success_rate",
                "refs", "verdict", "runs"):
        assert c[key] == s[key], "%s: %s differs after the merge: %r vs %r" % (c["id"], key, c[key], s[key])
    assert os.path.isfile(os.path.join(merged, c["log_dir"], "peer-a.out")), \
        "%s: the merge did not copy its logs (%s)" % (c["id"], c["log_dir"])
print("# %d + %d cells merged into %d" % (len(ids(a)), len(ids(b)), len(mi)))
PY

# the merged grids put rows (A) and columns (B) in one order, so the diagonal is "the same
# profile both sides": merge once ordered the columns by B's first appearance in the joined
# shards, in the terminal grid and in the HTML alike
python3 - "$TMP/merged" <<'PY' || fail "the merged grids' rows and columns differ in order"
import os, re, sys
merged = sys.argv[1]
text = open(os.path.join(merged, "matrix.txt")).read()
legend = re.search(r"^Profiles: (.*)$", text, re.M).group(1)
label = dict(item.split(" ", 1) for item in legend.split(", "))
grids = re.findall(r"^\S+/(?:udp|tcp)/\S+ .*\n( +\S.*)\n((?:  \S.*\n)+)", text, re.M)
assert grids, "no grid in matrix.txt"
for header, body in grids:
    cols = [label[a] for a in header.split()]
    rows = [line.split()[0] for line in body.splitlines()]
    assert cols == rows, "matrix.txt: columns %s, rows %s" % (cols, rows)
html = open(os.path.join(merged, "index.html")).read()
svgs = re.findall(r'<svg class="heat".*?</svg>', html, re.S)
assert svgs, "no heatmap in index.html"
for svg in svgs:
    cols = re.findall(r'<text class="lbl" transform="[^"]*">([^<]*)</text>', svg)
    rows = re.findall(r'<text class="lbl" x="[^"]*" y="[^"]*" text-anchor="end">([^<]*)</text>', svg)
    assert cols == rows, "index.html: columns %s, rows %s" % (cols, rows)
print("# %d grids and %d heatmaps: rows and columns in one order" % (len(grids), len(svgs)))
PY

# the merged outcomes are the small matrix's expectation
outcomes "$TMP/merged" >"$TMP/merged.outcomes"
diff -u "$EXPECTED" "$TMP/merged.outcomes" >&2 ||
	fail "the merged outcomes differ from $EXPECTED (- expected, + measured)"

# a merge that lacks a shard is marked incomplete and is no pass: a CI job whose shard never
# uploaded (or a job matrix listing fewer shards than N) must not go green on what did run
timeout 30 "$PUNCHLAB" merge "$TMP/s1" --out "$TMP/half" --no-color >"$TMP/half.out" 2>&1
RC=$?
sed 's/^/#   /' "$TMP/half.out"
python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["meta"]["incomplete"] is True else 1)' \
	"$TMP/half/matrix.json" || fail "a merge of shard 1/2 alone is not marked incomplete"
[ "$RC" -eq 2 ] || fail "a merge of shard 1/2 alone exited $RC, expected 2 (incomplete)"
