#!/usr/bin/env bash
# `oomlint check` end to end: exit codes, output formats, stdin, selection, config, errors.
set -uo pipefail
BIN="${OOMLINT_BINARY:?}"
SRC="${OOMLINT_SOURCE_DIR:?}"
TMP="$(mktemp -d)"
trap 'chmod -R u+rwx "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
cd "$TMP"
source "${OOMLINT_SOURCE_DIR:?}/tests/integration/support/checks.sh" || exit 1

# Only OOM203 is relied on (other rules are written concurrently): every check selects it.
cat > train.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
        torch.cuda.empty_cache()


def evaluate(model, val_loader):
    for x in val_loader:
        model(x)
        torch.cuda.empty_cache()
PY
printf 'import torch\nx = 1\n' > clean.py

expect_rc "clean file" 0 "$BIN" check --select OOM203 clean.py
has "all passed" "All checks passed!" out.txt
expect_rc "findings" 1 "$BIN" check --select OOM203 train.py --color never
has "text position" "train.py:8:9: OOM203 [warning]" out.txt
has "text source line" "8 |         torch.cuda.empty_cache()" out.txt
has "text underline" "^^^^^^^^^^^^^^^^^^^^^^^^" out.txt
has "text help" "help: Remove the \`empty_cache()\` call" out.txt
has "summary" "Found 2 problems" out.txt
if grep -q $'\x1b\[' out.txt; then bad "colour when not a tty"; else ok "no colour when piped"; fi
expect_rc "colour forced" 1 "$BIN" check --select OOM203 train.py --color always
if grep -q $'\x1b\[' out.txt; then ok "colour with --color always"; else bad "no colour with --color always"; fi
expect_rc "exit-zero" 0 "$BIN" check --select OOM203 train.py --exit-zero
expect_rc "directory default ." 1 "$BIN" check --select OOM203
expect_rc "plain check" 1 "$BIN" check train.py
expect_rc "concise" 1 "$BIN" check --select OOM203 train.py --output-format concise
has "concise line" "train.py:8:9: OOM203 " out.txt

expect_rc "json" 1 "$BIN" check --select OOM203 train.py --output-format json
python3 - <<'PY' && ok "json fields" || bad "json fields"
import json
d = json.load(open("out.txt"))
assert len(d) == 2, len(d)
for k in ("filename", "code", "slug", "section", "severity", "message", "location", "end_location", "fix", "url"):
    assert k in d[0], k
assert d[0]["location"] == {"row": 8, "column": 9}
assert d[0]["fix"]["applicability"] == "unsafe" and d[0]["fix"]["edits"]
PY

git init -q . 2>/dev/null || true
mkdir -p sub && cp train.py sub/t.py
(cd sub && "$BIN" check --select OOM203 t.py --output-format sarif > ../sarif.json)
python3 - <<'PY' && ok "sarif relative to the repo root" || bad "sarif"
import json
s = json.load(open("sarif.json"))
assert s["version"] == "2.1.0"
run = s["runs"][0]
assert run["tool"]["driver"]["name"] == "oomlint"
assert any(r["id"] == "OOM203" and r["helpUri"] for r in run["tool"]["driver"]["rules"])
loc = run["results"][0]["locations"][0]["physicalLocation"]
assert loc["artifactLocation"] == {"uri": "sub/t.py", "uriBaseId": "%SRCROOT%"}, loc
assert loc["region"]["startLine"] == 8
PY

expect_rc "github" 1 "$BIN" check --select OOM203 train.py --output-format github
has "github line" "::warning file=train.py,line=8,col=9,endLine=8,endColumn=33,title=OOM203::" out.txt

expect_rc "statistics" 1 "$BIN" check --select OOM203 train.py --statistics
has "statistics row" $'2\tOOM203\tempty-cache-in-loop' out.txt

# Selection
expect_rc "ignore prefix" 0 "$BIN" check --select OOM203 train.py --ignore OOM203
expect_rc "select other prefix" 1 "$BIN" check train.py --select OOM20
expect_rc "unknown code" 2 "$BIN" check train.py --select OOM999
has "unknown code message" "OOM999" err.txt
expect_rc "unknown gpu" 2 "$BIN" check --select OOM203 train.py --target-gpu pascal
expect_rc "bad format" 2 "$BIN" check --select OOM203 train.py --output-format xml
expect_rc "bad flag" 2 "$BIN" check --select OOM203 --frobnicate

