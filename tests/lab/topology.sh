#!/bin/bash
# topology.sh PUNCHLAB TOPOLOGY: `punchlab lab check -t TOPOLOGY` builds the topology, probes
# reachability and isolation with real UDP (every host to every server address and to the other
# hosts, compared with what the topology allows), tears it down and exits 0; afterwards nothing
# of it is left: no pinned namespace or record, no link in the root namespace, no process.
. "$(dirname "$0")/lib.sh"
TOPOLOGY=${2:?usage: $0 PUNCHLAB TOPOLOGY}
require_root

snapshot >"$TMP/before"
"$PUNCHLAB" lab check -t "$TOPOLOGY" >"$TMP/out" 2>"$TMP/err"
rc=$?
cat "$TMP/out"
cat "$TMP/err" >&2
lab=$(sed -nE '1s/^lab ([a-z0-9]+): topology .*/\1/p' "$TMP/out")
[ -n "$lab" ] && OUR_LABS=$lab
[ "$rc" -eq 0 ] || fail "lab check -t $TOPOLOGY exited $rc, expected 0"
[ -n "$lab" ] || fail "lab check did not name its lab on the first line"
grep -Eq "^[0-9]+ probes, [0-9]+ as the topology expects, 0 unexpected; lab removed$" "$TMP/out" ||
	fail "no summary line with 0 unexpected probes"
# the probes covered both expectations: something reached, something blocked (every shipped
# topology has a LAN the other peer must not reach; in same-nat the peers share an isolated
# LAN, where neither may reach the other's address)
reached=$(grep -c ' reach  *reached' "$TMP/out")
blocked=$(grep -c ' blocked  *not reached' "$TMP/out")
note "$reached probes reached, $blocked blocked as expected"
[ "$reached" -gt 0 ] || fail "no probe reached anything"
[ "$blocked" -gt 0 ] || fail "no probe checked isolation"
expect_nothing_left "$TMP/before" "lab check -t $TOPOLOGY"
