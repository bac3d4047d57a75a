#!/usr/bin/env bash
# Adopting oomlint on an existing repository: --add-noqa (merging, idempotent, atomic),
# --write-baseline / --baseline (fingerprints survive moved lines), OOM001 unused-noqa and its
# fix, --show-fixes, --output-format gitlab, --watch, and `--help` of every subcommand.
set -uo pipefail
BIN="${OOMLINT_BINARY:?}"
SRC="${OOMLINT_SOURCE_DIR:?}"
TMP="$(mktemp -d)"
watch_pid=
trap '[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null; rm -rf "$TMP"' EXIT
cd "$TMP"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
export OOMLINT_CACHE_DIR="$TMP/cache"

# ---- --add-noqa ----
mkdir repo && cp "$SRC/examples/train.py" repo/train.py
"$BIN" check --isolated repo > before.txt; rc=$?
[ $rc = 1 ] && ok "example has findings" || bad "example exit $rc"
n_before=$(grep -cE '^repo/train.py:[0-9]+:[0-9]+: OOM' before.txt)
# An existing noqa of another tool on a line with a finding is merged into.
line=$(grep -m1 -oE '^repo/train.py:[0-9]+' before.txt | cut -d: -f2)
sed -i "${line}s/\$/  # noqa: E501/" repo/train.py
chmod 0640 repo/train.py
"$BIN" check --isolated repo --add-noqa > out.txt 2> err.txt; rc=$?
[ $rc = 0 ] && ok "--add-noqa exit 0" || { bad "--add-noqa exit $rc"; cat err.txt; }
grep -qE '^Added [0-9]+ noqa directives? in 1 file\.$' err.txt && ok "--add-noqa summary" || { bad "summary"; cat err.txt; }
sed -n "${line}p" repo/train.py | grep -qE '# noqa: E501, OOM[0-9]{3}$' && ok "merged into the existing noqa" || { bad "merge"; sed -n "${line}p" repo/train.py; }
[ "$(grep -c '# noqa' repo/train.py)" -ge 3 ] && ok "noqa comments added" || bad "noqa count"
"$BIN" check --isolated repo > after.txt; rc=$?
[ $rc = 0 ] && ok "no finding left after --add-noqa" || { bad "after --add-noqa exit $rc"; cat after.txt; }
[ "$(stat -c %a repo/train.py)" = 640 ] && ok "mode kept" || bad "mode $(stat -c %a repo/train.py)"
cp repo/train.py once.py
"$BIN" check --isolated repo --add-noqa 2> err.txt; rc=$?
cmp -s repo/train.py once.py && grep -q "Added 0 noqa directives in 0 files" err.txt && ok "--add-noqa is idempotent" || bad "second --add-noqa changed the file"
ls -a repo | grep -q oomlint- && bad "temp file left" || ok "no temp file left"
python3 -c "import ast,sys; ast.parse(open('repo/train.py').read())" && ok "still valid Python" || bad "syntax broken"
"$BIN" check --isolated repo --add-noqa --fix > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "--add-noqa --fix is a usage error" || bad "--add-noqa --fix exit $rc"

# ---- OOM001 unused-noqa: the noqa stays when the code is fixed by hand ----
cat > u.py <<'PY'
import torch

for batch in loader:
    loss = model(batch).loss
    loss.backward()
    torch.cuda.empty_cache()  # noqa: OOM203
    x = 1  # noqa: OOM203, E501
    y = 2  # noqa: OOM201  # type: ignore
    z = 3  # noqa: E501
PY
"$BIN" check --isolated --no-cache --extend-select OOM001 --output-format concise u.py > o.txt; rc=$?
[ $rc = 1 ] && ok "unused noqa reported (exit 1)" || { bad "OOM001 exit $rc"; cat o.txt; }
grep -q '^u.py:7:.*OOM001' o.txt && grep -q '^u.py:8:.*OOM001' o.txt && ok "OOM001 on lines 7 and 8" || { bad "OOM001 lines"; cat o.txt; }
grep -qE '^u.py:(6|9):' o.txt && { bad "a used or foreign noqa reported"; cat o.txt; } || ok "used and foreign noqa not reported"
grep -q '^# OOM001 `unused-noqa`' <<<"$("$BIN" rule OOM001)" && grep -q 'extend-select OOM001' <<<"$("$BIN" rule unused-noqa)" && ok "oomlint rule OOM001 explains it" || bad "oomlint rule OOM001"
"$BIN" check --isolated --no-cache u.py --output-format concise > o2.txt
grep -q OOM001 o2.txt && bad "OOM001 on by default" || ok "OOM001 is opt-in"
"$BIN" check --isolated --no-cache --extend-select OOM001 u.py --fix --show-fixes > o3.txt 2> e3.txt; rc=$?
[ $rc = 0 ] && ok "--fix removes the unused codes" || { bad "fix exit $rc"; cat o3.txt; }
sed -n 7p u.py | grep -qx '    x = 1  # noqa: E501' && ok "one code of two removed" || { bad "line 7: $(sed -n 7p u.py)"; }
sed -n 8p u.py | grep -qx '    y = 2  # type: ignore' && ok "directive removed, other comment kept" || { bad "line 8: $(sed -n 8p u.py)"; }
sed -n 6p u.py | grep -q '# noqa: OOM203' && ok "used noqa kept" || bad "used noqa removed"
grep -q '^- u.py:$' e3.txt && grep -qE '^    2 × OOM001$' e3.txt && ok "--show-fixes lists what --fix fixed" || { bad "--show-fixes"; cat e3.txt; }

