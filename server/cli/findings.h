// What a `check` run produces for the renderers: diagnostics placed in files (and notebook
// cells), with the source line they start on, plus per-file errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diagnostic.h"

namespace oomlint::cli {

struct Location {
  uint32_t row = 1;    // 1-based line (within the cell for notebooks)
  uint32_t column = 1; // 1-based, in code points
};

struct FindingEdit {
  std::string content;
  Location location;
  Location end_location;
};

struct Finding {
  std::string display;  // path as shown: relative to the current directory when below it
  std::string absolute; // absolute path (JSON filename, SARIF URI)
  checks::Diagnostic diagnostic;
  std::optional<uint32_t> cell; // 1-based notebook cell
  Location location;
  Location end_location;
  std::string line_text;          // raw bytes of the line the diagnostic starts on
  std::vector<FindingEdit> edits; // the fix's edits, when it has one
};

// Problems that stop a file (or path) from being checked: unreadable, too large, bad notebook.
struct FileError {
  std::string path;
  std::string message;
};

} // namespace oomlint::cli
