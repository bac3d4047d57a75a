#!/usr/bin/env bash
# Hostile inputs to the real binary, each a named check: `oomlint check` (and --fix where a file
# is rewritten) on a 50 MB file (skipped by the size limit, and checked whole with --max-file-size 0), 100,000 nested brackets, a 1,000,000-character line, NUL bytes,
# invalid UTF-8, a BOM, CRLF and lone CR line endings, a binary file named .py, symlink loops and
# an unreadable file; and `oomlint server` given a 100 MB document. Each must end with a clear
# error or a clean result (exit 0, 1 or 2 and never a signal, a sanitizer report or a timeout),
# and ordinary findings around the hostile part are still reported at the right place.
set -uo pipefail
. "$(dirname "$0")/support/common.sh"
BIN="$OOMLINT_BINARY"
TMP="$(mktemp -d)"
trap 'chmod -R u+rwx "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
cd "$TMP"
chmod 755 "$TMP"
failed=0
cases=0
bad() {
  echo "FAIL $*"
  failed=$((failed + 1))
}

TRAIN='import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        torch.cuda.empty_cache()
        optimizer.step()
'
# In TRAIN the finding is on line 7, column 9.

# run NAME WANT_RC TIMEOUT CMD... : runs with a timeout, output in out.txt / err.txt. WANT_RC may
# list alternatives: "0|1".
run() {
  local name="$1" want="$2" limit="$3"
  shift 3
  local t0=$SECONDS
  timeout "$limit" "$@" >out.txt 2>err.txt
  local rc=$?
  RUN_SECONDS=$((SECONDS - t0))
  if [ "$rc" = 124 ]; then
    bad "$name: no answer within ${limit}s"
    return 1
  fi
  if [ "$rc" -gt 2 ]; then
    bad "$name: exit $rc (crash?): $(head -c 600 err.txt)"
    return 1
  fi
  if grep -q "Sanitizer\|runtime error:" err.txt; then
    bad "$name: sanitizer report: $(head -c 600 err.txt)"
    return 1
  fi
  if ! [[ "$rc" =~ ^($want)$ ]]; then
    bad "$name: exit $rc, want $want: $(head -c 600 err.txt) $(head -c 300 out.txt)"
    return 1
  fi
  return 0
}
# expect_finding NAME FILE:ROW:COL : the concise output reports OOM203 there.
expect_finding() {
  if grep -qF "$2: OOM203" out.txt; then
    return 0
  fi
  bad "$1: no OOM203 at $2 in: $(head -c 400 out.txt)"
  return 1
}
check_case() { # check_case NAME: counts a case; pass() if nothing failed since START
  cases=$((cases + 1))
  if [ "$failed" = "$CASE_FAILED_BEFORE" ]; then pass "$1"; fi
}
start_case() { CASE_FAILED_BEFORE=$failed; }
CHECK=("$BIN" check --select OOM203 --isolated --output-format concise --color never)
FIX=("$BIN" check --select OOM203 --isolated --fix --unsafe-fixes)

# ---- 1. a 50 MB file -----------------------------------------------------------------------
start_case
zs="$(head -c 60 /dev/zero | tr '\0' 'z')"
for i in $(seq 1 1000); do
  printf 'def helper_%d(x, y):\n    """Adds two numbers."""\n    return x + y  # %s\n\n' "$i" "$zs"
done >chunk.py
: >big.py
while [ "$(stat -c %s big.py)" -lt $((50 * 1024 * 1024)) ]; do cat chunk.py >>big.py; done
printf '%s' "$TRAIN" >>big.py
rows=$(wc -l <big.py)
size_mb=$(($(stat -c %s big.py) / 1024 / 1024))
timed=()
[ -x /usr/bin/time ] && timed=(/usr/bin/time -f '%M')
# The size policy skips it, with a warning and exit 0 (nothing else was checked).
if run "50 MB file, default limit" 0 60 "${CHECK[@]}" big.py; then
  grep -q "^warning: big.py: .* over the 5.0 MB limit (--max-file-size); skipped" err.txt ||
    bad "50 MB file, default limit: no warning in: $(head -c 400 err.txt)"
