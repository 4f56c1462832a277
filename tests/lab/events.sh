#!/bin/bash
# events.sh PUNCHLAB: NAT events (docs/events.md) on a kept two-nats lab with full cones on both
# sides and punch holding a UDP path with --revalidate:
#   - reboot for 2 s: while the NAT is off its conntrack table is empty and its ruleset is the
#     lab's drop-all table; afterwards the profile is back and both peers report path-lost then
#     path-recovered (direct);
#   - rebind: the public port of host-a's flow (conntrack) moves, and punch recovers;
#   - wan-address: nat-a's WAN address changes, the server reaches the new one, masquerade uses
#     it (conntrack and punch's new registration show it), and punch recovers;
#   - link inet:nat-a down for 2 s: the inet end is down (a ping from the server fails) and up
#     again after (the ping works), and punch recovers;
#   - a bad timeline is one clear error, exit 2;
#   - the matrix runs a timeline in a cell (id dimension events=, events.log, the run's events
#     and recovery in matrix.json, the Markdown and HTML sections), and `punchlab events recovery` (the
#     README's recovery-time table) prints recovered rows: a full cone and sequential NATs
#     (which recover directly only when the re-punch starts from fresh sockets).
# conntrack(8) and ip(8) read the NAT independently of punchlab (through nsenter, BRIEF.md).
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"
command -v conntrack >/dev/null || fail "conntrack(8) is needed (ci/bootstrap.sh installs it)"

snapshot >"$TMP/before"
t0=$(now_ms)

# the error path first: cheap, and it must name what was typed
"$PUNCHLAB" events apply nosuchlab 'nat-a explode@1s' >"$TMP/bad.out" 2>"$TMP/bad.err"
rc=$?
[ "$rc" -eq 2 ] || fail "a bad timeline exited $rc, expected 2"
grep -q 'unknown event "explode"' "$TMP/bad.err" || { cat "$TMP/bad.err" >&2; fail "the error does not name the event"; }

# The matrix cell and the recovery table (checked at the end) run meanwhile in labs of their
# own: the cell holds its path through the timeline and its recovery window (about 13 s), the
# kept lab's steps take about 7 s and the table 3 s, and none disturbs another's lab. One after
# the other they were 23 s. A failing test TERMs them (timeout passes it on; the matrix then
# takes its labs down).
EV='nat-a reboot@1500ms for 1s'
ID="two-nats/udp/udp/port-restricted-cone~port-restricted-cone"
run_cells 60 "$TMP/m" --cell "$ID" --events "$EV" &
cells_pid=$!
defer "kill -TERM $cells_pid 2>/dev/null; wait $cells_pid"
# a full cone, and sequential NATs: their re-punch (predict) needs fresh sockets on both sides,
# or it aims at ports the unchanged NAT allocated long ago and ends on the relay
timeout -k 5 60 "$PUNCHLAB" events recovery --profiles full-cone,symmetric-sequential \
	--events 'nat-a rebind@500ms' >"$TMP/rec.out" 2>"$TMP/rec.err" &
rec_pid=$!
defer "kill -TERM $rec_pid 2>/dev/null; wait $rec_pid"

kept_lab --set nat-a=full-cone --set nat-b=full-cone
NS_A=/run/netns/$LAB-nat-a
in_nat_a() { nsenter --net="$NS_A" "$@"; }
ct_udp() { in_nat_a conntrack -L -p udp 2>/dev/null; }

rdv_start ev 80 --listen "$RDV1:3478" --listen "$RDV2:3478"
declare -A PEER_PID
for side in a b; do
	"$PUNCHLAB" exec --timeout 80 "$LAB" "host-$side" -- "$PUNCH" peer --rendezvous "$RDV1:3478" \
		--session ev --role "$side" --technique udp --timeout 75 --hold 70 --revalidate 250ms \
		--json >"$TMP/peer.$side" 2>"$TMP/peer.$side.err" &
	PEER_PID[$side]=$!
	defer "kill_child $!"
done
wait_for_line "$TMP/peer.a" '"event":"verified"' 10 "${PEER_PID[a]}"
wait_for_line "$TMP/peer.b" '"event":"verified"' 10 "${PEER_PID[b]}"
[ "$(ct_udp | wc -l)" -gt 0 ] || fail "nat-a holds no UDP flow while punch holds a path"

