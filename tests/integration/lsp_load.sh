#!/usr/bin/env bash
# The real `oomlint server` under load: 5,000 incremental edits to 20 open documents with
# interleaved requests and cancellations; the final diagnostics must equal a fresh
# `oomlint check`, and resident memory must not grow after a warm-up (tests/lsp_client/load.js,
# plain Node without packages).
set -uo pipefail
. "$(dirname "$0")/support/common.sh"
command -v node >/dev/null 2>&1 || ensure_node
exec node "$OOMLINT_SOURCE_DIR/tests/lsp_client/load.js"
