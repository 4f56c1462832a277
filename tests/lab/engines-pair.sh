#!/usr/bin/env bash
# engines-pair.sh PUNCHLAB: engine against engine (issue 11 item 3, docs/engine-format.md
# "Engine against engine").
#   - punch x punch with two binaries (the build's punch as A, a copy as B): exit 0, every id says
#     engine=punch~punch, each peer ran its own binary, the servers A's, and matrix.json's meta,
#     the summary and the rerun lines name both engines and B's binary;
#   - netcat (gives up at the first ICMP error) against a netcat that starts again after one
#     (tests/data/engines/netcat-persistent.yaml): judged by the capabilities both share, so
#     full-cone x port-restricted-cone-rst is expected failed and is failed, while the stronger
#     engine alone connects that very cell (direct);
#   - only techniques both engines offer run; a technique one side lacks is bad input naming it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root
NC=$(command -v nc) || fail "nc (netcat-openbsd) is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"

# peer B's punch: another binary of the same program (a release against a main branch)
PUNCH_B="$TMP/punch-b"
cp "$PUNCH" "$PUNCH_B"
snapshot_all() { engine_snapshot "$PUNCH_B" "$NC"; }
snapshot_all >"$TMP/before"

# --- punch x punch, two binaries -------------------------------------------------------------
run_matrix 120 --engine-a punch --engine-b punch --engine-binary-b "$PUNCH_B" \
	--profiles full-cone,port-restricted-cone,symmetric --techniques plain --no-classify -o "$TMP/pp"
show_matrix_output
[ "$RC" -eq 0 ] || fail "punch x punch (two binaries): exit $RC, expected 0"
python3 - "$TMP/pp" "$PUNCH" "$PUNCH_B" <<'PY' || fail "punch x punch: the cells or the report do not name the engine pair"
import json, sys, glob, os
d, punch, punch_b = sys.argv[1], sys.argv[2], sys.argv[3]
m = json.load(open(d + "/matrix.json"))
assert len(m["cells"]) == 18, len(m["cells"])
for c in m["cells"]:
    assert c["id"].endswith("/engine=punch~punch"), c["id"]
    assert c["engine"] == "punch" and c["engine_b"] == "punch", (c["engine"], c.get("engine_b"))
meta = m["meta"]
assert meta["engine"] == "punch" and meta["engine_b"] == "punch", meta
assert meta["engine_b_version"].startswith("0."), meta["engine_b_version"]
assert meta["engine_binary_b"] == punch_b, meta["engine_binary_b"]
fc = [c for c in m["cells"] if c["id"] == "two-nats/udp/udp/full-cone~full-cone/engine=punch~punch"][0]
assert fc["outcome"] == "direct", fc["outcome"]
run = d + "/" + fc["runs"][0]["log_dir"]
a = open(run + "/peer-a.cmd").read().split()[0]
b = open(run + "/peer-b.cmd").read().split()[0]
r = open(run + "/rendezvous.cmd").read().split()[0]
assert os.path.realpath(a) == os.path.realpath(punch), a
assert b == punch_b, b
assert os.path.realpath(r) == os.path.realpath(punch), ("the servers are engine A's", r)
PY
grep -q "engine punch .* ~ punch .*(peer A ~ peer B), binaries .* ~ $PUNCH_B" "$TMP/matrix.out" ||
	fail "punch x punch: the summary does not name both engines and B's binary"
grep -q -- "--engine-binary-b $PUNCH_B" "$TMP/matrix.out" "$TMP/pp/matrix.md" ||
	fail "punch x punch: no rerun line carries --engine-binary-b"
# a rerun line's cell runs the pair again: the engines come from its id
run_matrix 60 --cell two-nats/udp/udp/full-cone~symmetric/engine=punch~punch \
	--engine-binary-b "$PUNCH_B" --no-classify -o "$TMP/pp1"
