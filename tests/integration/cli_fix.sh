#!/usr/bin/env bash
# `oomlint check --fix / --diff`: fixture result, idempotence, CRLF, file mode, notebooks.
set -uo pipefail
BIN="${OOMLINT_BINARY:?}"
SRC="${OOMLINT_SOURCE_DIR:?}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

cp "$SRC/tests/fixtures/OOM203.py" t.py
chmod 0754 t.py
"$BIN" check --select OOM203 t.py --diff --unsafe-fixes > diff.txt 2> err.txt; rc=$?
[ $rc = 1 ] && ok "--diff exit 1" || bad "--diff exit $rc"
grep -q '^-        torch.cuda.empty_cache()  # expect: OOM203' diff.txt && ok "diff content" || bad "diff content"
cmp -s t.py "$SRC/tests/fixtures/OOM203.py" && ok "--diff writes nothing" || bad "--diff wrote"
grep -Eq "Would fix [0-9]+ problems?" err.txt && ok "would fix count" || bad "would fix count"

"$BIN" check --select OOM203 t.py --fix > out.txt; rc=$?
[ $rc = 1 ] && ok "safe-only fix leaves the unsafe ones (exit 1)" || bad "safe fix exit $rc"
cmp -s t.py "$SRC/tests/fixtures/OOM203.py" && ok "unsafe fix not applied without flag" || bad "unsafe applied"

"$BIN" check --select OOM203 t.py --fix --unsafe-fixes > out.txt; rc=$?
[ $rc = 0 ] && ok "--fix --unsafe-fixes exit 0" || { bad "fix exit $rc"; cat out.txt; }
cmp -s t.py "$SRC/tests/fixtures/OOM203.fixed.py" && ok "result equals OOM203.fixed.py" || { bad "fix result differs from OOM203.fixed.py"; diff t.py "$SRC/tests/fixtures/OOM203.fixed.py" | head -20; }
grep -Eq "Fixed [0-9]+ problems?" out.txt && ok "fixed summary" || bad "fixed summary"
[ "$(stat -c %a t.py)" = 754 ] && ok "mode kept" || bad "mode $(stat -c %a t.py)"
cp t.py before.py
"$BIN" check --select OOM203 t.py --fix --unsafe-fixes > out.txt; rc=$?
[ $rc = 0 ] && cmp -s t.py before.py && ok "second run changes nothing" || bad "second run"
"$BIN" check --select OOM203 t.py --diff --unsafe-fixes > diff2.txt; rc=$?
[ $rc = 0 ] && [ ! -s diff2.txt ] && ok "empty diff after fix" || bad "diff after fix rc=$rc"
ls -a | grep -q oomlint- && bad "temp file left" || ok "no temp files left"

# CRLF
sed 's/$/\r/' "$SRC/tests/fixtures/OOM203.py" > crlf.py
"$BIN" check --select OOM203 crlf.py --fix --unsafe-fixes > /dev/null
sed 's/$/\r/' before.py > crlf_expected.py
cmp -s crlf.py crlf_expected.py && ok "CRLF kept" || bad "CRLF"

# stdin with --fix prints the fixed source
"$BIN" check --select OOM203 - --fix --unsafe-fixes < "$SRC/tests/fixtures/OOM203.py" > stdin_out.py 2> stdin_err.txt
cmp -s stdin_out.py before.py && ok "stdin --fix" || bad "stdin --fix"

# Notebook: diagnostics per cell, fix rewrites the cells and keeps the rest
cat > nb.ipynb <<'JSON'
{
 "cells": [
  {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]},
  {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
   "source": ["%matplotlib inline\n", "import torch\n"]},
  {"cell_type": "code", "execution_count": 2, "metadata": {"tags": ["train"]}, "outputs": [],
   "source": ["!nvidia-smi\n", "for batch in loader:\n", "    model(batch).sum().backward()\n",
              "    optimizer.step()\n", "    torch.cuda.empty_cache()\n", "print('done')"]}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
JSON
cp nb.ipynb nb_orig.ipynb
"$BIN" check --select OOM203 nb.ipynb --color never > out.txt; rc=$?
[ $rc = 1 ] && ok "notebook finding" || bad "notebook exit $rc"
grep -q "nb.ipynb:cell 3:5:5: OOM203" out.txt && ok "cell:line:col" || { bad "cell mapping"; cat out.txt; }
"$BIN" check --select OOM203 nb.ipynb --output-format json > nb.json
python3 -c "
import json; d=json.load(open('nb.json')); assert d[0]['cell']==3 and d[0]['location']=={'row':5,'column':5}, d" && ok "notebook json cell" || bad "notebook json"
"$BIN" check --select OOM203 nb.ipynb --diff --unsafe-fixes > nbdiff.txt
grep -q "nb.ipynb:cell 3" nbdiff.txt && grep -q "^-    torch.cuda.empty_cache()" nbdiff.txt && ok "notebook diff" || bad "notebook diff"
"$BIN" check --select OOM203 nb.ipynb --fix --unsafe-fixes > out.txt; rc=$?
python3 - <<'PY' && ok "notebook fixed, rest kept" || bad "notebook fix"
import json
a = json.load(open("nb_orig.ipynb")); b = json.load(open("nb.ipynb"))
src = b["cells"][2]["source"]
assert src == ["!nvidia-smi\n", "for batch in loader:\n", "    model(batch).sum().backward()\n",
               "    optimizer.step()\n", "print('done')"], src
assert b["cells"][1]["source"] == a["cells"][1]["source"]
a["cells"][2]["source"] = src
assert a == b
PY

# DeepSpeed-looking JSON not named like a config is ignored while walking; explicit non-config warns
mkdir -p cfg && printf '{"train_batch_size": 8}\n' > cfg/other.json
"$BIN" check --select OOM203 cfg > /dev/null 2>&1 && ok "walk skips other json" || bad "walk json"

exit $fail
