#!/bin/bash
# rootless-engines.sh PUNCHLAB: engines whose programs open /dev/net/tun (needs: [tun]: nebula,
# n2n) as an ordinary user (made by the test), docs/rootless.md:
#   - where the user cannot open the device (this machine's mode 0600, or the test seam where it
#     can), `matrix --engine nebula` and `run --engine n2n` stop before any cell, in one
#     sentence naming the engine, the device and what to do, exit 2; `punchlab engines` says the
#     user cannot open it; `bench engines` skips nebula's matrix with that sentence, exit 0;
#   - as root the seam gives the same refusal (the check does not depend on rootless);
#   - where the user can open it (a mode 0666 node bound over /dev/net/tun in a private mount
#     namespace the test makes: the machine's device is never changed), one nebula cell run by
#     the user connects, attested, and nothing is left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless-lib.sh"
command -v nebula >/dev/null || fail "nebula is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"
command -v edge >/dev/null || fail "n2n is not installed: ci/bootstrap.sh installs it (PUNCHLAB_ENGINES=all)"
SEAM=()
if as_user sh -c ': 3<>/dev/net/tun' 2>/dev/null; then
	note "the test user can open /dev/net/tun here: the refusal comes from the test seam"
	SEAM=(env PUNCHLAB_TEST_DENY_DEVICE=/dev/net/tun)
fi

# expect_refused WHAT ENGINE RC ERRFILE OUTDIR: exit 2, the one sentence, no cell ran
expect_refused() {
	local what=$1 engine=$2 rc=$3 err=$4 dir=$5
	[ "$rc" -eq 2 ] || fail "$what: exit $rc, expected 2: $(cat "$err")"
	grep -q "^punchlab: engine $engine needs /dev/net/tun (needs: \[tun\] in .*/engines/$engine.yaml), which this user cannot open read-write (Permission denied) and a user namespace does not change that: make it mode 0666" "$err" ||
		fail "$what: not the sentence naming engine, device and what to do: $(cat "$err")"
	[ "$(wc -l <"$err")" -eq 1 ] || fail "$what: more than one line: $(cat "$err")"
	[ -e "$dir/matrix.json" ] && fail "$what: cells ran ($dir/matrix.json exists)"
	return 0
}

as_user "${SEAM[@]}" timeout 30 "$RL_PUNCHLAB" matrix --no-color --engine nebula \
	--profiles full-cone --out "$RL_WORK/neb" >"$TMP/neb.out" 2>"$TMP/neb.err"
expect_refused "rootless matrix --engine nebula" nebula $? "$TMP/neb.err" "$RL_WORK/neb"
as_user "${SEAM[@]}" timeout 30 "$RL_PUNCHLAB" run --engine n2n --a full-cone --b full-cone \
	--no-classify -o "$RL_WORK/n2n" >"$TMP/n2n.out" 2>"$TMP/n2n.err"
expect_refused "rootless run --engine n2n" n2n $? "$TMP/n2n.err" "$RL_WORK/n2n"
# an engine that needs no device is not held back by the same conditions
as_user "${SEAM[@]}" timeout 60 "$RL_PUNCHLAB" run --engine punch --a full-cone --b full-cone \
	--no-classify -o "$RL_WORK/punch" >"$TMP/punch.out" 2>&1 ||
	fail "rootless run --engine punch failed: $(tail -5 "$TMP/punch.out")"

as_user "${SEAM[@]}" "$RL_PUNCHLAB" engines nebula n2n punch >"$TMP/engines" 2>&1 ||
	fail "punchlab engines failed: $(cat "$TMP/engines")"
[ "$(grep -c 'needs: /dev/net/tun, which this user cannot open (Permission denied)' "$TMP/engines")" -eq 2 ] ||
	fail "punchlab engines does not say nebula and n2n need a device the user cannot open: $(cat "$TMP/engines")"

as_user "${SEAM[@]}" timeout 120 "$RL_PUNCHLAB" bench engines -n 1 >"$TMP/bench" 2>&1 ||
	fail "rootless bench engines failed: $(cat "$TMP/bench")"
grep -q "^  skipped: engine nebula needs /dev/net/tun" "$TMP/bench" ||
	fail "bench engines did not skip nebula's matrix with the reason: $(cat "$TMP/bench")"
rl_expect_clean "the refused engines"

# as root the seam refuses the same way (the reason names no user namespace then)
PUNCHLAB_DATA_DIR=$RL_TREE/data PUNCHLAB_TEST_DENY_DEVICE=/dev/net/tun timeout 30 "$RL_PUNCHLAB" \
	matrix --no-color --engine nebula --profiles full-cone --out "$TMP/rootneb" \
	>"$TMP/rootneb.out" 2>"$TMP/rootneb.err"
rc=$?
[ "$rc" -eq 2 ] || fail "root with the seam: exit $rc, expected 2"
grep -q "^punchlab: engine nebula needs /dev/net/tun (needs: \[tun\] .*cannot be opened read-write (Permission denied)" "$TMP/rootneb.err" ||
	fail "root with the seam: $(cat "$TMP/rootneb.err")"

# --- where the user can open the device: a rootless nebula cell connects ---------------------
CELL=two-nats/udp/udp/full-cone~full-cone/engine=nebula
mkdir "$TMP/dev"
# In a private mount namespace of root's: a tmpfs of its own (so device nodes work whatever
# $TMP's mount options), a mode 0666 tun node in it bound over /dev/net/tun, then the user.
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m --propagation private -- bash -c 'mount -t tmpfs -o mode=0755 punchlab-test "$1" &&
	mknod -m 0666 "$1/tun" c 10 200 && mount --bind "$1/tun" /dev/net/tun && shift && exec "$@"' \
	_ "$TMP/dev" bash -c "cd '$RL_WORK' && exec setpriv --reuid=$RL_UID --regid=$RL_GID \
	--clear-groups --inh-caps=-all env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME='$RL_WORK' XDG_RUNTIME_DIR='$RL_RUNTIME' PUNCHLAB_DATA_DIR='$RL_TREE/data' \
	timeout -k 5 120 '$RL_PUNCHLAB' matrix --no-color --no-classify --cell '$CELL' \
	--out '$RL_WORK/open'" >"$TMP/open.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { tail -20 "$TMP/open.out" >&2; fail "rootless nebula with an openable device: exit $rc"; }
python3 - "$RL_WORK/open/matrix.json" <<'PY' || fail "rootless nebula cell did not connect, attested"
import json, sys
c = json.load(open(sys.argv[1]))["cells"][0]
r = c["runs"][0]
verdict = (r.get("attestation") or {}).get("verdict")
print(f"# {c['id']}: {c['outcome']}, attestation {verdict}, {r['reason']}")
sys.exit(0 if c["outcome"] == "direct" and verdict == "direct" else 1)
PY
rl_expect_clean "a rootless nebula cell"
exit 0
