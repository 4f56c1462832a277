#!/usr/bin/env bash
# engines.sh PUNCHLAB: engines described by files (issue 11).
#   - netcat (engines/netcat.yaml, seed 002's method): full-cone x full-cone connects, attested
#     (the lab saw the lines both ways between the NATs' public endpoints), symmetric x symmetric
#     fails; exit 0 against its own theory; ids and matrix.json name the engine;
#   - a user's engine file (--engine PATH) whose server never gets ready: the run is `error`
#     with the reason (what it waited for), and nothing it started is left running;
#   - an engine whose program is not installed: one sentence naming its package, exit 2;
#   - punch given by its file's path is the default engine: ids without engine=;
#   - punchlab engines lists both shipped engines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root
NC=$(command -v nc) || fail "nc (netcat-openbsd) is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"

# the sleeper: a user's program that never prints what its engine file waits for
SLEEPER="$TMP/sleeper"
cp "$(command -v sleep)" "$SLEEPER"
snapshot_all() { engine_snapshot "$SLEEPER" "$NC"; }
snapshot_all >"$TMP/before"

# outcome_of DIR ID: outcome, first run's phase, attestation verdict
outcome_of() {
	python3 - "$1/matrix.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["cells"] if c["id"] == sys.argv[2]][0]
r = c["runs"][0]
print(c["outcome"], r["phase"] or "-", (r.get("attestation") or {}).get("verdict", "-"))
PY
}

# --- netcat ---------------------------------------------------------------------------------
FC=two-nats/udp/udp/full-cone~full-cone/engine=netcat
SYM=two-nats/udp/udp/symmetric~symmetric/engine=netcat
run_matrix 60 --cell "$FC" --cell "$SYM" --no-classify -o "$TMP/nc"
show_matrix_output
[ "$RC" -eq 0 ] || fail "netcat: exit $RC, expected 0 (its theory: fc x fc direct, sym x sym failed)"
got=$(outcome_of "$TMP/nc" "$FC")
case $got in "direct - "*) ;; *) fail "netcat full-cone x full-cone: \"$got\", expected direct" ;; esac
python3 - "$TMP/nc/matrix.json" "$FC" <<'PY' || fail "netcat's direct cell is not attested"
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["cells"] if c["id"] == sys.argv[2]][0]
a = c["runs"][0]["attestation"]
assert a["verdict"] == "direct", a
assert d["meta"]["engine"] == "netcat", d["meta"]["engine"]
PY
got=$(outcome_of "$TMP/nc" "$SYM")
case $got in "failed probing "*) ;; *) fail "netcat symmetric x symmetric: \"$got\", expected failed in probing" ;; esac
grep -q "engine=netcat" "$TMP/nc/matrix.md" || fail "netcat: the report's rerun lines do not name the engine"

# --- readiness by a bound port, and a value captured from a server's output ---------------------
# Two servers (nc listening on UDP and on TCP), ready when their port is bound; the UDP one
# prints a key first, which both peers put into their lines: the outcome pattern wants it.
cat >"$TMP/ports.yaml" <<'YAML'
engine: ports
program: nc
techniques:
  udp: { transports: [udp], deadline: 2s }
roles:
  keyed:
    command: [sh, -c, "echo key=k$$; exec {{program}} -u -l -p {{port}}"]
    ready: { udp-port: "{{port}}", deadline: 3s }
    capture: { key: { regex: "^key=(k[0-9]+)$" } }
  listener:
    command: ["{{program}}", -l, -p, "3479"]
    ready: { tcp-port: "3479", deadline: 3s }
  peers:
    command: [sh, -c, "i=0; while [ $i -lt 40 ]; do echo 'hello from {{role}} {{capture.keyed.key}}'; i=$((i+1)); sleep 0.05; done | {{program}} -u -p 17000 {{other-nat.public}} 17000"]
outcome:
  line: "^hello from peer-[ab] k[0-9]+$"
