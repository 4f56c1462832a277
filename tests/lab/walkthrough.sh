#!/usr/bin/env bash
# walkthrough.sh PUNCHLAB: docs/walkthrough.md works as written. Its ```sh blocks are taken
# out verbatim and run in order, as one shell session (set -euo pipefail), in an empty
# directory, with punchlab and punch on PATH: so the page cannot rot. The steps it must keep
# (lab up --keep, punch probe, profile new, classify, run --engine --pcap, tcpdump -r, the
# project's expectations, bundle, replay --trust) are checked to be there; the probe must
# recover the reporter's router (the hidden profile's header) and print the profile new line
# the page shows; the replay must say the outcome was reproduced; and nothing may be left
# behind (the kept lab, processes, replay's files), also when a block fails: the kept lab's
# name is recorded as soon as the page makes it, and the teardown downs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

# nothing_left WHAT: no process of punchlab or the engine outlives WHAT (kept labs are left
# out: other users of this machine add theirs meanwhile; a matrix keeps none); bounded retry,
# since orphans are reaped slowly here
nothing_left() {
	local i
	for ((i = 0; i < 30; i++)); do
		engine_snapshot "$PUNCH" >"$TMP/after"
		cmp -s "$TMP/before" "$TMP/after" && return 0
		sleep 0.1
	done
	diff "$TMP/before" "$TMP/after" >&2
	fail "$1 left something behind"
}

DOC=$SRCDIR/docs/walkthrough.md

# The steps the page builds on are other items of issue 13; a build without one of them cannot
# run the page: the page names each with a marker (<!-- walkthrough needs: CMD -->), and the test
# skips, saying which is missing, rather than fail on a half page.
missing=""
while read -r need; do
	read -ra words <<<"$need"
	case ${words[0]} in
	punchlab) "$PUNCHLAB" "${words[@]:1}" --help >/dev/null 2>&1 || missing+=" \"$need\"" ;;
	punch) "$PUNCH" "${words[@]:1}" --help >/dev/null 2>&1 || missing+=" \"$need\"" ;;
	*) fail "$DOC: a 'walkthrough needs' marker names \"$need\": expected punchlab or punch" ;;
	esac
done < <(sed -n 's/^<!-- walkthrough needs: \(.*\) -->$/\1/p' "$DOC")
if [ -n "$missing" ]; then
	echo "SKIP ($TEST): this build has no$missing, which docs/walkthrough.md runs (issue 13)"
	exit 77
fi

for tool in turnserver jq tcpdump; do
	command -v "$tool" >/dev/null || fail "$tool is missing, which docs/walkthrough.md runs (ci/bootstrap.sh installs it)"
done

awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$DOC" >"$TMP/blocks.sh" ||
	fail "cannot read $DOC"
for step in "punchlab lab up --keep" "punch probe " "punchlab profile new" \
	"punchlab classify" "punchlab run " "--engine ./" "--pcap " "tcpdump " "--expectations " \
	"punchlab bundle" "punchlab replay repro.tar.gz --trust" "punchlab lab down"; do
	grep -qF -- "$step" "$TMP/blocks.sh" || fail "$DOC has no sh block running \"$step\""
done
# The README's short form ("From a bug report to a regression test"): each of its command lines
# is a line the page runs, so the README is as runnable as the page.
awk '/^## From a bug report to a regression test$/ { sec = 1; next } /^## / { sec = 0 }
	sec && /^```sh$/ { on = 1; next } sec && /^```/ { on = 0 } sec && on' "$SRCDIR/README.md" \
	>"$TMP/readme.sh"
[ -s "$TMP/readme.sh" ] || fail "README.md has no sh block under '## From a bug report to a regression test'"
while IFS= read -r l; do
	case $l in '#'* | '') continue ;; esac
	grep -qxF -- "$l" "$TMP/blocks.sh" || fail "README.md's walkthrough runs a line docs/walkthrough.md does not: $l"
done <"$TMP/readme.sh"

