#!/usr/bin/env bash
# bundle.sh PUNCHLAB: repro bundles (issue 13 item 5, docs/bundle.md). A cell of a real matrix
# run, with a profile, a topology and an expectations file given by paths (spaces in them), an
# engine binary and a stagger, is bundled; the files it ran with are then deleted, and the
# bundle still replays here with the same outcome (exit 0), from the bundled files (their
# SHA-256 in the rerun's report). Without --trust replay only shows what it would run (exit
# 2). A shipped cell replays too, and keeps its report with -o. Bad bundles get one clear
# error each and exit 2: tampered (a changed byte: checksum), truncated, a path "../x" or
# "/etc/x", a symbolic link, a newer format version, an engine program not installed (naming the
# version the cell ran); another engine version is named and marked; a bundle whose outcome the rerun does not
# reproduce exits 1; a replay interrupted by Ctrl-C exits 130. Nothing is left in $TMPDIR
# after any of them, and no process is left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

export TMPDIR="$TMP/tmpdir"
mkdir -p "$TMPDIR" || fail "mkdir $TMPDIR"
# tmp_empty WHAT: replay left nothing in $TMPDIR (extracted files, its report)
tmp_empty() {
	local left
	left=$(find "$TMPDIR" -mindepth 1 | head -5)
	[ -z "$left" ] || fail "$1 left files behind in \$TMPDIR: $left"
}
# replay_expect RC WORDS FILE [ARGS]: punchlab replay FILE ARGS exits RC and says WORDS
replay_expect() {
	local want=$1 words=$2 file=$3 rc
	shift 3
	timeout -k 5 60 "$PUNCHLAB" replay "$file" "$@" >"$TMP/replay.out" 2>"$TMP/replay.err"
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -qF -- "$words" "$TMP/replay.out" "$TMP/replay.err"; then
		sed 's/^/#   /' "$TMP/replay.out" "$TMP/replay.err"
		fail "replay $(basename "$file") $*: exit $rc, expected $want with \"$words\""
	fi
	tmp_empty "replay $(basename "$file") $*"
}

DIR="$TMP/my dir"
mkdir -p "$DIR/bin" || fail "mkdir $DIR"
sed 's/^# name: full-cone$/# name: homebox/' "$SRCDIR/nat-profiles/full-cone.nft" >"$DIR/home box.nft" ||
	fail "copy a profile"
cp "$SRCDIR/topologies/two-nats.yaml" "$DIR/my topo.yaml" || fail "copy a topology"
cp "$SRCDIR/ci/expectations.yaml" "$DIR/exp.yaml" || fail "copy the expectations"
cp "$PUNCH" "$DIR/bin/punch" || fail "copy the engine"
# a second profile of the same file name, in another directory
mkdir -p "$DIR/b" || fail "mkdir $DIR/b"
sed 's/^# name: port-restricted-cone$/# name: homebox-b/' \
	"$SRCDIR/nat-profiles/port-restricted-cone.nft" >"$DIR/b/home box.nft" || fail "copy a profile"
enc() {
	python3 -c 'import sys, string; ok = (string.ascii_letters + string.digits + "-._").encode()
print("".join(chr(b) if b in ok else "%%%02X" % b for b in sys.argv[1].encode()))' "$1"
}
ENC=$(enc "$DIR/home box.nft")
ID="two-nats/udp/udp/$ENC~port-restricted-cone"
TWIN="two-nats/udp/udp/$ENC~$(enc "$DIR/b/home box.nft")"

engine_snapshot "$PUNCH" >"$TMP/before"
run_matrix 60 --cell "$ID" --cell two-nats/udp/udp/port-restricted-cone~port-restricted-cone \
	--cell two-nats/udp/udp/port-restricted-cone~symmetric --cell "$TWIN" \
	-t "$DIR/my topo.yaml" --expectations "$DIR/exp.yaml" --engine-binary "$DIR/bin/punch" \
	--stagger 35 -o "$TMP/run"
