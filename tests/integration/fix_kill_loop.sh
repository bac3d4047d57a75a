#!/usr/bin/env bash
# `oomlint check --fix` interrupted over and over: many fixable files, the run is killed with
# SIGINT or SIGTERM (alternating) after a random short delay, and every file must then be
# byte-identical to its original or to its fully fixed version (never truncated or half
# written), with no temporary file left next to it. Prints the number of iterations.
set -uo pipefail
. "$(dirname "$0")/support/common.sh"
BIN="$OOMLINT_BINARY"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

ITERATIONS="${OOMLINT_KILL_ITERATIONS:-200}"
FILES=30
BUDGET_SECONDS=180 # a hard stop on a very slow machine; about 30-60 s is usual

# Fixable sources of different sizes (the write of a bigger one takes longer, so kills land in
# the middle of writes too). Each has an OOM203 finding whose (unsafe) fix deletes a line.
mkdir -p orig
for i in $(seq 1 "$FILES"); do
  {
    echo "import torch"
    echo
    # Padding: a few hundred bytes up to ~16 KB.
    for _ in $(seq 1 $(((i % 4) * (i % 4) * 25))); do
      echo "WEIGHTS_$i = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]"
    done
    echo
    echo "def train_$i(model, loader, optimizer):"
    echo "    for batch in loader:"
    echo "        model(batch).sum().backward()"
    echo "        optimizer.step()"
    echo "        torch.cuda.empty_cache()"
  } >"orig/f$i.py"
done
# Mixed flavours: CRLF, a BOM, no trailing newline, an unusual mode.
sed -i 's/$/\r/' orig/f2.py
printf '\xEF\xBB\xBF' | cat - orig/f3.py >orig/tmp && mv orig/tmp orig/f3.py
truncate -s -1 orig/f4.py
chmod 0640 orig/f5.py

# The fully fixed versions.
cp -a orig fixed
"$BIN" check --select OOM203 --fix --unsafe-fixes --isolated --threads 2 fixed >/dev/null 2>&1
rc=$?
[ $rc = 0 ] || fail "a full --fix run exited $rc (want 0)"
changed=0
for i in $(seq 1 "$FILES"); do cmp -s "orig/f$i.py" "fixed/f$i.py" || changed=$((changed + 1)); done
[ "$changed" = "$FILES" ] || fail "the full run fixed $changed of $FILES files"
pass "full --fix run fixes all $FILES files"
declare -A orig_sum fixed_sum
while read -r sum f; do i="${f#orig/f}"; orig_sum[${i%.py}]="$sum"; done < <(sha256sum orig/f*.py)
while read -r sum f; do i="${f#fixed/f}"; fixed_sum[${i%.py}]="$sum"; done < <(sha256sum fixed/f*.py)
modes="$(cd orig && stat -c '%n %a' f*.py | sed 's|^|work/|')"

start=$SECONDS
iter=0
old_total=0
new_total=0
interrupted_runs=0
completed_runs=0
while [ "$iter" -lt "$ITERATIONS" ]; do
  if [ $((SECONDS - start)) -ge "$BUDGET_SECONDS" ]; then
    fail "only $iter of $ITERATIONS iterations within ${BUDGET_SECONDS}s"
  fi
  rm -rf work && cp -a orig work
  if [ $((iter % 2)) = 0 ]; then sig=INT; else sig=TERM; fi
  # 0 to 60 ms: from before the first file is read to the last files being written.
  delay="0.0$(printf '%02d' $((RANDOM % 60)))"
  "$BIN" check --select OOM203 --fix --unsafe-fixes --isolated --threads 2 work \
    >/dev/null 2>err.txt &
  pid=$!
  sleep "$delay"
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  case "$rc" in
  0) completed_runs=$((completed_runs + 1)) ;;
  130 | 143) interrupted_runs=$((interrupted_runs + 1)) ;;
  *) fail "iteration $iter: SIG$sig after ${delay}s gave exit $rc: $(head -c 500 err.txt)" ;;
  esac
  # One sha256sum and one stat for all files.
  while read -r sum f; do
    i="${f#work/f}"
    i="${i%.py}"
    if [ "$sum" = "${orig_sum[$i]}" ]; then
      old_total=$((old_total + 1))
    elif [ "$sum" = "${fixed_sum[$i]}" ]; then
      new_total=$((new_total + 1))
    else
      fail "iteration $iter: $f is neither the original nor the fixed file ($(stat -c %s "$f" 2>&1) bytes)"
    fi
  done < <(sha256sum work/f*.py)
  now_modes="$(stat -c '%n %a' work/f*.py 2>&1)"
  # On a mismatch, say which file: a changed mode and a missing file (seen under load, cause not
  # yet known) read the same otherwise.
  [ "$now_modes" = "$modes" ] || fail "iteration $iter (SIG$sig after ${delay}s, exit $rc): a file mode changed or a file is missing: $(diff <(echo "$modes") <(echo "$now_modes") | head -6 | tr '\n' ' '); ls -la work: $(ls -la work | head -8 | tr '\n' ' ')"
  [ "$(ls work | wc -l)" = "$FILES" ] || fail "iteration $iter: $(ls work | wc -l) files in the directory, want $FILES"
  leftovers="$(find work -name '*.oomlint-*' | head -5)" # (also caught by the count above)
  [ -z "$leftovers" ] || fail "iteration $iter (SIG$sig after ${delay}s): temporary files left: $leftovers"
  iter=$((iter + 1))
done
elapsed=$((SECONDS - start))
pass "$iter kill iterations in ${elapsed}s ($interrupted_runs interrupted, $completed_runs ran to the end): every file old or new, never partial; no temporary files left"
pass "file states seen: $old_total original, $new_total fixed (of $((iter * FILES)))"
[ "$interrupted_runs" -gt 0 ] || fail "no run was interrupted: the delays are too long for this machine"
[ "$new_total" -gt 0 ] || fail "no file was ever fixed before the kill: the delays are too short"
exit 0
