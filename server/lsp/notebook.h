// Jupyter notebooks in the server. Opened as JSON text: the code cells' sources joined into one
// Python text, with a map from every byte of that text back to the byte of the JSON text it came
// from, so diagnostics (and fixes that stay inside one cell) land on the JSON document's lines.
// Synchronised as notebook documents: diagnostics of the joined cells placed in each cell.
// Both join the cells as `oomlint check` does (cli::CellJoin).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/notebook.h"
#include "diagnostic.h"

namespace oomlint::lsp {

constexpr uint32_t kBoundaryCell = UINT32_MAX;

struct NotebookSource {
  cli::CellJoin join;            // join.source(): the Python text
  std::vector<uint32_t> to_json; // source().size() + 1 entries
  std::vector<uint32_t> cell;    // the same: code cell index of each byte (kBoundaryCell between)
};

// nullopt (with `error`) when the text is not a notebook we can read.
std::optional<NotebookSource> extract_notebook(std::string_view json_text, std::string& error);

// Maps a diagnostic (and its fix, when every edit stays inside one cell) onto the JSON text.
checks::Diagnostic map_to_json(const NotebookSource& nb, checks::Diagnostic d);

// Diagnostics of join.source() given to the cells they are in (index as in the join), with
// offsets into that cell's own text. One on a boundary line is dropped; one ending in another
// cell ends where it starts (as `oomlint check` places it); a fix is kept only when all its edits
// stay inside the diagnostic's cell (and it is not an opaque cell-magic cell).
std::vector<std::vector<checks::Diagnostic>> place_in_cells(const cli::CellJoin& join,
                                                            std::vector<checks::Diagnostic> diags);

// Escapes text for the inside of a JSON string literal.
std::string json_escape(std::string_view s);

} // namespace oomlint::lsp