show_matrix_output
[ "$RC" -eq 0 ] || fail "punchlab matrix exited $RC, expected 0"
# a pcap and a timeline the cell runner may leave in the cell's directory go into the bundle
# whatever they are called: stand-ins, so that this test does not depend on who writes them
CELLDIR=$(python3 -c 'import json, sys; c = [c for c in json.load(open(sys.argv[1]))["cells"] if c["id"] == sys.argv[2]][0]
print(c["runs"][0]["log_dir"])' "$TMP/run/matrix.json" "$ID") || fail "no log_dir for $ID"
head -c 3000 /dev/urandom >"$TMP/run/$CELLDIR/nat-a-wan.pcap"
mkdir -p "$TMP/run/$CELLDIR/../extra" || fail "mkdir extra"
echo "t=0 mapping created" >"$TMP/run/$CELLDIR/../extra/timeline.txt"

# bundle's bad input: one sentence each, exit 2, no file written
bundle_refused() {
	local words=$1 rc
	shift
	"$PUNCHLAB" bundle "$@" >"$TMP/bundle.out" 2>&1
	rc=$?
	if [ "$rc" -ne 2 ] || ! grep -qF -- "$words" "$TMP/bundle.out" || [ -e "$TMP/bad.tar.gz" ]; then
		cat "$TMP/bundle.out"
		fail "bundle $*: exit $rc, expected 2 with \"$words\" and no bundle"
	fi
}
bundle_refused "is not in $TMP/run/matrix.json" two-nats/udp/udp/full-cone~full-cone --from "$TMP/run" -o "$TMP/bad.tar.gz"
bundle_refused "technique \"nope\" does not exist over udp" two-nats/udp/nope/full-cone~full-cone --from "$TMP/run" -o "$TMP/bad.tar.gz"
bundle_refused "needs one CELL-ID and --from REPORT-DIR" "$ID" -o "$TMP/bad.tar.gz"
bundle_refused "No such file" "$ID" --from "$TMP/nowhere" -o "$TMP/bad.tar.gz"
cp "$DIR/home box.nft" "$TMP/saved.nft"
echo "# edited after the run" >>"$DIR/home box.nft"
bundle_refused "changed since the run" "$ID" --from "$TMP/run" -o "$TMP/bad.tar.gz"
cp "$TMP/saved.nft" "$DIR/home box.nft"

"$PUNCHLAB" bundle "$ID" --from "$TMP/run" -o "$TMP/repro.tar.gz" >"$TMP/bundle.out" 2>&1 ||
	{ cat "$TMP/bundle.out"; fail "punchlab bundle exited $?"; }
note "$(cat "$TMP/bundle.out")"
# GNU tar reads what we wrote; the manifest comes first
tar tzf "$TMP/repro.tar.gz" >"$TMP/list" || fail "tar cannot list the bundle"
[ "$(head -1 "$TMP/list")" = manifest.json ] || fail "manifest.json is not the first entry"
for f in "files/profile/home box.nft" "files/topology/my topo.yaml" "files/expectations/exp.yaml" \
	data/nat-profiles/port-restricted-cone.nft data/topologies/two-nats.yaml data/engines/punch.yaml \
	cell.json logs/run-1/nat-a-wan.pcap logs/run-1/peer-a.out logs/extra/timeline.txt; do
	grep -qxF "$f" "$TMP/list" || fail "the bundle lacks $f: $(tr '\n' ' ' <"$TMP/list")"
done
"$PUNCHLAB" bundle two-nats/udp/udp/port-restricted-cone~port-restricted-cone --from "$TMP/run" \
	-o "$TMP/shipped.tar.gz" >/dev/null || fail "bundle a shipped cell"
# two profiles called "home box.nft": both go in, the second in a numbered directory
"$PUNCHLAB" bundle "$TWIN" --from "$TMP/run" -o "$TMP/twin.tar.gz" >/dev/null || fail "bundle $TWIN"
tar tzf "$TMP/twin.tar.gz" | grep -qxF "files/profile/2/home box.nft" ||
	fail "the bundle of two profiles of one file name lacks the second: $(tar tzf "$TMP/twin.tar.gz" | tr '\n' ' ')"
# a cell that fails (it runs to its 2 s deadline): long enough to interrupt its replay
"$PUNCHLAB" bundle two-nats/udp/udp/port-restricted-cone~symmetric --from "$TMP/run" \
	-o "$TMP/slow.tar.gz" >/dev/null || fail "bundle a failing cell"
# the files the cell ran with are gone: only the bundle's copies can run it now
rm -rf "$DIR"

replay_expect 2 "--trust" "$TMP/repro.tar.gz"
grep -qF "matrix --cell" "$TMP/replay.out" || fail "the preview does not show the command"
grep -qF "masquerade" "$TMP/replay.out" || fail "the preview does not show the rulesets"
grep -qF "peer-a (node peer-a):" "$TMP/replay.out" || fail "the preview does not show the engine's commands"
grep -qF -- "--engine-binary" "$TMP/replay.out" || fail "the preview does not say --engine-binary is left out"

replay_expect 0 "reproduced" "$TMP/repro.tar.gz" --trust
sed 's/^/# /' "$TMP/replay.out"
replay_expect 0 "reproduced" "$TMP/twin.tar.gz" --trust
grep -q "^  punch  *0.1.0  *0.1.0$" "$TMP/replay.out" || fail "replay does not name the engine's version"

# a shipped cell (of a run with a topology file, bundled too); -o keeps the rerun's report: its profiles are the bundle's, by SHA-256
replay_expect 0 "reproduced" "$TMP/shipped.tar.gz" --trust -o "$TMP/rerun"
replay_expect 2 "-o $TMP/rerun: expected a new or empty directory" "$TMP/shipped.tar.gz" --trust -o "$TMP/rerun"
python3 - "$TMP/shipped.tar.gz" "$TMP/rerun/matrix.json" <<'PY' || fail "the rerun did not load the bundled profile"
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
man = json.load(t.extractfile("manifest.json"))
bundled = {f["ref"]: f["sha256"] for f in man["files"] if f["kind"] == "profile"}
ran = {p["name"]: p["sha256"] for p in json.load(open(sys.argv[2]))["meta"]["profiles"]}
assert ran == {"port-restricted-cone": bundled["port-restricted-cone"]}, (ran, bundled)
PY
nothing_left "the bundles' replays"

# Ctrl-C during a replay: passed on to the rerun, and the temporary directory still goes
"$PUNCHLAB" replay "$TMP/slow.tar.gz" --trust >"$TMP/int.out" 2>&1 &
pid=$!
defer "kill_started $pid"
for ((i = 0; i < 100; i++)); do
	[ -d "$(echo "$TMPDIR"/punchlab-replay-*/data)" ] && break
	sleep 0.05
done
[ "$i" -lt 100 ] || { cat "$TMP/int.out"; fail "replay of a failing cell never started its rerun"; }
kill -INT "$pid"
wait_exit "$pid" 20
[ "$RC" -eq 130 ] || { cat "$TMP/int.out"; fail "replay interrupted by SIGINT exited $RC, expected 130"; }
grep -q "interrupted (signal 2)" "$TMP/int.out" || fail "replay did not say it was interrupted"
tmp_empty "an interrupted replay"

# --- bad bundles: one clear error each, exit 2, nothing extracted ------------------------------
# craft OUT MODE: a copy of repro.tar.gz changed by MODE (python's tarfile writes the archive
# again, ustar, so the reader is also checked against another writer)
craft() {
	python3 - "$TMP/repro.tar.gz" "$1" "$2" <<'PY' || fail "craft $2"
import gzip, hashlib, io, json, sys, tarfile
src, out, mode = sys.argv[1:4]
t = tarfile.open(src)
members = [(m, t.extractfile(m).read()) for m in t.getmembers()]
buf = io.BytesIO()
w = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT)
def add(name, data, kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name)
    i.size, i.type, i.linkname = (len(data) if kind == tarfile.REGTYPE else 0), kind, link
    w.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
for m, data in members:
    if m.name == "manifest.json":
        man = json.loads(data)
        if mode == "newer":
            man["format_version"] += 1
        if mode == "outcome":
            man["outcome"] = "failed"
        if mode == "oldengine":
            man["versions"]["engine_version"] = "0.0.9"
        if mode == "noprogram":
            # the engine file names a program this machine lacks; its checksum made right,
            # since what is tested is the missing program, not the checksum
            f = [f for f in man["files"] if f["path"] == "data/engines/punch.yaml"][0]
            e = [d for n, d in members if n.name == f["path"]][0]
            e = e.replace(b"\nprogram: punch\n", b"\nprogram: punch-not-installed\n")
            f["sha256"], f["size"] = hashlib.sha256(e).hexdigest(), len(e)
        data = json.dumps(man).encode()
    if mode == "noprogram" and m.name == "data/engines/punch.yaml":
        data = data.replace(b"\nprogram: punch\n", b"\nprogram: punch-not-installed\n")
    if mode == "tamper" and m.name == "files/profile/home box.nft":
        data = data.replace(b"masquerade", b"masquerado", 1)
    add(m.name, data)
if mode == "dotdot":
    add("../x", b"x")
if mode == "absolute":
    add("/etc/x", b"x")
if mode == "symlink":
    add("logs/evil", b"", tarfile.SYMTYPE, "/etc/shadow")
w.close()
open(out, "wb").write(gzip.compress(buf.getvalue()))
PY
}
craft "$TMP/tamper.tar.gz" tamper
replay_expect 2 '"files/profile/home box.nft": checksum mismatch' "$TMP/tamper.tar.gz" --trust
craft "$TMP/dotdot.tar.gz" dotdot
replay_expect 2 'path "../x" has a ".." component' "$TMP/dotdot.tar.gz" --trust
craft "$TMP/absolute.tar.gz" absolute
replay_expect 2 'path "/etc/x" is absolute' "$TMP/absolute.tar.gz" --trust
craft "$TMP/symlink.tar.gz" symlink
replay_expect 2 'a symbolic link: a bundle holds regular files only' "$TMP/symlink.tar.gz" --trust
craft "$TMP/newer.tar.gz" newer
replay_expect 2 "bundle format version 2 is newer than this punchlab reads (up to 1)" "$TMP/newer.tar.gz" --trust
size=$(stat -c %s "$TMP/repro.tar.gz")
head -c $((size * 2 / 3)) "$TMP/repro.tar.gz" >"$TMP/truncated.tar.gz"
replay_expect 2 "truncated" "$TMP/truncated.tar.gz" --trust
# a changed byte in the compressed file itself: gzip's own check
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[len(d) // 2] ^= 0x55
open(sys.argv[2], "wb").write(d)' "$TMP/repro.tar.gz" "$TMP/flipped.tar.gz"
replay_expect 2 "nothing was extracted or run" "$TMP/flipped.tar.gz" --trust

# the engine's program is not in the bundle: replay names the version the cell ran with, and
# says when another is installed (the outcome is still compared)
craft "$TMP/noprogram.tar.gz" noprogram
replay_expect 2 "its program punch-not-installed is not installed here" "$TMP/noprogram.tar.gz" --trust
grep -qF "the cell ran version 0.1.0: install it" "$TMP/replay.err" || fail "replay does not name the version it needs"
craft "$TMP/oldengine.tar.gz" oldengine
replay_expect 0 "engine punch: the cell ran version 0.0.9; installed here: 0.1.0" "$TMP/oldengine.tar.gz" --trust
grep -q "^  punch  *0.0.9  *0.1.0   DIFFERS$" "$TMP/replay.out" || fail "replay does not mark the engine's version as differing"

# an outcome the rerun does not reproduce: exit 1, saying so
craft "$TMP/outcome.tar.gz" outcome
replay_expect 1 "NOT reproduced" "$TMP/outcome.tar.gz" --trust
nothing_left "the bad bundles"
echo "bundle: a bundle of a real run replays here (exit 0) from its own files; 7 bad bundles refused (exit 2), a different outcome exits 1; nothing left behind"