# wait_count FILE RE N SECONDS: FILE has at least N lines matching RE within SECONDS.
wait_count() {
	local i
	for ((i = 0; i < $4 * 20; i++)); do
		[ "$(grep -Ec "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.05
	done
	sed 's/^/#   /' "$1" >&2
	fail "fewer than $3 lines /$2/ in $1 after $4 s"
}

# expect_recovery N WHAT: both peers reported their N-th path-lost and path-recovered (direct).
expect_recovery() {
	local side
	for side in a b; do
		wait_count "$TMP/peer.$side" '"event":"path-lost"' "$1" 10
		wait_count "$TMP/peer.$side" '"event":"path-recovered"' "$1" 10
		grep '"event":"path-recovered"' "$TMP/peer.$side" | sed -n "${1}p" | grep -q '"via":"direct"' ||
			fail "$2: peer $side recovered, but not directly"
	done
	note "ok: $2: both peers lost the path and recovered it directly ($(grep '"event":"path-recovered"' "$TMP/peer.a" | sed -n "${1}p" | grep -o '"after_ms":[0-9.]*'))"
}

# --- reboot ----------------------------------------------------------------------------------
"$PUNCHLAB" events apply "$LAB" 'nat-a reboot@0s for 2s' >"$TMP/reboot.out" 2>&1 &
apply=$!
defer "kill_child $apply"
# while off: looked at as soon as apply says the first step (off) is done (its line), not after
# a fixed 0.7 s that a slow start of apply on a loaded machine could outlast
wait_for_line "$TMP/reboot.out" '^[0-9]+ ms ' 5 "$apply"
n=$(ct_udp | wc -l)
[ "$n" -eq 0 ] || { ct_udp >&2; fail "reboot: nat-a's conntrack holds $n UDP flows while it is off"; }
in_nat_a nft list tables >"$TMP/tables"
grep -q punchlab_events "$TMP/tables" && ! grep -q punchlab_nat "$TMP/tables" ||
	{ cat "$TMP/tables" >&2; fail "reboot: while off, nat-a should hold only the drop-all table"; }
wait_exit "$apply" 10
[ "$RC" -eq 0 ] || { cat "$TMP/reboot.out" >&2; fail "events apply reboot exited $RC"; }
in_nat_a nft list tables >"$TMP/tables"
grep -q punchlab_nat "$TMP/tables" && ! grep -q punchlab_events "$TMP/tables" ||
	{ cat "$TMP/tables" >&2; fail "reboot: after booting nat-a should run its profile again"; }
note "ok: reboot: conntrack empty and everything dropped while off, the profile back after"
expect_recovery 1 reboot

# --- rebind ----------------------------------------------------------------------------------
# host-a's punched flow with host-b's NAT (203.0.113.18), in either orientation (a full cone
# may see the other peer's probe first, DNATed through its map): host-a's public port is the
# reply's destination port of a flow host-a opened, the original destination port of one
# host-b opened.
pub_port() {
	ct_udp | awk '/203\.0\.113\.18/ && /10\.0\.1\.10/ {
		n = 0
		for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) v[kv[1], ++c[kv[1]]] = kv[2]
		if (v["src", 1] == "10.0.1.10") print v["dport", 2]; else print v["dport", 1]
		delete v; delete c; exit }'
}
before=$(pub_port)
[ -n "$before" ] || { ct_udp >&2; fail "rebind: no flow from host-a to nat-b in nat-a"; }
"$PUNCHLAB" events apply "$LAB" 'nat-a rebind@0s' >"$TMP/rebind.out" 2>&1 ||
	{ cat "$TMP/rebind.out" >&2; fail "events apply rebind failed"; }
expect_recovery 2 rebind
after=$(pub_port)
[ -n "$after" ] && [ "$after" != "$before" ] ||
	{ ct_udp >&2; fail "rebind: the public port of host-a's flow is ${after:-gone}, was $before"; }
note "ok: rebind: host-a's public port $before -> $after ($(cat "$TMP/rebind.out"))"

# --- wan-address -----------------------------------------------------------------------------
old=$(in_nat_a ip -4 -o addr show dev nat-a-eth0 | awk '{print $4}')
"$PUNCHLAB" events apply "$LAB" 'nat-a wan-address@0s' >"$TMP/wan.out" 2>&1 ||
	{ cat "$TMP/wan.out" >&2; fail "events apply wan-address failed"; }
new=$(in_nat_a ip -4 -o addr show dev nat-a-eth0 | awk '{print $4}')
[ -n "$new" ] && [ "$new" != "$old" ] && [ "$(echo "$new" | wc -l)" -eq 1 ] ||
	fail "wan-address: nat-a-eth0 has '$new', had $old"
