// Building blocks of textDocument/codeAction: the `# noqa` edit, workspace edits, and the
// actions for one request (quick fixes from the diagnostics' `data`, "ignore on this line",
// source.fixAll.oomlint).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "diagnostic.h"
#include "engine/engine.h"
#include "lsp/protocol.h"

namespace oomlint::lsp {

constexpr std::string_view kFixAllKind = "source.fixAll.oomlint";

// The edit that makes line `line` (0-based) of `text` suppress `code`: appended to an existing
// `# noqa: A, B` list, or a new `  # noqa: CODE` at the end of the line. nullopt when the line
// already suppresses it.
std::optional<checks::Edit> noqa_edit(std::string_view text, uint32_t line, std::string_view code);

json workspace_edit(const std::string& uri, std::optional<int64_t> version, json text_edits,
                    bool document_changes);

struct CodeActionInput {
  std::string uri;
  std::optional<int64_t> version;
  const std::string* text = nullptr; // the open document's text, if open
  bool python = true;                // noqa and fixAll only for Python text
  json diagnostics = json::array();  // context.diagnostics
  std::vector<std::string> only;     // context.only
  PositionEncoding encoding = PositionEncoding::Utf16;
  bool document_changes = false;
  // The text after every safe fix, when the caller computes it (a notebook cell: the fixes of
  // the whole notebook, this cell's part); unset: the engine's fixes of `text` alone. nullopt
  // from it: no fix-all action.
  std::function<std::optional<std::string>()> fixed_text;
};

json code_actions(const CodeActionInput& in, const checks::Engine& engine);

} // namespace oomlint::lsp
