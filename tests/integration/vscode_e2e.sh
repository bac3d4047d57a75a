#!/usr/bin/env bash
# A real VS Code: code-server (VS Code 1.100 for the browser, from npm) with the packaged .vsix of
# editors/vscode, driven in Debian's headless Chromium by puppeteer-core
# (support/vscode_e2e/e2e.js). From the page it checks the Problems panel, a hover, the OOM201
# quick fix, Fix All, a notebook's cross-cell finding and a live `oomlint.targetGpu` change, each
# against what `oomlint check` says of the same file. See tests/integration/README.md.
#
# code-server is installed once into OOMLINT_E2E_CACHE (default ~/.cache/oomlint-e2e); later runs
# reuse it. On failure, screenshots and the page text are in $OOMLINT_BUILD_DIR/integration/
# vscode_e2e/artifacts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/support/common.sh"

# 4.100.3 (VS Code 1.100.3) is the newest code-server that runs on Node 20; later ones need 22.
CODE_SERVER_VERSION=4.100.3
# What code-server 4.100.3's lock pins: @vscode/ripgrep 1.15.11, which fetches ripgrep v13.0.0-10.
RIPGREP_NPM_VERSION=1.15.11
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

ensure_node
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" = 20 ] || fail "code-server $CODE_SERVER_VERSION needs Node 20, this is $(node --version)"
# chromium runs the page; ripgrep stands in for the binary @vscode/ripgrep would download; the
# rest builds code-server's native modules (kerberos needs the GSSAPI headers).
apt_install chromium ripgrep libkrb5-dev make g++ python3
chromium_bin=/usr/lib/chromium/chromium
[ -x "$chromium_bin" ] || chromium_bin="$(command -v chromium)"

e2e="$OOMLINT_BUILD_DIR/integration/vscode_e2e"
artifacts="$e2e/artifacts"
rm -rf "$artifacts"
mkdir -p "$e2e" "$artifacts"
cache="${OOMLINT_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oomlint-e2e}"
code_server_dir="$cache/code-server-$CODE_SERVER_VERSION"
code_server="$code_server_dir/node_modules/code-server/out/node/entry.js"
t0=$(date +%s)

