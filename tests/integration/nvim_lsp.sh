#!/usr/bin/env bash
# Neovim: editors/nvim in Debian's headless Neovim (0.7.2) against the real `oomlint server`.
# Opens a fixture, waits for the diagnostics and checks codes and positions, applies a quick fix
# through vim.lsp.buf.code_action and checks the buffer, then changes the settings live.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/support/common.sh"

command -v nvim >/dev/null 2>&1 || apt_install neovim
nvim --version | head -n1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R "$OOMLINT_SOURCE_DIR/tests/integration/support/nvim/project/." "$work/"
project="$(cd "$work" && pwd -P)"

log="$project/nvim.log"
rc=0
OOMLINT_NVIM_PROJECT="$project" HOME="$project" XDG_STATE_HOME="$project/state" \
  XDG_CACHE_HOME="$project/cache" XDG_DATA_HOME="$project/data" XDG_CONFIG_HOME="$project/config" \
  timeout 120 nvim --headless -u NONE -i NONE -n \
  -c "luafile $OOMLINT_SOURCE_DIR/tests/integration/support/nvim/test.lua" >"$log" 2>&1 || rc=$?
# Neovim prints `print()` output on stderr in headless mode, with CRs.
tr -d '\r' <"$log"
echo
[ "$rc" = 124 ] && fail "nvim timed out"
[ "$rc" = 0 ] || fail "nvim test reported failures (exit $rc)"
grep -q "^nvim: 0 failed" <(tr -d '\r' <"$log") || fail "the nvim test did not finish"
echo "nvim_lsp: all checks passed"
