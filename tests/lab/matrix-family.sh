#!/usr/bin/env bash
# matrix-family.sh PUNCHLAB: the address family dimension (issue 15 item 1, docs/matrix.md
# "Address families"):
#   1. --family 6: for each shipped IPv6 profile a connecting cell (the profile on both homes,
#      direct, attested by the lab from IPv6 conntrack flows) and a failing one (against the test
#      profile ipv6-udp-blocked, whose network lets no UDP out: failed, as the theory says); ids
#      end in /family=6, matrix.json cells say "family": "6", exit 0;
#   2. --family dual: port-restricted-cone and symmetric, udp and tcp: every cell direct and
#      attested, symmetric x symmetric (failed over IPv4) over IPv6, its runs saying family 6;
#      the theory names the family; exit 0;
#   3. an engine without the ipv6 capability (n2n: its underlay is IPv4 only) in a family 6 cell: skipped, saying why,
#      exit 0 (no error);
#   4. bad input, one clear error each, exit 2: --family x, an IPv4 profile for family 6, an
#      IPv6 profile for family 4, an IPv4 --ipv6-profile, --ipv6-profile without dual, a topology
#      without a dual-stack twin, a --cell id of family 6 with IPv4 profiles, NAT events in
#      dual cells;
# and nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

BLOCKED=$SRCDIR/tests/data/profiles/ipv6-udp-blocked.nft
snapshot >"$TMP/before"

# 1. family 6
cells=()
for p in ipv6-firewall ipv6-firewall-ad nat66; do
	cells+=(--cell "two-nats/udp/udp/$p~$p/family=6")
	cells+=(--cell "two-nats/udp/udp/$p~$(python3 -c 'import sys, urllib.parse
print(urllib.parse.quote(sys.argv[1], safe="-._"))' "$BLOCKED")/family=6")
done
run_matrix 120 "${cells[@]}" -o "$TMP/six"
show_matrix_output
[ "$RC" -eq 0 ] || fail "--family 6 cells: punchlab matrix exited $RC, expected 0"
python3 - "$TMP/six/matrix.json" <<'PY' || fail "--family 6: matrix.json"
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == 6, "%d cells, expected 6" % len(cells)
for c in cells:
    assert c["id"].endswith("/family=6") and c["family"] == "6", c["id"]
    connecting = c["profile_a"] == c["profile_b"]
    want = "direct" if connecting else "failed"
    assert c["outcome"] == want, "%s: %s, expected %s" % (c["id"], c["outcome"], want)
    assert c["refs"]["theory"]["outcome"] == want, "%s: theory %s" % (c["id"], c["refs"])
    # the documents speak of IPv4 NATs: no claim
    assert c["refs"]["claim"] is None and c["refs"]["claims"] == [], "%s: a claim" % c["id"]
    for r in c["runs"]:
        v = r["attestation"]["verdict"]
        assert v == ("direct" if connecting else "none"), "%s: attestation %s" % (c["id"], v)
    print("ok:", c["id"], c["outcome"], c["runs"][0]["attestation"]["verdict"])
PY

# 2. dual
run_matrix 180 --family dual --profiles port-restricted-cone,symmetric --proto udp,tcp \
	--techniques plain -o "$TMP/dual"
show_matrix_output
[ "$RC" -eq 0 ] || fail "--family dual: punchlab matrix exited $RC, expected 0"
grep -q "two-nats/udp/udp family=dual" "$TMP/dual/matrix.txt" ||
	fail "the terminal grid does not name the family"
python3 - "$TMP/dual/matrix.json" "$TMP/dual/junit.xml" <<'PY' || fail "--family dual: reports"
import json, sys, xml.etree.ElementTree as ET
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == 8, "%d cells, expected 8" % len(cells)
for c in cells:
    assert c["family"] == "dual" and c["id"].endswith("/family=dual"), c["id"]
    assert c["outcome"] == "direct", "%s: %s" % (c["id"], c["outcome"])
    assert all(r["attestation"]["verdict"] == "direct" for r in c["runs"]), c["id"]
    why = c["refs"]["theory"]["why"]
    assert "dual: direct over IPv" in why, why
    assert c["refs"]["claim"] is None, "%s: a claim" % c["id"]
    if c["profile_a"] == c["profile_b"] == "symmetric":
        # the interesting grid: IPv4 cannot, IPv6 does
        assert "direct over IPv6" in why and "IPv4: failed" in why, why
        assert all(r.get("family") == 6 for r in c["runs"]), "%s: runs %s" % (
            c["id"], [r.get("family") for r in c["runs"]])
    print("ok:", c["id"], c["outcome"], [r.get("family") for r in c["runs"]])
suites = [s.get("name") for s in ET.parse(sys.argv[2]).getroot().findall("testsuite")]
assert all(s.endswith(" family=dual") for s in suites), suites
PY

# 3. an engine that does not declare ipv6
run_matrix 60 --engine n2n --cell two-nats/udp/udp/ipv6-firewall~ipv6-firewall/family=6/engine=n2n \
	-o "$TMP/nc"
show_matrix_output
[ "$RC" -eq 0 ] || fail "a family 6 cell of n2n: exit $RC, expected 0 (skipped, not an error)"
outcomes "$TMP/nc" | grep -qx "two-nats/udp/udp/ipv6-firewall~ipv6-firewall/engine=n2n/family=6 skipped" ||
	fail "the n2n cell is not skipped: $(outcomes "$TMP/nc")"
grep -q "does not declare the ipv6 capability" "$TMP/nc/matrix.json" ||
	fail "the skipped cell does not say why"

# 4. bad input
expect_bad() {
	local want=$1
	shift
	run_matrix 30 "$@" -o "$TMP/bad"
	[ "$RC" -eq 2 ] || fail "punchlab matrix $*: exit $RC, expected 2"
	grep -qF -- "$want" "$TMP/matrix.err" || { cat "$TMP/matrix.err" >&2
		fail "punchlab matrix $*: no \"$want\" in its error"; }
	[ "$(grep -c . "$TMP/matrix.err")" -eq 1 ] || { cat "$TMP/matrix.err" >&2
		fail "punchlab matrix $*: more than one line of error"; }
	note "ok: $* -> $(cat "$TMP/matrix.err")"
}
expect_bad 'expected 4, 6 or dual' --family x
expect_bad 'profile full-cone is an IPv4 profile' --family 6 --profiles full-cone,nat66
expect_bad 'profile nat66 is an IPv6 profile' --family 4 --profiles full-cone,nat66
expect_bad 'none of the profiles given is an IPv6 profile' --family 4,6 --profiles full-cone
expect_bad 'a dual cell'"'"'s companion is the IPv6 profile' --family dual --ipv6-profile symmetric
expect_bad 'expected --family with dual' --ipv6-profile nat66
expect_bad 'has no IPv6 address and no dual-stack twin' -t same-nat --family dual
expect_bad 'family 6 cells pair IPv6 profiles' --cell two-nats/udp/udp/full-cone~symmetric/family=6
# reboot and link down work in dual cells (tests/lab/run-family.sh); rebind does not
expect_bad 'nat-a rebind is an IPv4 event (family 4 only)' --family dual --profiles symmetric \
	--events 'nat-a rebind@1s'

expect_nothing_left "$TMP/before" "the family matrices"
