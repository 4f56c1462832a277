#!/bin/bash
# Lab test of `punchlab matrix --outer`: double-nat's CGN profile as a matrix dimension.
#  - --outer cgn,FILE (FILE a generated symmetric CGN that hairpins) gives each pairing twice:
#    the shipped cgn's cell keeps its bare id, the other's id gains /outer=FILE;
#  - port-restricted-cone x port-restricted-cone connects directly through the shipped CGN
#    (endpoint-independent mapping) and fails through the symmetric one (both sides map per
#    destination, in the CGN's hairpin too): what the theory predicts, so exit 0;
#  - --outer on a topology without a shared outer NAT is bad input (exit 2, names --outer).
# usage: double-nat-outer.sh PUNCHLAB_BINARY
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"
require_root

"$PUNCHLAB" profile new --mapping address-and-port-dependent \
	--filtering address-and-port-dependent --ports random --hairpin yes \
	--tcp-unsolicited drop --udp-timeout 120 --name cgn-symmetric -o "$TMP/cgn-symmetric.nft" ||
	fail "profile new"
timeout 120 "$PUNCHLAB" matrix -t double-nat --profiles port-restricted-cone --proto udp \
	--techniques udp --outer "cgn,$TMP/cgn-symmetric.nft" -o "$TMP/out" >"$TMP/log" 2>&1
rc=$?
cat "$TMP/log"
[ $rc = 0 ] || fail "matrix --outer exited $rc, expected 0"
python3 - "$TMP/out/matrix.json" "$TMP/cgn-symmetric.nft" <<'EOF' || fail "the cells are not as expected"
import json, sys, urllib.parse
cells = {c["id"]: c for c in json.load(open(sys.argv[1]))["cells"]}
bare = "double-nat/udp/udp/port-restricted-cone~port-restricted-cone"
other = bare + "/outer=" + urllib.parse.quote(sys.argv[2], safe="-._")
want = {bare: "direct", other: "failed"}
# the field says the outer profile, absent for the topology's own
if cells.get(bare, {}).get("outer") is not None:
    print("the bare cell has an outer field"); sys.exit(1)
ok = sorted(cells) == sorted(want)
for cid, outcome in want.items():
    got = cells.get(cid, {}).get("outcome")
    print(f"{cid}: {got} (expected {outcome})")
    ok = ok and got == outcome
ok = ok and cells.get(other, {}).get("outer") == sys.argv[2]
if not ok:
    print("cells:", sorted(cells))
sys.exit(0 if ok else 1)
EOF

# one grid per outer profile in every report (the cells of two outer NATs never share a grid)
n=$(grep -c '^double-nat/udp/udp' "$TMP/out/matrix.txt")
[ "$n" = 2 ] || fail "matrix.txt has $n double-nat/udp/udp grids, expected 2 (one per outer)"
grep -q "^double-nat/udp/udp outer=$TMP/cgn-symmetric.nft" "$TMP/out/matrix.txt" ||
	fail "matrix.txt has no grid titled outer=..."
grep -q "outer=" "$TMP/out/matrix.md" || fail "matrix.md has no outer= grid"

timeout 30 "$PUNCHLAB" matrix -t two-nats --profiles full-cone --proto udp --techniques udp \
	--outer cgn -o "$TMP/bad" >"$TMP/log" 2>&1
rc=$?
[ $rc = 2 ] || fail "--outer with two-nats exited $rc, expected 2"
grep -q -- "--outer: topology two-nats has no outer NAT shared by both NATs" "$TMP/log" ||
	fail "--outer with two-nats said: $(cat "$TMP/log")"
echo "PASS: double-nat-outer"
