# Shared by the lab tests (sourced, bash). Modelled on the kernel's selftests/net/lib.sh: a
# teardown list run by `trap ... EXIT` whatever happens, run-unique names, every wait bounded.
#
# A lab test is called as `TEST PUNCHLAB [ARGS...]` (tests/lab/meson.build) and
#   exits 0 (pass), 1 (fail), 77 (skipped: not root), and fails instead of skipping under CI=true.
# Traffic stays inside lab namespaces; the root namespace is only read (ip -o link, /proc).
# shellcheck shell=bash

set -u

PUNCHLAB=${1:?usage: $0 PUNCHLAB [ARGS...]}
PUNCHLAB=$(readlink -f "$PUNCHLAB")
SRCDIR=${PUNCHLAB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TEST=$(basename "$0" .sh)

fail() {
	echo "FAIL ($TEST): $*" >&2
	exit 1
}

note() {
	echo "# $*"
}

require_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "FAIL ($TEST): lab tests need root and CI=true: run them as root (sudo ci/test)" >&2
		exit 1
	fi
	echo "SKIP ($TEST): lab tests need root (real network namespaces)"
	exit 77
}

# --- teardown list ---------------------------------------------------------------------------
# defer CMD...: run CMD at exit, last deferred first. Errors in teardown are ignored (the test
# verdict is already decided), but each step is bounded.
_DEFERRED=()
defer() {
	_DEFERRED+=("$*")
}
_MAINPID=$$
_run_deferred() {
	local rc=$? i
	# a background job forked from this shell inherits the traps until it execs: only the
	# test's own shell tears down
	[ "$BASHPID" = "$_MAINPID" ] || exit "$rc"
	trap - EXIT
	for ((i = ${#_DEFERRED[@]} - 1; i >= 0; i--)); do
		eval "${_DEFERRED[i]}" >/dev/null 2>&1 || true
	done
	exit "$rc"
}
trap _run_deferred EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d "/tmp/punchlab-$TEST.XXXXXX")
defer "rm -rf '$TMP'"

# kill_started PID: SIGKILL a process this test started and reap it (teardown helper).
kill_started() {
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# down_if_kept LAB: remove a kept lab by name if it still exists (teardown helper).
down_if_kept() {
	[ -e "/run/punchlab/$1.lab" ] && timeout 10 "$PUNCHLAB" lab down "$1"
	return 0
}

# --- what a lab may leave behind ---------------------------------------------------------------

# Pids of processes running our punchlab binary (a spawned program's init is a clone of it).
procs_of() {
	local exe p
	exe=$(readlink -f "$1")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] && echo "${p#/proc/}"
	done
	return 0
}

# A snapshot of the root namespace's links, /run/netns, /run/punchlab and punchlab processes
# (this shell's own children excluded: the snapshot is taken between commands).
snapshot() {
	{
		ip -o link show | sed -E 's/^[0-9]+: ([^:@ ]+).*/link \1/'
		ls -1 /run/netns 2>/dev/null | sed 's/^/netns /'
		ls -1 /run/punchlab 2>/dev/null | sed 's/^/record /'
		procs_of "$PUNCHLAB" | sed 's/^/process /'
	} | sort
}

# expect_nothing_left BEFORE-FILE WHAT: a new snapshot has nothing the old one lacked. Other
# users of this machine may add their own namespaces meanwhile, so entries named after none of
# our labs only get a note; root links, records and punchlab processes must match exactly.
# Records of kept labs whose topology is not from this source tree are other worktrees' and only
# get a note too. Bounded wait: the kernel removes namespaces asynchronously.
# OUR_LABS: space-separated lab names this test used.
OUR_LABS=""
expect_nothing_left() {
	local before=$1 what=$2 i added ours lab rec
	for ((i = 0; i < 50; i++)); do
		snapshot >"$TMP/after"
		added=$(comm -13 "$before" "$TMP/after")
		ours=$(printf '%s\n' "$added" | grep -v '^netns ' | grep -v '^record ' || true)
		# a kept lab's record is ours when its topology is from this source tree (other
		# worktrees on this machine keep labs too)
		for rec in $(printf '%s\n' "$added" | sed -n 's/^record //p'); do
			grep -q "^topology $SRCDIR/" "/run/punchlab/$rec" 2>/dev/null &&
				ours+=$'\n'"record $rec"
		done
		for lab in $OUR_LABS; do
			ours+=$'\n'$(printf '%s\n' "$added" | grep "^netns $lab-" || true)
		done
		ours=$(printf '%s\n' "$ours" | sed '/^$/d')
		[ -z "$ours" ] && break
		sleep 0.1
	done
	if [ -n "$ours" ]; then
		echo "left behind after $what:" >&2
		printf '  %s\n' "$ours" >&2
		fail "$what left something behind"
	fi
	if [ -n "$added" ]; then
		note "new entries not ours (another user of this machine?):"
		printf '#   %s\n' "$added"
	fi
	return 0
}

# netns_inodes_of PID: the network namespaces a process holds open (inode numbers), other
# than the one this test runs in.
netns_inodes_of() {
	local own
	own=$(readlink /proc/self/ns/net)
	find "/proc/$1/fd" -maxdepth 1 -lname 'net:*' -printf '%l\n' 2>/dev/null |
		grep -vxF "$own" | sed -E 's/^net:\[([0-9]+)\]$/\1/' | sort -u
}

# netns_refs INODE...: every reference to those namespaces that still exists: a process or
# thread inside, an open fd, a bind mount. Prints them; nothing printed = the namespaces are gone
# (the kernel frees a namespace when its last reference goes).
netns_refs() {
	local want ino
	want=$(printf 'net:[%s]\n' "$@")
	{
		find /proc/[0-9]*/fd /proc/[0-9]*/task/[0-9]*/ns -maxdepth 1 -lname 'net:*' \
			-printf '%p %l\n' 2>/dev/null
		awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "nsfs")
			print "mount " $5 " " $4; break } }' /proc/self/mountinfo
	} | while read -r where target; do
		target=${target##* }
		for ino in $want; do
			[ "$target" = "$ino" ] && echo "$where $target"
		done
	done
	return 0
}

