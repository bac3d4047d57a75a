// Applying fixes: every fix the engine offers, round after round, until nothing changes, dropping
// any fix that would break the syntax.
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"
#include "engine/engine.h"
#include "ts.h"

namespace oomlint::checks {

struct FixOutcome {
  std::string text;                  // the fixed text
  size_t applied = 0;                // fixes applied, over all rounds
  size_t rejected = 0;               // fixes dropped because they would break the syntax
  std::vector<Diagnostic> remaining; // diagnostics in the fixed text
};

// Applies fixes until nothing changes (at most 10 rounds). Unsafe fixes only when `unsafe`.
// A fix that would add a syntax error is dropped. Overlapping fixes wait for the next round.
FixOutcome apply_fixes(const Engine& engine, std::string text, bool unsafe,
                       const FileContext* file = nullptr);

// Number of ERROR and MISSING nodes in a tree.
size_t count_syntax_errors(const ts::Tree& tree);

} // namespace oomlint::checks
