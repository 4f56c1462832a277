#!/bin/sh
# Lab test of `punchlab classify` (root, real namespaces):
#  - every shipped profile behaves as its header declares, over UDP and TCP (exit 0), the IPv6
#    ones (ipv6-firewall, ipv6-firewall-ad, nat66) measured over IPv6 in two-nats-dual: the
#    firewalls as "no translation" (their hosts' own endpoints) with hairpinning n/a, nat66 as
#    a translating endpoint-independent NAT; conntrack read over IPv6 (the UDP timeout);
#  - every deliberately mislabelled profile in tests/data/profiles/ is reported as a mismatch
#    on exactly the key it lies about (exit 1): mislabel-KEY.nft and mislabel-KEY--HOW.nft
#    (two of them IPv6: a firewall that claims RST, a random-port NAT66 that claims
#    address-dependent filtering), also with --wait 1500 (a longer wait let the host's own
#    retransmitted SYN pass the TCP filtering control of a NAT that admits no SYN at all);
#    answers that differ between rounds are reported as "disagree";
#  - the sequential test profile with stride 3 is measured with stride 3;
#  - two profiles on which classify's own probes would collide (a port a later test wants
#    preserved taken by an earlier mapping; a mapping made where an unsolicited SYN is still
#    being retransmitted) behave as declared;
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
trap 'rm -f "$out" "$out".*' EXIT
fail=0

bad() {
	echo "FAIL: $*"
	fail=1
}

# The verdict line of one profile's block in the text output.
verdict() {
	awk -v p="$1" '$0 ~ "^" p "  \\(" { on = 1 } on && /=> / { print; exit }' "$out"
}

# The block of one profile in the text output, up to its verdict.
block() {
	awk -v p="$1" '$0 ~ "^" p "  \\(" { on = 1 } on { print } on && /=> / { exit }' "$out"
}

