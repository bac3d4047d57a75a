#!/usr/bin/env bash
# The prefilter (a file or a rule is skipped when the file lacks the rule's needed tokens) must
# never change a result: the whole catalogue over the fixtures, the examples, the benchmark's
# torch corpus (Debian's python3-torch, 1,200 files) and its synthetic corpus gives the same
# diagnostics with and without it. Also under a target GPU that turns more rules on.
set -uo pipefail
source "$(dirname "$0")/support/common.sh"
BIN="$OOMLINT_BINARY"
SRC="$OOMLINT_SOURCE_DIR"
# The benchmark's corpora, outside the work tree (checks skip git-ignored files).
corpus="${OOMLINT_BENCH_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/oomlint-bench/corpus}"
bash "$SRC/bench/corpus.sh" "$corpus" || fail "could not fetch or generate the corpora"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failed=0
for target in "$SRC/tests/fixtures" "$SRC/examples" "$corpus/torch" "$corpus/synthetic"; do
  for gpu in ampere volta; do
    "$BIN" check --isolated --no-cache --exit-zero --target-gpu $gpu --output-format json "$target" >"$TMP/on.json" 2>"$TMP/on.err"
    "$BIN" check --isolated --no-cache --exit-zero --target-gpu $gpu --no-prefilter --output-format json "$target" >"$TMP/off.json" 2>"$TMP/off.err"
    n=$(grep -o '"code"' "$TMP/off.json" | wc -l)
    files=$(find "$target" \( -name '*.py' -o -name '*.ipynb' -o -name '*.json' \) | wc -l)
    if cmp -s "$TMP/on.json" "$TMP/off.json"; then
      pass "$(basename "$target") ($files files, --target-gpu $gpu): $n diagnostics, same with and without the prefilter"
    else
      echo "FAIL $(basename "$target") --target-gpu $gpu: the prefilter changes the result"
      diff <(tr ',' '\n' <"$TMP/on.json") <(tr ',' '\n' <"$TMP/off.json") | head -20
      failed=1
    fi
  done
done
[ "$(grep -o '"code"' "$TMP/off.json" | wc -l)" -gt 0 ] || fail "the synthetic corpus produced no diagnostics"
exit $failed
