#!/bin/bash
# list-empty.sh PUNCHLAB: `lab list` and `clean` with no lab kept: no output, exit 0.
#   Run in a mount namespace of its own whose /run is an empty tmpfs, so the labs others keep on
#   this machine neither count nor get cleaned (clean.sh must skip then; this cannot). Under
#   ci/test --sanitize it failed on UBSan's report of registry.c's qsort(NULL, 0) (issue 14).
. "$(dirname "$0")/lib.sh"
require_root

# In a chroot (the fresh-machine check) / is no mount point, so its propagation cannot be made
# private, and a tmpfs mounted over /run could then show outside: skip rather than risk it.
if ! mountpoint -q /; then
	echo "SKIP (list-empty): / is no mount point here (a chroot): no private mount namespace to hide other labs in"
	exit 77
fi
out=$(unshare --mount --propagation private bash -c '
	mount -t tmpfs punchlab-list-empty /run || exit 3
	mkdir -p /run/punchlab /run/netns || exit 3
	"$1" lab list || exit 4
	"$1" clean || exit 5
	"$1" lab list || exit 6' list-empty "$PUNCHLAB" 2>&1)
rc=$?
case $rc in
0) ;;
3) fail "could not mount an empty /run in a mount namespace of its own: $out" ;;
4) fail "lab list with nothing kept failed: $out" ;;
5) fail "clean with nothing kept failed: $out" ;;
6) fail "lab list after clean failed: $out" ;;
*) fail "exit $rc: $out" ;;
esac
[ -z "$out" ] || fail "expected no output with nothing kept, got: $out"
echo "lab list and clean with nothing kept: no output, exit 0"