fi
check_case "a ${size_mb} MB file is skipped by the default size limit, with a warning"
start_case
if run "50 MB file" 1 300 "${timed[@]}" "${CHECK[@]}" --max-file-size 0 big.py; then
  expect_finding "50 MB file" "big.py:$((rows - 1)):9"
  peak=""
  [ "${#timed[@]}" -gt 0 ] && peak=", peak RSS $(($(tail -1 err.txt) / 1024)) MB"
  echo "     ($size_mb MB, $rows lines: ${RUN_SECONDS}s$peak)"
fi
check_case "with --max-file-size 0 a ${size_mb} MB file is checked whole; the finding on its last lines is reported"
rm -f big.py chunk.py

# ---- 2. 100,000 nested brackets --------------------------------------------------------------
start_case
{
  printf 'x = '
  head -c 100000 /dev/zero | tr '\0' '('
  printf '1'
  head -c 100000 /dev/zero | tr '\0' ')'
  printf '\n%s' "$TRAIN"
  printf 'y = '
  head -c 100000 /dev/zero | tr '\0' '['
  printf '\n'
} >nest.py
run "nested brackets" 1 120 "${CHECK[@]}" nest.py && expect_finding "nested brackets" "nest.py:8:9"
cp nest.py nest_orig.py
run "nested brackets --fix" "0|1" 120 "${FIX[@]}" nest.py
# The unclosed tail makes the file a syntax error; whatever --fix does, the brackets survive.
cmp -s <(head -c 200010 nest.py) <(head -c 200010 nest_orig.py) || bad "nested brackets --fix damaged the nest"
check_case "100,000 nested brackets (closed and never closed)"

# ---- 3. a 1,000,000-character line ------------------------------------------------------------
start_case
{
  printf "s = '"
  head -c 1000000 /dev/zero | tr '\0' 'a'
  printf "'\n%s" "$TRAIN"
  printf 'e = 1'
  for _ in $(seq 1 5000); do printf '%s' '+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1'; done
  printf '\n'
} >wide.py
run "1M-character line" 1 120 "${CHECK[@]}" wide.py && expect_finding "1M-character line" "wide.py:8:9"
check_case "two 1,000,000-character lines (a string, and 1+1+...: a 500,000-deep expression)"

# ---- 4. NUL bytes -----------------------------------------------------------------------------
start_case
{
  printf 's = "\0\0"  # \0\n'
  printf '%s' "$TRAIN"
  head -c 10000 /dev/zero
} >nul.py
run "NUL bytes" 1 60 "${CHECK[@]}" nul.py && expect_finding "NUL bytes" "nul.py:8:9"
[ "$(tr -cd '\000' <out.txt | wc -c)" = 0 ] || bad "NUL bytes: a raw NUL reached the output"
check_case "NUL bytes in a string, a comment and a trailing block"

# ---- 5. invalid UTF-8 -------------------------------------------------------------------------
start_case
{
  printf 's = "\xC0\xAF\xE2\x82 \xED\xA0\x80\xFF"  # \xFE\xFE\n'
  printf '%s' "$TRAIN" | LC_ALL=C sed 's/torch.cuda.empty_cache()/x = "\xFF\xFE\x80\x80"; torch.cuda.empty_cache()/'
} >utf.py
run "invalid UTF-8" 1 60 "${CHECK[@]}" utf.py && expect_finding "invalid UTF-8" "utf.py:8:21"
run "invalid UTF-8 (text output)" 1 60 "$BIN" check --select OOM203 --isolated --color never utf.py
if LC_ALL=C grep -q $'\xFF\|\xFE\|\xC0' out.txt; then bad "invalid UTF-8: raw invalid bytes printed"; fi
check_case "invalid UTF-8 (overlong, truncated, surrogate, 0xFF, past U+10FFFF)"

