# Shared by the punch engine's lab tests (tests/lab/punch-*.sh, issue 5), sourced after lib.sh.
# Two ways to run the engine:
#   - through `punchlab matrix --cell ID -o DIR --no-classify` (a fresh lab per run), reading
#     the outcome from DIR/matrix.json: run_cells, cell_field;
#   - in a kept lab (`lab up --keep`), by hand with `punchlab exec`, for what the matrix cannot
#     express (a profile given by path, counters on a NAT that outlive one run, IPv6, hostile
#     packets): kept_lab, rdv_start, pair, result.
# Every wait is bounded; every lab and program is undone by the teardown list (lib.sh).
# shellcheck shell=bash

# The engine (matrix_find_engine's places: under src/punch/ of the build tree, or next to
# punchlab).
PUNCH=$(dirname "$PUNCHLAB")/src/punch/punch
[ -x "$PUNCH" ] || PUNCH=$(dirname "$PUNCHLAB")/punch
[ -x "$PUNCH" ] || fail "the punch engine is not built next to $PUNCHLAB (ninja builds it)"
PUNCH=$(readlink -f "$PUNCH")

# punch authenticates every message with a secret the rendezvous and the peers share
# (docs/punch.md, "Threat model"): one per test, through the environment, which punchlab exec
# passes on to every punch the test starts.
"$PUNCH" keygen "$TMP/punch.secret" || fail "punch keygen $TMP/punch.secret failed"
export PUNCH_SECRET_FILE=$TMP/punch.secret

# The tests call python3 often (JSON lines, matrix.json, nft -j): a version manager's shim in
# PATH costs ~150 ms a call, the system interpreter ~20 ms.
PY=$(command -v python3) || fail "python3 is needed"
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
python3() {
	"$PY" "$@"
}

# lib.sh's snapshot plus the engine's processes: what a test started must be gone at the end.
eval "$(declare -f snapshot | sed '1s/^snapshot/_lib_snapshot/')"
snapshot() {
	{
		_lib_snapshot
		procs_of "$PUNCH" | sed 's/^/engine process /'
	} | sort
}

# The rendezvous of two-nats-like topologies (both addresses: stride learning); used by the
# scripts that source this file.
# shellcheck disable=SC2034
RDV1=198.51.100.10
# shellcheck disable=SC2034
RDV2=198.51.100.11

