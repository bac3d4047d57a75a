#!/usr/bin/env bash
# Regenerates tests/fixtures/CODE*.fixed.py: each fixture with every fix applied, safe and
# unsafe, round after round until nothing changes (exactly what tests/fixtures_test.cpp compares).
# A fixture where no fix applies gets no .fixed.py (a stale one is removed).
#   tools/update-fixed.sh [--build DIR] CODE...   CODE: OOM203 (all its fixtures) or a fixture's
#                                                  name; DIR: default build-test, else build
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/build-dir.sh
explicit=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
  --build | -B)
    explicit=${2:?"--build needs a directory"}
    shift 2
    ;;
  -h | --help)
    sed -n '2,6p' "$0"
    exit 0
    ;;
  *)
    args+=("$1")
    shift
    ;;
  esac
done
if [ ${#args[@]} = 0 ]; then
  sed -n '2,6p' "$0" >&2
  exit 2
fi
pick_build_dir "$explicit" build-test build
build_dev_tool
"$dev_tool" fixed "${args[@]}"
