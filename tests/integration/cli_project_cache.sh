#!/usr/bin/env bash
# The results cache across a project's modules: train.py's findings depend on what a helper it
# imports from utils.py does (OOM153: under no_grad or not), so editing utils.py, or creating a
# module that an import now resolves to, checks train.py again, and the report equals a run
# without the cache. Module summaries come back from the cache folder; damaged ones, and a
# damaged cache file, are ignored.
set -uo pipefail
source "$(dirname "$0")/support/common.sh"
BIN="$OOMLINT_BINARY"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failed=0
check() { if eval "$2"; then pass "$1"; else echo "FAIL $1"; failed=1; fi; }

mkdir -p "$TMP/proj" && cd "$TMP/proj"
touch pyproject.toml
helper() { # helper DECORATOR: utils.py / helpers.py with score() under DECORATOR (or none)
  printf 'import torch\n\n\n%s\ndef score(model, batch):\n    return model(batch)\n' "$1"
}
evaluate() { # evaluate MODULE: a script whose evaluation loop calls MODULE.score
  printf 'import torch\nfrom %s import score\n\n\n' "$1"
  printf 'def evaluate(model, loader, device):\n    model.eval()\n    total = 0\n'
  printf '    for batch in loader:\n        total += score(model, batch.to(device)).sum().item()\n'
  printf '    return total\n'
}
helper '@torch.no_grad()' > utils.py
evaluate utils > train.py
evaluate helpers > eval.py # helpers.py does not exist yet: a library's score
sleep 2.2 # settled: the next runs take the unchanged files' results without reading them

run() { # run NAME: checks with the cache (verbose) and without, into NAME.json / NAME.err / NAME.ref
  "$BIN" check --isolated -v --output-format json . >"$1.json" 2>"$1.err"
  "$BIN" check --isolated --no-cache --output-format json . >"$1.ref" 2>/dev/null
}
run first
check "first run: no findings" '! grep -q OOM153 first.json && cmp -s first.json first.ref'
run second
check "second run takes all 3 from the cache, unread" \
  'grep -q "cache: 3 of 3 files unchanged since the last run, 3 of them not read" second.err'

# utils.py's helper loses its no_grad: train.py, unchanged itself, has a finding now.
helper '' > utils.py
run edited
check "an edited module checks its importer again" \
  'grep -q "cache: 1 of 3" edited.err && grep -q "cache: 1 unchanged files checked again" edited.err'
check "... which now has the finding" 'grep -q "\"filename\": *\"[^\"]*train.py\"" edited.json && grep -q OOM153 edited.json'
check "... the same report as without the cache" 'cmp -s edited.json edited.ref'
run edited_again
check "... and is cached again" 'grep -q "cache: 3 of 3" edited_again.err && cmp -s edited_again.json edited.ref'

# A module created where an import looked before: eval.py's `from helpers import score` resolves.
{ helper ''; printf '# helpers.py\n'; } > helpers.py # not utils.py's bytes: a summary of its own
run created
check "a new module that an import resolves to checks the importer again" \
  'grep -q "cache: 2 of 4" created.err && [ "$(grep -c "\"code\": *\"OOM153\"" created.json)" = 2 ]'
check "... the same report as without the cache" 'cmp -s created.json created.ref'

# Summaries persist: train.py edited alone is checked again with utils.py's summary from the cache.
printf '# edited\n' >> train.py
run summaries
check "module summaries come from the cache folder" \
  'grep -q "project index: 0 module summaries built .* 1 loaded from the cache" summaries.err'
check "... the same report as without the cache" 'cmp -s summaries.json summaries.ref'

# Damaged summaries and a damaged cache file are ignored.
for f in .oomlint_cache/summaries/*; do printf 'oomlint-summaries garbage' > "$f"; done
bin=$(ls .oomlint_cache/*.bin)
head -c 200 "$bin" > "$bin.part" && mv "$bin.part" "$bin"
printf '# edited again\n' >> train.py
run damaged
rc=$?
check "damaged summaries and cache file: ignored (no crash)" \
  'grep -q "cache: 0 of 4" damaged.err && grep -q "project index: 2 module summaries built .* 0 loaded" damaged.err'
check "... the same report as without the cache" 'cmp -s damaged.json damaged.ref'
run repaired
check "... and both rewritten" 'grep -q "cache: 4 of 4" repaired.err && cmp -s repaired.json damaged.ref'

exit $failed