# --show-fixes without --fix lists the fixes on offer
cp "$SRC/tests/fixtures/OOM203.py" s.py
"$BIN" check --isolated --no-cache --select OOM203 s.py --show-fixes > /dev/null 2> e4.txt
grep -q '^Fixes available:$' e4.txt && grep -qE '^- s.py:[0-9]+:[0-9]+: OOM203 .*\((safe, --fix|unsafe, --unsafe-fixes)\)$' e4.txt && ok "--show-fixes lists offered fixes" || { bad "--show-fixes offered"; cat e4.txt; }

# ---- baselines ----
mkdir base && cp "$SRC/examples/train.py" base/train.py
( cd base && "$BIN" check --isolated . --write-baseline ../oomlint-baseline.json 2> ../e5.txt ); rc=$?
[ $rc = 0 ] && grep -qE "^Wrote $n_before findings to ../oomlint-baseline.json\.$" e5.txt && ok "--write-baseline wrote $n_before" || { bad "write-baseline rc=$rc"; cat e5.txt; }
python3 - <<'PY' && ok "baseline is JSON with fingerprints and paths" || bad "baseline format"
import json
b = json.load(open("oomlint-baseline.json"))
assert b["oomlint-baseline"] == 1 and b["findings"]
assert all(":" in f["fingerprint"] and f["path"] == "base/train.py" for f in b["findings"])
PY
"$BIN" check --isolated base --baseline oomlint-baseline.json > o6.txt; rc=$?
[ $rc = 0 ] && grep -q "^$n_before findings in the baseline not shown.$" o6.txt && ok "baseline hides every old finding (from another cwd)" || { bad "baseline rc=$rc"; cat o6.txt; }
# Move every line down by inserting a header, and add one new finding at the end.
{ printf '# header\n\n'; cat base/train.py; printf '\n\ndef later(loader, model):\n    for b in loader:\n        model(b).loss.backward()\n        torch.cuda.empty_cache()\n'; } > t && mv t base/train.py
"$BIN" check --isolated base --baseline oomlint-baseline.json --output-format concise > o7.txt; rc=$?
[ $rc = 1 ] && [ "$(grep -c ': OOM' o7.txt)" = 1 ] && grep -q 'OOM203' o7.txt && ok "moved lines stay baselined; only the new finding reported" || { bad "after move rc=$rc"; cat o7.txt; }
echo '{"x":1}' > notbase.json
"$BIN" check --isolated base --baseline notbase.json > /dev/null 2> e8.txt; rc=$?
[ $rc = 2 ] && grep -q "not an oomlint baseline" e8.txt && ok "bad baseline: clear error, exit 2" || { bad "bad baseline rc=$rc"; cat e8.txt; }
"$BIN" check --isolated base --baseline missing.json > /dev/null 2> e9.txt; rc=$?
[ $rc = 2 ] && grep -q "cannot read the baseline" e9.txt && ok "missing baseline: exit 2" || bad "missing baseline rc=$rc"

# ---- GitLab Code Quality ----
( cd base && "$BIN" check --isolated --no-cache . --output-format gitlab > ../gl.json ); rc=$?
[ $rc = 1 ] && ok "gitlab exit 1" || bad "gitlab exit $rc"
python3 "$SRC/tests/integration/support/gitlab_codequality.py" gl.json && ok "gitlab report matches the Code Quality schema" || bad "gitlab schema"
python3 -c "import json; r = json.load(open('gl.json')); assert all(i['location']['path'] == 'train.py' for i in r)" && ok "gitlab paths relative to the project" || bad "gitlab paths"
echo '[{"description": "d", "check_name": "c", "fingerprint": "f", "severity": "bad", "location": {"path": "/abs.py", "lines": {"begin": 0}}}]' > bad_gl.json
python3 "$SRC/tests/integration/support/gitlab_codequality.py" bad_gl.json > /dev/null && bad "the schema check accepts a bad report" || ok "the schema check refuses a bad report"

# ---- --help of every subcommand ----
for sub in check rule estimate server version; do
  out=$("$BIN" $sub --help 2>&1); rc=$?
  [ $rc = 0 ] && echo "$out" | grep -qi "usage" && echo "$out" | grep -q "oomlint $sub" && ok "oomlint $sub --help" || { bad "oomlint $sub --help rc=$rc"; echo "$out" | head -5; }
done
grep -q -- '--add-noqa' <<<"$("$BIN" check --help)" && ok "check --help lists --add-noqa" || bad "check --help"
cmp -s <("$BIN" help check) <("$BIN" check --help) && ok "oomlint help check = oomlint check --help" || bad "oomlint help check"

# ---- --watch: reports, re-reports after an edit, stops on SIGTERM ----
mkdir w && printf 'x = 1\n' > w/a.py
"$BIN" check --isolated --no-cache --output-format concise --watch w > watch.txt 2> watch.err &
watch_pid=$!
wait_for() { for _ in $(seq 1 50); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_for "All checks passed" watch.txt && ok "--watch: first run" || bad "--watch: first run"
cp "$SRC/tests/fixtures/OOM203.py" w/a.py
wait_for "w/a.py:.*OOM203" watch.txt && ok "--watch: re-reports after an edit" || { bad "--watch: no second report"; cat watch.txt watch.err; }
grep -q "File change detected" watch.err && ok "--watch: says why it ran again" || bad "--watch message"
kill -TERM "$watch_pid"
for _ in $(seq 1 30); do kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$watch_pid" 2>/dev/null; then bad "--watch: still running after SIGTERM"; else
  wait "$watch_pid"; rc=$?; [ $rc = 0 ] && ok "--watch: SIGTERM stops it, exit 0" || bad "--watch exit $rc"; fi
watch_pid=

exit $fail
