#!/usr/bin/env bash
# Generates the benchmark's synthetic corpus: training scripts of 100 to 10,000 lines, each a
# deterministic mix of the rule fixtures (every rule's positive and negative cases).
#   bench/synthesize.sh OUT_DIR [COUNT]   (default 49 files: 7 of each size)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/synthesize.sh OUT_DIR [COUNT]}
count=${2:-49}
sizes=(100 200 500 1000 2000 5000 10000)
mapfile -t fixtures < <(ls tests/fixtures/OOM*.py | grep -v '\.fixed\.py$' |
  xargs grep -L '^[[:space:]]*# oomlint: noqa' | sort)
n=${#fixtures[@]}
[ "$n" -gt 0 ] || { echo "synthesize: no fixtures found" >&2; exit 1; }
mkdir -p "$out"
for ((i = 0; i < count; i++)); do
  target=${sizes[$((i % ${#sizes[@]}))]}
  file=$(printf '%s/train_%03d_%05d.py' "$out" "$i" "$target")
  : >"$file"
  lines=0
  # Start at a different fixture for every file and walk them with a stride, so files differ.
  k=$(((i * 7) % n))
  while [ "$lines" -lt "$target" ]; do
    f=${fixtures[$k]}
    printf '\n# ---- from %s ----\n' "$(basename "$f")" >>"$file"
    cat "$f" >>"$file"
    lines=$(wc -l <"$file")
    k=$(((k + 5) % n))
  done
done
echo "synthesize: $count files, $(cat "$out"/*.py | wc -l) lines in $out" >&2
