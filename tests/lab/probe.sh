#!/bin/bash
# probe.sh PUNCHLAB: the reporter's side (issue 13 item 4). For every shipped profile, a lab with
# the profile in nat-a, a punch rendezvous on two addresses and two ports and coturn (two
# addresses: RFC 5780) in the server node; from host-a:
#   - punch probe --server (punch wire) recovers mapping, filtering, ports (and stride),
#     hairpin, and the mapping over TCP;
#   - punch probe --stun against coturn recovers mapping, filtering, ports, hairpin;
#   - Debian's stun-client and coturn's turnutils_natdiscovery run, their output goes through
#     `punchlab profile import`, and every field the import says it measured equals the header;
# the labs in parallel. Then, on one profile only (a copy of port-restricted-cone whose UDP
# timeout is 4 s, so the test stays short): the binding lifetime by punch probe (both
# protocols) and by natdiscovery's -t through import --timer; --redact hides the public
# address everywhere; a rendezvous with one address leaves the fields it needs unknown (named as
# assumed in the profile new line, which needs every flag); a malformed import file is refused at FILE:LINE, exit 2;
# import -o and each profile's probe line through `profile new`, the results classified, when
# this build has `profile new`. Authentication (wire v2): the rendezvous has a secret
# (punch-lib.sh's, in the environment, as the peers take it); probe without any secret exits 2
# with one sentence, with another secret gets no answer (exit 1), with --secret-file alone and
# another --session measures as before; from a host without NAT, BINDs with CHANGE flags and
# RESPONSE_PORT (probe-rfc5780.py) are answered only when verified, only to the sender's own
# address, never larger than the request. Nothing is left behind.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

command -v turnserver >/dev/null || fail "coturn is not installed (ci/bootstrap.sh installs it)"
command -v turnutils_natdiscovery >/dev/null || fail "turnutils_natdiscovery (coturn) is missing"
command -v stun >/dev/null || fail "stun (stun-client) is missing (ci/bootstrap.sh installs it)"

TURN_PORT=3480    # coturn's; its alternate port is the next one (RFC 5780's OTHER-ADDRESS)
snapshot >"$TMP/before"

# servers LAB DIR: the rendezvous (four listeners) and coturn in LAB's server node, for 90 s at
# most (their exec deadlines; lab down ends them earlier). coturn's files live in DIR.
servers() {
	local lab=$1 d=$2 i
	"$PUNCHLAB" exec --timeout 95 "$lab" server -- "$PUNCH" rendezvous --json --duration 90 \
		--listen $RDV1:3478 --listen $RDV1:3479 --listen $RDV2:3478 --listen $RDV2:3479 \
		>"$d/rdv.out" 2>&1 &
	echo $! >"$d/rdv.pid"
	"$PUNCHLAB" exec --timeout 95 "$lab" server -- turnserver -n --listening-ip=$RDV1 \
		--listening-ip=$RDV2 --listening-port=$TURN_PORT --no-tls --no-dtls --no-cli \
		--pidfile="$d/turn.pid" --userdb="$d/turndb" --log-file="$d/turn.log" --no-stdout-log \
		>/dev/null 2>&1 &
	echo $! >"$d/turn.execpid"
	wait_for_line "$d/rdv.out" '"event":"listening"' 5 "$(cat "$d/rdv.pid")"
	# coturn writes its pid file once its listeners are open
	for ((i = 0; i < 100; i++)); do
		[ -s "$d/turn.pid" ] && return 0
		sleep 0.05
	done
	fail "coturn did not start in $lab (see $d/turn.log)"
}

# measure PROFILE LAB: every tool from host-a, outputs in $TMP/PROFILE/ (a background job).
measure() {
	local p=$1 lab=$2 d=$TMP/$1
	servers "$lab" "$d"
	in_lab() { "$PUNCHLAB" exec --timeout 60 "$lab" host-a -- "$@"; }
	in_lab "$PUNCH" probe --server $RDV1 --json >"$d/probe.json" 2>"$d/probe.err"
	in_lab "$PUNCH" probe --stun $RDV1:$TURN_PORT --json >"$d/probe-stun.json" 2>"$d/probe-stun.err"
	in_lab stun $RDV1:$TURN_PORT >"$d/stun-client.txt" 2>&1
	in_lab turnutils_natdiscovery -m -f -H -p $TURN_PORT $RDV1 >"$d/natdiscovery.txt" 2>&1
	"$PUNCHLAB" profile import "$d/stun-client.txt" >"$d/import-stun-client.txt" 2>&1
	# A NAT that draws a random port per destination from a narrow range (symmetric-port-range:
	# 256 ports) gives two destinations the same port by chance, 1 time in 256, and RFC 3489's
	# test then sees a cone: one more try, never more.
	if grep -q '^# ports: random' "$SRCDIR/nat-profiles/$p.nft" &&
	   grep -q '^mapping: endpoint-independent' "$d/import-stun-client.txt"; then
		in_lab stun $RDV1:$TURN_PORT >"$d/stun-client.txt" 2>&1
		"$PUNCHLAB" profile import "$d/stun-client.txt" >"$d/import-stun-client.txt" 2>&1
	fi
	"$PUNCHLAB" profile import "$d/natdiscovery.txt" >"$d/import-natdiscovery.txt" 2>&1
	echo finished >"$d/done"
}

