#!/bin/bash
# not-root.sh PUNCHLAB: without root, every verb that builds or touches labs exits 2 with one
# sentence that says root (or sudo) is needed. As root this runs punchlab as nobody (setpriv);
# as a user it runs it directly, so it never skips.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to drop root"
	# nobody must be able to run the binary: copy it out of a possibly private build tree
	chmod 755 "$TMP"
	cp "$PUNCHLAB" "$TMP/punchlab"
	chmod 755 "$TMP/punchlab"
	as_user() {
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
			"$TMP/punchlab" "$@"
	}
else
	as_user() {
		"$PUNCHLAB" "$@"
	}
fi

for args in "lab check" "lab up" "lab up --keep" "lab list" "lab down x" "clean" \
	"exec x host-a -- true" "replay x.tar.gz --trust"; do
	# shellcheck disable=SC2086
	timeout 10 bash -c "$(declare -f as_user); TMP=$TMP PUNCHLAB=$PUNCHLAB; as_user $args" \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
	note "punchlab $args as a user: exit $rc: $(cat "$TMP/err")"
	[ "$rc" -eq 2 ] || fail "punchlab $args as a user exited $rc, expected 2"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "punchlab $args as a user: expected one line on stderr"
	grep -qiE 'root|sudo' "$TMP/err" || fail "punchlab $args as a user: the error names neither root nor sudo"
	[ -s "$TMP/out" ] && fail "punchlab $args as a user printed on stdout"
done
# --help needs no privileges
timeout 10 bash -c "$(declare -f as_user); TMP=$TMP PUNCHLAB=$PUNCHLAB; as_user lab --help" \
	>"$TMP/out" 2>&1 || fail "punchlab lab --help as a user failed"
grep -q '^usage: punchlab lab up' "$TMP/out" || fail "punchlab lab --help as a user: no usage"
exit 0
