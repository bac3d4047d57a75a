#!/usr/bin/env bash
# CI output: `oomlint check --output-format sarif` validated against the SARIF 2.1.0 JSON schema
# (ajv, pinned in support/sarif/package-lock.json) plus what GitHub code scanning needs, and the
# `--output-format github` workflow commands that editors/github-actions.yml relies on.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/support/common.sh"

ensure_node
command -v git >/dev/null 2>&1 || apt_install git
tools="$OOMLINT_BUILD_DIR/integration/sarif"
sync_dir "$OOMLINT_SOURCE_DIR/tests/integration/support/sarif" "$tools"
npm_ci "$tools"
validate() { node "$tools/validate.js" "$@"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q .
mkdir -p pkg
cat >pkg/train.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        loss = model(batch).sum()
        loss.backward()
        optimizer.step()
        torch.cuda.empty_cache()


def evaluate(model, loader):
    with torch.no_grad():
        for batch in loader:
            torch.cuda.empty_cache()
            model(batch)
PY
cat >clean.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
    torch.cuda.empty_cache()
PY

# 1. Findings: exit code 1, a valid log, two OOM203 results with repository-relative URIs.
rc=0
"$OOMLINT_BINARY" check --select OOM203 --output-format sarif . >findings.sarif || rc=$?
[ "$rc" = 1 ] || fail "check with findings exited $rc, expected 1"
validate findings.sarif --expect-results 2 --expect-rule OOM203 || fail "findings.sarif is not valid"
node -e '
  const log = JSON.parse(require("fs").readFileSync("findings.sarif", "utf8"));
  const locs = log.runs[0].results.map((r) => {
    const p = r.locations[0].physicalLocation;
    return `${p.artifactLocation.uri}:${p.region.startLine}:${p.region.startColumn}`;
  }).sort();
  const want = ["pkg/train.py:15:13", "pkg/train.py:9:9"];
  if (JSON.stringify(locs) !== JSON.stringify(want)) {
    console.error("locations", locs, "expected", want);
    process.exit(1);
  }' || fail "SARIF locations are wrong"
pass "sarif with findings: valid against the 2.1.0 schema, relative URIs, exact positions"

# 2. Every rule enabled on the same tree still gives a valid log.
rc=0
"$OOMLINT_BINARY" check --output-format sarif . >all.sarif || rc=$?
[ "$rc" = 1 ] || fail "check of all rules exited $rc, expected 1"
validate all.sarif --expect-rule OOM203 || fail "all.sarif is not valid"
pass "sarif with all rules: valid"

# 3. A clean file: exit code 0 and a valid log with no results.
rc=0
"$OOMLINT_BINARY" check --output-format sarif clean.py >clean.sarif || rc=$?
[ "$rc" = 0 ] || fail "check of a clean file exited $rc, expected 0"
validate clean.sarif --expect-results 0 || fail "clean.sarif is not valid"
pass "sarif without findings: valid, no results"

# 4. GitHub workflow commands: one ::warning/::error line per finding with file, line and col.
rc=0
"$OOMLINT_BINARY" check --select OOM203 --output-format github pkg/train.py >gh.txt || rc=$?
[ "$rc" = 1 ] || fail "check --output-format github exited $rc, expected 1"
n="$(grep -cE '^::(error|warning|notice) file=pkg/train\.py,line=(9|15),col=(9|13),endLine=[0-9]+,endColumn=[0-9]+,title=OOM203::OOM203 ' gh.txt || true)"
[ "$n" = 2 ] || { cat gh.txt; fail "expected 2 workflow commands for OOM203, got $n"; }
pass "github output: 2 annotations with file, line, col and title"

echo "sarif_schema: all checks passed"
