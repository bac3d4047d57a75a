#!/usr/bin/env bash
# Installs what building and testing oomlint needs on a Debian (bookworm) machine, as root.
# Idempotent and quiet: packages already present are skipped.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git ca-certificates
  nlohmann-json3-dev libasio-dev catch2 libtomlplusplus-dev libcli11-dev libgit2-dev
  # the wheel (pyproject.toml): Debian's Python packaging, offline, and the static libraries that
  # the wheel's binary links libgit2 with (the rest come with libgit2-dev)
  python3-build python3-setuptools python3-wheel python3-venv
  python3-pip-whl python3-setuptools-whl python3-wheel-whl libssl-dev
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ "${OOMLINT_WITH_FUZZ:-0}" = 1 ]; then packages+=(clang-14 libclang-rt-14-dev); fi
if [ "${OOMLINT_WITH_FORMAT:-0}" = 1 ]; then packages+=(clang-format); fi
# The real-VS-Code test (tests/integration/vscode_e2e.sh): Chromium to run the page, ripgrep in
# place of the binary code-server's @vscode/ripgrep downloads from GitHub, and what code-server's
# native modules build with (kerberos wants the GSSAPI headers).
if [ "${OOMLINT_WITH_VSCODE_E2E:-0}" = 1 ]; then packages+=(chromium ripgrep libkrb5-dev make python3); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "oomlint: missing packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "oomlint: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
