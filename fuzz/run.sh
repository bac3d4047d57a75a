#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (-O2, ASan + UBSan) and runs each for a bounded time.
# Usage: fuzz/run.sh [seconds-per-harness] [harness...]   (default 48 s, every harness: the five
#        harnesses share the 240 s the four had at 60 s each).
#        fuzz/run.sh --merge [harness...]   minimises the committed seeds, fuzz/corpus/<harness>/,
#        together with what the runs found (build-fuzz/fuzz-corpus/) into a new set of seeds that
#        covers as much as both (regression seeds, regress_*, are always kept).
# Fails on any finding (crash, assertion, sanitizer report, leak, timeout, out-of-memory); the
# reproducer is left in build-fuzz/crash-<name>-*. Ends with one summary line per harness:
# executions, executions per second of wall time and per CPU second (the machine may be shared),
# libFuzzer's coverage (cov: edges, ft: features), peak RSS.
# OOMLINT_FUZZ_PARALLEL=N runs up to N harnesses at once (default 1, one after the other): a
# longer campaign on a machine with cores to spare, e.g.
#   OOMLINT_FUZZ_PARALLEL=5 fuzz/run.sh 1800 && fuzz/run.sh --merge
set -euo pipefail
cd "$(dirname "$0")/.."
merge=0
if [ "${1:-}" = --merge ]; then
  merge=1
  shift
  seconds=0
else
  seconds=${1:-48}
  shift || true
fi
build="build-fuzz"
if [ "${OOMLINT_FUZZ_NO_BUILD:-0}" != 1 ]; then
  OOMLINT_WITH_FUZZ=1 tools/install-deps.sh
  # -O2 with line tables and assertions on: the sanitizers cost less than the -O1 code they guard.
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz \
    -DCMAKE_C_FLAGS_FUZZ="-O2 -gline-tables-only" -DCMAKE_CXX_FLAGS_FUZZ="-O2 -gline-tables-only" \
    -DOOMLINT_FUZZ=ON -DOOMLINT_BUILD_TESTS=OFF >/dev/null