# ---- code-server, once per cache --------------------------------------------------------------
install_code_server() {
  local stamp="$code_server_dir/.oomlint-installed" tmp rgdir
  [ -f "$stamp" ] && return 0
  mkdir -p "$cache"
  (
    # Two runs at once (ctest -j over two build dirs) install it once.
    flock -w 1500 9 || fail "waited too long for $cache/.lock"
    [ -f "$stamp" ] && exit 0
    echo "installing code-server $CODE_SERVER_VERSION into $code_server_dir (once; builds native modules)"
    rm -rf "$code_server_dir"
    tmp="$code_server_dir/.tmp"
    rgdir="$tmp/vscode-ripgrep-cache-$RIPGREP_NPM_VERSION"
    mkdir -p "$rgdir" "$tmp/rg"
    # @vscode/ripgrep's install looks in $TMPDIR/vscode-ripgrep-cache-<version>/ before GitHub.
    cp "$(command -v rg)" "$tmp/rg/rg"
    tar czf "$rgdir/$RIPGREP_ASSET" -C "$tmp/rg" rg
    echo '{"private": true}' >"$code_server_dir/package.json"
    # unsafe_perm: code-server's postinstall refuses to run as root without it; yes: node-pty's
    # install runs `npx node-gyp`, which would otherwise wait for a confirmation.
    if ! (cd "$code_server_dir" && TMPDIR="$tmp" npm_config_unsafe_perm=true npm_config_yes=true \
      npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" \
      </dev/null >"$code_server_dir/npm-install.log" 2>&1); then
      tail -n 60 "$code_server_dir/npm-install.log"
      fail "npm install code-server@$CODE_SERVER_VERSION (log above)"
    fi
    rm -rf "$tmp"
    [ -f "$code_server" ] || fail "no $code_server after the install"
    touch "$stamp"
  ) 9>"$cache/.lock"
}
install_code_server
t_install=$(($(date +%s) - t0))
echo "code-server $CODE_SERVER_VERSION ready in ${t_install}s ($code_server_dir)"

# ---- the .vsix ------------------------------------------------------------------------------
# vscode_extension.sh packages it (ctest runs that test first: fixture vscode_vsix); it is used
# when no file of editors/vscode is newer, else it is packaged here the same way.
ext_src="$e2e/extension"
vsix="$ext_src/oomlint.vsix"
shared_vsix="$OOMLINT_BUILD_DIR/integration/vscode/oomlint.vsix"
mkdir -p "$ext_src"
if [ -f "$shared_vsix" ] && [ -z "$(find "$OOMLINT_SOURCE_DIR/editors/vscode" -path '*/node_modules' -prune \
  -o -type f -newer "$shared_vsix" -print | head -n1)" ]; then
  cp "$shared_vsix" "$vsix"
  pass "the .vsix of integration/vscode_extension ($shared_vsix)"
else
  sync_dir "$OOMLINT_SOURCE_DIR/editors/vscode" "$ext_src"
  npm_ci "$ext_src"
  (
    cd "$ext_src"
    rm -rf out ./*.vsix
    npx --no-install tsc -p . >tsc.log 2>&1 || {
      cat tsc.log
      exit 1
    }
    npx --no-install vsce package --skip-license -o oomlint.vsix </dev/null >vsce.log 2>&1 || {
      cat vsce.log
      exit 1
    }
  ) || fail "packaging editors/vscode"
  pass "packaged $vsix ($(($(date +%s) - t0))s so far)"
fi

# ---- the driver (puppeteer-core, pinned in support/vscode_e2e/package-lock.json) ---------------
driver="$e2e/driver"
sync_dir "$OOMLINT_SOURCE_DIR/tests/integration/support/vscode_e2e" "$driver"
npm_ci "$driver"

# ---- a private home, user-data dir and workspace -----------------------------------------------
work="$(mktemp -d)"
server_pgid=""
driver_pgid=""
stop_group() {
  [ -n "$1" ] || return 0
  kill -TERM -- "-$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_group "$driver_pgid"
  stop_group "$server_pgid"
  if [ "$rc" != 0 ] || [ "${OOMLINT_E2E_DEBUG:-0}" = 1 ]; then
    # code-server's log, and VS Code's (with the oomlint output channel under exthost*/).
    cp "$work/code-server.log" "$artifacts/" 2>/dev/null || true
    cp -R "$work/user-data/logs" "$artifacts/vscode-logs" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
mkdir -p "$work"/{home,config,data,cache,tmp,user-data/User,extensions,project,expected,chrome}
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
  XDG_CACHE_HOME="$work/cache" TMPDIR="$work/tmp"
project="$work/project"
cp "$OOMLINT_SOURCE_DIR/examples/train.py" "$project/train.py"
cp "$driver/cross_cell.ipynb" "$project/cross_cell.ipynb"

# What the editor must show, from the CLI on the same files (exit 1: findings).
expected="$work/expected"
check() {
  local rc=0
  "$OOMLINT_BINARY" check --no-cache "$@" || rc=$?
  [ "$rc" -le 1 ] || fail "oomlint check $* exited $rc"
}
(cd "$project" && check --output-format json train.py >"$expected/train.json")
(cd "$project" && check --output-format json --target-gpu hopper train.py >"$expected/train_hopper.json")
(cd "$project" && check --output-format json cross_cell.ipynb >"$expected/notebook.json")
cp "$project/train.py" "$expected/fix_all.py"
check --fix --quiet "$expected/fix_all.py" >/dev/null
cp "$project/train.py" "$expected/fix_oom201.py"
check --fix --quiet --select OOM201 "$expected/fix_oom201.py" >/dev/null
# The notebook's second code cell alone has no finding: its OOM201 needs `F` from the cell before.
# (Cells are numbered from 1, the markdown cell included.)
python3 -c 'import json,sys; print("".join(json.load(open(sys.argv[1]))["cells"][2]["source"]))' \
  "$project/cross_cell.ipynb" >"$expected/cell_alone.py"
(cd "$expected" && check --output-format json cell_alone.py >"$expected/cell_alone.json")
python3 - "$expected" <<'PY' || fail "the notebook fixture is no longer cross-cell"
import json, sys
d = sys.argv[1]
alone = json.load(open(f"{d}/cell_alone.json"))
whole = json.load(open(f"{d}/notebook.json"))
assert not [x for x in alone if x["code"] == "OOM201"], alone
assert [x for x in whole if x["code"] == "OOM201" and x["cell"] == 3], whole
# and the last cell has a finding of its own, which shows with or without notebook sync
assert [x for x in whole if x["code"] == "OOM203" and x["cell"] == 4], whole
PY

# User settings: nothing saves an edit (so fixes can be read back), nothing phones home, the
# binary under test, and an editor small enough that the whole of train.py is on screen.
cat >"$work/user-data/User/settings.json" <<EOF
{
  "files.autoSave": "off",
  "oomlint.path": ["$OOMLINT_BINARY"],
  "oomlint.trace.server": "${OOMLINT_E2E_TRACE:-off}",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "git.enabled": false,
  "editor.minimap.enabled": false,
  "editor.fontSize": 11,
  "editor.lineHeight": 14,
  "editor.wordWrap": "off",
  "editor.scrollBeyondLastLine": false,
  "editor.hover.delay": 150,
  "editor.codeLens": false,
  "editor.inlayHints.enabled": "off",
  "editor.lightbulb.enabled": "off",
  "breadcrumbs.enabled": false,
  "problems.defaultViewMode": "tree",
  "notebook.output.textLineLimit": 5
}
EOF

cs_args=(--user-data-dir "$work/user-data" --extensions-dir "$work/extensions")
node "$code_server" "${cs_args[@]}" --install-extension "$vsix" </dev/null >"$work/install-ext.log" 2>&1 ||
  {
    cat "$work/install-ext.log"
    fail "code-server --install-extension $vsix"
  }
grep -q "oomlint.vsix.*was successfully installed" "$work/install-ext.log" || {
  cat "$work/install-ext.log"
  fail "code-server --install-extension did not say it installed the .vsix"
}
[ -f "$work/extensions/oomlint.oomlint-0.1.0/out/extension.js" ] || fail "the extension is not in $work/extensions"
pass "code-server --install-extension oomlint.vsix ($(($(date +%s) - t0))s so far)"

# Port 0: the kernel picks a free one; code-server prints it.
setsid node "$code_server" "${cs_args[@]}" --bind-addr 127.0.0.1:0 --auth none \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override --ignore-last-opened --locale en \
  "$project" </dev/null >"$work/code-server.log" 2>&1 &
server_pgid=$!
url=""
for _ in $(seq 300); do
  url="$(sed -n 's#.*HTTP server listening on \(http://127\.0\.0\.1:[0-9]*/\).*#\1#p' "$work/code-server.log" | head -n1)"
  [ -n "$url" ] && break
  kill -0 "$server_pgid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || {
  cat "$work/code-server.log"
  fail "code-server did not print its address within 30 s"
}
echo "code-server at $url ($(($(date +%s) - t0))s so far)"

# The driver and the Chromium it starts in a process group of their own, stopped at the end too.
rc=0
OOMLINT_E2E_URL="$url" OOMLINT_E2E_PROJECT="$project" OOMLINT_E2E_EXPECTED="$expected" \
  OOMLINT_E2E_ARTIFACTS="$artifacts" OOMLINT_E2E_CHROMIUM="$chromium_bin" \
  OOMLINT_E2E_CHROME_PROFILE="$work/chrome" OOMLINT_E2E_SETTINGS="$work/user-data/User/settings.json" \
  setsid timeout -k 10 "${OOMLINT_E2E_TIMEOUT:-300}" node "$driver/e2e.js" </dev/null &
driver_pgid=$!
wait "$driver_pgid" || rc=$?
[ "$rc" = 124 ] && fail "the browser test ran over ${OOMLINT_E2E_TIMEOUT:-300} s (artifacts: $artifacts)"
[ "$rc" = 0 ] || fail "the browser test failed (screenshots and page text: $artifacts)"
echo "vscode_e2e: all checks passed (code-server install ${t_install}s, total $(($(date +%s) - t0))s)"