show_matrix_output
[ "$RC" -eq 0 ] || fail "a pair cell by its id: exit $RC, expected 0"
grep -q "$PUNCH_B" "$TMP"/pp1/cells/*/run-1/peer-b.cmd || fail "a pair cell by its id: B did not run its binary"

# --- capabilities differ: the pair is judged by what both can do -----------------------------
NCP="$PUNCHLAB_SOURCE_DIR/tests/data/engines/netcat-persistent.yaml"
CELL=two-nats/udp/udp/full-cone~port-restricted-cone-rst
# peer B starts 300 ms after A (not the default 20 ms): A's first datagram then surely meets B's
# NAT before B's own has opened it, as the theory's "peer A speaks first" assumes; on a loaded
# machine 20 ms is no such guarantee (the program's own start can take longer)
run_matrix 60 --engine "$NCP" --profiles full-cone,port-restricted-cone-rst --stagger 300 \
	--no-classify -o "$TMP/ncp"
show_matrix_output
[ "$RC" -eq 0 ] || fail "netcat-persistent alone: exit $RC, expected 0"
python3 - "$TMP/ncp/matrix.json" "$CELL" <<'PY' || fail "netcat-persistent alone should connect full-cone x port-restricted-cone-rst"
import json, sys
m = json.load(open(sys.argv[1]))
c = [c for c in m["cells"] if c["id"].startswith(sys.argv[2] + "/")][0]
assert c["outcome"] == "direct" and c["refs"]["theory"]["outcome"] == "direct", (c["outcome"], c["refs"]["theory"])
PY
run_matrix 60 --engine-a netcat --engine-b "$NCP" --profiles full-cone,port-restricted-cone-rst \
	--stagger 300 --no-classify -o "$TMP/pair"
show_matrix_output
[ "$RC" -eq 0 ] || fail "netcat x netcat-persistent: exit $RC, expected 0 (judged by the shared capabilities)"
python3 - "$TMP/pair/matrix.json" "$CELL" <<'PY' || fail "netcat x netcat-persistent: the weaker side's cell is not expected failed and failed"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["meta"]["engine"] == "netcat" and m["meta"]["engine_b"].endswith("netcat-persistent.yaml"), m["meta"]
c = [c for c in m["cells"] if c["id"].startswith(sys.argv[2] + "/engine=netcat~")][0]
assert c["refs"]["theory"]["outcome"] == "failed", c["refs"]["theory"]
assert "ICMP" in c["refs"]["theory"]["why"], c["refs"]["theory"]["why"]
assert c["outcome"] == "failed", (c["outcome"], c["runs"][0]["reason"])
fc = [c for c in m["cells"] if c["id"].startswith("two-nats/udp/udp/full-cone~full-cone/")][0]
assert fc["outcome"] == "direct", fc["outcome"]
PY

# --- only techniques both offer ---------------------------------------------------------------
sed -e 's/^engine: punch/engine: punch-udp/' -e '/^  \(tcp\|tcp-ttl\|predict\|birthday\|relay\|auto\):/d' \
	"$PUNCHLAB_SOURCE_DIR/engines/punch.yaml" >"$TMP/punch-udp.yaml"
run_matrix 60 --engine-a punch --engine-b "$TMP/punch-udp.yaml" --profiles full-cone \
	--no-classify -o "$TMP/tech"
show_matrix_output
[ "$RC" -eq 0 ] || fail "punch x punch-udp: exit $RC, expected 0"
[ "$(outcomes "$TMP/tech" | awk '{print $1}' | cut -d/ -f2-3 | sort -u)" = "udp/udp" ] ||
	fail "punch x punch-udp: expected only udp/udp cells, got: $(outcomes "$TMP/tech")"
grep -q "cell(s) left out (techniques or transports not both offer" "$TMP/matrix.err" ||
	fail "punch x punch-udp: the cells left out are not announced"
run_matrix 60 --engine-a punch --engine-b "$TMP/punch-udp.yaml" --profiles full-cone \
	--techniques predict --no-classify -o "$TMP/tech2"
[ "$RC" -eq 2 ] || fail "a technique peer B's engine lacks: exit $RC, expected 2"
grep -q "engine punch-udp (peer B) does not offer technique predict" "$TMP/matrix.err" ||
	fail "a technique peer B lacks: the error does not name B: $(cat "$TMP/matrix.err")"

none_added "the test" snapshot_all
note "punch x punch (two binaries) exits 0 with engine=punch~punch ids; netcat x netcat-persistent is judged by the shared capabilities; only shared techniques run"
