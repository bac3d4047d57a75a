#!/usr/bin/env bash
# The oomlint wheel, the way Python users install it: pyproject.toml builds it offline with
# Debian's packaging (python3 -m build --wheel --no-isolation; the binary is the one under test,
# given in OOMLINT_WHEEL_BINARY, so nothing is compiled here); it installs into a fresh venv, whose
# `oomlint` and `python -m oomlint` check the example and answer one LSP round trip, and uninstalls
# cleanly. Then the self-installing pre-commit hooks (editors/pre-commit, `language: python`) with
# the real pre-commit, offline: a folder with the wheel and Debian's pip/setuptools/wheel wheels
# stands in for PyPI (PIP_FIND_LINKS, PIP_NO_INDEX=1). A bad commit is refused, a good one passes,
# and the oomlint-fix hook rewrites the file.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/support/common.sh"
SRC="$OOMLINT_SOURCE_DIR"
apt_install python3-build python3-venv python3-setuptools python3-wheel python3-pip-whl \
  python3-setuptools-whl python3-wheel-whl pre-commit git unzip
PY=/usr/bin/python3 # Debian's, whose packaging the build uses
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
bad() { echo "FAIL $*"; status=1; }
version=$(sed -nE 's/^project\(oomlint VERSION ([0-9.]+).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$version" ] || fail "no version in CMakeLists.txt"

# ---- 1. build: from a copy of what the wheel takes, so parallel runs share no work folder ----
mkdir -p "$work/src/docs"
cp -R "$SRC/pyproject.toml" "$SRC/setup.py" "$SRC/CMakeLists.txt" "$SRC/README.md" "$SRC/python" \
  "$work/src/"
cp -R "$SRC/docs/rules" "$SRC/docs/guide" "$work/src/docs/"
start=$(date +%s)
(cd "$work/src" && env -u PIP_FIND_LINKS OOMLINT_WHEEL_BINARY="$OOMLINT_BINARY" \
  "$PY" -m build --wheel --no-isolation --outdir "$work/dist" . >"$work/build.log" 2>&1) ||
  { tail -30 "$work/build.log"; fail "python3 -m build --wheel --no-isolation"; }
wheel="$work/dist/oomlint-$version-py3-none-linux_x86_64.whl"
[ -f "$wheel" ] || { ls "$work/dist"; fail "no $(basename "$wheel")"; }
pass "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KB) in $(($(date +%s) - start)) s"
unzip -l "$wheel" >"$work/list.txt"
grep -q " oomlint-$version.data/scripts/oomlint$" "$work/list.txt" && pass "the binary is the wheel's script" || bad "no .data/scripts/oomlint"
grep -q " oomlint/__main__.py$" "$work/list.txt" || bad "no oomlint/__main__.py"
pages=$(grep -c " oomlint/docs/rules/OOM[0-9]*\.md$" "$work/list.txt")
[ "$pages" = "$(ls "$SRC"/docs/rules/OOM*.md | wc -l)" ] && pass "$pages rule pages packaged" || bad "rule pages: $pages"
guide=$(grep -c " oomlint/docs/guide/[A-Z0-9]*\.md$" "$work/list.txt")
[ "$guide" = "$(ls "$SRC"/docs/guide/*.md | wc -l)" ] && pass "$guide guide pages packaged" || bad "guide pages: $guide"
grep -qx "Root-Is-Purelib: false" <<<"$(unzip -p "$wheel" "oomlint-$version.dist-info/WHEEL")" || bad "wheel is pure"
[ -z "$(ls -A "$work/src/python" | grep -v '^oomlint$')" ] && [ -z "$(find "$work/src/python" -name "*.egg-info")" ] || bad "the build left files beside the package sources"

# ---- 2. a fresh venv: install, use, uninstall ----
"$PY" -m venv "$work/venv" || fail "python3 -m venv"
V="$work/venv/bin"
PIP_NO_INDEX=1 PIP_FIND_LINKS= "$V/pip" install -q "$wheel" || fail "pip install the wheel"
[ "$("$V/oomlint" --version)" = "oomlint $version" ] && pass "venv/bin/oomlint --version: oomlint $version" || bad "oomlint --version: $("$V/oomlint" --version)"
[ "$("$V/python" -m oomlint --version 2>&1)" = "oomlint $version" ] && pass "python -m oomlint --version" || bad "python -m oomlint"
grep -qx "Version: $version" <<<"$("$V/pip" show oomlint 2>/dev/null)" || bad "pip show: version"
mkdir "$work/proj" && cp "$SRC/examples/train.py" "$work/proj/"
(cd "$work/proj" && "$V/oomlint" check train.py >"$work/check.txt"); rc=$?
[ $rc = 1 ] && grep -q "^train.py:[0-9]*:[0-9]*: OOM203" "$work/check.txt" && pass "oomlint check train.py: exit 1, OOM203 found" || { cat "$work/check.txt"; bad "oomlint check exit $rc"; }
(cd "$work/proj" && "$V/python" -m oomlint check --output-format concise train.py >"$work/check2.txt"); rc=$?
[ $rc = 1 ] && grep -q "OOM203" "$work/check2.txt" && pass "python -m oomlint check" || bad "python -m oomlint check exit $rc"
"$PY" "$SRC/tests/integration/support/lsp_roundtrip.py" "$V/oomlint" -- "$work/proj/train.py" OOM203 >"$work/lsp.txt" 2>&1 &&
  pass "LSP round trip through venv/bin/oomlint server: $(tr '\n' ';' <"$work/lsp.txt")" || { cat "$work/lsp.txt"; bad "LSP round trip"; }
"$V/python" -c "import importlib.resources as r, oomlint; assert (r.files('oomlint') / 'docs/rules/OOM203.md').read_text().startswith('# OOM203')" &&
  pass "the rule pages are readable as package data" || bad "package data"
# The binary's links point at the pages the wheel installed (checks/doc_links.h).
link=$("$V/oomlint" rule OOM203 | grep -oE 'file://[^)]*/guide/M20\.md' | head -1)
[ -n "$link" ] && [[ "$link" == *"/site-packages/oomlint/docs/guide/M20.md" ]] && [ -f "${link#file://}" ] &&
  pass "oomlint rule links the wheel's guide page: $link" || bad "guide link from the wheel: '$link'"
"$V/pip" uninstall -y -q oomlint || bad "pip uninstall"
left=$(find "$work/venv" -name 'oomlint*' | grep -v '/pip/' || true)
[ -z "$left" ] && pass "pip uninstall removed bin/oomlint and the package" || bad "left after uninstall: $left"

# ---- the CI recipes users copy install this wheel (same name and version) ----
"$PY" - "$SRC/editors" "$version" <<'PY' && pass "editors/github-actions.yml and gitlab-ci.yml install oomlint-$version's wheel, emit SARIF / Code Quality" || bad "CI recipes"
import sys, yaml
editors, version = sys.argv[1], sys.argv[2]
wheel = "oomlint-${OOMLINT_VERSION}-py3-none-linux_x86_64.whl"
gh = yaml.safe_load(open(f"{editors}/github-actions.yml"))
steps = gh["jobs"]["oomlint"]["steps"]
install = next(s for s in steps if s.get("name") == "Install oomlint")
assert "pip install" in install["run"] and wheel in install["run"], install
assert install["env"]["OOMLINT_VERSION"] == version
assert not any("cmake" in s.get("run", "") for s in steps), "the workflow still builds from source"
sarif = next(s for s in steps if "--output-format sarif" in s.get("run", ""))
upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
assert upload["with"]["sarif_file"] in sarif["run"]
gl = yaml.safe_load(open(f"{editors}/gitlab-ci.yml"))["oomlint"]
assert gl["variables"]["OOMLINT_VERSION"] == version
assert any("pip install" in c and wheel in c for c in gl["script"])
report = gl["artifacts"]["reports"]["codequality"]
assert any("--output-format gitlab" in c and c.endswith("> " + report) for c in gl["script"])
PY

# ---- 3. pre-commit, language: python, offline ----
links="$work/links"
mkdir "$links" && cp "$wheel" /usr/share/python-wheels/{pip,setuptools,wheel}-*.whl "$links/"
grep -q "\"oomlint==$version\"" "$SRC/editors/pre-commit/pyproject.toml" && pass "the hook package pins oomlint==$version" || bad "editors/pre-commit pins another version"
export HOME="$work/home" PRE_COMMIT_HOME="$work/pc-cache" GIT_CONFIG_NOSYSTEM=1
export PIP_FIND_LINKS="$links" PIP_NO_INDEX=1 VIRTUALENV_NO_DOWNLOAD=1
unset PIP_CERT
mkdir -p "$HOME"
git config --global user.name "oomlint test"
git config --global user.email "test@oomlint.invalid"
git config --global init.defaultBranch main
hooks="$work/hooks"
mkdir "$hooks" && cp -R "$SRC/editors/pre-commit/." "$hooks/"
git -C "$hooks" init -q && git -C "$hooks" add -A && git -C "$hooks" commit -qm hooks
rev=$(git -C "$hooks" rev-parse HEAD)
repo="$work/repo"
mkdir "$repo" && cd "$repo" && git init -q
printf 'repos:\n  - repo: %s\n    rev: %s\n    hooks:\n      - id: oomlint\n' "$hooks" "$rev" >.pre-commit-config.yaml
git add .pre-commit-config.yaml && git commit -qm config --no-verify
pre-commit install >/dev/null || fail "pre-commit install"
cp "$SRC/tests/fixtures/OOM203.py" bad.py && git add bad.py
start=$(date +%s)
if git commit -qm bad >"$work/pc1.txt" 2>&1; then bad "a file with OOM203 was committed"; cat "$work/pc1.txt"; else
  grep -q "bad.py:.*OOM203" "$work/pc1.txt" && pass "pre-commit (language: python) refused the bad commit, naming OOM203 ($(($(date +%s) - start)) s with the environment's creation)" || { cat "$work/pc1.txt"; bad "hook output"; }
fi
ls "$PRE_COMMIT_HOME"/repo*/py_env-*/bin/oomlint >/dev/null 2>&1 && pass "pre-commit installed the wheel's oomlint into its own environment" || bad "no oomlint in pre-commit's environment"
git rm -q --cached bad.py && rm bad.py
printf 'import torch\n\n\ndef train(model, loader, optimizer):\n    for batch in loader:\n        model(batch).sum().backward()\n        optimizer.step()\n    torch.cuda.empty_cache()\n' >good.py
git add good.py
git commit -qm good >"$work/pc2.txt" 2>&1 && grep -q "oomlint.*Passed" "$work/pc2.txt" && pass "a clean file commits, the hook passed" || { cat "$work/pc2.txt"; bad "good commit"; }
# The fix variant: the safe fix rewrites the file, pre-commit refuses the commit it modified.
printf 'repos:\n  - repo: %s\n    rev: %s\n    hooks:\n      - id: oomlint-fix\n' "$hooks" "$rev" >.pre-commit-config.yaml
git add .pre-commit-config.yaml && git commit -qm fix-config --no-verify
printf 'from transformers import AutoModelForCausalLM\n\nmodel = AutoModelForCausalLM.from_pretrained("gpt2", attn_implementation="eager")\n' >attn.py
git add attn.py
if git commit -qm attn >"$work/pc3.txt" 2>&1; then bad "the fix hook let a modified file through"; cat "$work/pc3.txt"; fi
grep -q 'attn_implementation="sdpa"' attn.py && grep -q "files were modified by this hook" "$work/pc3.txt" && pass "oomlint-fix rewrote the file (eager -> sdpa) and stopped the commit" || { cat "$work/pc3.txt" attn.py; bad "fix hook"; }
git add attn.py
git commit -qm attn2 >"$work/pc4.txt" 2>&1 && pass "the fixed file then commits" || { cat "$work/pc4.txt"; bad "commit after fix"; }
exit $status
