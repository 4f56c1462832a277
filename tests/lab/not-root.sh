#!/bin/bash
# not-root.sh PUNCHLAB: the contract without root (docs/rootless.md). Where the kernel refuses
# an ordinary user a user namespace (simulated with the test seam PUNCHLAB_TEST_NO_USERNS=1: a
# test must not change the machine's sysctls), every verb that builds or touches labs exits 2
# with one sentence that says what to enable, or to use root/sudo. Without XDG_RUNTIME_DIR, the
# verbs that keep or find kept labs exit 2 with one sentence naming it. Where the kernel allows
# user namespaces, they work rootless (lab list, lab check). As root this runs punchlab as
# nobody (setpriv); as a user it runs it directly, so it never skips.
. "$(dirname "$0")/lib.sh"

RT=$TMP/runtime
mkdir -p "$RT"
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to drop root"
	# nobody must be able to run the binary: copy it out of a possibly private build tree,
	# with the data it reads
	chmod 755 "$TMP"
	cp "$PUNCHLAB" "$TMP/punchlab"
	mkdir -p "$TMP/data"
	cp -r "$SRCDIR/topologies" "$SRCDIR/nat-profiles" "$TMP/data/"
	chmod -R a+rX "$TMP/punchlab" "$TMP/data"
	chown 65534:65534 "$RT"
	as_user() {
		PUNCHLAB_DATA_DIR=$TMP/data setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all "$TMP/punchlab" "$@"
	}
else
	as_user() {
		"$PUNCHLAB" "$@"
	}
fi
chmod 700 "$RT"

# one_sentence WHAT REGEX: exit 2, one line on stderr matching REGEX, nothing on stdout
one_sentence() {
	[ "$rc" -eq 2 ] || fail "punchlab $1 as a user exited $rc, expected 2"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "punchlab $1 as a user: expected one line on stderr: $(cat "$TMP/err")"
	grep -qiE "$2" "$TMP/err" || fail "punchlab $1 as a user: the error does not match /$2/"
	[ -s "$TMP/out" ] && fail "punchlab $1 as a user printed on stdout"
	return 0
}

run_as_user() { # ENV-ASSIGNMENTS... -- ARGS
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	# shellcheck disable=SC2086
	timeout 10 env "${envs[@]}" bash -c "$(declare -f as_user); TMP=$TMP; as_user $*" \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
}

verbs=("lab check" "lab up" "lab up --keep" "lab list" "lab down x" "clean"
	"exec x host-a -- true" "matrix" "run" "replay x.tar.gz --trust")
for args in "${verbs[@]}"; do
	run_as_user PUNCHLAB_TEST_NO_USERNS=1 XDG_RUNTIME_DIR="$RT" -- "$args"
	note "punchlab $args, no user namespaces: exit $rc: $(cat "$TMP/err")"
	one_sentence "$args (no user namespaces)" 'user namespace.*(root|sudo)'
done
for args in "lab up --keep" "lab list" "lab down x" "clean" "exec x host-a -- true"; do
	run_as_user -u XDG_RUNTIME_DIR -- "$args"
	note "punchlab $args, no XDG_RUNTIME_DIR: exit $rc: $(cat "$TMP/err")"
	one_sentence "$args (no XDG_RUNTIME_DIR)" 'XDG_RUNTIME_DIR'
done

# the kernel's own answer decides what a plain run must do
if [ "$(id -u)" -eq 0 ]; then
	setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urn true 2>/dev/null
else
	unshare -Urn true 2>/dev/null
fi
userns=$?
run_as_user XDG_RUNTIME_DIR="$RT" -- "lab list"
if [ "$userns" -eq 0 ]; then
	[ "$rc" -eq 0 ] || fail "rootless lab list exited $rc: $(cat "$TMP/err")"
	run_as_user XDG_RUNTIME_DIR="$RT" -- "lab check"
	[ "$rc" -eq 0 ] || fail "rootless lab check exited $rc: $(cat "$TMP/err") $(tail -5 "$TMP/out")"
	grep -q 'as the topology expects, 0 unexpected' "$TMP/out" ||
		fail "rootless lab check: $(tail -3 "$TMP/out")"
else
	note "this kernel refuses user namespaces to users: punchlab must say so"
	one_sentence "lab list (kernel without user namespaces)" 'user namespace.*(root|sudo)'
fi
# --help needs no privileges
timeout 10 bash -c "$(declare -f as_user); TMP=$TMP; as_user lab --help" \
	>"$TMP/out" 2>&1 || fail "punchlab lab --help as a user failed"
grep -q '^usage: punchlab lab up' "$TMP/out" || fail "punchlab lab --help as a user: no usage"
exit 0
