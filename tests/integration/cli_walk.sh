#!/usr/bin/env bash
# A walked tree of many files: the report is the same whatever the number of threads (files in
# path order, each once), and a bad config file met late in the walk ends the run before any
# report, cache or (with --fix) any write.
set -uo pipefail
source "$(dirname "$0")/support/common.sh"
BIN="$OOMLINT_BINARY"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
failed=0
check() { if eval "$2"; then pass "$1"; else echo "FAIL $1"; failed=1; fi; }

body='import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
        torch.cuda.empty_cache()
'
# Many files before the directory that comes last in the walk, of different sizes.
mkdir -p proj/a proj/m/n proj/zz
for i in $(seq 1 150); do
  printf '%s' "$body" > "proj/a/f$i.py"
  for _ in $(seq 1 $((i % 7))); do printf '# padding\n' >> "proj/a/f$i.py"; done
done
for i in $(seq 1 20); do printf '%s' "$body" > "proj/m/n/g$i.py"; done
printf '%s' "$body" > proj/zz/last.py
printf 'import torch\nx = 1\n' > proj/clean.py
cd proj

for fmt in concise json; do
  "$BIN" check --isolated --no-cache -q --select OOM203 --output-format $fmt --threads 1 . a/f1.py \
    > one.$fmt 2>one.err
  for t in 2 4; do
    "$BIN" check --isolated --no-cache -q --select OOM203 --output-format $fmt --threads $t . \
      a/f1.py > many.$fmt 2>many.err
    check "$fmt with $t threads is the report of one thread" \
      'cmp -s one.$fmt many.$fmt && cmp -s one.err many.err'
  done
done
check "every file is reported, once" \
  '[ "$(wc -l < one.concise)" = 171 ] && [ "$(cut -d: -f1 one.concise | sort -u | wc -l)" = 171 ]'
check "in path order" 'cut -d: -f1 one.concise | LC_ALL=C sort -c'
for t in 1 2; do
  "$BIN" check --isolated --no-cache -q --select OOM203 --output-format concise --threads $t - . \
    --stdin-filename m/stdin.py < a/f2.py > stdin$t.out 2>&1
done
check "stdin and a walk: the same report with 1 and 2 threads" \
  'cmp -s stdin1.out stdin2.out && grep -c "^m/stdin.py:" stdin1.out | grep -qx 1'

# A bad config file in the last directory walked.
printf 'select = [\n' > zz/oomlint.toml
for t in 1 2; do
  "$BIN" check --select OOM203 --threads $t . > bad.out 2> bad.err
  rc=$?
  check "a bad config ends the run with exit 2 ($t threads)" \
    '[ "$rc" = 2 ] && [ ! -s bad.out ] && grep -q "zz/oomlint.toml" bad.err && [ "$(wc -l < bad.err)" = 1 ]'
  check "and writes no cache ($t threads)" '[ ! -e .oomlint_cache ]'
  "$BIN" check --select OOM203 --threads $t --diff . > bad.out 2> bad.err
  rc=$?
  check "--diff: exit 2, no diff ($t threads)" '[ "$rc" = 2 ] && [ ! -s bad.out ]'
  sum_before="$(cat a/*.py m/n/*.py | md5sum)"
  "$BIN" check --select OOM203 --threads $t --fix --unsafe-fixes . > bad.out 2> bad.err
  rc=$?
  check "--fix: exit 2 and no file changed ($t threads)" \
    '[ "$rc" = 2 ] && [ "$(cat a/*.py m/n/*.py | md5sum)" = "$sum_before" ]'
done
rm zz/oomlint.toml
"$BIN" check --select OOM203 --threads 2 --fix --unsafe-fixes . > fix.out 2> fix.err
check "without it, --fix fixes every file" '! grep -q empty_cache a/*.py m/n/*.py zz/*.py'

exit $failed
