#!/usr/bin/env bash
# The include graph (tools/include-graph): src/ has no include pointing up, and the checker does
# catch one (tests/data/include-graph-up: three upward includes and one downward).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tool=$top/tools/include-graph

if ! out=$("$tool" --check "$top/src"); then
	echo "include-graph: src/ has includes that point up:"
	grep '^UP:' <<<"$out"
	exit 1
fi

fix=$top/tests/data/include-graph-up
out=$("$tool" --check "$fix")
rc=$?
want=("$fix/nl/addr.c:2: nl includes lab/topo.h"
      "$fix/report/terminal.c:3: report includes matrix/matrix.h"
      "$fix/punch/main.c:3: punch includes base/out.h")
[ $rc -eq 1 ] || { echo "include-graph on $fix: exit $rc, expected 1"; exit 1; }
for w in "${want[@]}"; do
	grep -qF "UP: $w" <<<"$out" || { echo "include-graph on $fix: missing \"UP: $w\""; echo "$out"; exit 1; }
done
n=$(grep -c '^UP:' <<<"$out")
[ "$n" -eq 3 ] || { echo "include-graph on $fix: $n upward includes, expected 3"; echo "$out"; exit 1; }
echo "include graph: no include points up; the checker catches the fixture's three"
