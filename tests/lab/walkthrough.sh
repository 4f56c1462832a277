#!/usr/bin/env bash
# walkthrough.sh PUNCHLAB: docs/walkthrough.md and README.md's "From a bug report to a regression
# test" work as written. Each page's ```sh blocks are taken out verbatim and run in order, as one
# shell session (set -euo pipefail), in an empty directory of its own, with punchlab and punch
# on PATH, both pages at once: so neither can rot. The steps they must keep (lab up --keep,
# punch probe, profile new, classify, run --engine --pcap, tcpdump -r, the project's
# expectations, bundle, replay --trust) are checked to be there; each probe must recover the
# reporter's router (the hidden profile's header) and print the profile new line the long form
# shows; each replay must say the outcome was reproduced; the long form's outcome grids must be
# what its runs measured (walkthrough-grids.py); and nothing may be left behind (the
# kept labs, the rendezvous, processes, replay's files), also when a block fails: a kept
# lab's name is recorded as soon as the page makes it, and the teardown downs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/matrix-lib.sh"
require_root

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

for tool in jq tcpdump; do
	command -v "$tool" >/dev/null || fail "$tool is missing, which docs/walkthrough.md runs (ci/bootstrap.sh installs it)"
done

awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$DOC" >"$TMP/doc.blocks" ||
	fail "cannot read $DOC"
for step in "punchlab lab up --keep" "punch probe --server" "punchlab profile new" \
	"punchlab classify" "punchlab run " "--engine ./" "--pcap " "tcpdump " "--expectations " \
	"punchlab bundle" "punchlab replay repro.tar.gz --trust" "punchlab lab down"; do
	grep -qF -- "$step" "$TMP/doc.blocks" || fail "$DOC has no sh block running \"$step\""
done
note "$DOC: $(grep -c '^```sh$' "$DOC") sh blocks, $(wc -l <"$TMP/doc.blocks") lines"
# The README's short form ("From a bug report to a regression test") runs too, on its own.
README=$SRCDIR/README.md
awk '/^## From a bug report to a regression test$/ { sec = 1; next } /^## / { sec = 0 }
	sec && /^```sh$/ { on = 1; next } sec && /^```/ { on = 0 } sec && on' "$README" >"$TMP/readme.blocks"
for step in "punchlab lab up --keep" "punch probe --server" "punchlab profile new" "punchlab classify" \
	"punchlab run " "tcpdump " "--expectations " "punchlab bundle" "punchlab replay repro.tar.gz --trust"; do
	grep -qF -- "$step" "$TMP/readme.blocks" ||
		fail "$README has no sh block under '## From a bug report to a regression test' running \"$step\""
done

mkdir -p "$TMP/bin" "$TMP/tmpdir" || fail "mkdir"
ln -s "$PUNCHLAB" "$TMP/bin/punchlab" || fail "link punchlab"
ln -s "$PUNCH" "$TMP/bin/punch" || fail "link punch"
engine_snapshot "$PUNCH" >"$TMP/before"

# run_page NAME BLOCKS SOURCE: BLOCKS (a page's sh blocks) as one shell session in the empty
# directory $TMP/NAME, in the background (RUN_PID). The reporter's kept lab is the page's
# $home: its name goes to $TMP/NAME.kept the moment the page has it, so that the teardown
# can down it whatever happens after (set -e, the timeout's kill).
run_page() {
	local name=$1 blocks=$2 source=$3
	# shellcheck disable=SC2016 # the page's own text, not expanded here
	grep -q '^home=$(punchlab lab up --keep ' "$blocks" ||
		fail "$source: the reporter's home is no longer made by a line 'home=\$(punchlab lab up --keep ...)'"
	awk -v kept="$TMP/$name.kept" '{ print } /^home=\$\(punchlab lab up --keep / {
		print "printf \"%s\\n\" \"$home\" >\"" kept "\"" }' "$blocks" >"$TMP/$name.sh"
	mkdir "$TMP/$name" || fail "mkdir $TMP/$name"
	defer "down_if_kept \"\$(cat '$TMP/$name.kept' 2>/dev/null)\""
	(cd "$TMP/$name" && PATH="$TMP/bin:$PATH" TMPDIR="$TMP/tmpdir" NO_COLOR=1 \
		timeout -k 5 160 bash -euo pipefail "$TMP/$name.sh") >"$TMP/$name.out" 2>&1 &
	RUN_PID=$!
}

