#!/usr/bin/env bash
# End-to-end test of `oomlint server`: a Node client built on vscode-languageserver-protocol
# (pinned in tests/lsp_client/package-lock.json, installed with `npm ci` into the build dir)
# drives the real binary over stdio.
set -euo pipefail
src="${OOMLINT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${OOMLINT_BINARY:?set OOMLINT_BINARY to the oomlint binary}"
build="${OOMLINT_BUILD_DIR:-$src/build}"
client="$build/lsp_client"
command -v node >/dev/null || { echo "lsp_e2e: node is required (apt-get install nodejs npm)"; exit 1; }
mkdir -p "$client"
cp "$src/tests/lsp_client/package.json" "$src/tests/lsp_client/package-lock.json" \
   "$src/tests/lsp_client/e2e.js" "$client/"
# Install the pinned client once per lock file.
stamp="$client/node_modules/.oomlint-lock"
if [[ ! -f "$stamp" ]] || ! cmp -s "$stamp" "$client/package-lock.json"; then
  (cd "$client" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  cp "$client/package-lock.json" "$stamp"
fi
cd "$client"
OOMLINT_BINARY="$bin" node e2e.js
