# Sourced after matrix-lib.sh by lab tests that run independent matrices at the same time (the
# lab tests run one after another, so a test's wall time is the sum of its waits: two matrices
# whose cells mostly wait on timeouts take the time of the longer one, not of both).
# shellcheck shell=bash

# The test's running background matrices end with it, also when it fails before waiting for
# them: `jobs -pr` names only this shell's own running jobs (no PID reused by someone else).
# Their labs go with them (a matrix's namespaces are anonymous, held by its processes).
defer 'kill -TERM $(jobs -pr) 2>/dev/null'

declare -A _MATRIX_BG=() _MATRIX_RC=()

# run_matrix_bg NAME SECONDS ARGS...: `punchlab matrix ARGS...` in the background, bounded like
# run_matrix; its output goes to $TMP/NAME.out and $TMP/NAME.err.
run_matrix_bg() {
	local name=$1 secs=$(($2 * ${PUNCHLAB_TEST_SLOWDOWN:-1}))
	shift 2
	timeout -k 5 "$secs" "$PUNCHLAB" matrix --no-color "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	_MATRIX_BG[$name]="$! $secs $*"
}

# wait_matrix NAME: waits for run_matrix_bg NAME (bounded by its timeout); then RC, and
# $TMP/matrix.out and $TMP/matrix.err, are that run's, as after run_matrix. Called again for a
# run already waited for, it only sets those again (to check several runs after all ended).
wait_matrix() {
	local name=$1 pid secs args
	read -r pid secs args <<<"${_MATRIX_BG[$name]:?wait_matrix $name: no such background matrix}"
	if [ -z "${_MATRIX_RC[$name]:-}" ]; then
		wait "$pid"
		_MATRIX_RC[$name]=$?
	fi
	RC=${_MATRIX_RC[$name]}
	cp "$TMP/$name.out" "$TMP/matrix.out"
	cp "$TMP/$name.err" "$TMP/matrix.err"
	[ "$RC" -eq 124 ] && { cat "$TMP/matrix.err" >&2; fail "punchlab matrix $args ran over $secs s"; }
	return 0
}
