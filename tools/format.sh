#!/usr/bin/env bash
# Formats every C and C++ file in git with clang-format (.clang-format at the top).
#   tools/format.sh           rewrite the files in place
#   tools/format.sh --check   change nothing; list what is not formatted and exit 1 if any
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "format: clang-format is not installed (apt-get install clang-format)" >&2
  exit 2
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "format: not a git checkout; nothing to check" >&2
  exit 0
fi
if [ "${1:-}" = --check ]; then
  if ! git ls-files -z '*.c' '*.cpp' '*.h' | xargs -0 clang-format --dry-run -Werror; then
    echo "format: run tools/format.sh to format these files" >&2
    exit 1
  fi
  echo "format: $(git ls-files '*.c' '*.cpp' '*.h' | wc -l) files formatted"
else
  git ls-files -z '*.c' '*.cpp' '*.h' | xargs -0 clang-format -i
fi
