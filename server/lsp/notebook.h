// Jupyter notebooks opened as JSON text: the code cells' sources joined into one Python text,
// with a map from every byte of that text back to the byte of the JSON text it came from, so
// diagnostics (and fixes that stay inside one cell) land on the JSON document's lines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"

namespace oomlint::lsp {

struct NotebookSource {
  std::string python;
  std::vector<uint32_t> to_json; // python.size() + 1 entries
  std::vector<uint32_t> cell;    // python.size() + 1 entries: code cell index of each byte
};

// nullopt (with `error`) when the text is not a notebook we can read.
std::optional<NotebookSource> extract_notebook(std::string_view json_text, std::string& error);

// Maps a diagnostic (and its fix, when every edit stays inside one cell) onto the JSON text.
checks::Diagnostic map_to_json(const NotebookSource& nb, checks::Diagnostic d);

// Escapes text for the inside of a JSON string literal.
std::string json_escape(std::string_view s);

} // namespace oomlint::lsp
