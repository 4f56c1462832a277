#!/usr/bin/env bash
# matrix-small.sh PUNCHLAB: a small matrix (full-cone, port-restricted-cone, symmetric; udp and
# tcp; technique plain: 18 cells) whose per-cell outcomes equal the checked-in expectation
# tests/data/matrix-small.expected, exit 0, a JUnit file of 18 testcases, a matrix.json with the
# documented schema basics (docs/matrix-json.md), every cell's logs, and nothing left behind.
#
# Regenerate the expectation from a real run (then read the diff: every line is a claim about
# the engine; none of these cells is timing-dependent in ci/expectations.yaml):
#   sudo PUNCHLAB_REGENERATE=1 meson test -C build matrix-small
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

EXPECTED=$SRCDIR/tests/data/matrix-small.expected
PROFILES=full-cone,port-restricted-cone,symmetric

snapshot >"$TMP/before"
run_matrix 90 --profiles "$PROFILES" --proto udp,tcp --techniques plain -o "$TMP/out"
show_matrix_output
[ "$RC" -eq 0 ] || fail "punchlab matrix exited $RC, expected 0 (no regression, no error cell)"
expect_nothing_left "$TMP/before" "the small matrix"

outcomes "$TMP/out" >"$TMP/measured"
if [ "${PUNCHLAB_REGENERATE:-}" = 1 ]; then
	cp "$TMP/measured" "$EXPECTED"
	note "regenerated $EXPECTED"
fi
[ -f "$EXPECTED" ] || fail "no $EXPECTED (generate it: PUNCHLAB_REGENERATE=1)"
if ! diff -u "$EXPECTED" "$TMP/measured" >"$TMP/diff"; then
	cat "$TMP/diff" >&2
	fail "outcomes differ from $EXPECTED (- expected, + measured)"
fi

# JUnit: one testcase per cell, named by its id, no failure
python3 - "$TMP/out/junit.xml" "$EXPECTED" <<'PY' || fail "junit.xml"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
ids = sorted(line.split()[0] for line in open(sys.argv[2]) if line.strip())
names = sorted(c.get("name") for c in cases)
assert len(cases) == 18, "%d testcases, expected 18" % len(cases)
assert names == ids, "testcase names %s differ from the cell ids %s" % (names, ids)
assert not root.findall(".//failure"), "a <failure> in a run without regressions"
assert not root.findall(".//error"), "an <error> in a run without error cells"
PY

# matrix.json: schema basics, and every cell's logs
python3 - "$TMP/out" "$PROFILES" <<'PY' || fail "matrix.json"
import json, os, re, sys
out, profiles = sys.argv[1], sys.argv[2].split(",")
d = json.load(open(os.path.join(out, "matrix.json")))
assert d["schema_version"] == 2, "schema_version %r" % d["schema_version"]
m = d["meta"]
for key, typ in [("started", str), ("wall_ms", (int, float)), ("incomplete", bool),
                 ("kernel", str), ("nft_version", str), ("engine", str),
                 ("engine_version", str), ("harness_version", str), ("host", str),
                 ("jobs", int), ("repeat", int), ("stagger_ms", int), ("shard", str),
                 ("baseline", str), ("profiles", list)]:
    assert isinstance(m.get(key), typ), "meta.%s is %r" % (key, m.get(key))
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["started"]), m["started"]
assert m["incomplete"] is False and m["repeat"] == 1 and m["shard"] == "" and m["engine"] == "punch"
assert sorted(p["name"] for p in m["profiles"]) == sorted(profiles), m["profiles"]
assert all(re.fullmatch(r"[0-9a-f]{64}", p["sha256"]) for p in m["profiles"]), m["profiles"]
assert d["summary"]["cells"] == 18 and d["summary"]["exit_code"] == 0, d["summary"]
cells = d["cells"]
assert len(cells) == 18 and len({c["id"] for c in cells}) == 18, "18 distinct cells expected"
outcomes = {"direct", "relayed", "failed", "disputed", "error", "skipped"}
for c in cells:
    i = c["id"]
    assert c["outcome"] in outcomes, "%s: outcome %r" % (i, c["outcome"])
    assert i == "%s/%s/%s/%s~%s" % (c["topology"], c["proto"], c["technique"], c["profile_a"],
                                   c["profile_b"]), "%s: id does not match its coordinates" % i
    r = c["refs"]
    assert {"claim", "theory", "baseline", "expected"} <= r.keys(), "%s: refs %s" % (i, list(r))
    assert r["theory"]["outcome"] in outcomes and r["theory"]["why"], i
    assert r["baseline"] is None, "%s: a baseline reference without --baseline" % i
    assert r["expected"]["allowed"] and set(r["expected"]["allowed"]) <= outcomes, i
    assert r["claim"] is None or r["claim"]["quote"], i
    assert set(c["verdict"]) >= {"regression", "improvement", "flaky", "disagrees_claim",
                                 "disagrees_theory", "error", "disputed", "rate_tested"}, i
    assert len(c["runs"]) == 1 and c["runs"][0]["outcome"] == c["outcome"], i
    # every run judged by the lab too: the engine's word and the evidence
    run = c["runs"][0]
    assert run["engine_said"] == run["outcome"], i
    assert run["attestation"]["verdict"] == ("direct" if c["outcome"] == "direct" else
                                             run["attestation"]["verdict"]), i
    assert r["expected"]["class"] == "determined", i
    assert c["rerun"].endswith("--cell " + i), "%s: rerun %r" % (i, c["rerun"])
    if c["outcome"] == "direct":
        assert c["time_to_connect_ms"] is not None and c["time_to_connect_ms"] >= 0, i
    logs = os.path.join(out, c["log_dir"])
    assert not os.path.isabs(c["log_dir"]) and os.path.isdir(logs), "%s: no %s" % (i, logs)
    for f in ("peer-a.out", "peer-b.out", "rendezvous.out"):
        assert os.path.isfile(os.path.join(logs, f)), "%s: no %s/%s" % (i, c["log_dir"], f)
    assert os.path.getsize(os.path.join(logs, "peer-a.out")) > 0, "%s: empty peer-a.out" % i
PY

for f in index.html matrix.md matrix.txt; do
	[ -s "$TMP/out/$f" ] || fail "no $f in the report directory"
done
note "18 cells as expected"
