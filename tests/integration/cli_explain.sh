#!/usr/bin/env bash
# `oomlint explain` through the binary: a message on stdin and in a file, json output, the doc
# links (--docs-url), and the exit codes (0 a diagnosis, 1 none, 2 usage or I/O error).
set -uo pipefail
BIN="${OOMLINT_BINARY:?}"
SRC="${OOMLINT_SOURCE_DIR:?}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
source "${OOMLINT_SOURCE_DIR:?}/tests/integration/support/checks.sh" || exit 1

# A real message (tests/explain/cases/), on stdin, with CRLF line ends.
sed '1,/^---$/d' "$SRC/tests/explain/cases/fragmentation-mgfn-35.txt" | sed 's/$/\r/' > frag.log
"$BIN" explain - < frag.log >out.txt 2>err.txt; rc=$?
[ "$rc" = 0 ] && ok "stdin (exit 0)" || bad "stdin: exit $rc"
has "text diagnosis" "diagnosis: fragmentation" out.txt
has "text decodes the request" "request 1.70 GiB" out.txt
has "text links M8 in the source docs" "file://$SRC/docs/guide/M8.md" out.txt

# A file, json, a hosted docs-url.
sed '1,/^---$/d' "$SRC/tests/explain/cases/capacity-pytorch-16417.txt" > cap.log
expect_rc "file json" 0 "$BIN" explain cap.log --output-format json --docs-url https://example.org/docs
if python3 - out.txt <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["diagnosis"] == "capacity", j["diagnosis"]
assert j["figures"]["request_bytes"] == 22 * 1024 * 1024
assert j["figures"]["reserved_bytes"] is None or j["figures"]["reserved_bytes"] > 0
assert j["figures"]["mps_other_allocations_bytes"] is None
assert j["message"].startswith("torch.cuda.OutOfMemoryError: CUDA out of memory.")
assert j["rungs"][0]["section"] == "M4"
assert all(r["link"].startswith("https://example.org/docs/guide/M") for r in j["rungs"])
PY
then ok "json fields"; else bad "json fields"; cat out.txt; fi

# Nothing to explain: exit 1 with the sentence; json says unknown.
printf 'epoch 1 loss 0.3\n' > clean.log
expect_rc "no message" 1 "$BIN" explain clean.log
has "says what it looked for" "no out-of-memory message found" out.txt
expect_rc "no message json" 1 "$BIN" explain --output-format json clean.log
has "json unknown" '"diagnosis": "unknown"' out.txt
has "json message null" '"message": null' out.txt

# A host-RAM kill.
printf ' 31%%|###   | 331/1063 [01:06<03:59,  3.06it/s]Killed\n' | "$BIN" explain >out.txt 2>err.txt
[ $? = 0 ] && ok "host-ram (exit 0)" || bad "host-ram exit"
has "host-ram diagnosis" "diagnosis: host-ram" out.txt

# Usage and I/O errors: exit 2.
expect_rc "missing file" 2 "$BIN" explain does-not-exist.log
has "missing file named" "does-not-exist.log" err.txt
expect_rc "directory" 2 "$BIN" explain "$TMP"
has "directory said" "is a directory" err.txt
expect_rc "bad format" 2 "$BIN" explain --output-format xml cap.log
expect_rc "unknown flag" 2 "$BIN" explain --frobnicate cap.log
expect_rc "help" 0 "$BIN" explain --help
has "help names the diagnoses" "fragmentation" out.txt
expect_rc "help via oomlint help" 0 "$BIN" help explain

exit $fail
