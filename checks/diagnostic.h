// The data a check produces: diagnostics with positions and fixes. Fixes are data (byte-range
// edits), so every front end can apply or transmit them without calling back into the rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::checks {

enum class Severity { Error, Warning, Info };
enum class Applicability { Safe, Unsafe };
enum class FixAvailability { None, Sometimes, Always };

std::string_view to_string(Severity s);
std::string_view to_string(Applicability a);

// Replace bytes [start, end) of the checked text with `text`.
struct Edit {
  uint32_t start = 0;
  uint32_t end = 0;
  std::string text;
  bool operator==(const Edit&) const = default;
};

struct Fix {
  std::string title;
  Applicability applicability = Applicability::Safe;
  std::vector<Edit> edits; // non-overlapping, any order
};

// 1-based line, 1-based column counted in Unicode code points (as Ruff and most terminals do).
struct Position {
  uint32_t line = 1;
  uint32_t column = 1;
};

struct Diagnostic {
  std::string code;    // "OOM203"
  std::string slug;    // "empty-cache-in-loop"
  std::string section; // "M20"
  Severity severity = Severity::Warning;
  std::string message;
  uint32_t start = 0; // byte offsets into the checked text
  uint32_t end = 0;
  Position start_pos;
  Position end_pos;
  std::optional<Fix> fix;
};

} // namespace oomlint::checks
