# Shared by the editor / integration scripts (tests/integration/*.sh); source it, don't run it.
# Sets OOMLINT_SOURCE_DIR, OOMLINT_BUILD_DIR and OOMLINT_BINARY (ctest passes them; the defaults
# let a script run by hand from a checkout with a build in build/) and offers small helpers.

OOMLINT_SOURCE_DIR="${OOMLINT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
OOMLINT_BUILD_DIR="${OOMLINT_BUILD_DIR:-$OOMLINT_SOURCE_DIR/build}"
OOMLINT_BINARY="${OOMLINT_BINARY:-$OOMLINT_BUILD_DIR/server/oomlint}"
export OOMLINT_SOURCE_DIR OOMLINT_BUILD_DIR OOMLINT_BINARY

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  echo "ok   $*"
}

[ -x "$OOMLINT_BINARY" ] || fail "no oomlint binary at $OOMLINT_BINARY (build it, or set OOMLINT_BINARY)"

# Installs the Debian packages that are missing, quietly. Needs root for an actual install.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || fail "missing Debian packages ${missing[*]} (run as root or install them)"
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # ctest -j runs several of these scripts at once: one apt-get at a time.
  (
    flock -w 600 9 || fail "waited too long for the apt lock"
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  ) 9>/var/lock/oomlint-apt.lock || fail "apt-get install ${missing[*]}"
}

# node and npm, from Debian when absent.
ensure_node() {
  command -v node >/dev/null 2>&1 || apt_install nodejs
  command -v npm >/dev/null 2>&1 || apt_install npm
}

# `npm ci` in directory $1 unless its node_modules already match package-lock.json. Install
# scripts are not run: nothing here needs them, and some try to download prebuilt binaries.
npm_ci() {
  local dir="$1" stamp sum
  stamp="$dir/node_modules/.oomlint-lock.sha256"
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
  (cd "$dir" && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
    fail "npm ci in $dir"
  echo "$sum" >"$stamp"
}

# Copies the files of a source directory into a work directory under the build dir (npm installs
# and build output stay out of the source tree). Existing node_modules are kept.
sync_dir() {
  local from="$1" to="$2" item
  mkdir -p "$to"
  for item in "$from"/* "$from"/.[!.]*; do
    [ -e "$item" ] || continue
    case "$(basename "$item")" in node_modules | out | *.vsix) continue ;; esac
    rm -rf "${to:?}/$(basename "$item")"
    cp -R "$item" "$to/"
  done
}
