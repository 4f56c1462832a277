#!/bin/bash
# rootless-matrix.sh PUNCHLAB: the default matrix run by an ordinary user (made by the test)
# passes against the checked-in expectations, and each cell's outcome equals the one of the
# same matrix run as root, or both lie in the cell's allowed set (a timing-dependent cell's).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless-lib.sh"
slow=${PUNCHLAB_TEST_SLOWDOWN:-1}

PUNCHLAB_DATA_DIR=$RL_TREE/data timeout -k 5 $((240 * slow)) "$RL_PUNCHLAB" matrix --no-color \
	--out "$TMP/root" >"$TMP/root.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { tail -30 "$TMP/root.out" >&2; fail "the matrix as root exited $rc"; }
as_user timeout -k 5 $((240 * slow)) "$RL_PUNCHLAB" matrix --no-color --out "$RL_WORK/user" \
	>"$TMP/user.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { tail -30 "$TMP/user.out" >&2; fail "the matrix as an ordinary user exited $rc"; }

python3 - "$TMP/root/matrix.json" "$RL_WORK/user/matrix.json" <<'PY' || fail "rootless outcomes differ from root's"
import json, sys
root = {c["id"]: c for c in json.load(open(sys.argv[1]))["cells"]}
user = {c["id"]: c for c in json.load(open(sys.argv[2]))["cells"]}
bad = 0
if set(root) != set(user):
    print("cells differ:", sorted(set(root) ^ set(user)))
    sys.exit(1)
for cid, r in sorted(root.items()):
    u = user[cid]
    allowed = (r.get("refs", {}).get("expected") or {}).get("allowed") or []
    if r["outcome"] != u["outcome"] and not (r["outcome"] in allowed and u["outcome"] in allowed):
        print(f"{cid}: root {r['outcome']}, rootless {u['outcome']} (allowed {allowed})")
        bad += 1
print(f"# {len(root)} cells, {len(root) - bad} alike (equal or both allowed), {bad} differ")
sys.exit(1 if bad else 0)
PY
rl_expect_clean "a rootless matrix run"
exit 0