# 1. Shipped profiles, both families.
n=$(find "$SRC"/nat-profiles -name '*.nft' | wc -l)
n6=$(grep -l '^# family: ipv6$' "$SRC"/nat-profiles/*.nft | wc -l)
[ "$n6" -ge 3 ] || bad "test setup: $n6 IPv6 profiles shipped, expected at least 3"
# classify --json nat66 (its JSON checked below) meanwhile: one lab more
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify --json nat66 >"$out.json" 2>&1 &
pidjson=$!
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
v6=$(grep -c '^  measured over IPv6 in two-nats-dual' "$out")
[ "$v6" = "$n6" ] || bad "$v6 profiles measured over IPv6, expected the $n6 of family ipv6"
# One of each IPv6 kind, key by key (UDP and TCP columns).
for fw in ipv6-firewall ipv6-firewall-ad; do
	b=$(block "$fw")
	echo "$b" | grep -q "no translation: the server sees the host's own endpoint" ||
		bad "$fw: not reported as a node that does not translate"
	echo "$b" | grep -Eq '^  mapping +endpoint-independent +no translation +no translation *$' ||
		bad "$fw: mapping not reported as no translation over UDP and TCP"
	echo "$b" | grep -Eq '^  hairpin +no +\(n/a\) +\(n/a\) *$' ||
		bad "$fw: hairpin not reported as not applicable"
	# conntrack's timeout left, read once the flow is unreplied and once replied: each a
	# moment after its packet (the sanitizer build in CI read the replied one at 119)
	echo "$b" | grep -Eq '^  udp-timeout +120 +ct 1(1[5-9]|20)/1(1[5-9]|20) ' ||
		bad "$fw: the UDP timeout not read from conntrack over IPv6"
	echo "$b" | grep -q '=> behaves as declared' || bad "$fw: does not behave as declared"
done
block ipv6-firewall |
	grep -Eq '^  filtering +endpoint-independent +endpoint-independent +endpoint-independent *$' ||
	bad "ipv6-firewall: filtering not endpoint-independent over UDP and TCP"
block ipv6-firewall-ad |
	grep -Eq '^  filtering +address-dependent +address-dependent +address-dependent *$' ||
	bad "ipv6-firewall-ad: filtering not address-dependent over UDP and TCP"
b=$(block nat66)
if echo "$b" | grep -q 'no translation'; then bad "nat66: reported as a node that does not translate"; fi
echo "$b" | grep -Eq '^  mapping +endpoint-independent +endpoint-independent +endpoint-independent *$' ||
	bad "nat66: mapping not endpoint-independent over UDP and TCP"
echo "$b" | grep -Eq '^  filtering +address-and-port-dependent +address-and-port-dependent +address-and-port-dependent *$' ||
	bad "nat66: filtering not address-and-port-dependent over UDP and TCP"
echo "$b" | grep -q '=> behaves as declared' || bad "nat66: does not behave as declared"
# JSON says the family and the lab.
wait $pidjson
python3 - "$out.json" <<'PY' || bad "classify --json nat66: no family ipv6 / topology two-nats-dual / match"
import json, sys
p = json.load(open(sys.argv[1]))["profiles"][0]
sys.exit(not (p["family"] == "ipv6" and p["topology"] == "two-nats-dual" and p["verdict"] == "match"))
PY
rm -f "$out.json"

# 2, 3 and 3b: two classify runs at once, each the mislabelled profiles with one more set:
#  - with the default wait, the mislabelled profiles and sequential-stride3 (3);
#  - with profile-gen.sh's longer wait (--wait 1500), the mislabelled profiles and the two
#    colliding profiles (3b, measured with --wait 1500 as before).
# Before, four runs went one after another (10 + 14 + 1 + 7 s); the labs are separate, and
# each run is bounded by its slowest profile (mislabel-transports--no-tcp, whose TCP probes wait
# out their 4 s: 10 s, 14 s), so the others fit in its shadow. A profile added to a run that
# exits 1 is judged by its own verdict line, "behaves as declared" (what its run's exit 0 said).
[ -n "$(find "$DATA" -name 'mislabel-*ipv6*.nft')" ] || bad "test setup: no IPv6 mislabelled profile"
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify "$DATA"/mislabel-*.nft "$DATA"/sequential-stride3.nft \
	>"$out.w500" 2>&1 &
pid500=$!
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" classify --wait 1500 "$DATA"/mislabel-*.nft \
	"$DATA"/ports-taken-by-second-remote.nft "$DATA"/unsolicited-port-mapped-later.nft \
	>"$out.w1500" 2>&1 &
pid1500=$!
wait $pid500
rc500=$?
wait $pid1500
rc1500=$?

# 2. Mislabelled profiles: one mismatch each, on its key; with the default wait and with
# profile-gen.sh's longer one.
for wait in "" "--wait 1500"; do
	if [ -z "$wait" ]; then rc=$rc500 && cp "$out.w500" "$out"; else rc=$rc1500 && cp "$out.w1500" "$out"; fi
	cat "$out"
	[ $rc = 1 ] || bad "classify $wait of the mislabelled profiles exited $rc, expected 1"
	for f in "$DATA"/mislabel-*.nft; do
		name=$(basename "$f" .nft)
		key=${name#mislabel-}
		key=${key%%--*}
		v=$(verdict "$name")
		case "$v" in
		*"=> MISMATCH on: $key ("*) ;;
		*) bad "$name ($wait): expected a mismatch on $key only, got: $v" ;;
		esac
	done
done

# Repeated probes that disagree are reported as such, not as a value (the --wait 1500 run).
awk '/^mislabel-tcp-unsolicited--alternating  \(/,/=> /' "$out" |
	grep -Eq '^  tcp-unsolicited +drop +drop +disagree \*' ||
	bad "mislabel-tcp-unsolicited--alternating: TCP answers not reported as disagreeing"
# A hairpinned packet from the wrong source is evidence, shown.
awk '/^mislabel-hairpin--lan-source  \(/,/=> /' "$out" | grep -Eq '^  hairpin +yes +no \* +no \*' ||
	bad "mislabel-hairpin--lan-source: hairpin not measured as no over UDP and TCP"

# 3b. Profiles that make classify's own probes collide (each header true): a second remote's
# mapping on a port a later ports test wants preserved; a mapping made on the port an
# unsolicited SYN went to, which its retransmission (after 1 s: --wait 1500) would meet.
# Measured in the --wait 1500 run above ($out).
for name in ports-taken-by-second-remote unsolicited-port-mapped-later; do
	verdict "$name" | grep -q '=> behaves as declared' || bad "$name: $(verdict "$name")"
done

# 3. Stride 3, measured in the default-wait run above.
cp "$out.w500" "$out"
verdict sequential-stride3 | grep -q '=> behaves as declared' ||
	bad "sequential-stride3: $(verdict sequential-stride3)"
block sequential-stride3 |
	grep -Eq '^  ports +sequential, stride 3 +sequential, stride 3 +sequential, stride 3' ||
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
trap 'rm -f "$out" "$out".*; rm -rf "$tmp"' EXIT
sed "s|profile: cgn }|profile: $DATA/mislabel-hairpin-filtering.nft }|" \
	"$SRC"/topologies/double-nat.yaml >"$tmp"/double-nat-bad-cgn.yaml
grep -q "mislabel-hairpin-filtering" "$tmp"/double-nat-bad-cgn.yaml || bad "test setup: no CGN line"
# the mislabelled CGN's matrix and the shipped one's at once (separate labs; 0.7 s each)
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" matrix -t "$tmp"/double-nat-bad-cgn.yaml \
	--profiles port-restricted-cone --proto udp --techniques udp -o "$tmp"/bad >"$tmp"/bad.out 2>&1 &
pidbad=$!
PUNCHLAB_DATA_DIR=$SRC "$PUNCHLAB" matrix -t double-nat \
	--profiles port-restricted-cone --proto udp --techniques udp -o "$tmp"/good >"$tmp"/good.out 2>&1 &
pidgood=$!
wait $pidbad
rc=$?
wait $pidgood
rcgood=$?
cp "$tmp"/bad.out "$out"
cat "$out"
[ $rc = 2 ] || bad "double-nat with a mislabelled CGN exited $rc, expected 2"
grep -q 'classified 2 profile(s)' "$out" || bad "double-nat: the CGN's profile was not classified"
grep -q 'error: node cgn: profile mislabel-hairpin-filtering behaves unlike its header.*hairpin-filtering' "$out" ||
	bad "double-nat with a mislabelled CGN: no cell error naming the node and the key"
cp "$tmp"/good.out "$out"
cat "$out"
echo "# exit $rcgood"
grep -q 'classified 2 profile(s)' "$out" || bad "double-nat: the CGN's profile was not classified"
if grep -q 'error: node cgn' "$out"; then bad "double-nat: the shipped CGN reported unlike its header"; fi

[ $fail = 0 ] && echo "PASS"
exit $fail
