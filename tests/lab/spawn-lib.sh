# spawn-lib.sh: independent steps of one lab test run at once (sourced after lib.sh, and after
# punch-lib.sh when the steps keep labs). A test whose steps each build a lab of their own and
# mostly wait (a probe's 2 s for a packet that must not come, a matrix's deadlines) spends the
# sum of those waits one after another; at once it spends the longest. Each step runs in a
# background subshell with its own teardown list (lib.sh's defer), so a step that fails downs
# its own kept labs and stops its own programs; its output goes to $TMP/NAME.log, shown when the
# step is joined. The kept labs a step makes are listed in $TMP/spawned.labs, so that the test's
# teardown downs them too and expect_nothing_left counts them as the test's own.
# shellcheck shell=bash

declare -A SPAWN_PID
: >"$TMP/spawned.labs"
# shellcheck disable=SC2016 # expanded at teardown
defer 'for l in $(cat "$TMP/spawned.labs" 2>/dev/null); do down_if_kept "$l"; done'

# kept_lab (punch-lib.sh) also records the lab in $TMP/spawned.labs
if declare -f kept_lab >/dev/null; then
	eval "$(declare -f kept_lab | sed '1s/^kept_lab/_spawn_kept_lab/')"
	kept_lab() {
		_spawn_kept_lab "$@"
		echo "$LAB" >>"$TMP/spawned.labs"
	}
fi

# spawn NAME COMMAND...: COMMAND (usually a function of the test) in a background subshell with
# a teardown list of its own; output in $TMP/NAME.log. The test's teardown stops it (stop_spawned).
spawn() {
	local name=$1
	shift
	(
		# this subshell tears itself down (lib.sh's _run_deferred runs only in _MAINPID), and
		# kill_child (punch-lib.sh) reaps only its own children
		_MAINPID=$BASHPID
		_DEFERRED=()
		trap _run_deferred EXIT
		trap 'exit 143' TERM
		"$@"
	) >"$TMP/$name.log" 2>&1 &
	SPAWN_PID[$name]=$!
	defer "stop_spawned ${SPAWN_PID[$name]}"
}

# stop_spawned PID: a step still running gets SIGTERM, so that its teardown runs (after its
# current command, each bounded); SIGKILL after 30 s.
stop_spawned() {
	local i
	if kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		for ((i = 0; i < 300; i++)); do
			kill -0 "$1" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	return 0
}

# joined NAME: wait for step NAME (its commands are bounded), show its output; it must have
# passed. Its kept labs join OUR_LABS (lib.sh's expect_nothing_left).
joined() {
	local rc
	wait "${SPAWN_PID[$1]}"
	rc=$?
	sed "s/^/[$1] /" "$TMP/$1.log"
	OUR_LABS="$OUR_LABS $(tr '\n' ' ' <"$TMP/spawned.labs")"
	[ "$rc" -eq 0 ] || fail "step $1 failed (exit $rc; its output above)"
}