# kill_child PID: SIGKILL a background process of this test's shell, only while it still is
# one (a PID reaped earlier may belong to someone else by now), and reap it.
kill_child() {
	[ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$_MAINPID" ] && kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# --- through the matrix --------------------------------------------------------------------

# run_cells SECONDS DIR ARGS...: `punchlab matrix -o DIR --no-classify ARGS...`, bounded; its
# terminal output in DIR.out. An `error` cell is a harness failure, never a NAT result: the
# test fails on exit 2. Exit 1 (a regression against ci/expectations.yaml) is left to the
# caller's own checks of the outcomes.
run_cells() {
	local secs=$1 dir=$2 rc
	shift 2
	timeout -k 5 "$secs" "$PUNCHLAB" matrix --no-color --no-classify -o "$dir" "$@" \
		>"$dir.out" 2>"$dir.err"
	rc=$?
	grep -E '^[0-9]+ cells?:' "$dir.out" | sed 's/^/# matrix: /'
	[ "$rc" -eq 124 ] && { cat "$dir.err" >&2; fail "punchlab matrix $* ran over $secs s"; }
	[ -f "$dir/matrix.json" ] || { cat "$dir.err" >&2; fail "punchlab matrix $* wrote no matrix.json (exit $rc)"; }
	[ "$rc" -eq 2 ] && { cat "$dir.err" >&2; fail "punchlab matrix $* had an error cell or bad input (exit 2)"; }
	return 0
}

# cell_field DIR ID EXPR: a Python expression over the cell object `c` of DIR/matrix.json
# (e.g. c["outcome"], [r["outcome"] for r in c["runs"]]); prints "missing" for no such cell.
cell_field() {
	python3 - "$1/matrix.json" "$2" "$3" <<'PY'
import json, sys
cells = {c["id"]: c for c in json.load(open(sys.argv[1]))["cells"]}
c = cells.get(sys.argv[2])
print("missing" if c is None else eval(sys.argv[3]))
PY
}

# expect_cell DIR ID OUTCOME WHY: the cell's outcome is OUTCOME: every run's for a determined
# cell; for a timing-dependent or probabilistic one (run as often as its rate test needs) the
# cell's outcome, its rate test passed and no run outside its allowed outcomes.
expect_cell() {
	local dir=$1 id=$2 want=$3 why=$4 got
	got=$(cell_field "$dir" "$id" '(c["outcome"] if not c["verdict"]["regression"] else "regression") if c["refs"]["expected"]["class"] != "determined" else " ".join(sorted(set(r["outcome"] for r in c["runs"])))')
	if [ "$got" != "$want" ]; then
		cell_field "$dir" "$id" '"\n".join("run %d: %s (%s)" % (i + 1, r["outcome"], r["reason"]) for i, r in enumerate(c["runs"]))' >&2
		fail "$id: $got, expected $want ($why)"
	fi
	note "ok: $id $want ($why)"
}

# --- in a kept lab ---------------------------------------------------------------------------

# kept_lab ARGS...: `punchlab lab up --keep ARGS...`; sets LAB; torn down at exit.
kept_lab() {
	LAB=$("$PUNCHLAB" lab up --keep "$@" 2>"$TMP/labup.err")
	local rc=$?
	if [ "$rc" -ne 0 ] || [ -z "$LAB" ]; then
		cat "$TMP/labup.err" >&2
		fail "lab up --keep $* exited $rc"
	fi
	OUR_LABS="$OUR_LABS $LAB"
	defer "down_if_kept $LAB"
}

# rdv_start NAME SECONDS ARGS...: a rendezvous in the server node for SECONDS (--duration, so it
# prints its stats line and exits by itself), its JSON lines in $TMP/NAME.rdv; RDV_PID is the
# exec process. Waits (bounded) for its `listening` line. ARGS: --listen ... and options.
# RDV_PREFIX (an array, optional): a command the server runs through, e.g. (taskset -c 0).
RDV_PREFIX=()
rdv_start() {
	local name=$1 secs=$2
	shift 2
	"$PUNCHLAB" exec --timeout $((secs + 5)) "$LAB" server -- "${RDV_PREFIX[@]}" "$PUNCH" rendezvous --json \
		--duration "$secs" "$@" >"$TMP/$name.rdv" 2>"$TMP/$name.rdv.err" &
	RDV_PID=$!
	defer "kill_child $RDV_PID"
	wait_for_line "$TMP/$name.rdv" '"event":"listening"' 5 "$RDV_PID"
}

# rdv_stats NAME PID: wait (bounded by its --duration + 5 s) for the rendezvous to exit and
# print its stats line.
rdv_stats() {
	wait_exit "$2" 20
	grep '"event":"stats"' "$TMP/$1.rdv" | tail -1
}

# pair NAME SECONDS NODE-A NODE-B ARGS...: `punch peer ARGS... --session NAME --json` in NODE-A
# (role a) and NODE-B (role b) at the same moment (zero stagger), each bounded by exec
# --timeout SECONDS+3. Output in $TMP/NAME.a and $TMP/NAME.b; exit codes in RC_A and RC_B.
pair() {
	local name=$1 secs=$2 na=$3 nb=$4 pa
	shift 4
	"$PUNCHLAB" exec --timeout $((secs + 3)) "$LAB" "$na" -- "$PUNCH" peer --session "$name" \
		--role a --timeout "$secs" --json "$@" >"$TMP/$name.a" 2>"$TMP/$name.a.err" &
	pa=$!
	"$PUNCHLAB" exec --timeout $((secs + 3)) "$LAB" "$nb" -- "$PUNCH" peer --session "$name" \
		--role b --timeout "$secs" --json "$@" >"$TMP/$name.b" 2>"$TMP/$name.b.err"
	RC_B=$?
	wait "$pa"
	RC_A=$?
}

# result FILE KEY: a key of the last `result` line of a peer's output ("null" when null,
# "missing" without a result line).
result() {
	python3 - "$1" "$2" <<'PY'
import json, sys
res = None
for line in open(sys.argv[1], errors="replace"):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if isinstance(ev, dict) and ev.get("event") == "result":
        res = ev
if res is None:
    print("missing")
else:
    v = res.get(sys.argv[2])
    print("null" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v)
PY
}

# expect_pair NAME RC OUTCOME WHY: both peers of pair NAME exited RC with outcome OUTCOME.
expect_pair() {
	local name=$1 rc=$2 want=$3 why=$4 side got
	for side in a b; do
		got=$(result "$TMP/$name.$side" outcome)
		local code=$RC_A
		[ "$side" = b ] && code=$RC_B
		if [ "$got" != "$want" ] || [ "$code" -ne "$rc" ]; then
			sed "s/^/#   $side: /" "$TMP/$name.$side" "$TMP/$name.$side.err" >&2
			fail "$name: peer $side exited $code with outcome $got, expected $rc / $want ($why)"
		fi
	done
	note "ok: $name $want ($why)"
}

# reject_hits NODE: the packet counters of the reject rules in NODE's ruleset (a profile that
# answers unsolicited traffic, e.g. port-restricted-cone-rst), "PROTO=PACKETS" per rule, from
# `nft -j list ruleset` run inside the node.
reject_hits() {
	"$PUNCHLAB" exec --timeout 5 "$LAB" "$1" -- nft -j list ruleset >"$TMP/ruleset.json" ||
		fail "nft list ruleset in $1 failed"
	python3 - "$TMP/ruleset.json" <<'PY'
import json, sys
out = []
for obj in json.load(open(sys.argv[1]))["nftables"]:
    rule = obj.get("rule")
    if not rule or not any("reject" in e for e in rule["expr"]):
        continue
    proto = next((e["match"]["right"] for e in rule["expr"] if "match" in e and
                  e["match"]["left"] == {"meta": {"key": "l4proto"}}), "any")
    counters = [e["counter"]["packets"] for e in rule["expr"] if "counter" in e]
    out.append("%s=%s" % (proto, counters[0] if counters else "no-counter"))
print(" ".join(out) if out else "no-reject-rule")
PY
}

# hits_total "PROTO=N ...": the sum of N (fails on a rule without a counter).
hits_total() {
	local sum=0 kv
	for kv in $1; do
		case ${kv#*=} in
		*[!0-9]* | "") fail "reject rule without a counter: $1" ;;
		esac
		sum=$((sum + ${kv#*=}))
	done
	echo "$sum"
}
