#!/usr/bin/env bash
# Fetches or generates the benchmark corpora (used by bench/run and by the prefilter test):
#   DIR/torch      the .py files of Debian's python3-torch package (apt-get download, dpkg -x)
#   DIR/synthetic  training scripts of 100 to 10,000 lines made from the rule fixtures
# Usage: bench/corpus.sh DIR. Does nothing for a corpus that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: bench/corpus.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ ! -d "$dir/torch" ] || [ "$(find "$dir/torch" -name '*.py' | wc -l)" = 0 ]; then
  echo "corpus: fetching python3-torch from Debian" >&2
  deb=$(mktemp -d)
  trap 'rm -rf "$deb"' EXIT
  (cd "$deb" && { apt-get download python3-torch >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get download python3-torch >/dev/null; }; })
  dpkg -x "$deb"/python3-torch_*.deb "$deb/x"
  rm -rf "$dir/torch.tmp" && mkdir -p "$dir/torch.tmp"
  (cd "$deb/x" && find . -name '*.py' -print0 | tar --null -T - -cf - | tar -xf - -C "$dir/torch.tmp")
  mv "$dir/torch.tmp" "$dir/torch"
fi
if [ ! -d "$dir/synthetic" ] || [ "$(find "$dir/synthetic" -name '*.py' | wc -l)" = 0 ]; then
  bash bench/synthesize.sh "$dir/synthetic"
fi
echo "corpus: torch $(find "$dir/torch" -name '*.py' | wc -l) files, synthetic $(find "$dir/synthetic" -name '*.py' | wc -l) files in $dir" >&2
