#!/bin/bash
# Lab test of topologies/two-level.yaml (each peer behind a home NAT behind an outer NAT of its
# own): the lab builds and every probe of `lab check` meets the topology's expectation; the
# matrix over full-cone, port-restricted-cone and symmetric home NATs (UDP) agrees with the
# theory cell by cell (exit 0, no disagreement), which composes each home NAT with its outer
# port-restricted one: full-cone x symmetric fails here where two-nats connects it.
# usage: two-level.sh PUNCHLAB_BINARY
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/lib.sh"
require_root

timeout 60 "$PUNCHLAB" lab check -t two-level >"$TMP/check" 2>&1 ||
	fail "lab check -t two-level: $(tail -3 "$TMP/check")"
grep -q ", 0 unexpected;" "$TMP/check" || fail "lab check: $(tail -1 "$TMP/check")"
timeout 200 "$PUNCHLAB" matrix -t two-level --profiles full-cone,port-restricted-cone,symmetric \
	--proto udp --techniques udp -o "$TMP/out" >"$TMP/log" 2>&1
rc=$?
cat "$TMP/out/matrix.txt" 2>/dev/null || cat "$TMP/log"
[ $rc = 0 ] || fail "matrix -t two-level exited $rc, expected 0"
grep -q " 0 with the theory" "$TMP/log" || fail "cells disagree with the theory"
python3 - "$TMP/out/matrix.json" <<'PY' || fail "full-cone x symmetric is not failed"
import json, sys
cells = {c["id"]: c["outcome"] for c in json.load(open(sys.argv[1]))["cells"]}
got = cells.get("two-level/udp/udp/full-cone~symmetric")
print("two-level/udp/udp/full-cone~symmetric:", got)
sys.exit(0 if got == "failed" and len(cells) == 9 else 1)
PY
echo "PASS: two-level"