# --- every shipped profile, in parallel ---------------------------------------------------------
profiles=()
# IPv4 profiles: the probe's lab (two-nats) is IPv4
mapfile -t v4 < <(grep -L '^# family: ipv6$' "$SRCDIR"/nat-profiles/*.nft)
for f in "${v4[@]}"; do
	# a network that keeps UDP in (outbound: ...) gives the probes nothing to measure
	grep -q '^# outbound: ' "$f" && continue
	# a firewall translates nothing: two-nats's private LAN is no place for it (lab up refuses)
	grep -q '^# translation: none$' "$f" && continue
	profiles+=("$(basename "$f" .nft)")
done
jobs_pids=()
for p in "${profiles[@]}"; do
	mkdir -p "$TMP/$p"
	kept_lab -t two-nats --set "nat-a=$p"
	echo "$LAB" >"$TMP/$p/lab"
	measure "$p" "$LAB" >"$TMP/$p/measure.log" 2>&1 &
	jobs_pids+=($!)
done

# --- the lifetime lab, meanwhile --------------------------------------------------------------
sed -e 's/^# udp-timeout: 30$/# udp-timeout: 4/' \
	-e 's/unreplied : 30, replied : 30/unreplied : 4, replied : 4/' \
	"$SRCDIR/nat-profiles/port-restricted-cone.nft" >"$TMP/prc4.nft"
grep -q 'unreplied : 4, replied : 4' "$TMP/prc4.nft" || fail "could not make a 4 s copy of port-restricted-cone"
mkdir -p "$TMP/life"
kept_lab -t two-nats --set "nat-a=$TMP/prc4.nft"
LIFE_LAB=$LAB
(
	servers "$LIFE_LAB" "$TMP/life"
	in_lab() { "$PUNCHLAB" exec --timeout 60 "$LIFE_LAB" host-a -- "$@"; }
	# the four measurements at once: each makes its own mappings (its own sockets, so its own
	# ports on nat-a) and times them by its own clock; the two servers answer every client
	# apart. One after the other they were the test's longest path (about 30 s of 48).
	# Each is bounded by its exec's --timeout (waited for by pid: the servers are this
	# subshell's children too, and run for 90 s).
	in_lab "$PUNCH" probe --server $RDV1 --no-tcp --lifetime-max 8 --json >"$TMP/life/probe.json" &
	m1=$!
	in_lab "$PUNCH" probe --stun $RDV1:$TURN_PORT --lifetime-max 8 --json >"$TMP/life/probe-stun.json" &
	m2=$!
	in_lab turnutils_natdiscovery -t -T 2 -p $TURN_PORT $RDV1 >"$TMP/life/natdiscovery-2.txt" 2>&1 &
	m3=$!
	in_lab turnutils_natdiscovery -t -T 7 -p $TURN_PORT $RDV1 >"$TMP/life/natdiscovery-7.txt" 2>&1 &
	m4=$!
	wait $m1 $m2 $m3 $m4
	# import --timer 2 --timer 7 reads the two runs in that order
	cat "$TMP/life/natdiscovery-2.txt" "$TMP/life/natdiscovery-7.txt" >"$TMP/life/natdiscovery.txt"
	echo finished >"$TMP/life/done"
) >"$TMP/life/measure.log" 2>&1 &
jobs_pids+=($!)

for pid in "${jobs_pids[@]}"; do
	wait_exit "$pid" 150
done

# --- compare with the headers -----------------------------------------------------------------
python3 - "$TMP" "$SRCDIR/nat-profiles" "${profiles[@]}" <<'PY' || fail "a tool did not recover its fields (above)"
import json, os, re, sys
tmp, pdir, profiles = sys.argv[1], sys.argv[2], sys.argv[3:]
bad = 0

def header(p):
    h = {}
    for line in open(os.path.join(pdir, p + ".nft")):
        m = re.match(r"#\s*([a-z0-9-]+):\s*(.*?)\s*$", line)
        if not m:
            break
        h[m.group(1)] = m.group(2)
    return h

def check(p, tool, key, got, want):
    global bad
    if got != want:
        print(f"FAIL {p}: {tool}: {key} {got!r}, header {want!r}")
        bad += 1

for p in profiles:
    d = os.path.join(tmp, p)
    h = header(p)
    if not os.path.exists(os.path.join(d, "done")):
        print(f"FAIL {p}: the measurements did not finish:\n" + open(os.path.join(d, "measure.log")).read())
        bad += 1
        continue
    for tool, fname in (("probe --server", "probe.json"), ("probe --stun", "probe-stun.json")):
        try:
            r = json.load(open(os.path.join(d, fname)))
        except ValueError:
            print(f"FAIL {p}: {tool}: no JSON: " + open(os.path.join(d, fname)).read())
            bad += 1
            continue
        for k in ("mapping", "filtering", "ports", "hairpin"):
            check(p, tool, k, r["fields"][k], h[k])
        if h["ports"] == "sequential":
            check(p, tool, "stride", r["fields"].get("stride"), h.get("stride", "1"))
        if tool == "probe --server":
            check(p, tool, "tcp mapping", r["tcp_mapping"], h["mapping"])
        new = r["profile_new"]
        for k in ("mapping", "filtering", "ports", "hairpin"):
            if f"--{k} {h[k]}" not in new:
                print(f"FAIL {p}: {tool}: profile new line lacks --{k} {h[k]}: {new}")
                bad += 1
    for tool in ("stun-client", "natdiscovery"):
        text = open(os.path.join(d, f"import-{tool}.txt")).read()
        measured = dict(re.findall(r"^([a-z-]+): (\S+) \(measured", text, re.M))
        expect = {"stun-client": {"mapping", "filtering", "hairpin"},
                  "natdiscovery": {"mapping", "filtering", "hairpin"}}[tool]
        if h["mapping"] != "endpoint-independent" and tool == "stun-client":
            expect = {"hairpin"}      # RFC 3489: symmetric only, the rest assumed
        if tool == "stun-client" and h["ports"] == "preserve":
            expect = expect | {"ports"}
        missing = expect - set(measured)
        if missing:
            print(f"FAIL {p}: {tool}: import did not measure {sorted(missing)}:\n{text}")
            bad += 1
        for k, v in measured.items():
            check(p, tool + " (imported)", k, v, h[k])
    print(f"# ok: {p}: probe (punch, stun), stun-client, natdiscovery agree with the header")

# the lifetime lab: UDP timeout 4 s
d = os.path.join(tmp, "life")
if not os.path.exists(os.path.join(d, "done")):
    print("FAIL lifetime: did not finish:\n" + open(os.path.join(d, "measure.log")).read())
    bad += 1
else:
    for tool in ("probe.json", "probe-stun.json"):
        r = json.load(open(os.path.join(d, tool)))
        t = r["fields"]["udp-timeout"]
        if not t.isdigit() or not 3 <= int(t) <= 5:
            print(f"FAIL lifetime: {tool}: udp-timeout {t}, expected 4 (+-1): {r['evidence']['lifetime']}")
            bad += 1
        elif f"--udp-timeout {t}" not in r["profile_new"]:
            print(f"FAIL lifetime: {tool}: profile new line lacks --udp-timeout {t}")
            bad += 1
        else:
            print(f"# ok: lifetime: {tool}: udp-timeout {t} (the profile's 4)")
sys.exit(1 if bad else 0)
PY

# natdiscovery's two -t runs (2 s: alive, 7 s: gone) through import --timer: the bracket
"$PUNCHLAB" profile import "$TMP/life/natdiscovery.txt" --timer 2 --timer 7 >"$TMP/life/import.txt" 2>&1 ||
	{ cat "$TMP/life/import.txt" >&2; fail "import of natdiscovery -t failed"; }
grep -q '^udp-timeout: 7 (assumed: between 2 and 7 s' "$TMP/life/import.txt" ||
	{ cat "$TMP/life/import.txt" >&2; fail "natdiscovery -t -T 2 / -T 7 against a 4 s timeout: expected the bracket 2..7"; }
note "ok: natdiscovery -t through import: $(grep '^udp-timeout' "$TMP/life/import.txt")"

# --- redaction (the full-cone lab, its servers still up) ---------------------------------------
LAB=$(cat "$TMP/full-cone/lab")
pub=203.0.113.2
grep -q "$pub" "$TMP/full-cone/probe.json" || fail "control: the unredacted probe output lacks $pub"
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "$PUNCH" probe --server $RDV1 --redact >"$TMP/redact.txt" 2>&1
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "$PUNCH" probe --stun $RDV1:$TURN_PORT --redact --json >>"$TMP/redact.txt" 2>&1
grep -q REDACTED "$TMP/redact.txt" || { cat "$TMP/redact.txt" >&2; fail "--redact printed no REDACTED"; }
if grep -q "$pub" "$TMP/redact.txt"; then
	grep "$pub" "$TMP/redact.txt" >&2
	fail "--redact still prints the public address $pub"
fi
note "ok: --redact hides $pub (text and JSON)"

# --- authentication: the rendezvous answers only BINDs sealed with its secret ------------------
nosecret=(env -u PUNCH_SECRET_FILE -u PUNCH_SECRET)
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "${nosecret[@]}" "$PUNCH" probe --server $RDV1 \
	>"$TMP/nosecret.txt" 2>&1
rc=$?
[ "$rc" -eq 2 ] || { cat "$TMP/nosecret.txt" >&2; fail "probe --server without a secret exited $rc, expected 2"; }
[ "$(wc -l <"$TMP/nosecret.txt")" -eq 1 ] && grep -q '^punch probe: --server: no secret: give --secret-file FILE' "$TMP/nosecret.txt" ||
	{ cat "$TMP/nosecret.txt" >&2; fail "probe --server without a secret: expected one sentence asking for --secret-file"; }
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "${nosecret[@]}" "$PUNCH" probe --stun $RDV1:$TURN_PORT \
	--no-tcp >"$TMP/nosecret-stun.txt" 2>&1 ||
	{ cat "$TMP/nosecret-stun.txt" >&2; fail "probe --stun without a secret failed (STUN needs none)"; }
"$PUNCH" keygen "$TMP/other.secret" || fail "punch keygen $TMP/other.secret failed"
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "$PUNCH" probe --server $RDV1 --secret-file "$TMP/other.secret" \
	--tries 2 --no-tcp >"$TMP/othersecret.txt" 2>&1
rc=$?
[ "$rc" -eq 1 ] || { cat "$TMP/othersecret.txt" >&2; fail "probe with another secret exited $rc, expected 1 (no answer)"; }
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "${nosecret[@]}" "$PUNCH" probe --server $RDV1 \
	--secret-file "$PUNCH_SECRET_FILE" --session lab-probe-7 --no-tcp --json >"$TMP/explicit.json" 2>"$TMP/explicit.err" ||
	{ cat "$TMP/explicit.err" "$TMP/explicit.json" >&2; fail "probe with --secret-file and --session failed"; }
python3 - "$TMP/explicit.json" <<'PY' || fail "probe with --secret-file and --session: full-cone not recovered"
import json, sys
f = json.load(open(sys.argv[1]))["fields"]
want = {"mapping": "endpoint-independent", "filtering": "endpoint-independent"}
got = {k: f[k] for k in want}
print("#", got)
sys.exit(0 if got == want else 1)
PY
note "ok: no secret: exit 2, one sentence; another secret: no answer, exit 1; --secret-file and --session: measured"

# --- a rendezvous with one address and port: what needs more stays unknown ---------------------
rdv_start one 20 --listen $RDV1:3490
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "$PUNCH" probe --server $RDV1:3490 >"$TMP/one.txt" 2>&1 ||
	{ cat "$TMP/one.txt" >&2; fail "probe against a one-address rendezvous failed"; }
for k in mapping filtering; do
	grep -q "^$k: unknown" "$TMP/one.txt" || { cat "$TMP/one.txt" >&2; fail "one address: $k should be unknown"; }
done
# profile new needs every flag: the unknown ones take port-restricted-cone's values, named
grep -q '^# assumed, not measured (port-restricted-cone.s values): mapping endpoint-independent, filtering address-and-port-dependent, tcp-unsolicited drop, udp-timeout 30$' "$TMP/one.txt" ||
	{ cat "$TMP/one.txt" >&2; fail "one address: expected mapping and filtering among the assumed fields"; }
grep -q '^punchlab profile new .* --ports preserve --hairpin no ' "$TMP/one.txt" ||
	{ cat "$TMP/one.txt" >&2; fail "one address: expected the measured ports and hairpin in the profile new line"; }
note "ok: one server address: mapping and filtering unknown, named as assumed in the profile new line"

# --- no NAT (public-peer's host-b): no profile to rebuild, and --redact hides its own address --
kept_lab -t public-peer
rdv_start nonat 20 --listen $RDV1:3478 --listen $RDV1:3479 --listen $RDV2:3478 --listen $RDV2:3479
"$PUNCHLAB" exec --timeout 30 "$LAB" host-b -- "$PUNCH" probe --server $RDV1 --redact >"$TMP/nonat.txt" 2>&1 ||
	{ cat "$TMP/nonat.txt" >&2; fail "probe from a host without NAT failed"; }
grep -q 'no NAT between this host and the server' "$TMP/nonat.txt" || { cat "$TMP/nonat.txt" >&2; fail "no NAT: expected it said so"; }
grep -q '^punchlab profile new' "$TMP/nonat.txt" && { cat "$TMP/nonat.txt" >&2; fail "no NAT: a profile new line"; }
grep -q '203\.0\.113\.18' "$TMP/nonat.txt" && { cat "$TMP/nonat.txt" >&2; fail "no NAT: --redact printed the host's public address"; }
note "ok: no NAT: said so, no profile new line, its address redacted"
"$PUNCHLAB" exec --timeout 30 "$LAB" host-b -- "$PY" "$SRCDIR/tests/lab/probe-rfc5780.py" "$SRCDIR/tests/lab" \
	"$PUNCH_SECRET_FILE" $RDV1 3478 >"$TMP/rfc5780.txt" 2>&1 ||
	{ cat "$TMP/rfc5780.txt" >&2; fail "the rendezvous' RFC 5780 answers (above)"; }
note "ok: RFC 5780 BINDs answered only when verified, to the sender's own address, no larger: $(grep -c '^ok:' "$TMP/rfc5780.txt") checks"
LAB=$(cat "$TMP/full-cone/lab")

# --- a server that does not answer: exit 1 -----------------------------------------------------
"$PUNCHLAB" exec --timeout 30 "$LAB" host-a -- "$PUNCH" probe --server $RDV1:3491 --tries 1 >"$TMP/none.txt" 2>&1
rc=$?
[ "$rc" -eq 1 ] || { cat "$TMP/none.txt" >&2; fail "probe against a silent server exited $rc, expected 1"; }

# --- bad import input ------------------------------------------------------------------------
"$PUNCHLAB" profile import "$SRCDIR/tests/data/probe/bad-stun-unknown-type.txt" >/dev/null 2>"$TMP/bad.err"
rc=$?
[ "$rc" -eq 2 ] || fail "a malformed import file exited $rc, expected 2"
grep -q "bad-stun-unknown-type.txt:2: " "$TMP/bad.err" || { cat "$TMP/bad.err" >&2; fail "expected FILE:LINE"; }
note "ok: malformed import: $(cat "$TMP/bad.err")"

# --- import -o: only with profile new in this build ---------------------------------------------
if "$PUNCHLAB" profile new --help >/dev/null 2>&1; then
	"$PUNCHLAB" profile import "$TMP/restricted-cone/stun-client.txt" -o "$TMP/imported.nft" >"$TMP/o.txt" 2>&1 ||
		{ cat "$TMP/o.txt" >&2; fail "import -o failed"; }
	grep -q '^# filtering: address-dependent' "$TMP/imported.nft" || fail "import -o: the profile lacks its filtering"
	# every shipped profile's probe line rebuilds a NAT that behaves as its header says
	gen=("$TMP/imported.nft")
	for p in "${profiles[@]}"; do
		read -ra line < <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["profile_new"])' "$TMP/$p/probe.json")
		"$PUNCHLAB" "${line[@]:1}" --name "probed-$p" -o "$TMP/probed-$p.nft" 2>"$TMP/new.err" ||
			{ cat "$TMP/new.err" >&2; fail "$p: the probe's line failed: ${line[*]}"; }
		gen+=("$TMP/probed-$p.nft")
	done
	timeout 120 "$PUNCHLAB" classify "${gen[@]}" >"$TMP/classify.out" 2>&1 ||
		{ cat "$TMP/classify.out" >&2; fail "a profile rebuilt from probe or import does not behave as its header"; }
	note "ok: import -o and every probe line wrote profiles that classify as declared ($(tail -1 "$TMP/classify.out"))"
else
	note "SKIP part: import -o (punchlab profile new is not in this build)"
fi

for lab in $OUR_LABS; do
	down_if_kept "$lab"
done
expect_nothing_left "$TMP/before" "probe.sh"
note "ok: nothing left behind"
