#!/usr/bin/env bash
# Rewrites the fixture snapshots (tests/fixtures/snapshots/NAME.snap) from what oomlint reports
# now, then shows how they changed: review that diff like code before committing it.
#   tools/update-snapshots.sh [--build DIR] [FIXTURE...]
# FIXTURE: a fixture's name (OOM203_training_args) or a code (OOM203: all of its fixtures); none
# means every fixture, and then a snapshot whose fixture is gone is removed. DIR: default
# build-test, else build.
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
    sed -n '2,7p' "$0"
    exit 0
    ;;
  *)
    args+=("$1")
    shift
    ;;
  esac
done
pick_build_dir "$explicit" build-test build
build_dev_tool
if ! out=$("$dev_tool" snapshots "${args[@]}"); then
  printf '%s\n' "$out"
  exit 2
fi
printf '%s\n' "$out" | grep -v '^unchanged ' || true
echo "$(printf '%s\n' "$out" | grep -c '^unchanged ' || true) snapshots unchanged"
if printf '%s\n' "$out" | grep -qv '^unchanged '; then
  echo "review the changes: git diff tests/fixtures/snapshots (new files: git status)"
fi
