#!/usr/bin/env bash
# Replays every file of the given directories through a fuzz target once (the target's
# reproducer mode: libFuzzer's main given files, or replay_main.c without libFuzzer). The seed
# corpus must pass, and so must every input that once crashed a target (tests/fuzz/regressions/).
#   replay.sh TARGET DIR...
set -euo pipefail
target=$1
shift
files=()
for dir in "$@"; do
	[ -d "$dir" ] || continue
	while IFS= read -r -d '' f; do
		files+=("$f")
	done < <(find "$dir" -maxdepth 1 -type f ! -name 'README*' -print0 | sort -z)
done
if [ ${#files[@]} -eq 0 ]; then
	echo "replay.sh: no inputs under $*" >&2
	exit 1
fi
# -error_exitcode=1: libFuzzer reports a crash (an abort, a deadly signal) with exit 77, which
# meson reads as a skipped test; replay_main.c ignores the flag. exec: under meson's valgrind
# setup only the target is checked, not this shell.
exec "$target" -error_exitcode=1 "${files[@]}"
