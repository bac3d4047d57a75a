#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for a bounded time.
# Usage: fuzz/run.sh [seconds-per-harness] [harness...]   (default 60 s, every harness).
# Fails on any finding (crash, assertion, sanitizer report, leak, timeout, out-of-memory); the
# reproducer is left in build-fuzz/crash-<name>-*. Ends with one summary line per harness.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
OOMLINT_WITH_FUZZ=1 tools/install-deps.sh
build=build-fuzz
# -O1 with line tables and assertions on: quicker to build than RelWithDebInfo, and asserts fire.
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz \
  -DCMAKE_C_FLAGS_FUZZ="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_FUZZ="-O1 -gline-tables-only" \
  -DOOMLINT_FUZZ=ON -DOOMLINT_BUILD_TESTS=OFF >/dev/null
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for src in fuzz/*_fuzz.cpp; do names+=("$(basename "$src" _fuzz.cpp)"); done
fi
# Only the harnesses (and the libraries they link), not the CLI binary or the benchmarks.
cmake --build "$build" -j "$(nproc)" --target "${names[@]/%/_fuzz}"

status=0
summary=()
for name in "${names[@]}"; do
  harness="$build/fuzz/${name}_fuzz"
  seeds="fuzz/corpus/$name"
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work" "$seeds"
  max_len=65536
  case "$name" in
  # Rule fixtures and examples make good seeds for the Python harnesses.
  engine | fixes) cp tests/fixtures/*.py examples/*.py "$work/" 2>/dev/null || true ;;
  # Each input replays up to 64 edits with three engine checks after each: keep texts small.
  docsync) max_len=8192 ;;
  esac
  echo "--- fuzzing $name for ${seconds}s"
  log="$build/fuzz-$name.log"
  start=$(date +%s)
  result=ok
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
    "$harness" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$build/crash-$name-" "$work" "$seeds" >"$log" 2>&1; then
    result=FAIL
    status=1
    echo "FAIL: $name found a problem; see $log"
    tail -60 "$log"
  fi
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  summary+=("$(printf 'fuzz %-8s executions %-9s seconds %-4s peak_rss_mb %-5s %s' \
    "$name" "${execs:-?}" "$elapsed" "${rss:-?}" "$result")")
done
echo "--- fuzzing summary"
printf '%s\n' "${summary[@]}"
exit $status
