#!/bin/sh
# Lab test of `punchlab classify` (root, real namespaces):
#  - every shipped profile behaves as its header declares, over UDP and TCP (exit 0);
#  - every deliberately mislabelled profile in tests/data/profiles/ is reported as a mismatch
#    on exactly the key it lies about (exit 1): mislabel-KEY.nft and mislabel-KEY--HOW.nft;
#    answers that differ between rounds are reported as "disagree";
#  - the sequential test profile with stride 3 is measured with stride 3;
#  - a bad header and a ruleset that does not load give FILE:LINE errors and exit 2;
#  - the matrix classifies the profiles a topology names for its other nodes (double-nat's
#    CGN): a mislabelled CGN turns every cell into an error naming the node (exit 2), the
#    shipped one is classified next to the cell's profile.
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
# (IPv4 ones: classify leaves IPv6 profiles out and says so, checked below)
n=$(grep -L '^# family: ipv6$' "$SRC"/nat-profiles/*.nft | wc -l)
n6=$(grep -l '^# family: ipv6$' "$SRC"/nat-profiles/*.nft | wc -l)
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 0 ] || bad "classify of the shipped profiles exited $rc, expected 0"
ok=$(grep -c '=> behaves as declared' "$out")
# profiles whose outbound line blocks the probes are named, never silently passed
nm=$(grep -c '=> not measured: outbound' "$out")
[ "$nm" = "$(grep -l '^# outbound: ' "$SRC"/nat-profiles/*.nft | wc -l)" ] ||
	bad "$nm shipped profiles not measured, expected those with an outbound line"
[ "$((ok + nm))" = "$n" ] || bad "$ok of $n shipped profiles behave as declared ($nm not measured)"
left=$(grep -c 'family ipv6, not measured' "$out")
[ "$left" = "$n6" ] || bad "classify said it left out $left IPv6 profiles, expected $n6"
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify nat66 >"$out.v6" 2>&1
rc=$?
[ $rc = 2 ] || bad "classify nat66 (an IPv6 profile) exited $rc, expected 2"
grep -q 'nat66.nft:11: family ipv6: classify measures IPv4 profiles only' "$out.v6" ||
	bad "classify nat66: no clear error: $(cat "$out.v6")"

# 2. Mislabelled profiles: one mismatch each, on its key.
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify "$DATA"/mislabel-*.nft >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 1 ] || bad "classify of the mislabelled profiles exited $rc, expected 1"
for f in "$DATA"/mislabel-*.nft; do
	name=$(basename "$f" .nft)
	key=${name#mislabel-}
	key=${key%%--*}
	v=$(verdict "$name")
	case "$v" in
	*"=> MISMATCH on: $key ("*) ;;
	*) bad "$name: expected a mismatch on $key only, got: $v" ;;
	esac
done

# Repeated probes that disagree are reported as such, not as a value.
awk '/^mislabel-tcp-unsolicited--alternating  \(/,/=> /' "$out" |
	grep -Eq '^  tcp-unsolicited +drop +drop +disagree \*' ||
	bad "mislabel-tcp-unsolicited--alternating: TCP answers not reported as disagreeing"
# A hairpinned packet from the wrong source is evidence, shown.
awk '/^mislabel-hairpin--lan-source  \(/,/=> /' "$out" | grep -Eq '^  hairpin +yes +no \* +no \*' ||
	bad "mislabel-hairpin--lan-source: hairpin not measured as no over UDP and TCP"

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

# 5. The topology's own profiles in a matrix: double-nat's CGN.
tmp=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$tmp"' EXIT
sed "s|profile: cgn }|profile: $DATA/mislabel-hairpin-filtering.nft }|" \
	"$SRC"/topologies/double-nat.yaml >"$tmp"/double-nat-bad-cgn.yaml
grep -q "mislabel-hairpin-filtering" "$tmp"/double-nat-bad-cgn.yaml || bad "test setup: no CGN line"
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" matrix -t "$tmp"/double-nat-bad-cgn.yaml \
	--profiles port-restricted-cone --proto udp --techniques udp -o "$tmp"/bad >"$out" 2>&1
rc=$?
cat "$out"
[ $rc = 2 ] || bad "double-nat with a mislabelled CGN exited $rc, expected 2"
grep -q 'classified 2 profile(s)' "$out" || bad "double-nat: the CGN's profile was not classified"
grep -q 'error: node cgn: profile mislabel-hairpin-filtering behaves unlike its header.*hairpin-filtering' "$out" ||
	bad "double-nat with a mislabelled CGN: no cell error naming the node and the key"
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" matrix -t double-nat \
	--profiles port-restricted-cone --proto udp --techniques udp -o "$tmp"/good >"$out" 2>&1
rc=$?
cat "$out"
grep -q 'classified 2 profile(s)' "$out" || bad "double-nat: the CGN's profile was not classified"
if grep -q 'error: node cgn' "$out"; then bad "double-nat: the shipped CGN reported unlike its header"; fi

[ $fail = 0 ] && echo "PASS"
exit $fail
