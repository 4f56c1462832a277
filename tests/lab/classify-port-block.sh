#!/bin/bash
# classify-port-block.sh PUNCHLAB: classify's own flows give no two internal endpoints one public
# port, so a port-block CGN (docs/walkthrough.md's cgn-pba.nft) measures as its header says.
# The NAT keeps a public port unique only per remote. Classify's warm-up used to reach S2 from an
# endpoint whose first flow went there, while every test endpoint's first flow goes to S1:P1:
# in a 64-port block that S2 flow's port was also given to a test endpoint in 3 runs of 4, and
# the profile's dynamic map (public port -> internal endpoint, learnt from the first flow)
# hairpinned that endpoint's port to the warm-up endpoint: hairpin "no" or hairpin-filtering
# "address-dependent" in one round (3 classifications of 20; the walkthrough's matrix on
# double-nat --outer ./cgn-pba.nft turned every cell into an error). Checked here:
#   1. RUNS classifications (RUNS_PAR at once): each behaves as declared, and in each the NAT's
#      UDP conntrack has no public port held by two internal endpoints that probes go to (before
#      the fix more than half the runs had one: all RUNS clean by chance about once in 10^3);
#   2. the check still catches a real difference: the same profile whose header claims
#      hairpin-filtering address-and-port-dependent is a mismatch on that key.
. "$(dirname "$0")/lib.sh"
require_root

RUNS=8
RUNS_PAR=4
snapshot >"$TMP/before"
cd "$TMP" || fail "no temporary directory"
"$PUNCHLAB" profile new --mapping endpoint-independent --filtering address-and-port-dependent \
	--ports random --port-block 64 --hairpin yes --tcp-unsolicited drop --udp-timeout 120 \
	--name cgn-pba -o cgn-pba.nft >/dev/null || fail "profile new failed"

# overloaded FILE: each public port that two internal endpoints hold in the UDP conntrack dump
# of `classify -v` ("conntrack: udp SRC:PORT -> PUBLIC:PORT remote ..."; hairpinned flows
# reuse the sender's port by design and are left out). The ports tests' endpoints (internal
# 40021-40024, + 100 per round: src/lab/classify_internal.h) are left out too: they run before
# the warm-up's S2 endpoint talks to S1:P1 (hold_warmup_port()), so one may share its port;
# nothing is ever sent to them. So may the two warm-up endpoints (40999, 40998) with each other:
# their first flows go to different remotes at once, and neither is probed.
overloaded() {
	awk 'function ports_test(port) { return port < 40800 && port % 100 >= 21 && port % 100 <= 24 }
	function harmless(a, b) { return ports_test(a) || ports_test(b) || (a >= 40998 && b >= 40998) }
	/^  conntrack: udp / && !/ hairpin / {
		split($3, s, ":"); split($5, p, ":")
		if ((p[2] in own) && own[p[2]] != s[2] && !harmless(own[p[2]] + 0, s[2] + 0))
			print "public port " p[2] " held by internal ports " own[p[2]] " and " s[2]
		own[p[2]] = s[2] }' "$1"
}

# --- 1. as declared, no port held twice ------------------------------------------------------
for ((b = 0; b < RUNS / RUNS_PAR; b++)); do
	pids=()
	for ((j = 0; j < RUNS_PAR; j++)); do
		timeout 60 "$PUNCHLAB" classify -v --wait 300 ./cgn-pba.nft >"run.$b.$j" 2>&1 &
		pids+=($!)
	done
	for ((j = 0; j < RUNS_PAR; j++)); do
		wait "${pids[$j]}"
		echo "$?" >"rc.$b.$j"
	done
done
clean=0
for ((b = 0; b < RUNS / RUNS_PAR; b++)); do
	for ((j = 0; j < RUNS_PAR; j++)); do
		f=run.$b.$j
		if [ "$(cat "rc.$b.$j")" != 0 ] || ! grep -q ' 0 mismatches$' "$f"; then
			grep -E 'MISMATCH|note|hairpin:' "$f" | sed 's/^/#   /' >&2
			fail "classification $((b * RUNS_PAR + j + 1)) of $RUNS: exit $(cat "rc.$b.$j"), not as declared"
		fi
		grep -q '^  conntrack: udp ' "$f" || fail "classification $((b * RUNS_PAR + j + 1)): no conntrack dump in -v"
		if [ -n "$(overloaded "$f")" ]; then
			overloaded "$f" | sed 's/^/#   /' >&2
			fail "classification $((b * RUNS_PAR + j + 1)): two internal endpoints share a public port"
		fi
		clean=$((clean + 1))
	done
done
note "$clean of $RUNS classifications as declared, no public port shared"

# --- 2. a wrong hairpin-filtering claim is still caught ---------------------------------------
sed 's/^# hairpin-filtering: endpoint-independent$/# hairpin-filtering: address-and-port-dependent/' \
	cgn-pba.nft >cgn-pba-apd.nft
grep -q '^# hairpin-filtering: address-and-port-dependent$' cgn-pba-apd.nft || fail "test setup: header not changed"
timeout 60 "$PUNCHLAB" classify --wait 300 ./cgn-pba-apd.nft >apd.out 2>&1
rc=$?
[ "$rc" = 1 ] || { cat apd.out >&2; fail "a wrong hairpin-filtering claim: exit $rc, expected 1"; }
grep -q 'MISMATCH on: hairpin-filtering' apd.out || { cat apd.out >&2; fail "a wrong hairpin-filtering claim: not reported on its key"; }
note "a wrong hairpin-filtering claim: MISMATCH on hairpin-filtering"

cd / || true
expect_nothing_left "$TMP/before" "classify-port-block"
echo "PASS"
