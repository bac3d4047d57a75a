#!/usr/bin/env bash
# Several `oomlint check` runs share one project and one cache folder (two pre-commit hooks, an
# editor, CI). OOMLINT_CACHE_PROCS runs at once (default 4), OOMLINT_CACHE_ROUNDS rounds (default
# 50), with edits between rounds (findings added and removed, a helper module the scripts import
# changed, a file created and deleted): every run prints exactly what --no-cache prints of the same
# tree, and the cache file is always whole (support/cache_file_whole.py reads it to its last byte; a run over an
# unchanged tree finds every file in it). Then a damaged cache file and one of another build are
# ignored, and the damaged one rewritten.
set -uo pipefail
. "$(dirname "$0")/support/common.sh"
procs=${OOMLINT_CACHE_PROCS:-4}
rounds=${OOMLINT_CACHE_ROUNDS:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
proj=$work/proj
cache=$work/cache
mkdir -p "$proj/pkg"
cd "$proj" || exit 1
whole=$OOMLINT_SOURCE_DIR/tests/integration/support/cache_file_whole.py

cat >utils.py <<'PY'
import torch


def evaluate(model, batch):
    with torch.no_grad():
        return model(batch)
PY
for i in 1 2 3 4 5; do
  cat >"train$i.py" <<PY
import torch
from utils import evaluate

for batch in loader:
    loss = model(batch).sum()
    loss.backward()
    out = evaluate(model, batch)
PY
done
cat >pkg/eval.py <<'PY'
import torch

def run(model, loader):
    preds = []
    for batch in loader:
        preds.append(model(batch))
    return preds
PY

check() { "$OOMLINT_BINARY" check --output-format concise --threads 1 "$@" . 2>/dev/null; }

# One edit per round, chosen by the round number: the same sequence on every run of the test.
edit() {
  local r=$1 f="train$((r % 5 + 1)).py"
  case $((r % 6)) in
  0) printf '    torch.cuda.empty_cache()\n' >>"$f" ;;                     # a finding appears
  1) sed -i '/empty_cache/d' "$f" ;;                                        # and goes
  2) sed -i 's/with torch.no_grad():/if True:/' utils.py ;;                 # a dependency changes
  3) sed -i 's/if True:/with torch.no_grad():/' utils.py ;;
  4) printf 'import torch\ntorch.cuda.empty_cache()\n' >"new$r.py" ;;      # a file appears
  5) rm -f new*.py ;;                                                       # and goes
  esac
}

mismatches=0
for ((r = 1; r <= rounds; r++)); do
  edit "$r"
  expected=$(check --no-cache)
  pids=()
  for ((p = 0; p < procs; p++)); do
    check --cache-dir "$cache" >"$work/out.$p" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  for ((p = 0; p < procs; p++)); do
    if [ "$(cat "$work/out.$p")" != "$expected" ]; then
      mismatches=$((mismatches + 1))
      echo "round $r, run $p differs from --no-cache:"
      diff <(echo "$expected") "$work/out.$p" | head -20
    fi
  done
  python3 "$whole" "$cache"/*.bin || fail "round $r: a torn cache file"
  [ "$(find "$cache" -maxdepth 1 -name '.tmp-*' | wc -l)" = 0 ] || fail "round $r: temporary files left"
done
[ "$mismatches" = 0 ] || fail "$mismatches of $((rounds * procs)) runs differ from --no-cache"
pass "$rounds rounds of $procs concurrent runs with edits between rounds: every run printed what --no-cache prints"

# Unchanged tree: a run finds every file in the cache.
files=$(find . -name '*.py' | wc -l)
out=$("$OOMLINT_BINARY" check -v --threads 1 --cache-dir "$cache" . 2>&1 >/dev/null)
echo "$out" | grep -q "cache: $files of $files files unchanged" || fail "after the rounds, expected all $files files from the cache: $out"
pass "the cache after the rounds holds all $files files"

# Runs over different files at once keep each other's results (the saves merge).
lost=0
for ((r = 1; r <= 20; r++)); do
  rm -rf "$work/merge" && mkdir -p "$work/merge"
  for i in 1 2 3 4; do printf 'import torch\ntorch.cuda.empty_cache()  # %d %d\n' "$r" "$i" >"$work/merge/m$i.py"; done
  for i in 1 2 3 4; do
    "$OOMLINT_BINARY" check --threads 1 --cache-dir "$work/merge/cache" "$work/merge/m$i.py" >/dev/null 2>&1 &
  done
  wait
  out=$("$OOMLINT_BINARY" check -v --threads 1 --cache-dir "$work/merge/cache" "$work"/merge/m*.py 2>&1 >/dev/null)
  echo "$out" | grep -q "cache: 4 of 4 files unchanged" || lost=$((lost + 1))
done
[ "$lost" = 0 ] || fail "in $lost of 20 rounds, four runs at once over four different files lost a result"
pass "four runs at once over four different files: the cache keeps all four results (20 rounds)"

# A damaged cache file is no cache, and is rewritten; one of another build is left alone.
expected=$(check --no-cache)
bin=$(ls "$cache"/*.bin)
head -c 100 /dev/urandom >"$bin"
other="$cache/v0.0.1-f1-1-1.0.bin"
printf 'another build' >"$other"
[ "$(check --cache-dir "$cache")" = "$expected" ] || fail "a damaged cache changed the output"
python3 "$whole" "$bin" || fail "the damaged cache file was not rewritten"
[ "$(cat "$other")" = "another build" ] || fail "another build's cache file was touched"
[ "$(check --cache-dir "$cache")" = "$expected" ] || fail "the rewritten cache changed the output"
pass "a damaged cache file is ignored and rewritten; another build's is ignored"
