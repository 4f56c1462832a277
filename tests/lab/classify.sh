#!/bin/sh
# Lab test of `punchlab classify` (root, real namespaces):
#  - every shipped profile behaves as its header declares, over UDP and TCP (exit 0);
#  - every deliberately mislabelled profile in tests/data/profiles/ is reported as a mismatch
#    on exactly the key it lies about (exit 1);
#  - the sequential test profile with stride 3 is measured with stride 3;
#  - a bad header and a ruleset that does not load give FILE:LINE errors and exit 2.
# usage: classify.sh PUNCHLAB_BINARY SOURCE_DIR
# Exit 77 (skipped) when not root, except under CI=true, where that is a failure.
set -u
PUNCHLAB=${1:?usage: classify.sh PUNCHLAB_BINARY SOURCE_DIR}
SRC=${2:?usage: classify.sh PUNCHLAB_BINARY SOURCE_DIR}
DATA=$SRC/tests/data/profiles

if [ "$(id -u)" != 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: lab tests need root (CI=true)"
		exit 1
	fi
	echo "SKIP: lab tests need root"
	exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0

bad() {
	echo "FAIL: $*"
	fail=1
}

# The verdict line of one profile's block in the text output.
verdict() {
	awk -v p="$1" '$0 ~ "^" p "  \\(" { on = 1 } on && /=> / { print; exit }' "$out"
}

# 1. Shipped profiles.
n=$(ls "$SRC"/nat-profiles/*.nft | wc -l)
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || bad "classify of the shipped profiles exited $rc, expected 0"
ok=$(grep -c '=> behaves as declared' "$out")
[ "$ok" = "$n" ] || bad "$ok of $n shipped profiles behave as declared"

# 2. Mislabelled profiles: one mismatch each, on its key.
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify "$DATA"/mislabel-*.nft >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 1 ] || bad "classify of the mislabelled profiles exited $rc, expected 1"
for f in "$DATA"/mislabel-*.nft; do
	name=$(basename "$f" .nft)
	key=${name#mislabel-}
	v=$(verdict "$name")
	case "$v" in
	*"=> MISMATCH on: $key ("*) ;;
	*) bad "$name: expected a mismatch on $key only, got: $v" ;;
	esac
done

# 3. Stride 3.
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify "$DATA"/sequential-stride3.nft >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || bad "classify of sequential-stride3 exited $rc, expected 0"
grep -Eq '^  ports +sequential, stride 3 +sequential, stride 3 +sequential, stride 3' "$out" ||
	bad "sequential-stride3: ports not measured as sequential, stride 3 over UDP and TCP"

# 4. Bad input: FILE:LINE and exit 2.
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify "$DATA"/bad/header-unknown-key.nft >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 2 ] || bad "a bad header exited $rc, expected 2"
grep -q 'header-unknown-key.nft:3: unknown key "mappping"' "$out" ||
	bad "a bad header: no FILE:LINE error naming the key"
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify "$DATA"/bad/ruleset-syntax.nft >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 2 ] || bad "a ruleset that does not load exited $rc, expected 2"
grep -q 'ruleset-syntax.nft:[0-9]*: nftables: ' "$out" ||
	bad "a ruleset that does not load: no FILE:LINE nftables error"

[ $fail = 0 ] && echo "PASS"
exit $fail
