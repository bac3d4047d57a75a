#!/usr/bin/env bash
# The real binary and libgit2: oomlint does not link libgit2 (it would load twenty libraries at
# every start) but opens it when a directory is walked. A walk inside a git work tree leaves out
# what .gitignore ignores, a file named explicitly is checked anyway, and SARIF locations are
# relative to the work tree's root.
set -uo pipefail
source "$(dirname "$0")/support/common.sh"
command -v git >/dev/null 2>&1 || apt_install git
BIN="$OOMLINT_BINARY"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export HOME="$TMP/home" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
failed=0
check() { if eval "$2"; then pass "$1"; else echo "FAIL $1"; failed=1; fi; }

check "the binary does not link libgit2" '! { ldd "$BIN" 2>/dev/null | grep -q libgit2; }'

mkdir -p "$TMP/repo/src/gen" "$TMP/repo/gen" "$TMP/repo/sub"
cd "$TMP/repo"
git init -q .
printf 'ignored.py\ngen/\n' > .gitignore
body='import torch


def train(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
        torch.cuda.empty_cache()
'
for f in kept.py ignored.py gen/x.py src/gen/y.py src/ok.py sub/z.py; do printf '%s' "$body" > "$f"; done

"$BIN" check --isolated --no-cache --output-format concise . > walk.out 2> walk.err
rc=$?
check "a walk exits 1 (findings) with nothing on stderr" '[ "$rc" = 1 ] && [ ! -s walk.err ]'
check "a walk checks the files git does not ignore (gen/ at any depth, ignored.py)" \
  '[ "$(grep OOM203 walk.out | cut -d: -f1 | sort -u | tr "\n" " ")" = "kept.py src/ok.py sub/z.py " ]'

# The user's global excludes file: libgit2 finds it through $HOME, read inside the loaded library.
mkdir -p "$HOME/.config/git"
printf 'sub/\n' > "$HOME/.config/git/ignore"
"$BIN" check --isolated --no-cache --output-format concise . > global.out 2>&1
check "the global excludes file (~/.config/git/ignore) applies too" \
  '[ "$(grep OOM203 global.out | cut -d: -f1 | sort -u | tr "\n" " ")" = "kept.py src/ok.py " ]'
rm "$HOME/.config/git/ignore"

"$BIN" check --isolated --no-cache --output-format concise ignored.py gen/x.py > named.out 2>&1
check "ignored files named explicitly are checked" \
  '[ "$(grep OOM203 named.out | cut -d: -f1 | sort -u | tr "\n" " ")" = "gen/x.py ignored.py " ]'

cd src
"$BIN" check --isolated --no-cache --output-format concise . > ../src.out 2>&1
check "a walk started below the work tree's root still applies its .gitignore" \
  '[ "$(grep OOM203 ../src.out | cut -d: -f1 | sort -u | tr "\n" " ")" = "ok.py " ]'
cd ..

cd sub
"$BIN" check --isolated --no-cache --output-format sarif . > ../sub.sarif 2> ../sub.err
check "SARIF from a subdirectory: URIs relative to the work tree" \
  'grep -q "\"uri\": \"sub/z.py\"" ../sub.sarif && [ ! -s ../sub.err ]'
cd ..

# Outside any git work tree the walk finds every file.
mkdir -p "$TMP/plain/gen"
printf '%s' "$body" > "$TMP/plain/gen/a.py"
printf 'gen/\n' > "$TMP/plain/.gitignore"
"$BIN" check --isolated --no-cache --output-format concise "$TMP/plain" > plain.out 2>&1
check "outside a work tree .gitignore is not read" 'grep -q "gen/a.py" plain.out'

exit $failed
