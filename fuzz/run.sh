#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for a bounded time.
# Usage: fuzz/run.sh [seconds-per-harness]   (default 60). Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
OOMLINT_WITH_FUZZ=1 tools/install-deps.sh
build=build-fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOOMLINT_FUZZ=ON -DOOMLINT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
status=0
for harness in "$build"/fuzz/*_fuzz; do
  name=$(basename "$harness" _fuzz)
  seeds="fuzz/corpus/$name"
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work" "$seeds"
  # Rule fixtures make good seeds for the Python harnesses.
  case "$name" in engine|fixes) cp tests/fixtures/*.py "$work/" 2>/dev/null || true ;; esac
  echo "--- fuzzing $name for ${seconds}s"
  log="$build/fuzz-$name.log"
  if ! ASAN_OPTIONS=detect_leaks=1 "$harness" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$build/crash-$name-" "$work" "$seeds" >"$log" 2>&1; then
    echo "FAIL: $name found a problem; see $log"
    tail -40 "$log"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/$name: /" || true
done
exit $status
