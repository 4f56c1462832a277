#!/bin/bash
# punch-tcp-ttl.sh PUNCHLAB: tcp-ttl (seed 003) beats NATs that answer unsolicited SYNs with RST
# (issue 5's test):
#   1. the matrix: twenty zero-stagger runs between two port-restricted-cone-rst NATs, each in
#      a fresh lab, are all direct;
#   2. one kept lab with both NATs port-restricted-cone-rst: twenty zero-stagger tcp-ttl runs
#      back to back (roles alternating between the hosts) are all direct and leave ZERO hits on
#      either NAT's reject rules (nft counters, read in the NAT nodes): no SYN and no hop probe
#      ever reached the other NAT unsolicited;
#   3. plain tcp in the same lab does hit them (a few zero-stagger runs, until a counter moves):
#      the race tcp-ttl exists to avoid.
# Back-to-back runs in one lab spend the routers' ICMP rate limit (one time-exceeded per second
# per destination after a burst of 6), which tcp-ttl must cope with: see src/punch/tech_ttl.c.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/punch-lib.sh"

snapshot >"$TMP/before"
RST=port-restricted-cone-rst
RUNS=20

# --- 1. the matrix, a fresh lab per run ------------------------------------------------------
id=two-nats/tcp/tcp-ttl/$RST~$RST
run_cells 60 "$TMP/m" --cell "$id" --stagger 0 --repeat $RUNS
n=$(cell_field "$TMP/m" "$id" 'len(c["runs"])')
[ "$n" = $RUNS ] || fail "$id ran $n times, expected $RUNS"
expect_cell "$TMP/m" "$id" direct "$RUNS zero-stagger runs, fresh labs"
note "time to connect p50 $(cell_field "$TMP/m" "$id" 'c["ttc_p50_ms"]') ms, p95 $(cell_field "$TMP/m" "$id" 'c["ttc_p95_ms"]') ms"

# --- 2. one kept lab: twenty runs, zero reject hits --------------------------------------------
kept_lab --set nat-a=$RST --set nat-b=$RST
for nat in nat-a nat-b; do
	hits=$(reject_hits $nat)
	note "$nat reject rules before: $hits"
	[ "$(hits_total "$hits")" -eq 0 ] || fail "$nat's reject rules were hit before any run: $hits"
done
rdv_start rdv 120 --listen $RDV1:3478 --listen $RDV2:3478

t0=$(now_ms)
direct=0
for ((i = 1; i <= RUNS; i++)); do
	# odd runs: host-a is role a; even runs: host-b is (the role b side measures the hops)
	if ((i % 2)); then na=host-a nb=host-b; else na=host-b nb=host-a; fi
	pair ttl$i 3 $na $nb --rendezvous $RDV1:3478 --proto tcp --technique tcp-ttl
	expect_pair ttl$i 0 direct "tcp-ttl run $i of $RUNS, role a on $na"
	[ "$(result "$TMP/ttl$i.b" ttl)" != null ] ||
		fail "ttl$i: role b found no TTL ($(grep '"event":"ttl"' "$TMP/ttl$i.b")): a plain simultaneous open"
	direct=$((direct + 1))
done
note "tcp-ttl: $direct/$RUNS direct in one lab, $(($(now_ms) - t0)) ms"
for nat in nat-a nat-b; do
	hits=$(reject_hits $nat)
	note "$nat reject rules after $RUNS tcp-ttl runs: $hits"
	[ "$(hits_total "$hits")" -eq 0 ] || fail "tcp-ttl hit $nat's reject rules: $hits"
done

# --- 3. plain tcp in the same lab hits them --------------------------------------------------
total=0
for ((i = 1; i <= 5 && total == 0; i++)); do
	pair tcp$i 2 host-a host-b --rendezvous $RDV1:3478 --proto tcp --technique tcp
	note "plain tcp run $i: a $(result "$TMP/tcp$i.a" outcome), b $(result "$TMP/tcp$i.b" outcome)"
	total=0
	for nat in nat-a nat-b; do
		hits=$(reject_hits $nat)
		total=$((total + $(hits_total "$hits")))
	done
done
note "reject rules after $((i - 1)) plain tcp runs: nat-a $(reject_hits nat-a), nat-b $(reject_hits nat-b)"
[ "$total" -gt 0 ] || fail "$((i - 1)) zero-stagger plain tcp runs never hit a reject rule"

kill -TERM "$RDV_PID"
wait_exit "$RDV_PID" 10
"$PUNCHLAB" lab down "$LAB" || fail "lab down $LAB failed"
expect_nothing_left "$TMP/before" "the tcp-ttl runs"
