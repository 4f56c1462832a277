#!/usr/bin/env bash
# matrix-interrupt.sh PUNCHLAB: Ctrl-C in the middle of the full default matrix. punchlab must
# exit within 10 s with 2 (an incomplete run is no pass), write a partial report marked
# incomplete (meta.incomplete) in which the cells that finished keep their outcomes, and leave
# nothing behind: no namespace it held, no /run/netns entry, no process of the session it ran
# in, no engine process.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

snapshot >"$TMP/before"
# Its own session (setsid), so every process it starts can be found by session id afterwards
# (a cell's programs get their own process group and PID namespace, but keep the session).
# A background job of a non-interactive shell starts with SIGINT ignored (POSIX), which would
# make this a test of nothing: env restores the default disposition before punchlab runs.
setsid env --default-signal=INT "$PUNCHLAB" matrix --no-color -o "$TMP/out" \
	>"$TMP/matrix.out" 2>"$TMP/matrix.err" &
pid=$!
defer "kill_started $pid"
wait_for_line "$TMP/matrix.err" '^running [0-9]+ cell' 20 "$pid"
sid=$(awk '{ print $6 }' "/proc/$pid/stat" 2>/dev/null)
[ "$sid" = "$pid" ] || fail "punchlab ($pid) is not the leader of its own session ($sid)"
# PUNCHLAB_TEST_SLOWDOWN (ci/test --sanitize): instrumented cells take longer to finish one
sleep $((2 * ${PUNCHLAB_TEST_SLOWDOWN:-1}))
kill -0 "$pid" 2>/dev/null || { show_matrix_output; fail "the full matrix ended within 2 s"; }
# what it holds now: namespaces, and the processes of its session (a cell's programs)
session() { ps -e -o pid=,sid=,comm= | awk -v s="$1" '$2 == s { print $1, $3 }'; }
session "$pid" >"$TMP/session"
own=$(readlink /proc/self/ns/net)
inodes=$({
	netns_inodes_of "$pid"
	while read -r p _; do
		readlink "/proc/$p/ns/net" 2>/dev/null | grep -vxF "$own" |
			sed -E 's/^net:\[([0-9]+)\]$/\1/'
	done <"$TMP/session"
} | sort -u)
note "at SIGINT: $(wc -l <"$TMP/session") process(es) in the session, $(echo "$inodes" | wc -w) namespace(s) held"
[ "$(wc -l <"$TMP/session")" -gt 1 ] || fail "no cell was running at SIGINT"

t0=$(now_ms)
kill -INT "$pid"
wait_exit "$pid" 10
took=$(($(now_ms) - t0))
show_matrix_output
note "exited $RC ${took} ms after SIGINT"
[ "$RC" -eq 2 ] || fail "an interrupted matrix exited $RC, expected 2 (incomplete: no pass)"
grep -q "INCOMPLETE" "$TMP/matrix.out" || fail "the terminal output does not say INCOMPLETE"

left=$(session "$pid")
[ -z "$left" ] || fail "processes of its session outlived punchlab: $left"
if [ -n "$inodes" ]; then
	# shellcheck disable=SC2086
	expect_netns_gone "SIGINT of the matrix" $inodes
fi
expect_nothing_left "$TMP/before" "SIGINT of the matrix"

[ -d "$TMP/out" ] || fail "no report directory"
for f in matrix.json junit.xml matrix.md index.html matrix.txt; do
	[ -s "$TMP/out/$f" ] || fail "the partial report has no $f"
done
python3 - "$TMP/out" "$RC" <<'PY' || fail "the partial matrix.json"
import json, os, sys
out, rc = sys.argv[1], int(sys.argv[2])
d = json.load(open(out + "/matrix.json"))
assert d["meta"]["incomplete"] is True, "meta.incomplete is %r" % d["meta"]["incomplete"]
cells = d["cells"]
done = [c for c in cells if c["outcome"] in ("direct", "relayed", "failed")]
assert 0 < len(done) < len(cells), "%d of %d cells finished" % (len(done), len(cells))
for c in done:
    assert os.path.isfile(os.path.join(out, c["log_dir"], "peer-a.out")), c["id"]
assert d["summary"]["exit_code"] == rc, "summary.exit_code %r, exited %d" % (d["summary"]["exit_code"], rc)
print("# %d of %d cells finished before the interrupt" % (len(done), len(cells)))
PY
grep -qi "incomplete" "$TMP/out/matrix.md" || fail "matrix.md does not say the run is incomplete"