# ---- 6. a BOM ---------------------------------------------------------------------------------
start_case
{ printf '\xEF\xBB\xBF'; printf '%s' "$TRAIN"; } >bom.py
run "BOM" 1 60 "${CHECK[@]}" bom.py && expect_finding "BOM" "bom.py:7:9"
run "BOM --fix" 0 60 "${FIX[@]}" bom.py
[ "$(head -c 3 bom.py | od -An -tx1 | tr -d ' ')" = efbbbf ] || bad "BOM: lost by --fix"
grep -q empty_cache bom.py && bad "BOM: not fixed"
check_case "a byte order mark (checked at the right column, kept by --fix)"

# ---- 7. CRLF ----------------------------------------------------------------------------------
start_case
printf '%s' "$TRAIN" | sed 's/$/\r/' >crlf.py
run "CRLF" 1 60 "${CHECK[@]}" crlf.py && expect_finding "CRLF" "crlf.py:7:9"
run "CRLF --fix" 0 60 "${FIX[@]}" crlf.py
[ "$(tr -cd '\r' <crlf.py | wc -c)" = "$(wc -l <crlf.py)" ] || bad "CRLF: a line lost its CR"
[ "$(wc -l <crlf.py)" = 7 ] || bad "CRLF: $(wc -l <crlf.py) lines after --fix, want 7"
check_case "CRLF line endings (kept by --fix)"

# ---- 8. lone CR -------------------------------------------------------------------------------
start_case
printf '%s' "$TRAIN" | tr '\n' '\r' >cr.py
run "lone CR" 1 60 "${CHECK[@]}" cr.py && expect_finding "lone CR" "cr.py:7:9"
run "lone CR --fix" 0 60 "${FIX[@]}" cr.py
[ "$(tr -cd '\n' <cr.py | wc -c)" = 0 ] || bad "lone CR: --fix brought in LF"
[ "$(tr -cd '\r' <cr.py | wc -c)" = 7 ] || bad "lone CR: $(tr -cd '\r' <cr.py | wc -c) CRs after --fix, want 7"
check_case "lone CR line endings (kept by --fix)"

# ---- 9. a binary file named .py ---------------------------------------------------------------
start_case
head -c 2000000 "$BIN" >binary.py
cp binary.py binary_orig.py
run "binary .py" 0 60 "${CHECK[@]}" binary.py
run "binary .py --fix" 0 60 "${FIX[@]}" binary.py
cmp -s binary.py binary_orig.py || bad "binary .py: --fix changed the bytes"
if grep -q $'\x1b' out.txt err.txt; then bad "binary .py: a raw escape reached the terminal"; fi
check_case "a binary file (2 MB of an ELF executable) named .py"

# ---- 10. symlink loops ------------------------------------------------------------------------
start_case
mkdir -p tree/a/b
printf '%s' "$TRAIN" >tree/a/b/real.py
ln -s ../.. tree/a/b/up          # directory cycle
ln -s self.py tree/a/self.py     # a file link to itself
ln -s two.py tree/a/one.py       # one.py -> two.py -> one.py
ln -s one.py tree/a/two.py
run "symlink loop (walk)" 1 60 "${CHECK[@]}" tree && expect_finding "symlink loop" "tree/a/b/real.py:7:9"
[ "$(grep -c OOM203 out.txt)" = 1 ] || bad "symlink loop: the real file was reported $(grep -c OOM203 out.txt) times"
run "symlink loop (named)" 2 60 "${CHECK[@]}" tree/a/self.py tree/a/one.py tree/a/b/real.py
grep -q "self.py: .*symbolic links" err.txt || bad "symlink loop: no clear error for self.py: $(cat err.txt)"
expect_finding "symlink loop (named)" "tree/a/b/real.py:7:9"
check_case "symlink loops in the tree (directory cycle, self link, two-link cycle)"

