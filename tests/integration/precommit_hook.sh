#!/usr/bin/env bash
# pre-commit: the repository's .pre-commit-hooks.yaml, used the way users use it (`repo:` + `rev:`),
# with Debian's pre-commit in a scratch git repository: a staged file with a finding fails the
# commit and names the rule; a clean file commits.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/support/common.sh"

command -v git >/dev/null 2>&1 || apt_install git
command -v pre-commit >/dev/null 2>&1 || apt_install pre-commit
pre-commit --version

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" PRE_COMMIT_HOME="$work/cache" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "oomlint test"
git config --global user.email "test@oomlint.invalid"
git config --global init.defaultBranch main
git config --global advice.detachedHead false
# The hook finds oomlint on PATH, installed the way editors/README.md says: `cmake --install`.
prefix="$work/prefix"
cmake --install "$OOMLINT_BUILD_DIR" --prefix "$prefix" >/dev/null || fail "cmake --install"
[ -x "$prefix/bin/oomlint" ] || fail "cmake --install put no bin/oomlint in the prefix"
# Captured first: `oomlint rule ... | grep -q` under pipefail fails whenever grep exits before the
# page (over 4 KB, so written in two pieces) is all written, and oomlint gets SIGPIPE.
page="$("$prefix/bin/oomlint" rule OOM203)" || fail "the installed oomlint does not run"
grep -q OOM203 <<<"$page" || fail "the installed oomlint does not print the rule page"
[ -f "$prefix/share/doc/oomlint/rules/OOM203.md" ] || fail "cmake --install put no rule docs in the prefix"
export PATH="$prefix/bin:$PATH"
pass "cmake --install: bin/oomlint and share/doc/oomlint/rules/*.md ($(ls "$prefix/share/doc/oomlint/rules" | wc -l) pages)"

# A hook repository holding this tree's .pre-commit-hooks.yaml, pinned by commit.
hooks="$work/hooks"
mkdir -p "$hooks"
cp "$OOMLINT_SOURCE_DIR/.pre-commit-hooks.yaml" "$hooks/"
git -C "$hooks" init -q
git -C "$hooks" add .pre-commit-hooks.yaml
git -C "$hooks" commit -qm "hooks"
rev="$(git -C "$hooks" rev-parse HEAD)"

proj="$work/project"
mkdir -p "$proj"
cd "$proj"
git init -q
cat >.pre-commit-config.yaml <<YAML
repos:
  - repo: $hooks
    rev: $rev
    hooks:
      - id: oomlint
YAML
git add .pre-commit-config.yaml
git commit -qm "config" --no-verify
pre-commit install >/dev/null || fail "pre-commit install"

commit() {  # commit <message>; prints the hook output to out.txt, returns git's exit code
  local rc=0
  git commit -m "$1" >"$work/out.txt" 2>&1 || rc=$?
  return "$rc"
}

# 1. A training loop that empties the cache every step: the commit is refused.
cat >train.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        loss = model(batch).sum()
        loss.backward()
        optimizer.step()
        torch.cuda.empty_cache()
PY
git add train.py
if commit "bad"; then cat "$work/out.txt"; fail "a file with OOM203 was committed"; fi
grep -q "OOM203" "$work/out.txt" || { cat "$work/out.txt"; fail "the hook output does not name OOM203"; }
grep -q "train.py" "$work/out.txt" || { cat "$work/out.txt"; fail "the hook output does not name train.py"; }
[ -z "$(git log --format=%s | grep -x bad || true)" ] || fail "the bad commit exists"
pass "a staged file with OOM203 fails the commit"

# 2. The same file with the call after the loop: the commit goes through.
cat >train.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        loss = model(batch).sum()
        loss.backward()
        optimizer.step()
    torch.cuda.empty_cache()
PY
git add train.py
commit "clean" || { cat "$work/out.txt"; fail "a clean file was refused"; }
grep -q "oomlint.*Passed" "$work/out.txt" || { cat "$work/out.txt"; fail "the hook did not run"; }
[ "$(git log -1 --format=%s)" = clean ] || fail "the clean commit is missing"
pass "a clean staged file commits, and the hook ran"

# 3. Files of other types do not reach the hook.
echo "torch.cuda.empty_cache()" >notes.txt
git add notes.txt
commit "text" || { cat "$work/out.txt"; fail "a text file was refused"; }
grep -q "oomlint.*no files to check" "$work/out.txt" || {
  cat "$work/out.txt"
  fail "the hook ran on a .txt file"
}
pass "a non-Python file is skipped"

# 4. A notebook (types_or: jupyter) with the same mistake in a cell is refused too.
cat >train.ipynb <<'JSON'
{
 "cells": [
  {
   "cell_type": "code",
   "execution_count": null,
   "metadata": {},
   "outputs": [],
   "source": [
    "import torch\n",
    "\n",
    "for batch in loader:\n",
    "    model(batch).sum().backward()\n",
    "    optimizer.step()\n",
    "    torch.cuda.empty_cache()\n"
   ]
  }
 ],
 "metadata": {"language_info": {"name": "python"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
JSON
git add train.ipynb
if commit "notebook"; then cat "$work/out.txt"; fail "a notebook with OOM203 was committed"; fi
grep -q "OOM203" "$work/out.txt" || { cat "$work/out.txt"; fail "the hook output does not name OOM203 for the notebook"; }
pass "a staged notebook with OOM203 fails the commit"

# 5. `args: [--fix]`: the hook applies the safe fix (OOM111) and stops the commit for review; the
# fixed file then commits.
cat >.pre-commit-config.yaml <<YAML
repos:
  - repo: $hooks
    rev: $rev
    hooks:
      - id: oomlint
        args: [--fix]
YAML
git add .pre-commit-config.yaml
git commit -qm "fix config" --no-verify
cat >model.py <<'PY'
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("gpt2", attn_implementation="eager")
PY
git add model.py
if commit "unfixed"; then cat "$work/out.txt"; fail "a file with a fixable OOM111 was committed unchanged"; fi
grep -q 'attn_implementation="sdpa"' model.py || { cat "$work/out.txt" model.py; fail "--fix did not fix model.py"; }
git add model.py
commit "fixed" || { cat "$work/out.txt"; fail "the fixed file was refused"; }
pass "args: [--fix] fixes the staged file and stops the commit; the fixed file commits"

echo "precommit_hook: all checks passed"
