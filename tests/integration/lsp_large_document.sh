#!/usr/bin/env bash
# A large didOpen never stalls the server (tests/integration/support/large_document.py): while a
# document of OOMLINT_LARGE_MB (default 24) megabytes is being opened, a hover on another open
# document and then shutdown are answered first, and the large document gets the size policy's
# window/showMessage and no diagnostics. The times are printed; OOMLINT_LARGE_MB=100 is the
# figure BENCHMARKS.md reports.
set -uo pipefail
. "$(dirname "$0")/support/common.sh"
command -v python3 >/dev/null 2>&1 || apt_install python3
exec python3 "$OOMLINT_SOURCE_DIR/tests/integration/support/large_document.py" "$OOMLINT_BINARY"
