#!/usr/bin/env bash
# The size policy of `oomlint check`: a file over --max-file-size (default 5 MB) is skipped with
# a warning, and the exit code is the other files' (1 here: a finding in a small file; 0 when the
# large file is all there is). A bad --max-file-size is a usage error (2).
set -uo pipefail
. "$(dirname "$0")/support/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
printf 'import torch\nfor batch in loader:\n    loss = model(batch).sum()\n    torch.cuda.empty_cache()\n' >small.py
python3 -c "
import sys
unit = 'x = torch.zeros(8)  # a generated line\n'
open('big.py', 'w').write('import torch\nfor batch in loader:\n    torch.cuda.empty_cache()\n' + unit * (6_000_000 // len(unit)))
"

"$OOMLINT_BINARY" check --no-cache --output-format concise small.py big.py >out 2>err
code=$?
[ "$code" = 1 ] || fail "exit code $code, expected 1 (the small file's finding); stderr: $(cat err)"
grep -q '^warning: big.py: 6.0 MB, over the 5.0 MB limit (--max-file-size); skipped' err ||
  fail "no warning for big.py: $(cat err)"
grep -q '^small.py:4:' out || fail "small.py not checked: $(cat out)"
grep -q 'big.py' out && fail "big.py was checked: $(cat out)"
pass "a file over the limit is skipped with a warning; the exit code is the other files'"

"$OOMLINT_BINARY" check --no-cache big.py >out 2>err
code=$?
[ "$code" = 0 ] || fail "exit code $code for a skipped file alone, expected 0"
pass "a skipped file alone: exit code 0"

# The limit is the user's: a 200 KB file under --max-file-size 100KB is skipped, under 1MB checked.
head -c 200000 big.py >medium.py
"$OOMLINT_BINARY" check --no-cache --output-format concise --max-file-size 100KB medium.py >out 2>err
[ "$?" = 0 ] && grep -q '^warning: medium.py: 0.2 MB, over the 0.1 MB limit' err ||
  fail "--max-file-size 100KB did not skip medium.py: $(cat out err)"
"$OOMLINT_BINARY" check --no-cache --output-format concise --max-file-size 1MB medium.py >out 2>err
[ "$?" = 1 ] && grep -q '^medium.py:3:' out || fail "--max-file-size 1MB did not check medium.py: $(cat out err)"
pass "--max-file-size 100KB skips a 200 KB file, 1MB checks it"

"$OOMLINT_BINARY" check --no-cache --max-file-size lots big.py >out 2>err
[ "$?" = 2 ] || fail "a bad --max-file-size is not a usage error"
grep -q -- '--max-file-size' err || fail "no message for a bad --max-file-size: $(cat err)"
pass "a bad --max-file-size: exit code 2"
