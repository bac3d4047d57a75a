#!/usr/bin/env bash
# Regenerates the rule table in README.md from the registry (between the rules markers).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
cmake --build "$build" --target oomlint_rule_table >/dev/null
table=$("$build/tests/oomlint_rule_table")
python3 - "$table" <<'PY'
import sys
table = sys.argv[1] + "\n"
text = open("README.md", encoding="utf-8").read()
begin, end = "<!-- rules:begin -->\n", "<!-- rules:end -->"
b, e = text.index(begin) + len(begin), text.index(end)
open("README.md.tmp", "w", encoding="utf-8").write(text[:b] + table + text[e:])
PY
mv README.md.tmp README.md