YAML
run_matrix 60 --engine "$TMP/ports.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/ports"
show_matrix_output
[ "$RC" -eq 0 ] || fail "port readiness and capture: exit $RC, expected 0"
python3 - "$TMP/ports/matrix.json" <<'PY' || fail "port readiness and capture: not direct"
import json, sys
c = json.load(open(sys.argv[1]))["cells"][0]
assert c["outcome"] == "direct", (c["outcome"], c["runs"][0]["reason"])
PY
grep -Eq "hello from peer-a k[0-9]+'" "$TMP"/ports/cells/*/run-1/peer-a.cmd ||
	fail "the captured key is not in peer A's command line"

# --- a role that never gets ready ---------------------------------------------------------------
cat >"$TMP/never.yaml" <<YAML
engine: never
program: $SLEEPER
techniques:
  udp: { transports: [udp], deadline: 1s }
roles:
  server:
    command: ["{{program}}", "300"]
    ready: { line: "^ready\$", deadline: 700ms }
  peers:
    command: ["{{program}}", "300"]
outcome:
  line: "^connected"
YAML
t0=$(now_ms)
run_matrix 60 --engine "$TMP/never.yaml" --profiles full-cone --proto udp --no-classify -o "$TMP/never"
show_matrix_output
[ "$RC" -eq 2 ] || fail "a server that never gets ready: exit $RC, expected 2 (an error cell)"
python3 - "$TMP/never/matrix.json" <<'PY' || fail "the never-ready cell is not an error naming what it waited for"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["cells"]) == 1, len(d["cells"])
c = d["cells"][0]
r = c["runs"][0]
assert c["outcome"] == "error", c["outcome"]
assert r["phase"] == "ready", r["phase"]
assert "server did not become ready within 700 ms" in r["reason"], r["reason"]
assert 'a line matching "^ready$"' in r["reason"], r["reason"]
assert "engine=" in c["id"], c["id"]
PY
[ $(( $(now_ms) - t0 )) -lt 20000 ] || fail "the never-ready cell took over 20 s (its deadline is 0.7 s)"
procs_of "$SLEEPER" | grep -q . && fail "the never-ready engine's programs are still running: $(procs_of "$SLEEPER")"

# --- punch by its file's path is the default engine ------------------------------------------
run_matrix 60 --engine "$PUNCHLAB_SOURCE_DIR/engines/punch.yaml" \
	--cell two-nats/udp/udp/full-cone~full-cone --no-classify -o "$TMP/punch"
show_matrix_output
[ "$RC" -eq 0 ] || fail "punch by path: exit $RC, expected 0"
[ "$(outcome_of "$TMP/punch" two-nats/udp/udp/full-cone~full-cone)" = "direct - direct" ] ||
	fail "punch by path: $(outcome_of "$TMP/punch" two-nats/udp/udp/full-cone~full-cone)"

# --- punchlab engines ------------------------------------------------------------------------
"$PUNCHLAB" engines >"$TMP/engines.out" || fail "punchlab engines: exit $?"
sed 's/^/#   /' "$TMP/engines.out"
grep -Eq '^punch +punch [0-9.]+ +installed' "$TMP/engines.out" || fail "punchlab engines: no installed punch line"
grep -Eq '^netcat +netcat-openbsd [^ ]+ +installed +'"$NC" "$TMP/engines.out" || fail "punchlab engines: no installed netcat line"
"$PUNCHLAB" engines "$TMP/never.yaml" >/dev/null || fail "punchlab engines PATH: exit $?"
printf 'engine: x\n' >"$TMP/broken.yaml"
"$PUNCHLAB" engines "$TMP/broken.yaml" 2>"$TMP/broken.err" >/dev/null && fail "punchlab engines accepted a broken file"
grep -q "broken.yaml:.*no program" "$TMP/broken.err" || fail "punchlab engines: no FILE:LINE error for a broken file: $(cat "$TMP/broken.err")"

# --- a program that is not installed: one sentence naming the package, exit 2 ------------------
cat >"$TMP/missing.yaml" <<'YAML'
engine: missing
program: p2pd-not-installed-here
packages: [p2pd]
techniques:
  udp: { transports: [udp], deadline: 1s }
roles:
  peers:
    command: ["{{program}}"]
outcome:
  exit: { 0: direct }
YAML
run_matrix 30 --engine "$TMP/missing.yaml" --no-classify -o "$TMP/missing"
[ "$RC" -eq 2 ] || fail "an engine whose program is missing: exit $RC, expected 2"
[ "$(wc -l <"$TMP/matrix.err")" -eq 1 ] && grep -q "install the Debian package p2pd" "$TMP/matrix.err" ||
	fail "an engine whose program is missing: expected one sentence naming the package, got: $(cat "$TMP/matrix.err")"

none_added "the test" snapshot_all
note "netcat connects fc x fc (attested) and fails sym x sym; a never-ready role is an error with nothing left; punch by path is the default"
