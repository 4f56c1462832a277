#!/bin/bash
# portmap.sh PUNCHLAB: port-mapping routers (issue 15 item 3, docs/portmap.md).
#   - a profile with "portmap:" runs miniupnpd in its NAT node only: the daemon's network
#     namespace is the node's, its config, pid and log are in the node's own directory, the
#     root namespace's nftables ruleset is untouched; a NAT-PMP request from the LAN host gets a
#     mapping whose dnat rule lands in the profile's own table in the node
#   - `lab down` ends the daemon and removes its directory; nothing is left
#   - miniupnpd missing: one clear error naming the profile's portmap line, exit 2, nothing left
#   - cells: symmetric x symmetric-upnp pairs punch direct with portmap and with auto (attested by
#     the lab), and the same pair with plain udp fails, as the theory says
. "$(dirname "$0")/lib.sh"
require_root
command -v miniupnpd >/dev/null || [ -x /usr/sbin/miniupnpd ] ||
	fail "miniupnpd is not installed (ci/bootstrap.sh installs miniupnpd-nftables)"

lab=plp$$
OUR_LABS=$lab
snapshot >"$TMP/before"
nft list ruleset >"$TMP/root-ruleset-before"
defer "down_if_kept $lab"
dir=${TMPDIR:-/tmp}/punchlab-portmap-$lab-nat-a

# --- up: miniupnpd confined to nat-a -------------------------------------------------------------
out=$("$PUNCHLAB" lab up --keep --name "$lab" --set nat-a=symmetric-upnp 2>"$TMP/err")
rc=$?
cat "$TMP/err" >&2
[ "$rc" -eq 0 ] || fail "lab up --keep with symmetric-upnp exited $rc"
for f in miniupnpd.conf miniupnpd.pid miniupnpd.log stunecho.log; do
	[ -f "$dir/$f" ] || fail "no $dir/$f"
done
grep -q '^upnp_table_name=punchlab_nat$' "$dir/miniupnpd.conf" || fail "config lacks the table"
natns=$(stat -L -c %i "/run/netns/$lab-nat-a")
pids=$(pgrep -f -x "/usr/sbin/miniupnpd -d -f $dir/miniupnpd.conf -P $dir/miniupnpd.pid" || true)
[ "$(echo "$pids" | wc -w)" -eq 1 ] || fail "expected one miniupnpd for $dir, got: $pids"
[ "$(stat -L -c %i "/proc/$pids/ns/net")" = "$natns" ] ||
	fail "miniupnpd $pids does not run in nat-a's namespace"
[ "$(cat "$dir/miniupnpd.pid")" -gt 0 ] 2>/dev/null || fail "empty pid file"
# nat-b's profile offers no port mapping: no daemon, no directory
[ -e "${TMPDIR:-/tmp}/punchlab-portmap-$lab-nat-b" ] && fail "a directory for nat-b, which maps nothing"

# a NAT-PMP mapping from host-a (RFC 6886: public address, then a UDP mapping of port 40000)
nsenter --net="/run/netns/$lab-host-a" python3 - >"$TMP/natpmp" <<'PY' || fail "NAT-PMP request failed: $(cat "$TMP/natpmp")"
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.10", 40000))
s.settimeout(2)
s.sendto(struct.pack("!BB", 0, 0), ("10.0.1.1", 5351))
ver, op, rc, epoch, addr = struct.unpack("!BBHI4s", s.recv(64)[:12])
s.sendto(struct.pack("!BBHHHI", 0, 1, 0, 40000, 40000, 60), ("10.0.1.1", 5351))
ver, op2, rc2, epoch, iport, eport, life = struct.unpack("!BBHIHHI", s.recv(64)[:16])
print(socket.inet_ntoa(addr), rc, op2, rc2, iport, eport)
sys.exit(0 if rc == 0 and rc2 == 0 else 1)
PY
read -r pub rc op rc2 iport eport <"$TMP/natpmp"
[ "$pub" = 203.0.113.2 ] || fail "NAT-PMP public address $pub, expected nat-a's 203.0.113.2"
[ "$op" = 129 ] && [ "$iport" = 40000 ] && [ "$eport" -gt 0 ] || fail "NAT-PMP answer: $(cat "$TMP/natpmp")"
nsenter --net="/run/netns/$lab-nat-a" nft list chain inet punchlab_nat prerouting_miniupnpd >"$TMP/chain" ||
	fail "nat-a has no chain prerouting_miniupnpd"
