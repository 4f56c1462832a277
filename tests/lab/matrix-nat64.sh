#!/usr/bin/env bash
# matrix-nat64.sh PUNCHLAB: NAT64 cells in the matrix (issue 15 item 4; docs/matrix.md "NAT64"):
# topologies/nat64.yaml, peer A IPv6-only behind tayga and nat-a's IPv4 profile, peer B on a
# public IPv4 address; punch dials the rendezvous at its address embedded in the NAT64 prefix
# and aims at B's there ({{self.nat64}}, {{self.rendezvous64.N}} in engines/punch.yaml):
#   1. connecting cells, attested: udp port-restricted-cone and tcp/auto symmetric direct, the
#      lab's evidence the flow in nat-a's conntrack from tayga's pool (10.64.64.0/25) to B's
#      IPv4 endpoint, the one A named inside the prefix; udp-blocked with auto: direct over
#      its TCP fallback;
#   2. a relayed cell stays relayed (technique relay: the flow to the rendezvous, attested
#      relayed, not direct);
#   3. a failing cell: web-only lets out no UDP, also from tayga's pool (nat-a's egress filter
#      sees the TUN device as its LAN): failed in registration, as the theory says;
#   4. every theory says why (A IPv6-only behind NAT64, the node's IPv4 profile decides), the
#      cells are family 4 with ids nat64/..., exit 0 against the theory;
#   5. bad input: families 6 and dual on a NAT64 topology, by --family or a cell id: one clear
#      error naming the node's line, exit 2 (before: a lab build error in every cell);
# and nothing left behind (no namespace, no tayga of ours, no tayga directory).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

[ -x /usr/sbin/tayga ] || fail "tayga is not installed (ci/bootstrap.sh installs it)"
snapshot >"$TMP/before"
# tayga's per-lab directories go under TMPDIR: ours, so that what is left is ours to see
mkdir -p "$TMP/tmpdir"
export TMPDIR=$TMP/tmpdir

run_matrix 120 --cell nat64/udp/udp/port-restricted-cone~- --cell nat64/tcp/auto/symmetric~- \
	--cell nat64/udp/auto/udp-blocked~- --cell nat64/udp/relay/port-restricted-cone~- \
	--cell nat64/udp/udp/web-only~- --no-classify -o "$TMP/m"
show_matrix_output
[ "$RC" -eq 0 ] || fail "the NAT64 cells: punchlab matrix exited $RC, expected 0"
python3 - "$TMP/m/matrix.json" <<'PY' || fail "the NAT64 cells: matrix.json"
import ipaddress, json, re, sys
want = {
    "nat64/udp/udp/port-restricted-cone~-": ("direct", "direct"),
    "nat64/tcp/auto/symmetric~-": ("direct", "direct"),
    "nat64/udp/auto/udp-blocked~-": ("direct", "direct"),
    "nat64/udp/relay/port-restricted-cone~-": ("relayed", "relayed"),
    "nat64/udp/udp/web-only~-": ("failed", "none"),
}
cells = {c["id"]: c for c in json.load(open(sys.argv[1]))["cells"]}
assert sorted(cells) == sorted(want), sorted(cells)
pool = ipaddress.ip_network("10.64.64.0/25")
for cid, (outcome, verdict) in want.items():
    c = cells[cid]
    assert c["family"] == "4" and c["topology"] == "nat64", cid
    assert c["outcome"] == outcome, "%s: %s (%s), expected %s" % (
        cid, c["outcome"], c["reason"], outcome)
    th = c["refs"]["theory"]
    assert th["outcome"] == outcome, "%s: theory %s" % (cid, th)
    assert th["why"].startswith("A IPv6-only behind NAT64"), th["why"]
    for r in c["runs"]:
        v = r["attestation"]["verdict"]
        assert v == verdict, "%s: attestation %s (%s), expected %s" % (
            cid, v, r["attestation"], verdict)
    if outcome == "direct":
        # A names B inside the prefix; the evidence is the flow from tayga's pool to B's IPv4
        assert "[2001:db8:64::cb00:7112]:" in c["reason"], c["reason"]
        ev = " ".join(c["runs"][0]["attestation"]["evidence"])
        m = re.search(r"nat-a \(peer A\): (udp|tcp) ([0-9.]+):\d+ -> 203\.0\.113\.2:\d+ "
                      r"remote 203\.0\.113\.18:", ev)
        assert m and ipaddress.ip_address(m.group(2)) in pool, ev
    print("ok:", cid, c["outcome"], c["runs"][0]["attestation"]["verdict"])
PY
grep -q "failed in registration" "$TMP/matrix.out" ||
	fail "web-only's NAT64 cell did not fail in registration"

# 5. families 6 and dual: one error, exit 2
for args in "--family 6 --profiles nat66" "--family dual --profiles symmetric" \
	"--cell nat64/udp/udp/nat66~-/family=6"; do
	# shellcheck disable=SC2086 # the words are the options
	run_matrix 30 -t nat64 $args --no-classify -o "$TMP/bad"
	[ "$RC" -eq 2 ] || fail "matrix -t nat64 $args: exit $RC, expected 2"
	grep -q 'nat64.yaml:[0-9]*: node "nat-a": a home behind NAT64 .* expected --family 4' \
		"$TMP/matrix.err" || { cat "$TMP/matrix.err" >&2; fail "matrix -t nat64 $args: error"; }
	[ "$(grep -c . "$TMP/matrix.err")" -eq 1 ] || fail "matrix -t nat64 $args: more than one line"
	note "ok: $args -> $(cat "$TMP/matrix.err")"
done

# nothing left: namespaces, punchlab and engine processes, and tayga (ours ran with its
# configuration under our TMPDIR)
expect_nothing_left "$TMP/before" "the NAT64 cells"
for p in $(procs_of /usr/sbin/tayga); do
	grep -qF "$TMP" "/proc/$p/cmdline" 2>/dev/null && fail "tayga $p of this test still runs"
done
left=$(ls -A "$TMP/tmpdir" | grep '^punchlab-nat64-' || true)
[ -z "$left" ] || fail "tayga directories left: $left"
note "ok: nothing left behind"
