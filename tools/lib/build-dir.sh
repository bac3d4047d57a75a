# Sourced by tools/update-*.sh (from the top of the repository): which build directory to use,
# and the contributor tools' binary in it.

# pick_build_dir EXPLICIT CANDIDATE...: sets $build to EXPLICIT when it is not empty, else to the
# first CANDIDATE that is a configured build directory. Exits with what to do when there is none.
pick_build_dir() {
  local explicit=$1
  shift
  if [ -n "$explicit" ]; then
    if [ ! -f "$explicit/CMakeCache.txt" ]; then
      echo "$(basename "$0"): $explicit is not a configured build directory" \
        "(make one with: cmake -S . -B $explicit -G Ninja)" >&2
      exit 2
    fi
    build=$explicit
    return
  fi
  local d
  for d in "$@"; do
    if [ -f "$d/CMakeCache.txt" ]; then
      build=$d
      return
    fi
  done
  echo "$(basename "$0"): none of $* is a build directory: run tools/setup.sh (it makes build)" \
    "or tools/test.sh (build-test), or name one with --build DIR" >&2
  exit 2
}

# build_dev_tool: builds oomlint_dev in $build and sets $dev_tool to it. Shows the compiler's
# output only when the build fails.
build_dev_tool() {
  local log
  if ! log=$(cmake --build "$build" --target oomlint_dev 2>&1); then
    printf '%s\n' "$log" >&2
    echo "$(basename "$0"): building oomlint_dev in $build failed (above)" >&2
    exit 2
  fi
  dev_tool=$build/tools/oomlint_dev
}