grep -q "dport $eport dnat ip to 10.0.1.10:40000" "$TMP/chain" ||
	{ cat "$TMP/chain" >&2; fail "the mapping's dnat rule is not in nat-a's table"; }
nft list ruleset >"$TMP/root-ruleset"
cmp -s "$TMP/root-ruleset-before" "$TMP/root-ruleset" || fail "the root namespace's ruleset changed"

# --- down: the daemon and its directory go -------------------------------------------------------
"$PUNCHLAB" lab down "$lab" || fail "lab down $lab failed"
for ((i = 0; i < 50; i++)); do
	kill -0 "$pids" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pids" 2>/dev/null && fail "miniupnpd $pids still runs after lab down"
[ -e "$dir" ] && fail "lab down left $dir"
expect_nothing_left "$TMP/before" "a lab with miniupnpd"

# --- miniupnpd missing ---------------------------------------------------------------------------
PUNCHLAB_MINIUPNPD=/nonexistent/miniupnpd "$PUNCHLAB" lab up --keep --name "$lab" \
	--set nat-a=symmetric-upnp >/dev/null 2>"$TMP/err"
rc=$?
cat "$TMP/err" >&2
[ "$rc" -eq 2 ] || fail "lab up without miniupnpd exited $rc, expected 2"
[ "$(grep -c . "$TMP/err")" -eq 1 ] || fail "expected one error line"
grep -q "nat-profiles/symmetric-upnp.nft:[0-9]*: portmap: .*miniupnpd-nftables.*/nonexistent/miniupnpd is missing" "$TMP/err" ||
	fail "the error does not name the profile's line, the package and the missing program"
[ -e "$dir" ] && fail "a failed lab up left $dir"
expect_nothing_left "$TMP/before" "lab up without miniupnpd"

# --- cells: symmetric x symmetric-upnp, with and without port mapping ----------------------------
# a router that offers UPnP-IGD only: portmap's second protocol
sed 's/^# portmap: .*/# portmap: upnp/; s/^# name: .*/# name: symmetric-upnponly/' \
	"$SRCDIR/nat-profiles/symmetric-upnp.nft" >"$TMP/symmetric-upnponly.nft"
"$PUNCHLAB" matrix --cell two-nats/udp/portmap/symmetric~symmetric-upnp \
	--cell two-nats/udp/portmap/symmetric-upnp~symmetric-upnp \
	--cell two-nats/udp/auto/symmetric-upnp~symmetric \
	--cell two-nats/udp/udp/symmetric-upnp~symmetric-upnp \
	--cell two-nats/udp/auto/symmetric~symmetric \
	--cell "two-nats/udp/portmap/${TMP//\//%2F}%2Fsymmetric-upnponly.nft~symmetric" \
	-o "$TMP/m" >"$TMP/mout" 2>&1
rc=$?
tail -5 "$TMP/mout"
[ "$rc" -eq 0 ] || { cat "$TMP/mout" >&2; fail "the portmap cells exited $rc (expected 0: every cell as its theory says)"; }
python3 - "$TMP/m/matrix.json" "$TMP" <<'PY' || fail "portmap cells"
import json, sys
want = {
    "two-nats/udp/portmap/symmetric~symmetric-upnp": "direct",
    "two-nats/udp/portmap/symmetric-upnp~symmetric-upnp": "direct",
    "two-nats/udp/auto/symmetric-upnp~symmetric": "direct",
    "two-nats/udp/udp/symmetric-upnp~symmetric-upnp": "failed",
    "two-nats/udp/auto/symmetric~symmetric": "relayed",
    "two-nats/udp/portmap/" + sys.argv[2].replace("/", "%2F") + "%2Fsymmetric-upnponly.nft~symmetric": "direct",
}
cells = {c["id"]: c for c in json.load(open(sys.argv[1]))["cells"]}
bad = 0
for cid, out in want.items():
    c = cells.get(cid)
    if not c:
        print("missing cell", cid); bad = 1; continue
    att = c["runs"][0]["attestation"]["verdict"]
    theory = c["refs"]["theory"]["outcome"]
    print(cid, c["outcome"], "attested", att, "theory", theory)
    if c["outcome"] != out or theory != out or (out == "direct" and att != "direct"):
        print("  expected", out, "(theory and, for direct, the lab's attestation)"); bad = 1
sys.exit(bad)
PY
exit 0
