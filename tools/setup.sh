#!/usr/bin/env bash
# Set-up command 1: install dependencies, build oomlint, and run it on the example training script.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DOOMLINT_BUILD_TESTS=OFF >/dev/null
cmake --build build --target oomlint
echo "--- build/server/oomlint check examples/train.py"
rc=0
build/server/oomlint check examples/train.py || rc=$?
# Exit code 1 means "problems found", which is what the example is for.
if [ "$rc" -gt 1 ]; then exit "$rc"; fi
