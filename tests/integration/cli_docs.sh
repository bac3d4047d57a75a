#!/usr/bin/env bash
# Documentation links from the binary: an installed oomlint (cmake --install) links its own
# share/doc/oomlint/ pages, which exist; --docs-url and a config file's docs-url point the links
# of `oomlint check` at a hosted copy; `oomlint guide` works from the installed binary.
set -uo pipefail
BIN="${OOMLINT_BINARY:?}"
SRC="${OOMLINT_SOURCE_DIR:?}"
BUILD="${OOMLINT_BUILD_DIR:?}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
source "${OOMLINT_SOURCE_DIR:?}/tests/integration/support/checks.sh" || exit 1
# Every file:// link to a page (.md, optionally with an anchor) in a file names an existing file.
# (SARIF's %SRCROOT% is a file:// directory, not a link to the docs.)
links_exist() {  # links_exist NAME FILE
  local n=0 dead=0 url path
  while IFS= read -r url; do
    n=$((n + 1))
    path="${url#file://}"
    path="$(printf '%b' "${path//%/\\x}")"
    [ -f "$path" ] || { echo "  dead link: $url"; dead=$((dead + 1)); }
  done < <(grep -oE 'file://[^)" ]+\.md' "$2" | sort -u)
  if [ "$n" -gt 0 ] && [ "$dead" = 0 ]; then ok "$1: $n file:// links, none dead"; else bad "$1: $n links, $dead dead"; fi
}

cat > train.py <<'PY'
import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
        torch.cuda.empty_cache()
PY

# ---- installed: links go to <prefix>/share/doc/oomlint ----
PREFIX="$TMP/prefix dir"
if cmake --install "$BUILD" --prefix "$PREFIX" >install.txt 2>&1; then ok "cmake --install"; else bad "cmake --install"; cat install.txt; fi
INST="$PREFIX/bin/oomlint"
DOC="$PREFIX/share/doc/oomlint"
[ -f "$DOC/guide/README.md" ] && [ -f "$DOC/guide/M20.md" ] && [ -f "$DOC/rules/OOM203.md" ] \
  && ok "docs installed" || bad "docs not installed under $DOC"
ENC_DOC="file://${DOC// /%20}"
expect_rc "installed rule" 0 "$INST" rule OOM203
has "rule page links the installed guide section" "[M20]($ENC_DOC/guide/M20.md)" out.txt
links_exist "installed rule" out.txt
expect_rc "installed guide" 0 "$INST" guide m20
has "guide section" "# M20 " out.txt
links_exist "installed guide" out.txt
expect_rc "installed check sarif" 1 "$INST" check --select OOM203 --no-cache --output-format sarif train.py
has "sarif helpUri installed" "\"helpUri\": \"$ENC_DOC/rules/OOM203.md\"" out.txt
links_exist "installed sarif" out.txt

# ---- the build tree's binary: links go to the source tree's docs/ ----
expect_rc "check json" 1 "$BIN" check --select OOM203 --no-cache --output-format json train.py
has "json url in source docs" "\"url\": \"file://$SRC/docs/rules/OOM203.md\"" out.txt
links_exist "check json" out.txt

# ---- docs-url: the command line, then the config file ----
expect_rc "check --docs-url" 1 "$BIN" check --select OOM203 --no-cache --output-format json \
  --docs-url https://example.org/oomlint/docs train.py
has "json url hosted" '"url": "https://example.org/oomlint/docs/rules/OOM203.md"' out.txt
printf 'docs-url = "https://example.org/team/docs/"\n' > oomlint.toml
expect_rc "config docs-url" 1 "$BIN" check --select OOM203 --no-cache --output-format sarif train.py
has "sarif helpUri from config" '"helpUri": "https://example.org/team/docs/rules/OOM203.md"' out.txt
if grep -qE 'file://[^)" ]+\.md' out.txt; then bad "local page links left with docs-url"; else ok "no local page links left"; fi
expect_rc "rule with config docs-url" 0 "$BIN" rule OOM203
has "rule links the hosted guide" "[M20](https://example.org/team/docs/guide/M20.md)" out.txt
expect_rc "flag wins over config" 1 "$BIN" check --select OOM203 --no-cache --output-format json \
  --docs-url "$SRC/docs" train.py
has "json url from the flag" "\"url\": \"file://$SRC/docs/rules/OOM203.md\"" out.txt
printf 'docs-url = 3\n' > oomlint.toml
expect_rc "bad docs-url" 2 "$BIN" check --select OOM203 --no-cache train.py
has "bad docs-url names the key" "docs-url" err.txt
rm oomlint.toml
expect_rc "unknown guide section" 2 "$BIN" guide M42
has "unknown section message" "unknown guide section \`M42\`" err.txt

exit $fail