# The kept lab is the page's $home: its name goes to a file the moment the page has it, so
# that the teardown can down it whatever happens after (set -e, the timeout's kill).
# shellcheck disable=SC2016 # the page's own text, not expanded here
grep -q '^home=$(punchlab lab up --keep ' "$TMP/blocks.sh" ||
	fail "$DOC: the reporter's home is no longer made by a line 'home=\$(punchlab lab up --keep ...)'"
awk -v kept="$TMP/kept-lab" '{ print } /^home=\$\(punchlab lab up --keep / {
	print "printf \"%s\\n\" \"$home\" >\"" kept "\"" }' "$TMP/blocks.sh" >"$TMP/walkthrough.sh"
note "$(grep -c '^```sh$' "$DOC") sh blocks, $(wc -l <"$TMP/blocks.sh") lines"

mkdir -p "$TMP/bin" "$TMP/home" "$TMP/tmpdir" || fail "mkdir"
ln -s "$PUNCHLAB" "$TMP/bin/punchlab" || fail "link punchlab"
ln -s "$PUNCH" "$TMP/bin/punch" || fail "link punch"
engine_snapshot "$PUNCH" >"$TMP/before"
# shellcheck disable=SC2016 # expanded at teardown, when the file may exist
defer 'down_if_kept "$(cat "$TMP/kept-lab" 2>/dev/null)"'
(cd "$TMP/home" && PATH="$TMP/bin:$PATH" TMPDIR="$TMP/tmpdir" NO_COLOR=1 \
	timeout -k 5 170 bash -euo pipefail "$TMP/walkthrough.sh") >"$TMP/out" 2>&1
rc=$?
sed 's/^/#   /' "$TMP/out"
[ "$rc" -eq 0 ] || fail "the walkthrough's shell blocks exited $rc (output above)"

# the page downs its kept lab itself
kept=$(cat "$TMP/kept-lab" 2>/dev/null)
[ -n "$kept" ] || fail "the walkthrough's lab up --keep printed no lab name"
[ ! -e "/run/punchlab/$kept.lab" ] || fail "the walkthrough left its kept lab $kept up"

# the STUN server went with the lab (lab down kills what punchlab exec started)
turnpid=$(cat "$TMP/home/turn/turnserver.pid" 2>/dev/null)
[ -n "$turnpid" ] || fail "the walkthrough's STUN server wrote no pid file"
for ((i = 0; i < 50; i++)); do
	[ "$(readlink "/proc/$turnpid/exe" 2>/dev/null)" = "$(command -v turnserver)" ] || break
	sleep 0.1
done
[ "$i" -lt 50 ] || fail "the walkthrough's STUN server (pid $turnpid) outlived its lab"

# the probe recovered the reporter's router: every field it measured is the hidden profile's
router=$TMP/home/reporters-router.nft probe=$TMP/home/probe.txt
for key in rfc3489 mapping filtering ports hairpin predictable; do
	want=$(sed -n "s/^# $key: //p" "$router")
	got=$(sed -n "/^# the profile header fields/,/^\$/s/^$key: //p" "$probe")
	if [ -z "$want" ] || [ "$got" != "$want" ]; then
		fail "punch probe measured $key '$got', the reporter's router has '$want' ($router)"
	fi
done
grep -q 'REDACTED' "$probe" || fail "punch probe --redact printed no REDACTED address"
# ... and its profile new line is the one the page shows the reporter pasting
line=$(grep '^punchlab profile new ' "$probe") || fail "punch probe printed no profile new line"
grep -qxF -- "$line" "$DOC" || fail "$DOC does not show the line punch probe printed: $line"

grep -q "as in the bundle: reproduced" "$TMP/out" || fail "the walkthrough's replay did not reproduce the cell"
left=$(find "$TMP/tmpdir" -mindepth 1 | head -3)
[ -z "$left" ] || fail "the walkthrough left files in \$TMPDIR: $left"
nothing_left "the walkthrough"
echo "walkthrough: every sh block of docs/walkthrough.md ran in order, the probe recovered the router, the bundle replayed"
