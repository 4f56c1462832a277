#!/usr/bin/env bash
# matrix-cells.sh PUNCHLAB: single cells that once went wrong, each run at least 3 times
# (--repeat; these probabilistic cells run as often as their rate test needs), must connect
# directly every time, and the run must exit 0. Then cell ids (issue 9): a profile given as a
# path, its label, its rerun command (with a topology file, an engine binary, an expectations
# file and a stagger), a cell named twice, cells that cannot exist.
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

# --- cell ids (issue 9): what a new user found --------------------------------------------------
# A profile given as a path is named in the id by its path, percent-encoded (docs/matrix-json.md,
# "Cell ids"), labelled in the grid by its header's name, and the printed rerun command, which
# repeats every option that shaped the cell, runs that cell again; a cell named twice runs once;
# cells that cannot exist and lists that would be ignored are refused (exit 2, with a word).
DIR="$TMP/my dir~x"
mkdir -p "$DIR/bin" || fail "mkdir $DIR"
sed 's/^# name: port-restricted-cone$/# name: homebox/' "$SRCDIR/nat-profiles/port-restricted-cone.nft" \
	>"$DIR/home box.nft" || fail "copy a profile"
grep -q '^# name: homebox$' "$DIR/home box.nft" || fail "the profile copy did not get its name"
cp "$PUNCH" "$DIR/bin/punch" || fail "copy the engine"
cp "$SRCDIR/ci/expectations.yaml" "$DIR/exp.yaml" || fail "copy the expectations"
cp "$SRCDIR/topologies/two-nats.yaml" "$DIR/my topo.yaml" || fail "copy a topology"
# the encoding, written independently of punchlab's: bytes but A-Z a-z 0-9 - . _ as %XX
ENC=$(python3 -c 'import sys, string; ok = (string.ascii_letters + string.digits + "-._").encode()
print("".join(chr(b) if b in ok else "%%%02X" % b for b in sys.argv[1].encode()))' "$DIR/home box.nft")
ID="two-nats/udp/udp/$ENC~$ENC"

run_matrix 60 --profiles "$DIR/home box.nft" --proto udp --techniques plain --stagger 35 \
	--engine-binary "$DIR/bin/punch" --expectations "$DIR/exp.yaml" -t "$DIR/my topo.yaml" \
	-o "$TMP/path"
show_matrix_output
[ "$RC" -eq 0 ] || fail "a matrix of a profile given as a path exited $RC, expected 0"
grep -q '^  homebox  *D' "$TMP/matrix.out" || fail "the grid's row is not labelled homebox"
grep -q '^  *HOM$' "$TMP/matrix.out" || fail "the grid's column is not labelled HOM"
RERUN=$(python3 - "$TMP/path/matrix.json" "$ID" "$DIR" <<'PY'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
want, dir = sys.argv[2], sys.argv[3]
assert [c["id"] for c in d["cells"]] == [want], "ids %s, expected [%s]" % ([c["id"] for c in d["cells"]], want)
c = d["cells"][0]
assert c["profile_a"] == c["profile_b"] == dir + "/home box.nft", (c["profile_a"], c["profile_b"])
assert c["profile_a_name"] == "homebox", c["profile_a_name"]
words = shlex.split(c["rerun"])
assert words[:2] == ["sudo", "build/punchlab"], words
for opt, val in (("--cell", want), ("--engine-binary", dir + "/bin/punch"), ("--stagger", "35"),
                 ("--expectations", dir + "/exp.yaml"), ("--topology", dir + "/my topo.yaml")):
    assert opt in words and words[words.index(opt) + 1] == val, "rerun %r lacks %s %s" % (c["rerun"], opt, val)
print(c["rerun"])
PY
) || fail "the cell of a profile given as a path"
note "rerun: $RERUN"

# the printed command as a user pastes it (root already; our binary), the same cell named twice
eval "set -- ${RERUN#sudo build/punchlab matrix }"
run_matrix 60 "$@" --cell "$ID" -o "$TMP/rerun"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the printed rerun command exited $RC, expected 0"
grep -q 'running it once' "$TMP/matrix.err" || fail "a cell named twice: no word said"
python3 - "$TMP/rerun/matrix.json" "$ID" <<'PY' || fail "the rerun is not the same single cell"
import json, sys
d = json.load(open(sys.argv[1]))
assert [c["id"] for c in d["cells"]] == [sys.argv[2]], [c["id"] for c in d["cells"]]
assert d["meta"]["stagger_ms"] == 35, d["meta"]["stagger_ms"]
PY
# the same command again into the same report directory (a user rerunning a bug's cell): the
# earlier run's logs are gone from the cell's directory, not in the way (punch's rendezvous
# refuses to overwrite its secret file: every cell once ended error here)
run1=$(find "$TMP/rerun/cells" -mindepth 2 -maxdepth 2 -name run-1 | head -n 1)
[ -n "$run1" ] || fail "no run-1 directory in $TMP/rerun/cells"
touch "$run1/stale-from-an-earlier-run" || fail "cannot write into $run1"
run_matrix 60 "$@" --cell "$ID" -o "$TMP/rerun"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the rerun into the same report directory exited $RC, expected 0"
[ -z "$(find "$TMP/rerun/cells" -name stale-from-an-earlier-run)" ] ||
	fail "an earlier run's file is still in the cell's log directory"

# profiles given by long paths: ids longer than a log directory's name; each cell keeps a
# directory of its own (a head of the id and a hash of all of it), every run's logs in it
LONG="$TMP/$(printf 'l%.0s' $(seq 1 120))"
mkdir -p "$LONG" || fail "mkdir $LONG"
cp "$SRCDIR/nat-profiles/full-cone.nft" "$LONG/a.nft" || fail "copy a profile"
cp "$SRCDIR/nat-profiles/full-cone.nft" "$LONG/b.nft" || fail "copy a profile"
run_matrix 60 --profiles "$LONG/a.nft,$LONG/b.nft" --proto udp --techniques plain -o "$TMP/long"
show_matrix_output
[ "$RC" -eq 0 ] || fail "a matrix of profiles with long paths exited $RC, expected 0"
python3 - "$TMP/long" <<'PY' || fail "cells of long ids share or lack their log directories"
import json, os, sys
d = json.load(open(os.path.join(sys.argv[1], "matrix.json")))
dirs = [r["log_dir"] for c in d["cells"] for r in c["runs"]]
assert len(d["cells"]) == 4 and max(len(c["id"]) for c in d["cells"]) > 200, [c["id"] for c in d["cells"]]
assert len(set(dirs)) == len(dirs) == 4, dirs
for x in dirs:
    assert os.path.isfile(os.path.join(sys.argv[1], x, "peer-a.out")), x
PY

# refused, each with a word on stderr and nothing run
bad() {
	local what=$1 want=$2
	shift 2
	run_matrix 30 "$@" -o "$TMP/bad"
	[ "$RC" -eq 2 ] || { show_matrix_output; fail "$what: exit $RC, expected 2"; }
	grep -q -- "$want" "$TMP/matrix.err" || { show_matrix_output; fail "$what: stderr does not say \"$want\""; }
	[ ! -e "$TMP/bad" ] || fail "$what: something ran (the report directory exists)"
	note "$what: $(head -1 "$TMP/matrix.err")"
}
bad "B on a topology without a NAT for B" "cannot exist" --cell same-nat/udp/udp/full-cone~full-cone
bad "no B on a topology with a NAT for B" "cannot exist" --cell two-nats/udp/udp/full-cone~-
bad "--profiles next to --cell" "exclude each other" --cell "$ID" --profiles full-cone
bad "--proto next to --cell" "exclude each other" --proto tcp --cell "$ID"
bad "an empty --profiles" "empty list of profiles" --profiles ''
bad "a path written raw into an id" "%2F" --cell "two-nats/tcp/tcp/$DIR/home box.nft~full-cone"
expect_nothing_left "$TMP/before" "the cell id cases"