# check_page NAME SOURCE RC: what a page run must have done, and left
check_page() {
	local name=$1 source=$2 rc=$3 dir=$TMP/$1 kept key want got line
	note "--- $source, as run:"
	sed 's/^/#   /' "$TMP/$name.out"
	[ "$rc" -eq 0 ] || fail "the shell blocks of $source exited $rc (output above)"
	# the page downs its kept lab itself
	kept=$(cat "$TMP/$name.kept" 2>/dev/null)
	[ -n "$kept" ] || fail "$source: lab up --keep printed no lab name"
	[ ! -e "/run/punchlab/$kept.lab" ] || fail "$source left its kept lab $kept up"
	# the probe recovered the reporter's router: every field it measured is the hidden profile's
	for key in rfc3489 mapping filtering ports hairpin predictable; do
		want=$(sed -n "s/^# $key: //p" "$dir/reporters-router.nft")
		got=$(sed -n "/^# the profile header fields/,/^\$/s/^$key: //p" "$dir/probe.txt")
		if [ -z "$want" ] || [ "$got" != "$want" ]; then
			fail "$source: punch probe measured $key '$got', the reporter's router has '$want'"
		fi
	done
	# over a punch rendezvous the probe measures the TCP mapping too
	want=$(sed -n "s/^# mapping: //p" "$dir/reporters-router.nft")
	grep -qxF "tcp mapping: $want" "$dir/probe.txt" ||
		fail "$source: punch probe did not measure the router's TCP mapping ($want)"
	grep -q 'REDACTED' "$dir/probe.txt" || fail "$source: punch probe --redact printed no REDACTED address"
	grep -q "as in the bundle: reproduced" "$TMP/$name.out" || fail "$source: the replay did not reproduce the cell"
	# ... and its header fields and profile new line are what the long form shows the reporter
	# pasting
	line=$(grep '^punchlab profile new ' "$dir/probe.txt") || fail "$source: punch probe printed no profile new line"
	grep -qxF -- "$line" "$DOC" || fail "$DOC does not show the line punch probe printed: $line"
	while IFS= read -r line; do
		[ -z "$line" ] || grep -qxF -- "$line" "$DOC" || fail "$DOC does not show the line punch probe printed: $line"
	done < <(sed -n '/^# the profile header fields/,/^$/p' "$dir/probe.txt")
}

# both at once: separate labs, separate directories
run_page doc "$TMP/doc.blocks" "$DOC"
doc_pid=$RUN_PID
run_page readme "$TMP/readme.blocks" "$README"
readme_pid=$RUN_PID
wait "$doc_pid"
doc_rc=$?
wait "$readme_pid"
readme_rc=$?
check_page doc "$DOC" "$doc_rc"
check_page readme "$README" "$readme_rc"
# the outcome grids the long form shows as measured are what its own runs measured
python3 "$(dirname "$0")/walkthrough-grids.py" "$DOC" "$TMP/doc" ||
	fail "$DOC shows outcome grids its runs did not measure (above)"

left=$(find "$TMP/tmpdir" -mindepth 1 | head -3)
[ -z "$left" ] || fail "the walkthrough left files in \$TMPDIR: $left"
nothing_left "the walkthrough"
echo "walkthrough: every sh block of docs/walkthrough.md and of README.md's walkthrough ran in order; the probe recovered the router; the bundles replayed"
