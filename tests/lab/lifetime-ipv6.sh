#!/bin/bash
# lifetime-ipv6.sh PUNCHLAB: `punchlab lifetime` measures IPv6 profiles (issue 15's leftovers;
# docs/lifetime.md "IPv6 profiles"): each probe runs on two-nats-dual, the profile under test in
# nat-a, ipv6-firewall in nat-b, punch and the unreplied probe over IPv6.
#  1. ipv6-firewall with udp-timeout=3: a punched path dies in 6 s of silence, lives through the
#     same 6 s with keep-alives every second, and (control) lives through 2 s;
#  2. nat66's mapping without a reply (--unreplied) at udp-timeout=3: gone after 6 s, there
#     after 2 s;
#  3. the table of the three shipped IPv6 profiles at udp-timeout=2 follows the short setting
#     and moves it to each profile's own (120 s, 120 s, 30 s);
#  4. bad input: an IPv6 profile on a topology without a dual-stack twin, exit 2 naming it.
# Before lifetime knew IPv6, every IPv6 profile was refused ("lifetime measures IPv4 profiles
# only"), exit 2.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

export TMPDIR=$TMP/copies PUNCHLAB_DATA_DIR=$SRCDIR
mkdir -p "$TMPDIR"
snapshot >"$TMP/before"
status=0
check() { # check WHAT: fail later, keep going
	echo "FAIL ($TEST): $*" >&2
	status=1
}

# 1 and 2: five probes at once (each its own lab)
probe() { # probe NAME ARGS...: punchlab lifetime ARGS... into $TMP/NAME, in the background
	local name=$1
	shift
	timeout -k 5 60 "$PUNCHLAB" lifetime "$@" >"$TMP/$name" 2>&1 &
	PIDS+=("$!")
	defer "kill_started $!"
}
# 3's table runs meanwhile, in labs of its own (checked below): the probes and the searches
# share nothing but the machine, and one after the other they took 9 s + 11 s. A lifetime of 2 s
# reads "1 s (dies at 2)" or, straddling, "2 s (dies at 3)": silences of 1..3 find either (1,
# 3, then 2; 1..4 took a fourth probe for nothing the check accepts), and any other lifetime
# still fails the check ("< 1 s", ">= 3 s").
timeout -k 5 90 "$PUNCHLAB" lifetime --profiles ipv6-firewall,ipv6-firewall-ad,nat66 \
	--udp-timeout 2 --gaps 1..3 --markdown >"$TMP/table" 2>&1 &
ptable=$!
defer "kill_started $ptable"
PIDS=()
probe silent --profiles ipv6-firewall --udp-timeout 3 --gap 6
probe kept --profiles ipv6-firewall --udp-timeout 3 --gap 6 --keepalive 1
probe short --profiles ipv6-firewall --udp-timeout 3 --gap 2
probe unrep-long --profiles nat66 --udp-timeout 3 --gap 6 --unreplied
probe unrep-short --profiles nat66 --udp-timeout 3 --gap 2 --unreplied
RCS=()
for p in "${PIDS[@]}"; do
	wait "$p"
	RCS+=("$?")
done
cat "$TMP/silent" "$TMP/kept" "$TMP/short" "$TMP/unrep-long" "$TMP/unrep-short"
[ "${RCS[0]}" = 1 ] && grep -q 'ipv6-firewall.nft udp-timeout=3 gap=6 s keepalive=0 s: died (' "$TMP/silent" ||
	check "ipv6-firewall, 6 s of silence at udp-timeout=3: exit ${RCS[0]}, expected 1 and 'died'"
[ "${RCS[1]}" = 0 ] && grep -q 'keepalive=1 s: survived (' "$TMP/kept" ||
	check "ipv6-firewall, 6 s with keep-alives every 1 s: exit ${RCS[1]}, expected 0 and 'survived'"
[ "${RCS[2]}" = 0 ] && grep -q ': survived (' "$TMP/short" ||
	check "ipv6-firewall, 2 s of silence at udp-timeout=3: exit ${RCS[2]}, expected 0 and 'survived'"
[ "${RCS[3]}" = 1 ] && grep -q "died (the server's late answer never reached host-a" "$TMP/unrep-long" ||
	check "nat66 unreplied after 6 s at udp-timeout=3: exit ${RCS[3]}, expected 1 and 'died'"
[ "${RCS[4]}" = 0 ] && grep -q "survived (the server's late answer reached host-a)" "$TMP/unrep-short" ||
	check "nat66 unreplied after 2 s at udp-timeout=3: exit ${RCS[4]}, expected 0 and 'survived'"

# 3. the table, started above (a lifetime of 2 s reads "1 s (dies at 2)" or, straddling, "2 s
# (dies at 3)")
wait $ptable
rc=$?
cat "$TMP/table"
[ $rc = 0 ] || check "lifetime table of the IPv6 profiles: exit $rc, expected 0"
L='(1 s \(dies at 2\)|2 s \(dies at 3\))'
for row in "\\| ipv6-firewall \\| both \\| 120 s \\| $L \\| (119..120|120..121) s \\| 5 s \\| yes \\(24x\\) \\|" \
	   "\\| ipv6-firewall-ad \\| both \\| 120 s \\| $L \\| (119..120|120..121) s \\| 5 s \\| yes \\(24x\\) \\|" \
	   "\\| nat66 \\| both \\| 30 s \\| $L \\| (29..30|30..31) s \\| 5 s \\| yes \\(6x\\) \\|"; do
	grep -Eq -- "$row" "$TMP/table" || check "lifetime table: no row matching $row"
done

# 4. no dual-stack twin
out=$("$PUNCHLAB" lifetime --profiles nat66 -t same-nat --gap 2 2>&1)
rc=$?
echo "$out"
[ $rc = 2 ] || check "lifetime of an IPv6 profile on same-nat: exit $rc, expected 2"
grep -q 'topology same-nat (.*) has no IPv6 address and no dual-stack twin' <<<"$out" ||
	check "lifetime on same-nat does not say the topology has no dual-stack twin: $out"

left=$(find "$TMPDIR" -mindepth 1 | head -5)
[ -z "$left" ] || check "profile copies left behind: $left"
expect_nothing_left "$TMP/before" "punchlab lifetime (IPv6)"
[ $status = 0 ] && echo "PASS ($TEST)"
exit $status
