#!/bin/bash
# bad-input.sh PUNCHLAB: bad input is refused with exit 2, a FILE:LINE error on stderr, nothing
# on stdout and nothing left behind (issue 3, "Bad input"; a ruleset error names the profile's
# file and line, and the lab is not left half-built).
#   - every tests/data/bad-*.yaml, with `lab up --keep`: the line its "# expect:" header names
#   - a profile whose ruleset does not load (tests/data/profiles-bad/syntax-error.nft), on nat-a
#     with --keep (pins and record must not appear) and on nat-b without (nat-a's ruleset and
#     every node were already built when it fails)
#   - --set of a node that is not a NAT, a profile or topology that does not exist; a --set
#     mistake is blamed on the argument as typed, never on a line of the topology file (issue 9)
#   - a topology file with seven different mistakes: all seven reported in one run (issue 9)
. "$(dirname "$0")/lib.sh"
require_root

snapshot >"$TMP/before"

# expect_refused NAME FILE LINE TEXT -- ARGS...: punchlab ARGS exits 2, prints nothing on stdout,
# prints "FILE:LINE: ...TEXT..." (LINE empty: "FILE: ...TEXT...") on stderr, and lab NAME has
# neither pins nor a record.
expect_refused() {
	local name=$1 file=$2 line=$3 text=$4 rc loc
	shift 5
	OUR_LABS+=" $name"
	defer "down_if_kept $name"
	timeout 20 "$PUNCHLAB" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	note "punchlab $*: exit $rc"
	sed 's/^/#   /' "$TMP/err"
	[ "$rc" -eq 2 ] || fail "punchlab $* exited $rc, expected 2"
	[ -s "$TMP/out" ] && fail "punchlab $* printed on stdout: $(cat "$TMP/out")"
	loc="$file:${line:+$line:}"
	grep -F -- "$loc" "$TMP/err" | grep -qF -- "$text" ||
		fail "punchlab $*: no \"$loc ...$text...\" on stderr"
	ls /run/netns/"$name"-* >/dev/null 2>&1 && fail "punchlab $* left pins of $name"
	[ -e "/run/punchlab/$name.lab" ] && fail "punchlab $* left a record of $name"
	return 0
}

# the line and text a data file's "# expect: LINE: TEXT" header names
expect_of() {
	sed -nE 's/^# expect: ([0-9]+): (.*)$/\1 \2/p' "$1" | head -1
}

i=0
for f in "$SRCDIR"/tests/data/bad-*.yaml; do
	read -r line text <<<"$(expect_of "$f")"
	[ -n "$line" ] || fail "$f has no \"# expect: LINE: TEXT\" header"
	i=$((i + 1))
	expect_refused "plb$$$i" "$f" "$line" "$text" -- lab up --keep --name "plb$$$i" -t "$f"
done
[ "$i" -ge 3 ] || fail "expected at least 3 tests/data/bad-*.yaml files, found $i"
# lab check reads topologies the same way
f=$SRCDIR/tests/data/bad-unknown-kind.yaml
read -r line text <<<"$(expect_of "$f")"
expect_refused "plbc$$" "$f" "$line" "$text" -- lab check -t "$f"

# seven mistakes in one file: all seven reported by one run, each once, and nothing else
f=$SRCDIR/tests/data/bad-seven-mistakes.yaml
OUR_LABS+=" plb7$$"
defer "down_if_kept plb7$$"
timeout 20 "$PUNCHLAB" lab up --keep --name "plb7$$" -t "$f" >"$TMP/out" 2>"$TMP/err"
rc=$?
sed 's/^/#   /' "$TMP/err"
[ "$rc" -eq 2 ] || fail "lab up -t $f exited $rc, expected 2"
[ -s "$TMP/out" ] && fail "lab up -t $f printed on stdout: $(cat "$TMP/out")"
n=0
while read -r line text; do
	n=$((n + 1))
	grep -F -- "$f:$line: " "$TMP/err" | grep -qF -- "$text" ||
		fail "lab up -t $f: mistake $n (\"$f:$line: ...$text...\") not reported in the same run"
done < <(sed -nE 's/^# expect: ([0-9]+): (.*)$/\1 \2/p' "$f")
[ "$n" -eq 7 ] || fail "$f names $n mistakes, expected 7"
[ "$(wc -l <"$TMP/err")" -eq 7 ] || fail "lab up -t $f: $(wc -l <"$TMP/err") error lines, expected exactly 7"
ls /run/netns/plb7$$-* >/dev/null 2>&1 && fail "lab up -t $f left pins"
[ -e "/run/punchlab/plb7$$.lab" ] && fail "lab up -t $f left a record"

# a ruleset that does not load: the error names the profile file and line
nft=$SRCDIR/tests/data/profiles-bad/syntax-error.nft
read -r line text <<<"$(expect_of "$nft")"
[ -n "$line" ] || fail "$nft has no \"# expect: LINE: TEXT\" header"
expect_refused "plbn$$" "$nft" "$line" "$text" -- \
	lab up --set "nat-a=$nft" --keep --name "plbn$$"
# on nat-b, without --keep: nat-a's ruleset loaded first, then the lab must come down whole
expect_refused "plbm$$" "$nft" "$line" "$text" -- lab up --set "nat-b=$nft" --name "plbm$$"
# the relative path a user types is the one the error names
(cd "$SRCDIR" && expect_refused "plbr$$" tests/data/profiles-bad/syntax-error.nft "$line" \
	"$text" -- lab up --set nat-a=tests/data/profiles-bad/syntax-error.nft --keep --name "plbr$$") ||
	exit 1

# --set errors
two=$SRCDIR/topologies/two-nats.yaml
expect_refused "plbs$$" "--set host-a=full-cone" "" \
	'no nat node "host-a", expected one of: nat-a, nat-b' -- \
	lab up --set host-a=full-cone --keep --name "plbs$$"
grep -qF "$two" "$TMP/err" && fail "--set host-a=full-cone: the error blames the topology file"
expect_refused "plbp$$" "--set nat-a=no-such-profile" "" \
	'profile "no-such-profile" not found (looked for' -- \
	lab up --set nat-a=no-such-profile --keep --name "plbp$$"
grep -qF "$two" "$TMP/err" && fail "--set nat-a=no-such-profile: the error blames the topology file"
grep -qF 'expected a name from nat-profiles/ or a path to a .nft file' "$TMP/err" ||
	fail "--set nat-a=no-such-profile: the error does not say what is expected"
expect_refused "plbu$$" "punchlab" "" 'expected NODE=PROFILE' -- \
	lab up --set nat-a --keep --name "plbu$$"
expect_refused "plbt$$" "punchlab" "" 'topology "no-such-topology" not found' -- \
	lab up -t no-such-topology --keep --name "plbt$$"
expect_refused "plbx$$" "--name" "" 'lab name "Bad_Name" is not valid' -- \
	lab up --keep --name Bad_Name

expect_nothing_left "$TMP/before" "bad input"
