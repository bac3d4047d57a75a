#!/usr/bin/env bash
# The results cache of `oomlint check`: a second run reads every unchanged file from the cache
# and prints the same report; a changed file, a changed setting or a rebuilt binary is checked
# again; --no-cache neither reads nor writes it; a damaged cache is ignored.
set -uo pipefail
source "$(dirname "$0")/support/common.sh"
BIN="$OOMLINT_BINARY"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
failed=0
check() { if eval "$2"; then pass "$1"; else echo "FAIL $1"; failed=1; fi; }

mkdir -p proj/pkg
cat > proj/train.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
        torch.cuda.empty_cache()
PY
cat > proj/pkg/amp.py <<'PY'
import torch


def train(model, loader, optimizer):
    with torch.autocast("cuda", dtype=torch.float16):
        for batch in loader:
            model(batch).sum().backward()
            optimizer.step()
PY
printf 'import torch\nx = 1\n' > proj/pkg/clean.py
cd proj

"$BIN" check --isolated -v --output-format json . >first.json 2>first.err
check "first run writes the cache" '[ -d .oomlint_cache ] && grep -q "cache: 0 of 3" first.err'
check "the cache directory keeps itself out of git" 'grep -qx "\*" .oomlint_cache/.gitignore'
"$BIN" check --isolated -v --output-format json . >second.json 2>second.err
check "second run reads all 3 files from the cache" 'grep -q "cache: 3 of 3" second.err'
check "second run prints the same report" 'cmp -s first.json second.json'
check "the report has findings (OOM203 and OOM061)" 'grep -q OOM203 second.json && grep -q OOM061 second.json'

# A changed file is checked again; the others still come from the cache.
sed -i 's/        torch.cuda.empty_cache()/        pass/' train.py
"$BIN" check --isolated -v --output-format json . >third.json 2>third.err
check "an edited file is checked again" 'grep -q "cache: 2 of 3" third.err && ! grep -q OOM203 third.json'

# Different settings are a different key.
"$BIN" check --isolated -v --target-gpu volta --output-format json . >volta.json 2>volta.err
check "another --target-gpu is checked again" 'grep -q "cache: 0 of 3" volta.err'
check "... and reports what that setting changes" '! grep -q OOM061 volta.json'
"$BIN" check --isolated -v --ignore OOM061 --output-format json . >ign.json 2>ign.err
check "another rule selection is checked again" 'grep -q "cache: 0 of 3" ign.err && ! grep -q OOM061 ign.json'
printf '[tool.oomlint]\ntarget-gpu = "volta"\n' > pyproject.toml
"$BIN" check -v --output-format json . >cfg.json 2>cfg.err
check "a changed config file is a changed setting" '! grep -q OOM061 cfg.json'
rm pyproject.toml

# --no-cache: no reads, no writes.
rm -rf .oomlint_cache
"$BIN" check --isolated --no-cache -v . >/dev/null 2>nocache.err
check "--no-cache creates no cache" '[ ! -e .oomlint_cache ] && ! grep -q "cache:" nocache.err'
"$BIN" check --isolated -v --cache-dir "$TMP/elsewhere" . >/dev/null 2>dir.err
check "--cache-dir puts it elsewhere" '[ -d "$TMP/elsewhere" ] && [ ! -e .oomlint_cache ]'
OOMLINT_CACHE_DIR="$TMP/env-cache" "$BIN" check --isolated . >/dev/null 2>&1
check "OOMLINT_CACHE_DIR puts it elsewhere" '[ -d "$TMP/env-cache" ] && [ ! -e .oomlint_cache ]'

# --fix never trusts the cache: it reads, fixes and writes the file.
"$BIN" check --isolated . >/dev/null 2>&1
"$BIN" check --isolated --fix --unsafe-fixes . >/dev/null 2>&1
check "--fix still fixes files the cache knows" '! grep -q "dtype=torch.float16" pkg/amp.py'

# A damaged cache file is ignored and replaced.
for f in .oomlint_cache/*.bin; do printf '{"files": [1, 2' > "$f"; done
"$BIN" check --isolated -v --output-format json . >dmg.json 2>dmg.err
rc=$?
check "a damaged cache is ignored (exit $rc, no crash)" '[ $rc -le 1 ] && grep -q "cache: 0 of 3" dmg.err'
"$BIN" check --isolated -v . >/dev/null 2>dmg2.err
check "... and rewritten" 'grep -q "cache: 3 of 3" dmg2.err'

# An unwritable cache location warns and the check still works.
"$BIN" check --isolated --cache-dir /proc/oomlint-no-such-dir . >/dev/null 2>ro.err
rc=$?
check "an unwritable cache dir warns and still checks (exit $rc)" '[ $rc -le 1 ] && grep -q "results cache not saved" ro.err'

# A rebuilt binary (here: the same one with a new modification time) does not trust old results.
cp "$BIN" "$TMP/oomlint-copy"
"$TMP/oomlint-copy" check --isolated . >/dev/null 2>&1
"$TMP/oomlint-copy" check --isolated -v . >/dev/null 2>same.err
touch -d '+1 minute' "$TMP/oomlint-copy"
"$TMP/oomlint-copy" check --isolated -v . >/dev/null 2>rebuilt.err
check "a rebuilt binary checks every file again" 'grep -q "cache: 3 of 3" same.err && grep -q "cache: 0 of 3" rebuilt.err'

# Files are not even read while their stat() is unchanged: the cache holds their findings ready
# to print, source line included. A file rewritten in place with the same size and modification
# time has a new change time, and is checked again.
mkdir -p "$TMP/stamp" && cd "$TMP/stamp"
loop_body() {
  printf 'import torch\n\n\ndef train(model, loader, optimizer):\n    for batch in loader:\n'
  printf '        model(batch).sum().backward()\n        optimizer.step()\n        torch.cuda.%s()\n' "$1"
}
loop_body empty_cachf > quiet.py # same length, no finding: not a torch function
loop_body empty_cache > loud.py
sleep 2.2 # a stamp taken within 2 s of the file's last write vouches for nothing
"$BIN" check --isolated -v . >s1.out 2>s1.err
"$BIN" check --isolated -v . >s2.out 2>s2.err
check "files with an unchanged stat are not read, with findings or without" \
  'grep -q "cache: 2 of 2 files unchanged since the last run, 2 of them not read" s2.err'
check "... and the findings still come out" 'grep -q "loud.py:8:9: OOM203" s2.out'
check "... the same report, source line and all" 'cmp -s s1.out s2.out && grep -q "8 |         torch.cuda.empty_cache()" s2.out'
mtime=$(stat -c %Y quiet.py)
size=$(stat -c %s quiet.py)
loop_body empty_cache 1<> quiet.py # in place: same inode, same size
touch -d "@$mtime" quiet.py
check "the rewrite kept size and modification time" \
  '[ "$(stat -c %s quiet.py)" = "$size" ] && [ "$(stat -c %Y quiet.py)" = "$mtime" ]'
"$BIN" check --isolated -v . >s3.out 2>s3.err
check "a file rewritten in place with the same size and mtime is checked again" \
  'grep -q "quiet.py:8:9: OOM203" s3.out && grep -q "cache: 1 of 2" s3.err'
mkdir -p "$TMP/fresh" && cd "$TMP/fresh"
loop_body empty_cachf > fresh.py
"$BIN" check --isolated -v . >/dev/null 2>s4.err
"$BIN" check --isolated -v . >/dev/null 2>s5.err
check "a file written less than 2 s ago is read again" \
  'grep -q "cache: 1 of 1 files unchanged since the last run, 0 of them not read" s5.err'

exit $failed
