#!/bin/bash
# rootless-bootstrap.sh PUNCHLAB: ci/bootstrap.sh (what ./run-matrix and ci/test source) run by
# an ordinary user cannot apt-get: when a package is missing it names it, with why, and gives
# the one apt-get line to run as root, exit 2, before building anything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless-lib.sh"

cp "$SRCDIR/ci/bootstrap.sh" "$RL_TREE/data/ci/"
printf 'packages: [punchlab-no-such-package]\n' >"$RL_TREE/fake.yaml"
chmod -R a+rX "$RL_TREE"
as_user env PUNCHLAB_ENGINES="$RL_TREE/fake.yaml" HOME="$RL_WORK" \
	bash -c ". '$RL_TREE/data/ci/bootstrap.sh'" >"$TMP/out" 2>"$TMP/err"
rc=$?
note "$(cat "$TMP/err")"
[ "$rc" -eq 2 ] || fail "bootstrap as a user with a missing package exited $rc, expected 2"
grep -q '^punchlab: missing punchlab-no-such-package: needed by the engine fake' "$TMP/err" ||
	fail "bootstrap did not say which package is missing and why"
[ "$(grep -c 'apt-get install' "$TMP/err")" -eq 1 ] || fail "expected one apt-get line"
grep -q 'as root run: apt-get install --no-install-recommends punchlab-no-such-package$' "$TMP/err" ||
	fail "the apt-get line does not name the package"
[ -e "$RL_WORK/.cache" ] && fail "bootstrap configured a build although packages are missing"
exit 0
