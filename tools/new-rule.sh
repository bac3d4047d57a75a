#!/usr/bin/env bash
# Writes the three files of a new rule, as skeletons to fill in, and prints the next steps:
#   checks/rules/<slug with _>.cpp   the rule (it compiles, and reports nothing until you write it)
#   docs/rules/CODE.md               its page, with the header line and headings the tests want
#   tests/fixtures/CODE.py           its fixture, with the positives and the negatives marker
# Usage: tools/new-rule.sh CODE SLUG SECTION      e.g. tools/new-rule.sh OOM205 zero-grad-keeps-grads M20
# CODE is OOM, the section's number in two digits, and one more digit (M5: OOM05x, M20: OOM20x);
# SLUG names the mistake in kebab case; SECTION is the guide section, M1 to M20.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '6,8p' "$0" >&2
  exit 2
}
fail() {
  echo "new-rule: $*" >&2
  exit 2
}
[ $# = 3 ] || usage
code=$1 slug=$2 section=$3

[[ $section =~ ^M0*([0-9]{1,2})$ ]] || fail "SECTION must be M1 to M20, not $section"
number=$((10#${BASH_REMATCH[1]}))
[ "$number" -ge 1 ] && [ "$number" -le 20 ] || fail "SECTION must be M1 to M20, not $section"
section=M$number
[[ $code =~ ^OOM[0-9]{3}$ ]] || fail "CODE must be OOM and three digits (OOM205), not $code"
digits=$(printf '%02d' "$number")
[ "${code:3:2}" = "$digits" ] ||
  fail "CODE's first two digits must be the section's number: $section wants OOM${digits}x, not $code"
[[ $slug =~ ^[a-z0-9]+(-[a-z0-9]+)+$ ]] ||
  fail "SLUG must be kebab case, two words or more (empty-cache-in-loop), not $slug"

file_name=${slug//-/_}
rule=checks/rules/$file_name.cpp
doc=docs/rules/$code.md
fixture=tests/fixtures/$code.py
# The class: the slug in PascalCase (a leading digit gets a `Rule` prefix).
class=""
IFS=- read -r -a words <<<"$slug"
for w in "${words[@]}"; do class+=${w^}; done
[[ $class =~ ^[A-Za-z] ]] || class=Rule$class

if grep -l -E "\.code = \"$code\"" checks/rules/*.cpp >/dev/null 2>&1; then
  fail "$code is taken by $(grep -l -E "\.code = \"$code\"" checks/rules/*.cpp): pick the next free digit"
fi
if grep -l -E "\.slug = \"$slug\"" checks/rules/*.cpp >/dev/null 2>&1; then
  fail "the slug $slug is taken by $(grep -l -E "\.slug = \"$slug\"" checks/rules/*.cpp)"
fi
for f in "$rule" "$doc" "$fixture" tests/fixtures/"$code"_*.py; do
  [ -e "$f" ] && fail "$f exists already: this code or slug is in use"
done

cat >"$rule" <<EOF
// $code $slug ($section): TODO the mistake this rule finds, in one line.
#include "kit.h"

namespace oomlint::checks {
namespace {

class $class final : public RuleBase<$class> {
public:
  static constexpr RuleMeta kMeta{
      .code = "$code",
      .slug = "$slug",
      .section = "$section",
      .severity = Severity::Warning,
      .fix = FixAvailability::None, // Always or Sometimes once check() adds a fix
      .summary = "TODO what it finds, in one line (the README table and \`oomlint rule --all\`)",
  };
  static constexpr NodeKind kKinds[] = {"call"}; // the node kinds check() is called for
  // What a file must contain for the rule to report in it: docs/contributing/prefilter.md.
  static Prefilter needs() { return requires_all(code_identifier("TODO_name")); }

  void check(Node call, Context& cx) const override {
    // TODO Return unless \`call\` is the mistake: resolve names with cx.sema(), and ask facts::
    // about loops, optimizers, models and grad mode rather than reading names yourself.
    if (!cx.sema().is_call_to(call, {"torch.TODO_name"})) return;
    cx.report(call, "TODO what is wrong, what it costs, and what to write instead ($section)");
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE($class)
EOF

cat >"$doc" <<EOF
# $code \`$slug\`

**Memory bucket:** TODO what it fills · **Guide section:** [$section](../guide/$section.md) · **Severity:** warning · **Fix:** none

## What it finds

TODO The pattern, the spellings the rule recognises (imports, aliases), and what it leaves alone.

## Why it matters

TODO Where the memory goes, and how much (guide section $section), in your own words.

## Example

\`\`\`python
import torch

torch.TODO_name()  # TODO code that makes $code report
\`\`\`

## Fixed

\`\`\`python
import torch
\`\`\`

## Fix safety

TODO No fix: say what to change by hand. (With a fix: safe or unsafe, and why.)
EOF

cat >"$fixture" <<EOF
# TODO Positive cases: each line where a $code diagnostic starts ends with an \`expect: $code\`
# comment (6 or more). Negative cases after the marker: 6 or more top-level statements or functions that
# must stay clean (already fixed code, aliases, look-alikes from other libraries). A first line
# \`# oomlint-test: target_gpu=volta\` would set options.
import torch


def positive():
    torch.TODO_name()  # expect: $code


# ---- negatives ----


def negative():
    torch.something_else()
EOF

cat <<EOF
new-rule: wrote
  $rule
  $doc
  $fixture
Next (CONTRIBUTING.md says more):
  1. $rule: kMeta (summary, severity, fix), kKinds, needs() and check(); replace every TODO.
  2. $fixture: 6 or more positives (\`# expect: $code\`) and 6 or more negatives after the marker.
  3. $doc: the header line (memory bucket, severity and Fix wording as kMeta says), each
     section, an Example that makes $code report and its Fixed form that does not.
     Then list the rule under \`## Rules\` of docs/guide/$section.md.
  4. Build and generate (the build finds the new file by itself):
       cmake --build build-test
       tools/update-rule-table.sh build-test     the README's rule table
       tools/update-fixed.sh $code               if the rule has a fix: $code*.fixed.py
       tools/update-snapshots.sh $code           tests/fixtures/snapshots/$code*.snap (review them)
       tools/format.sh
  5. Test: ctest --test-dir build-test -E '^integration/' -j2
  6. Score it on real code: bench/realcode/README.md
EOF
