# Shared by the rootless lab tests (sourced after lib.sh): an ordinary user made for the test
# (removed at exit), a copy of the build and the data it reads in a directory that user can read
# (CI may build under /root, mode 700: the checkout and its parents are never chmod'ed), and
# `as_user CMD...` running punchlab's copy as that user with its own XDG_RUNTIME_DIR.
# Skips (exit 77, also under CI=true) where the kernel refuses unprivileged user namespaces (the
# fresh-machine chroot): rootless punchlab says so itself there, tests/lab/not-root.sh checks it.
# shellcheck shell=bash

require_root
for tool in useradd userdel setpriv; do
	command -v $tool >/dev/null || fail "$tool is needed to make and become a test user"
done

RL_USER=plrl$$
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RL_USER" ||
	fail "useradd $RL_USER failed"
# last deferred runs first: the user's processes are gone before the user is
defer "userdel '$RL_USER'"
RL_UID=$(id -u "$RL_USER")
RL_GID=$(id -g "$RL_USER")
defer "rl_kill_user_procs"

# SIGKILL what still runs as the test user (teardown; by pid, each one ours by its uid).
rl_kill_user_procs() {
	local p
	for p in $(rl_user_pids); do kill -9 "$p" 2>/dev/null; done
	return 0
}

# Pids of live (state not Z: BRIEF, zombies stay listed for a while) processes of the test user.
rl_user_pids() {
	local p uid state
	for p in /proc/[0-9]*; do
		uid=$(awk '/^Uid:/ { print $2 }' "$p/status" 2>/dev/null)
		[ "$uid" = "$RL_UID" ] || continue
		state=$(awk '/^State:/ { print $2 }' "$p/status" 2>/dev/null)
		[ "$state" = Z ] || echo "${p#/proc/}"
	done
	return 0
}

chmod 755 "$TMP"
RL_TREE=$TMP/tree
RL_RUNTIME=$TMP/runtime
RL_WORK=$TMP/work
mkdir -p "$RL_TREE/bin" "$RL_TREE/data/ci" "$RL_RUNTIME" "$RL_WORK"
# the binary and the helpers it finds beside itself (src/engine/adapter.c, src/lab/forward.c)
BUILD_DIR=$(dirname "$PUNCHLAB")
cp "$PUNCHLAB" "$RL_TREE/bin/punchlab"
for helper in punch/punch impair/punchlab-impair portmapd/punchlab-stunecho ice/ice; do
	[ -x "$BUILD_DIR/src/$helper" ] || continue
	mkdir -p "$RL_TREE/bin/src/$(dirname "$helper")"
	cp "$BUILD_DIR/src/$helper" "$RL_TREE/bin/src/$helper"
done
for d in topologies nat-profiles engines impairments; do
	cp -r "$SRCDIR/$d" "$RL_TREE/data/$d"
done
cp "$SRCDIR/ci/expectations.yaml" "$RL_TREE/data/ci/"
chmod -R a+rX "$RL_TREE"
chown "$RL_UID:$RL_GID" "$RL_RUNTIME" "$RL_WORK"
chmod 700 "$RL_RUNTIME"

# as_user CMD...: CMD as the test user, in $RL_WORK, with punchlab's copy as $RL_PUNCHLAB.
# shellcheck disable=SC2034 # used by the tests that source this
RL_PUNCHLAB=$RL_TREE/bin/punchlab
as_user() {
	(cd "$RL_WORK" && setpriv --reuid="$RL_UID" --regid="$RL_GID" --clear-groups --inh-caps=-all \
		env -i PATH="${RL_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}" HOME="$RL_WORK" XDG_RUNTIME_DIR="$RL_RUNTIME" \
		PUNCHLAB_DATA_DIR="$RL_TREE/data" "$@")
}

if ! as_user unshare --user --map-root-user --net true 2>"$TMP/unshare.err"; then
	echo "SKIP ($TEST): an ordinary user cannot create a user namespace here ($(head -1 "$TMP/unshare.err")): a chroot, or a kernel or sysctl that forbids unprivileged user namespaces"
	exit 77
fi

# rl_expect_clean WHAT: no live process of the test user and no file under its runtime
# directory, within 5 s (a SIGKILLed init's PID namespace is torn down by the kernel).
rl_expect_clean() {
	local what=$1 i left files
	for ((i = 0; i < 50; i++)); do
		left=$(rl_user_pids)
		files=$(find "$RL_RUNTIME" -type f 2>/dev/null)
		[ -z "$left$files" ] && return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086 # pid and path lists, split on purpose
	[ -n "$left" ] && ps -o pid,stat,args -p "$(printf '%s,' $left)0" >&2
	# shellcheck disable=SC2086
	[ -n "$files" ] && printf '  file %s\n' $files >&2
	fail "$what left something behind"
}