# expect_netns_gone WHAT INODE...: no reference left within 5 s.
expect_netns_gone() {
	local what=$1 i refs
	shift
	[ $# -gt 0 ] || fail "$what: no namespaces to check (test bug)"
	for ((i = 0; i < 50; i++)); do
		refs=$(netns_refs "$@")
		[ -z "$refs" ] && return 0
		sleep 0.1
	done
	echo "namespaces still referenced 5 s after $what:" >&2
	printf '  %s\n' "$refs" | head -20 >&2
	fail "$what left network namespaces behind"
}

# wait_for_line FILE REGEX SECONDS PID: until FILE has a line matching REGEX; fails when PID
# exits first or time runs out.
wait_for_line() {
	local file=$1 re=$2 secs=$3 pid=$4 i
	for ((i = 0; i < secs * 20; i++)); do
		grep -Eq "$re" "$file" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$file" >&2
			fail "process $pid exited before printing /$re/"
		fi
		sleep 0.05
	done
	cat "$file" >&2
	fail "no line /$re/ in $file after $secs s"
}

# wait_exit PID SECONDS: wait for a background child with a bound; sets RC to its status.
wait_exit() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		fail "process $pid still running after $secs s"
	fi
	wait "$pid"
	RC=$?
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# expect_one_error WANT ARGS...: punchlab ARGS is refused as bad input: exit 2 and one line on
# stderr that matches WANT (grep pattern). Its output stays in $TMP/bad.out and $TMP/bad.err.
expect_one_error() {
	local want=$1 rc err
	shift
	"$PUNCHLAB" "$@" >"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	err=$(cat "$TMP/bad.err")
	[ "$rc" -eq 2 ] || fail "$* exited $rc, expected 2 ($err)"
	[ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || fail "$*: expected one line on stderr, got: $err"
	grep -q -- "$want" "$TMP/bad.err" || fail "$*: the error does not say \"$want\": $err"
}