fi
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for src in fuzz/*_fuzz.cpp; do names+=("$(basename "$src" _fuzz.cpp)"); done
fi
# Only the harnesses (and the libraries they link), not the CLI binary or the benchmarks.
# OOMLINT_FUZZ_NO_BUILD=1 runs the harnesses as they were last built.
if [ "${OOMLINT_FUZZ_NO_BUILD:-0}" != 1 ]; then
  cmake --build "$build" -j "${OOMLINT_FUZZ_JOBS:-$(nproc)}" --target "${names[@]/%/_fuzz}"
fi

# Every harness: -entropic=0. libFuzzer's entropic schedule updates per-feature frequencies
# after every input, which took 60% of each execution here (thousands of features per input);
# without it a harness runs four to twenty times as many inputs and reaches more features in the
# same time. Per harness: the longest input, the dictionary, and whether LeakSanitizer runs. The Python
# harnesses keep process-wide engines and caches, so LeakSanitizer would run after most inputs
# (libFuzzer checks whenever an input leaves more allocations than it freed); their code runs
# under LeakSanitizer in the ASan test build. jsonrpc resets its one server after every input
# (LanguageServer::reset() frees what the input made), so a leak there is cheap to see and
# checked on every input.
options_for() {
  printf '%s ' -entropic=0
  case "$1" in
  engine | fixes) echo "-max_len=4096 -dict=fuzz/dict/python.dict -detect_leaks=0" ;;
  docsync) echo "-max_len=2048 -dict=fuzz/dict/python.dict -detect_leaks=0" ;;
  scripts) echo "-max_len=2048 -detect_leaks=0" ;;
  jsonrpc) echo "-max_len=4096 -dict=fuzz/dict/jsonrpc.dict -detect_leaks=1" ;;
  *) echo "-max_len=4096" ;;
  esac
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

if [ "$merge" = 1 ]; then
  for name in "${names[@]}"; do
    seeds="fuzz/corpus/$name"
    work="$build/fuzz-corpus/$name"
    merged="$build/fuzz-merged/$name"
    rm -rf "$merged"
    mkdir -p "$work" "$seeds" "$merged"
    before=$(find "$seeds" -type f | wc -l)
    # The whole set (seeds and finds) minimised afresh, so the seeds stay few: every 48 s run
    # of tools/test.sh replays them all first.
    # shellcheck disable=SC2046
    "$build/fuzz/${name}_fuzz" -merge=1 $(options_for "$name") \
      -artifact_prefix="$build/crash-$name-" "$merged" "$seeds" "$work" \
      >"$build/merge-$name.log" 2>&1 || {
      echo "FAIL: merging $name; see $build/merge-$name.log"
      exit 1
    }
    # Regression seeds (regress_*) stay whatever they cover; the rest is replaced.
    find "$seeds" -type f ! -name 'regress_*' -delete
    cp "$merged"/* "$seeds/" 2>/dev/null || true
    echo "merge $name: $before -> $(find "$seeds" -type f | wc -l) seeds in $seeds"
  done
  exit 0
fi

status=0
run_one() {
  local name=$1 harness seeds work log start result elapsed cpu execs rss cov ft rate per_cpu
  harness="$build/fuzz/${name}_fuzz"
  seeds="fuzz/corpus/$name"
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work" "$seeds"
  # The rule fixtures and examples seed the Python harnesses too (cut at -max_len as read).
  case "$name" in
  engine | fixes) cp tests/fixtures/*.py examples/*.py "$work/" 2>/dev/null || true ;;
  esac
  echo "--- fuzzing $name for ${seconds}s"
  log="$build/fuzz-$name.log"
  start=$(date +%s)
  result=ok
  # shellcheck disable=SC2046
  if ! "${timer[@]}" "$harness" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    $(options_for "$name") -print_final_stats=1 -artifact_prefix="$build/crash-$name-" \
    "$work" "$seeds" >"$log" 2>&1; then
    result=FAIL
    status=1
    echo "FAIL: $name found a problem; see $log"
    tail -60 "$log"
  fi
  elapsed=$(($(date +%s) - start))
  cpu=$(awk '/^cpu_seconds:/ { c = $2 + $3 } END { print c }' "$log")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  rate=$([ -n "${execs:-}" ] && [ "$elapsed" -gt 0 ] && echo $((execs / elapsed)) || echo '?')
  per_cpu='?'
  if [ -n "${execs:-}" ] && [ -n "${cpu:-}" ]; then
    per_cpu=$(awk -v e="$execs" -v c="$cpu" 'BEGIN { if (c > 0) printf "%d", e / c; else print "?" }')
  fi
  printf 'fuzz %-8s executions %-9s exec/s %-6s exec/cpu-s %-6s cov %-6s ft %-6s seconds %-4s peak_rss_mb %-5s %s\n' \
    "$name" "${execs:-?}" "$rate" "$per_cpu" "${cov:-?}" "${ft:-?}" "$elapsed" "${rss:-?}" "$result" \
    >"$build/summary-$name.txt"
  [ "$result" = ok ]
}

# CPU seconds of each run, when GNU time is there (the summary says '?' otherwise).
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f 'cpu_seconds: %U %S'); fi
parallel=${OOMLINT_FUZZ_PARALLEL:-1}
pids=()
for name in "${names[@]}"; do
  rm -f "$build/summary-$name.txt"
  if [ "$parallel" -le 1 ]; then
    run_one "$name" || status=1
    continue
  fi
  if [ "${#pids[@]}" -ge "$parallel" ]; then # wait for the oldest run
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
  run_one "$name" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "--- fuzzing summary"
for name in "${names[@]}"; do cat "$build/summary-$name.txt" 2>/dev/null || echo "fuzz $name: no result"; done
exit $status
