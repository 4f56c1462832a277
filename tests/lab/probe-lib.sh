# probe-lib.sh: one-shot UDP probes of what a profile's filter lets in (tests/lab/udp-probe.py),
# shared by the profile tests (firewall.sh, nptv6.sh, ipv6-profiles.sh). Source after lib.sh
# and punch-lib.sh, with a kept lab in $LAB that has a node "server".
PROBE=$SRCDIR/tests/lab/udp-probe.py

# probe NAME NODE TO PORT SEND_TO_ADDR SEND_TO_PORT FROM_ADDR FROM_PORT: NODE listens on PORT
# in TO's family (after sending to SEND_TO when it is not "-"); the server sends from FROM to
# TO:PORT; prints NODE's "got ADDR PORT" or "none".
probe() {
	local name=$1 node=$2 to=$3 port=$4 sto=$5 sto_port=$6 from=$7 from_port=$8 fam=4 pl
	[[ $to == *:* ]] && fam=6
	if [ "$sto" = - ]; then
		"$PUNCHLAB" exec --timeout 8 "$LAB" "$node" -- python3 "$PROBE" listen $fam "$port" 2 \
			>"$TMP/$name.probe" 2>&1 &
	else
		"$PUNCHLAB" exec --timeout 8 "$LAB" "$node" -- python3 "$PROBE" listen $fam "$port" \
			"$sto" "$sto_port" 2 >"$TMP/$name.probe" 2>&1 &
	fi
	pl=$!
	wait_for_line "$TMP/$name.probe" listening 5 "$pl"
	"$PUNCHLAB" exec --timeout 5 "$LAB" server -- python3 "$PROBE" send "$from" "$from_port" \
		"$to" "$port" || fail "$name: the server could not send"
	wait "$pl"
	tail -1 "$TMP/$name.probe"
}

# expect_probe NAME WANT WHY NODE ARGS...: probe NAME NODE ARGS; WANT is "got" or "none".
expect_probe() {
	local name=$1 want=$2 why=$3 node=$4 got
	shift 3
	got=$(probe "$name" "$@")
	[ "${got%% *}" = "$want" ] || fail "$name: $node: $got, expected $want ($why)"
	note "ok: $name $want ($why)"
}
