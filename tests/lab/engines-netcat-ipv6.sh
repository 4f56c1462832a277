#!/usr/bin/env bash
# engines-netcat-ipv6.sh PUNCHLAB: netcat (engines/netcat.yaml) over IPv6 (capability ipv6).
#   - family 6: firewall x firewall connects between the hosts' own IPv6 addresses (an RFC 6092
#     firewall translates nothing, so nc aims there), attested; firewall x a random-port NAT66
#     fails (nc's port 17000 is not the one that NAT66 shows, as with an IPv4 symmetric NAT);
#   - family 6 behind translating routers: netcat aims at {{other.reach}}, so nat66 x nptv6
#     connects (A at nptv6's external address 2001:db8:1002:efff::10, B at nat66's own WAN
#     address 2001:db8:a::2), attested, and so does nptv6 x nat66 the other way round; before
#     the reach variable nc aimed at the other host's own address and both failed;
#   - dual: symmetric x symmetric, which nc never connects over IPv4, connects over IPv6 (nc
#     aims at the other host's IPv6 address, as a dual-stack nc given a name would), attested;
#   - each run exits 0 against the theory; nothing of nc is left running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
. "$(dirname "$0")/engines-ipv6-lib.sh"
require_root
NC=$(command -v nc) || fail "nc (netcat-openbsd) is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"
engine_snapshot "$NC" >"$TMP/before"

NS=$(nat66_symmetric_profile "$TMP")
FW=two-nats/udp/udp/ipv6-firewall~ipv6-firewall/engine=netcat/family=6
t0=$(now_ms)
run_matrix 60 --engine netcat --family 6 --profiles "ipv6-firewall,$NS" --no-classify -o "$TMP/nc6"
show_matrix_output
[ "$RC" -eq 0 ] || fail "netcat family 6: exit $RC, expected 0 (its theory: firewall x firewall direct, a random-port NAT66 failed)"
evidence_of "$TMP/nc6" "$FW" >"$TMP/fw.ev"
head -1 "$TMP/fw.ev" | grep -q '^direct - direct$' &&
	grep -q 'nat-a (peer A): udp \[2001:db8:1::10\]:17000 -> \[2001:db8:1::10\]:17000 remote \[2001:db8:2::10\]:17000' "$TMP/fw.ev" ||
	fail "netcat family 6 firewall x firewall: expected direct between the hosts' own addresses at port 17000, attested: $(cat "$TMP/fw.ev")"
got=$(evidence_of "$TMP/nc6" "/ipv6-firewall~%2F" | head -1)
case $got in "failed probing "*) ;; *) fail "netcat family 6 firewall x NAT66-symmetric: \"$got\", expected failed in probing" ;; esac

run_matrix 60 --engine netcat --family 6 --profiles nat66,nptv6 --no-classify -o "$TMP/nctr"
show_matrix_output
[ "$RC" -eq 0 ] || fail "netcat family 6 over nat66 and nptv6: exit $RC, expected 0 (its theory: all 4 cells direct)"
evidence_of "$TMP/nctr" "/nat66~nptv6/" >"$TMP/nn.ev"
head -1 "$TMP/nn.ev" | grep -q '^direct - direct$' &&
	grep -q 'nat-a (peer A): udp \[2001:db8:1::10\]:17000 -> \[2001:db8:a::2\]:17000 remote \[2001:db8:1002:efff::10\]:17000' "$TMP/nn.ev" &&
	grep -q 'nat-b (peer B): udp \[2001:db8:2::10\]:17000 -> \[2001:db8:2::10\]:17000 remote \[2001:db8:a::2\]:17000' "$TMP/nn.ev" ||
	fail "netcat family 6 nat66 x nptv6: expected direct between nat66's address and nptv6's external one, attested: $(cat "$TMP/nn.ev")"
evidence_of "$TMP/nctr" "/nptv6~nat66/" >"$TMP/pn.ev"
head -1 "$TMP/pn.ev" | grep -q '^direct - direct$' &&
	grep -q 'nat-b (peer B): udp \[2001:db8:2::10\]:17000 -> \[2001:db8:b::2\]:17000 remote \[2001:db8:1001:efff::10\]:17000' "$TMP/pn.ev" ||
	fail "netcat family 6 nptv6 x nat66: expected direct, B aiming at nptv6's external address, attested: $(cat "$TMP/pn.ev")"

SD=two-nats/udp/udp/symmetric~symmetric/engine=netcat/family=dual
run_matrix 60 --cell "$SD" --no-classify -o "$TMP/ncdual"
show_matrix_output
[ "$RC" -eq 0 ] || fail "netcat dual: exit $RC, expected 0 (its theory: symmetric x symmetric direct over IPv6)"
evidence_of "$TMP/ncdual" "$SD" >"$TMP/sd.ev"
head -1 "$TMP/sd.ev" | grep -q '^direct - direct$' &&
	grep -q 'remote \[2001:db8:2::10\]:17000' "$TMP/sd.ev" ||
	fail "netcat dual sym x sym: expected direct over IPv6, attested: $(cat "$TMP/sd.ev")"

none_added "the test" engine_snapshot "$NC"
note "netcat over IPv6: 8 family 6 cells and 1 dual cell in $(( $(now_ms) - t0 )) ms"
