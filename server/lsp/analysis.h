// One document through the engine: Python text (with its kept tree, or parsed here), notebooks
// as JSON (code cells mapped back to the JSON text), DeepSpeed JSON configs. Offsets in the
// result are offsets into the document's own text. `file` (path and project) lets the rules see
// what the project modules a document imports do, as `oomlint check` does.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "engine/engine.h"
#include "lsp/document_store.h"

namespace oomlint::lsp {

struct Analysis {
  std::vector<checks::Diagnostic> diagnostics;
  bool cancelled = false;
  std::string error; // e.g. a notebook that is not valid JSON
};

Analysis analyze(const Snapshot& snapshot, const checks::Engine& engine,
                 const std::atomic<bool>* cancel, const checks::FileContext* file = nullptr);
// For files that are not open (workspace diagnostics).
Analysis analyze_text(std::string_view uri, std::string_view text, const checks::Engine& engine,
                      const std::atomic<bool>* cancel, const checks::FileContext* file = nullptr);

} // namespace oomlint::lsp