# ---- 11. an unreadable file -------------------------------------------------------------------
start_case
printf '%s' "$TRAIN" >locked.py
printf '%s' "$TRAIN" >open.py
chmod 000 locked.py
as_user=()
if [ "$(id -u)" = 0 ]; then
  # Root reads mode-000 files: run the check as nobody instead.
  if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  elif command -v runuser >/dev/null && runuser -u nobody -- true 2>/dev/null; then
    as_user=(runuser -u nobody --)
  fi
fi
if [ "$(id -u)" = 0 ] && [ "${#as_user[@]}" = 0 ]; then
  echo "skip unreadable file: running as root without setpriv/runuser to drop to nobody"
elif ! "${as_user[@]}" test -x "$BIN"; then
  echo "skip unreadable file: $BIN is not executable by an unprivileged user"
else
  if run "unreadable file" 2 60 "${as_user[@]}" "${CHECK[@]}" locked.py open.py; then
    grep -q "locked.py: Permission denied" err.txt || bad "unreadable file: no clear error: $(cat err.txt)"
    expect_finding "unreadable file" "open.py:7:9"
  fi
  check_case "an unreadable file (clear error; the other file still checked${as_user:+, as nobody})"
fi
chmod 644 locked.py

# ---- 12. the server given a 100 MB document -----------------------------------------------------
start_case
if command -v node >/dev/null; then
  cat >huge_doc.js <<'JS'
'use strict';
// didOpen of a 100 MB document, then a normal one: the normal one must get its diagnostic.
const { spawn } = require('child_process');
const child = spawn(process.env.BIN, ['server'], { stdio: ['pipe', 'pipe', 'inherit'] });
let buf = Buffer.alloc(0);
const published = new Map();
let shutdownReply = false;
child.stdout.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    const sep = buf.indexOf('\r\n\r\n');
    if (sep < 0) return;
    const len = Number(/Content-Length: *(\d+)/i.exec(buf.slice(0, sep).toString())[1]);
    if (buf.length < sep + 4 + len) return;
    const m = JSON.parse(buf.slice(sep + 4, sep + 4 + len).toString());
    buf = buf.slice(sep + 4 + len);
    if (m.method === 'textDocument/publishDiagnostics') published.set(m.params.uri, m.params);
    if (m.id === 2) shutdownReply = true;
  }
});
function send(o) {
  const body = Buffer.from(JSON.stringify(o));
  child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  child.stdin.write(body);
}
const train = process.env.TRAIN;
const unit = 'def helper(x, y):\n    return x + y\n\n';
const huge = unit.repeat(Math.ceil((100 << 20) / unit.length)) + train;
send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { capabilities: {} } });
send({ jsonrpc: '2.0', method: 'initialized', params: {} });
const t0 = Date.now();
send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///huge.py', languageId: 'python', version: 1, text: huge } } });
send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///normal.py', languageId: 'python', version: 1, text: train } } });
const timer = setInterval(() => {
  const n = published.get('file:///normal.py');
  const h = published.get('file:///huge.py');
  if (n && h) {
    clearInterval(timer);
    const codes = n.diagnostics.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character}`);
    if (codes.join() !== 'OOM203@6:8') { console.log('FAIL normal document: ' + codes.join()); process.exit(1); }
    console.log(`     (100 MB document: ${h.diagnostics.length} diagnostics after ${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    send({ jsonrpc: '2.0', id: 2, method: 'shutdown' });
    send({ jsonrpc: '2.0', method: 'exit' });
  }
}, 50);
child.on('exit', (code, sig) => {
  if (code !== 0 || !shutdownReply) { console.log(`FAIL server exit ${code} signal ${sig}`); process.exit(1); }
  process.exit(0);
});
JS
  if BIN="$BIN" TRAIN="$TRAIN" timeout 300 node --max-old-space-size=4096 huge_doc.js >node.txt 2>&1; then
    cat node.txt
  else
    bad "100 MB document to the server: $(tail -c 600 node.txt)"
  fi
  check_case "the server given a 100 MB document still serves a normal one"
else
  echo "skip 100 MB document: node is not installed"
fi

echo "$cases hostile cases checked, $failed failures"
[ "$failed" = 0 ]
