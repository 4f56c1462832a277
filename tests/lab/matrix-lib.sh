# Shared by the matrix lab tests (tests/lab/matrix-*.sh), sourced after lib.sh: the engine's
# processes join the leftover snapshot, and a bounded way to run `punchlab matrix`.
# shellcheck shell=bash

# The engine the matrix runs (matrix_find_engine: next to punchlab, or under src/punch/).
PUNCH=$(dirname "$PUNCHLAB")/src/punch/punch
[ -x "$PUNCH" ] || PUNCH=$(dirname "$PUNCHLAB")/punch
[ -x "$PUNCH" ] || fail "the punch engine is not built next to $PUNCHLAB (ninja builds it)"

# lib.sh's snapshot, plus the engine's processes: a cell's programs must die with its lab.
eval "$(declare -f snapshot | sed '1s/^snapshot/_lib_snapshot/')"
snapshot() {
	{
		_lib_snapshot
		procs_of "$PUNCH" | sed 's/^/engine process /'
	} | sort
}

# run_matrix SECONDS ARGS...: `punchlab matrix ARGS...`, bounded; sets RC, output in
# $TMP/matrix.out and $TMP/matrix.err (shown when the test fails, by meson's --print-errorlogs).
run_matrix() {
	# PUNCHLAB_TEST_SLOWDOWN: ci/test --sanitize's factor (ASan+UBSan builds run slower)
	local secs=$(($1 * ${PUNCHLAB_TEST_SLOWDOWN:-1}))
	shift
	timeout -k 5 "$secs" "$PUNCHLAB" matrix --no-color "$@" >"$TMP/matrix.out" 2>"$TMP/matrix.err"
	RC=$?
	[ "$RC" -eq 124 ] && { cat "$TMP/matrix.err" >&2; fail "punchlab matrix $* ran over $secs s"; }
	return 0
}

# show_matrix_output: the last run's terminal output, for the log.
show_matrix_output() {
	sed 's/^/#   /' "$TMP/matrix.out" "$TMP/matrix.err"
}

# outcomes DIR: "CELL-ID OUTCOME" for every cell of DIR/matrix.json, sorted.
outcomes() {
	python3 - "$1/matrix.json" <<'PY'
import json, sys
for c in sorted(json.load(open(sys.argv[1]))["cells"], key=lambda c: c["id"]):
    print(c["id"], c["outcome"])
PY
}

# engine_snapshot PROGRAM...: for the engine tests, what a run could leave behind: lib.sh's
# snapshot and the processes of each PROGRAM (a path). A matrix run keeps no lab: its namespaces
# are anonymous and never under /run/netns, so kept labs there (and their records) belong to
# other users of this machine, who may add and remove theirs meanwhile; they are left out.
engine_snapshot() {
	{
		snapshot
		for prog in "$@"; do
			procs_of "$prog" | sed "s|^|$(basename "$prog") |"
		done
	} | grep -Ev '^(netns|record) ' | sort
}

# none_added WHAT SNAPSHOT-COMMAND...: compared with $TMP/before (the same command's output before
# WHAT), a new snapshot has nothing more. Only what was added is left behind: an entry that went
# away meanwhile is another user's process that ended (fresh-machine's suite once failed
# engines.sh on two nc processes of a second suite running on the same machine: they were in
# the snapshot before and gone after). Bounded retry, since orphans are reaped slowly here.
none_added() {
	local what=$1 i added
	shift
	for ((i = 0; i < 30; i++)); do
		"$@" >"$TMP/after"
		added=$(comm -13 "$TMP/before" "$TMP/after")
		[ -z "$added" ] && return 0
		sleep 0.1
	done
	printf 'left behind after %s:\n%s\n' "$what" "$added" >&2
	fail "$what left something behind"
}

# nothing_left WHAT: compared with $TMP/before (engine_snapshot "$PUNCH"), no process of
# punchlab or the engine outlives WHAT (kept labs are left out: other users of this machine add
# theirs meanwhile; a matrix keeps none)
nothing_left() {
	none_added "$1" engine_snapshot "$PUNCH"
}
