#!/usr/bin/env bash
# VS Code extension (editors/vscode): `npm ci` from the committed lock, TypeScript build, unit tests
# of the settings logic, the settings against the real `oomlint server` over vscode-languageclient's
# protocol layer, and packaging to a .vsix with @vscode/vsce. VS Code itself is not needed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/support/common.sh"

ensure_node
command -v python3 >/dev/null 2>&1 || apt_install python3
node --version
ext="$OOMLINT_BUILD_DIR/integration/vscode"
sync_dir "$OOMLINT_SOURCE_DIR/editors/vscode" "$ext"
npm_ci "$ext"
cd "$ext"
rm -rf out ./*.vsix

npx --no-install tsc -p . || fail "the extension does not compile"
pass "tsc"

node --test out/test/settings.test.js || fail "unit tests of the settings logic"
pass "unit tests (node --test out/test/settings.test.js)"

node --test out/test/server.test.js || fail "settings against the real server"
pass "settings reach the real server (node --test out/test/server.test.js)"

npx --no-install vsce package --skip-license -o oomlint.vsix </dev/null >vsce.log 2>&1 || {
  cat vsce.log
  fail "vsce package"
}
python3 - oomlint.vsix <<'PY' || fail "the .vsix content is wrong"
import json, sys, zipfile

z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
need = [
    "extension/package.json",
    "extension/out/extension.js",
    "extension/out/settings.js",
    "extension/node_modules/vscode-languageclient/package.json",
    "extension.vsixmanifest",
]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"missing from the vsix: {missing}")
leaked = [n for n in names if n.startswith(("extension/src/", "extension/out/test/"))
          or "/node_modules/typescript/" in n or "/node_modules/@vscode/vsce/" in n]
if leaked:
    sys.exit(f"the vsix carries sources, tests or dev dependencies: {leaked[:5]}")
pkg = json.loads(z.read("extension/package.json"))
commands = {c["command"] for c in pkg["contributes"]["commands"]}
if commands != {"oomlint.restart", "oomlint.fixAll", "oomlint.showOutput"}:
    sys.exit(f"commands: {commands}")
props = set(pkg["contributes"]["configuration"]["properties"])
want = {"oomlint.path", "oomlint.args", "oomlint.targetGpu", "oomlint.select", "oomlint.ignore",
        "oomlint.docsUrl",
        "oomlint.trace.server"}
if props != want:
    sys.exit(f"settings: {props ^ want}")
print(f"oomlint.vsix: {len(names)} files, {sum(i.file_size for i in z.infolist())} bytes unpacked")
PY
pass "vsce package: oomlint.vsix with the runtime dependency and without dev files"
echo "vscode_extension: all checks passed"