# stdin
expect_rc "stdin" 1 sh -c "'$BIN' check --select OOM203 - --stdin-filename my/train.py < train.py"
has "stdin name" "my/train.py:8:9: OOM203" out.txt
expect_rc "stdin clean" 0 sh -c "'$BIN' check --select OOM203 - < clean.py"

# Config
mkdir -p proj/tests
cp train.py proj/a.py; cp train.py proj/tests/test_a.py
printf '[tool.oomlint]\nselect = ["OOM203"]\nignore = ["OOM203"]\n' > proj/pyproject.toml
expect_rc "pyproject ignore" 0 "$BIN" check proj
printf 'select = ["OOM203"]\n[per-file-ignores]\n"tests/*.py" = ["OOM203"]\n' > proj/oomlint.toml
expect_rc "oomlint.toml wins" 1 "$BIN" check proj --output-format concise
if grep -q "test_a.py" out.txt; then bad "per-file-ignores"; else ok "per-file-ignores"; fi
expect_rc "isolated" 1 "$BIN" check --select OOM203 proj/tests --isolated
printf 'select = ["OOM"]\n\nunknown-key = 3\n' > proj/oomlint.toml
expect_rc "bad config" 2 "$BIN" check proj
has "bad config names file and line" "proj/oomlint.toml:3:" err.txt
has "bad config names key" "unknown-key" err.txt
printf 'select = ["OOM203"]\nignore = ["OOM203"]\n' > alt.toml
expect_rc "--config" 0 "$BIN" check proj/a.py --config alt.toml

# Errors: missing and unreadable files, others still checked
expect_rc "missing file" 2 "$BIN" check --select OOM203 nope.py train.py
has "missing named" "nope.py" err.txt
has "others still checked" "train.py:8:9" out.txt
if [ "$(id -u)" != 0 ]; then
  cp train.py locked.py; chmod 000 locked.py
  expect_rc "unreadable file" 2 "$BIN" check --select OOM203 locked.py clean.py
  has "unreadable named" "locked.py" err.txt
fi

# Binary junk and invalid UTF-8 do not crash and do not reach the terminal raw
printf 'import torch\nfor b in loader:\n    b.backward()\n    torch.cuda.empty_cache() ; x="\xff\x1b[2J"\n\x00\x01' > junk.py
expect_rc "binary .py" 1 "$BIN" check --select OOM203 junk.py --color never
if grep -q $'\x1b' out.txt; then bad "raw escape printed"; else ok "escapes replaced"; fi

# Symlink loop
mkdir -p loop/d && ln -s .. loop/d/up && cp clean.py loop/d/
expect_rc "symlink loop" 0 timeout 20 "$BIN" check --select OOM203 loop

# Threads give the same output
"$BIN" check --select OOM203 proj/a.py train.py --threads 1 --isolated > one.txt
"$BIN" check --select OOM203 train.py proj/a.py --threads 4 --isolated > four.txt
if cmp -s one.txt four.txt; then ok "deterministic order"; else bad "order differs"; fi

# rule / version / help
expect_rc "rule" 0 "$BIN" rule OOM203
has "rule doc" "# OOM203" out.txt
expect_rc "rule by slug" 0 "$BIN" rule empty-cache-in-loop
expect_rc "rule --all" 0 "$BIN" rule --all
has "rule table" "empty-cache-in-loop" out.txt
expect_rc "rule --all json" 0 "$BIN" rule --all --output-format json
python3 -c "import json; d=json.load(open('out.txt')); assert any(r['code']=='OOM203' for r in d)" && ok "rule json" || bad "rule json"
expect_rc "unknown rule" 2 "$BIN" rule OOM999
expect_rc "version" 0 "$BIN" --version
has "version text" "oomlint " out.txt
expect_rc "version cmd" 0 "$BIN" version
expect_rc "help" 0 "$BIN" --help
has "help lists check" "check" out.txt
expect_rc "check help" 0 "$BIN" check --select OOM203 --help
has "check help lists --fix" "--fix" out.txt
expect_rc "unknown command" 2 "$BIN" frobnicate

exit $fail
