#!/usr/bin/env bash
# run-matrix-family.sh PUNCHLAB: issue 15's "done when": `sudo ./run-matrix --family dual` exits
# 0 against its expectations. The default dual grid (the six classic IPv4 profiles, every home
# also running the IPv6 companion ipv6-firewall; udp and tcp; plain and auto: 144 cells) is
# direct everywhere and attested by the lab, and symmetric x symmetric (failed over IPv4) gets
# there over IPv6; then `./run-matrix --family 6`, the IPv6 grid (every shipped IPv6 profile),
# exits 0 too, with no disputed or error cell. Nothing left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

# run-matrix builds and runs the punchlab of PUNCHLAB_BUILD: the one under test
export PUNCHLAB_BUILD
PUNCHLAB_BUILD=$(dirname "$PUNCHLAB")
snapshot >"$TMP/before"

run_family() {
	local secs=$(($1 * ${PUNCHLAB_TEST_SLOWDOWN:-1})) out=$2
	shift 2
	timeout -k 5 "$secs" "$SRCDIR/run-matrix" --no-color "$@" -o "$out" \
		>"$TMP/rm.out" 2>"$TMP/rm.err"
	RC=$?
	sed 's/^/#   /' "$TMP/rm.out" "$TMP/rm.err"
	[ "$RC" -ne 124 ] || fail "./run-matrix $* ran over $secs s"
}

run_family 300 "$TMP/dual" --family dual
[ "$RC" -eq 0 ] || fail "./run-matrix --family dual exited $RC, expected 0"
python3 - "$TMP/dual/matrix.json" <<'PY' || fail "./run-matrix --family dual: matrix.json"
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == 144, "%d cells, expected 144" % len(cells)
sym = 0
for c in cells:
    assert c["family"] == "dual", c["id"]
    assert c["outcome"] == "direct", "%s: %s" % (c["id"], c["outcome"])
    assert all(r["attestation"]["verdict"] == "direct" for r in c["runs"]), c["id"]
    # the family is judged: the theory's set, the lab's attested family inside it
    assert not c["verdict"]["family_wrong"], "%s: %s" % (c["id"], c["verdict"])
    assert all(r["attestation"].get("family") in (4, 6) for r in c["runs"]), c["id"]
    if c["profile_a"] == c["profile_b"] == "symmetric":
        fams = c["refs"]["expected"]["families"]
        assert fams == "6", "%s: expected families %s, expected 6" % (c["id"], fams)
        assert all(r["attestation"]["family"] == 6 for r in c["runs"]), c["id"]
    if c["profile_a"] == c["profile_b"] == "symmetric":
        sym += 1
        assert all(r.get("family") == 6 for r in c["runs"]), "%s: runs took %s" % (
            c["id"], [r.get("family") for r in c["runs"]])
assert sym == 4, "%d symmetric x symmetric cells, expected 4 (udp, tcp x plain, auto)" % sym
print("ok: 144 dual cells direct and attested, symmetric x symmetric over IPv6")
PY

# the IPv6 grid: every shipped IPv6 profile against every one, udp and tcp, plain and auto
n6=$(grep -l '^# family: ipv6' "$SRCDIR"/nat-profiles/*.nft | wc -l)
[ "$n6" -ge 3 ] || fail "$n6 shipped IPv6 profiles, expected ipv6-firewall, ipv6-firewall-ad, nat66 at least"
run_family 300 "$TMP/six" --family 6
[ "$RC" -eq 0 ] || fail "./run-matrix --family 6 exited $RC, expected 0"
grep -q "^$((n6 * n6 * 4)) cells: .* 0 disputed, 0 error" "$TMP/rm.out" ||
	fail "the IPv6 grid is not $((n6 * n6 * 4)) cells without disputed or error ones"

expect_nothing_left "$TMP/before" "./run-matrix --family dual and 6"
