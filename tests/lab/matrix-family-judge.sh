#!/usr/bin/env bash
# matrix-family-judge.sh PUNCHLAB: the family a dual cell's path took is judged (docs/matrix.md
# "Which family the path took"):
#   1. a dual cell made to take the wrong family on purpose: its IPv6 companion is a copy of
#      ipv6-firewall whose header claims a symmetric NAT66 (translation napt, random ports,
#      address-and-port-dependent filtering), so the theory says IPv6 cannot go direct and expects the path on
#      IPv4 (port-restricted cones: direct); its rules are the real firewall's, so punch's IPv6
#      attempt (first, RFC 8305) goes direct. punch runs from a copy of its engine file that
#      adds --family-delay 10s, so that IPv4 starts only if IPv6 fails and the race cannot go
#      the other way on a loaded machine (with the default 50 ms IPv6 wins too, but by timing).
#      The lab attests IPv6: the cell is flagged, a regression naming the family in every
#      report, exit 1;
#   2. the same cell with the true companion: "4 or 6" expected, whichever family it took is
#      fine, exit 0; and the cells with a symmetric NAT (no direct IPv4 path): only IPv6 expected,
#      taken, attested, exit 0;
# and nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

snapshot >"$TMP/before"
LIAR=$TMP/ipv6-firewall-claims-symmetric.nft
sed -e 's/^# name: .*/# name: ipv6-firewall-claims-symmetric/' \
    -e 's/^# rfc3489: .*/# rfc3489: symmetric/' \
    -e 's/^# mapping: .*/# mapping: address-and-port-dependent/' \
    -e 's/^# filtering: .*/# filtering: address-and-port-dependent/' \
    -e 's/^# ports: .*/# ports: random/' \
    -e 's/^# predictable: .*/# predictable: no/' \
    -e 's/^# translation: .*/# translation: napt/' \
    "$SRCDIR/nat-profiles/ipv6-firewall.nft" >"$LIAR"
grep -q '^# mapping: address-and-port-dependent' "$LIAR" || fail "the test profile's header did not change"

ENGINE=$TMP/punch-ipv6-first.yaml
sed 's/--json,$/--json, --family-delay, 10s,/' "$SRCDIR/engines/punch.yaml" >"$ENGINE"
grep -q -- '--family-delay, 10s' "$ENGINE" || fail "the test engine file did not get --family-delay"

# 1. the wrong family
run_matrix 120 --family dual --ipv6-profile "$LIAR" --profiles port-restricted-cone \
	--proto udp --techniques plain --engine "$ENGINE" -o "$TMP/wrong"
show_matrix_output
[ "$RC" -eq 1 ] || fail "a dual cell on the wrong family: punchlab matrix exited $RC, expected 1"
python3 - "$TMP/wrong/matrix.json" <<'PY' || fail "wrong family: matrix.json"
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == 1, "%d cells, expected 1" % len(cells)
c = cells[0]
assert c["outcome"] == "direct", c["outcome"]
assert c["refs"]["expected"]["families"] == "4", c["refs"]["expected"]
r = c["runs"][0]
assert r["attestation"]["verdict"] == "direct", r["attestation"]
assert r["attestation"]["family"] == 6, r["attestation"]
assert r.get("family") == 6, "the engine says %s" % r.get("family")
v = c["verdict"]
assert v["family_wrong"] and v["regression"] and not v["improvement"], v
assert v["family_judged"] == 1 and v["family_outside"] == 1, v
print("ok:", c["id"], "direct over IPv6, expected IPv4: flagged")
PY
grep -q 'D6!' "$TMP/wrong/matrix.txt" || fail "the terminal grid does not show D6 with its regression marker"
grep -q 'WRONG FAMILY: direct over IPv6 in 1 of 1' "$TMP/wrong/matrix.txt" ||
	fail "the terminal's regression list does not name the family"
grep -q '<failure type="family" message="[^"]*the theory expects IPv4 only' "$TMP/wrong/junit.xml" ||
	fail "junit's failure does not name the family"
grep -q 'WRONG FAMILY' "$TMP/wrong/matrix.md" || fail "the markdown report does not name the family"
grep -q 'D6</text>' "$TMP/wrong/index.html" || fail "the HTML grid does not show D6"

# 2. the true companion, and a cell only IPv6 can connect
run_matrix 120 --family dual --profiles port-restricted-cone,symmetric --proto udp \
	--techniques plain -o "$TMP/right"
show_matrix_output
[ "$RC" -eq 0 ] || fail "dual cells on a family the theory allows: punchlab matrix exited $RC, expected 0"
python3 - "$TMP/right/matrix.json" <<'PY' || fail "right family: matrix.json"
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert len(cells) == 4, "%d cells, expected 4" % len(cells)
for c in cells:
    # a port-restricted cone with a symmetric NAT (either way) cannot punch over IPv4 either
    sym = "symmetric" in (c["profile_a"], c["profile_b"])
    want = "6" if sym else "4 or 6"
    assert c["refs"]["expected"]["families"] == want, (c["id"], c["refs"]["expected"])
    r = c["runs"][0]
    assert c["outcome"] == "direct" and r["attestation"]["family"] in (4, 6), (c["id"], r)
    if sym:
        assert r["attestation"]["family"] == 6, (c["id"], r["attestation"])
    assert not c["verdict"]["family_wrong"] and c["verdict"]["family_judged"] == 1, c["verdict"]
    print("ok:", c["id"], "expected", want, "took", r["attestation"]["family"])
PY
grep -q 'D6' "$TMP/right/matrix.txt" || fail "the terminal grid does not show the family taken"

expect_nothing_left "$TMP/before" "matrix-family-judge"
