#!/usr/bin/env bash
# Formats every C and C++ file of the repository with clang-format (.clang-format at the top):
# the files in git and the new ones not yet added (untracked and not ignored).
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
# Tracked files (a deletion not yet committed left out) and untracked ones that .gitignore does
# not exclude, NUL-separated.
files() {
  git ls-files -z --cached --others --exclude-standard -- '*.c' '*.cpp' '*.h' |
    while IFS= read -r -d '' f; do
      if [ -f "$f" ]; then printf '%s\0' "$f"; fi
    done
}
if [ "${1:-}" = --check ]; then
  if ! files | xargs -0 -r clang-format --dry-run -Werror; then
    echo "format: run tools/format.sh to format these files" >&2
    exit 1
  fi
  echo "format: $(files | tr -cd '\0' | wc -c) files formatted"
else
  files | xargs -0 -r clang-format -i
fi
