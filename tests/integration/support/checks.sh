# Checks that count instead of stopping: each prints "ok   NAME" or "FAIL NAME" and a failure
# sets `fail`, so one run reports every broken check; a script ends with `exit $fail`. Commands
# run in the current folder and leave their output in out.txt and err.txt.
fail=0
ok() { echo "ok   $1"; }
bad() {
  echo "FAIL $1"
  fail=1
}
# expect_rc NAME WANT CMD...: CMD exits with WANT.
expect_rc() {
  local name="$1" want="$2"
  shift 2
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else
    bad "$name: exit $rc, want $want"
    cat out.txt err.txt | head -20
  fi
}
# has NAME TEXT FILE / hasnt NAME TEXT FILE: FILE holds (or does not hold) TEXT, as a fixed string.
has() { if grep -qF -- "$2" "$3"; then ok "$1"; else
  bad "$1: '$2' not in $3"
  head -30 "$3"
fi; }
hasnt() { if grep -qF -- "$2" "$3"; then bad "$1: '$2' in $3"; else ok "$1"; fi; }