# (a ping would not tell: the NAT drops unsolicited inbound) the server answered punch's
# registration from the new address, so the router reaches it
expect_recovery 3 wan-address
grep '"event":"registered"' "$TMP/peer.a" | tail -1 | grep -q "\"public\":\"${new%/*}:" ||
	{ grep registered "$TMP/peer.a" >&2; fail "wan-address: punch's last registration did not come from ${new%/*}"; }
ct_udp | grep -q "dst=${new%/*} " || { ct_udp >&2; fail "wan-address: no flow masqueraded to ${new%/*}"; }
note "ok: wan-address: $old -> $new, reachable, masquerade and punch use it"

# --- link down -------------------------------------------------------------------------------
"$PUNCHLAB" events apply "$LAB" 'link inet:nat-a down@0s for 2s' >"$TMP/link.out" 2>&1 &
apply=$!
defer "kill_child $apply"
# during the outage: as soon as apply says the link went down (see the reboot above)
wait_for_line "$TMP/link.out" '^[0-9]+ ms ' 5 "$apply"
nsenter --net="/run/netns/$LAB-inet" ip -o link show dev inet-eth1 | grep -q 'state DOWN' ||
	fail "link: inet-eth1 is not down during the outage"
nsenter --net="/run/netns/$LAB-inet" ip route get "${new%/*}" >/dev/null 2>&1 &&
	fail "link: the router still has a route to nat-a during the outage"
wait_exit "$apply" 10
[ "$RC" -eq 0 ] || { cat "$TMP/link.out" >&2; fail "events apply link exited $RC"; }
nsenter --net="/run/netns/$LAB-inet" ip -o link show dev inet-eth1 | grep -q 'state UP' ||
	fail "link: inet-eth1 is not up after the outage"
expect_recovery 4 "link down"
note "ok: link: inet-eth1 down (no route to nat-a) and up again"

for side in a b; do
	kill_child "${PEER_PID[$side]}"
done
down_if_kept "$LAB"
kill_child "$RDV_PID"

# --- the matrix: one cell with a reboot (started at the top) -------------------------------------
wait_exit $cells_pid 70
[ "$RC" -eq 0 ] || fail "matrix --events: the cell's run failed (above)"
EID="$ID/events=nat-a%20reboot%401500ms%20for%201s"
got=$(cell_field "$TMP/m" "$EID" '"%s %s %s" % (c["outcome"], c["runs"][0]["recovery"]["recovered"], c["runs"][0]["recovery"]["via"])')
[ "$got" = "direct True direct" ] || { cat "$TMP/m.out" >&2; fail "matrix --events: cell $EID: $got, expected direct True direct"; }
steps=$(cell_field "$TMP/m" "$EID" 'len([e for e in c["runs"][0]["events"] if e["applied_ms"] is not None and not e["failed"]])')
[ "$steps" = 2 ] || fail "matrix --events: $steps steps applied, expected 2 (off, booted)"
log=$(cell_field "$TMP/m" "$EID" 'c["runs"][0]["log_dir"]')
grep -q 'recovered (direct)' "$TMP/m/$log/events.log" || { cat "$TMP/m/$log/events.log" >&2; fail "events.log says no recovery"; }
grep -q '^## NAT events' "$TMP/m/matrix.md" || fail "matrix.md has no NAT events section"
grep -q '<h2 id="events">NAT events</h2>' "$TMP/m/index.html" || fail "index.html has no NAT events section"
note "ok: matrix --events: $EID direct, recovered ($(tail -1 "$TMP/m/$log/events.log"))"

# --- the recovery-time table (README; started at the top) ---------------------------------------
wait_exit $rec_pid 70
[ "$RC" -eq 0 ] || { cat "$TMP/rec.out" "$TMP/rec.err" >&2; fail "events recovery failed"; }
for p in full-cone symmetric-sequential; do
	grep -Eq "^\| $p \| nat-a rebind@500ms \| direct \| [0-9.]+ s \| yes \| direct \| [0-9.]+ s \|\$" "$TMP/rec.out" ||
		{ cat "$TMP/rec.out" >&2; fail "events recovery: $p did not recover its direct path directly"; }
	note "ok: events recovery: $(grep "^| $p " "$TMP/rec.out")"
done

expect_nothing_left "$TMP/before" "the events test"
note "$(($(now_ms) - t0)) ms"
