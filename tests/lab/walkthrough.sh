#!/usr/bin/env bash
# walkthrough.sh PUNCHLAB: docs/walkthrough.md works as written. Its ```sh blocks are taken
# out verbatim and run in order, as one shell session (set -euo pipefail), in an empty
# directory, with punchlab on PATH: so the page cannot rot. The steps it must keep (classify,
# matrix --cell, bundle, replay --trust) are checked to be there, the replay must say the
# outcome was reproduced, and nothing may be left behind (labs, processes, replay's files).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

# nothing_left WHAT: no process of punchlab or the engine outlives WHAT (kept labs are left
# out: other users of this machine add theirs meanwhile; a matrix keeps none); bounded retry,
# since orphans are reaped slowly here
nothing_left() {
	local i
	for ((i = 0; i < 30; i++)); do
		engine_snapshot "$PUNCH" >"$TMP/after"
		cmp -s "$TMP/before" "$TMP/after" && return 0
		sleep 0.1
	done
	diff "$TMP/before" "$TMP/after" >&2
	fail "$1 left something behind"
}

DOC=$SRCDIR/docs/walkthrough.md
awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$DOC" >"$TMP/walkthrough.sh" ||
	fail "cannot read $DOC"
for step in "punchlab classify" "punchlab matrix --cell" "punchlab bundle" "punchlab replay repro.tar.gz --trust"; do
	grep -qF "$step" "$TMP/walkthrough.sh" || fail "$DOC has no sh block running \"$step\""
done
note "$(grep -c '^```sh$' "$DOC") sh blocks, $(wc -l <"$TMP/walkthrough.sh") lines"

mkdir -p "$TMP/bin" "$TMP/home" "$TMP/tmpdir" || fail "mkdir"
ln -s "$PUNCHLAB" "$TMP/bin/punchlab" || fail "link punchlab"
engine_snapshot "$PUNCH" >"$TMP/before"
(cd "$TMP/home" && PATH="$TMP/bin:$PATH" TMPDIR="$TMP/tmpdir" NO_COLOR=1 \
	timeout -k 5 150 bash -euo pipefail "$TMP/walkthrough.sh") >"$TMP/out" 2>&1
rc=$?
sed 's/^/#   /' "$TMP/out"
[ "$rc" -eq 0 ] || fail "the walkthrough's shell blocks exited $rc (output above)"
grep -q "as in the bundle: reproduced" "$TMP/out" || fail "the walkthrough's replay did not reproduce the cell"
left=$(find "$TMP/tmpdir" -mindepth 1 | head -3)
[ -z "$left" ] || fail "the walkthrough left files in \$TMPDIR: $left"
nothing_left "the walkthrough"
echo "walkthrough: every sh block of docs/walkthrough.md ran in order and the bundle replayed"
