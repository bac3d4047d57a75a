#!/usr/bin/env bash
# Regenerates the rule table in README.md from the registry (between the rules markers).
#   tools/update-rule-table.sh [BUILD_DIR]   default: build (what tools/setup.sh makes), else
#                                            build-test (what tools/test.sh makes)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/build-dir.sh
explicit=
case "${1:-}" in
--build | -B) explicit=${2:?"--build needs a directory"} ;;
-h | --help)
  sed -n '2,4p' "$0"
  exit 0
  ;;
*) explicit=${1:-} ;;
esac
pick_build_dir "$explicit" build build-test
build_dev_tool
table=$("$dev_tool" rule-table)
python3 - "$table" <<'PY'
import sys
table = sys.argv[1] + "\n"
text = open("README.md", encoding="utf-8").read()
begin, end = "<!-- rules:begin -->\n", "<!-- rules:end -->"
b, e = text.index(begin) + len(begin), text.index(end)
open("README.md.tmp", "w", encoding="utf-8").write(text[:b] + table + text[e:])
PY
if cmp -s README.md.tmp README.md; then
  rm README.md.tmp
  echo "README.md: the rule table is up to date (from $build)"
else
  mv README.md.tmp README.md
  echo "README.md: rule table regenerated (from $build)"
fi
