#!/usr/bin/env bash
# Set-up command 2: the whole test suite. A formatting check, a warnings-as-errors build with
# every test (unit, rule fixtures, LSP, integration), then an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the unit, fixture and in-process LSP tests, then every
# libFuzzer harness for a bounded time (OOMLINT_FUZZ_SECONDS each, default 48; 0 skips fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
OOMLINT_WITH_FORMAT=1 OOMLINT_WITH_VSCODE_E2E=1 tools/install-deps.sh
jobs=$(nproc)

# Formatting first (seconds): every C and C++ file in git as clang-format (Debian's, with
# .clang-format) leaves it. tools/format.sh rewrites them.
tools/format.sh --check

cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOOMLINT_WERROR=ON >/dev/null
cmake --build build-test -j "$jobs"
ctest --test-dir build-test --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOOMLINT_SANITIZE=ON -DOOMLINT_WERROR=ON >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -E '^integration/'

# libFuzzer harnesses (clang-14, ASan + UBSan; fuzz/run.sh installs clang): fails on any finding.
# Five harnesses at 48 s each: the 240 s that four took at 60 s.
fuzz_seconds=${OOMLINT_FUZZ_SECONDS:-48}
if [ "$fuzz_seconds" != 0 ]; then fuzz/run.sh "$fuzz_seconds"; fi
