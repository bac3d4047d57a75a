// Inline suppression comments:
//   x = f()  # noqa                 every code on this line
//   x = f()  # noqa: OOM201, OOM203  the listed codes
//   x = f()  # oomlint: ignore[OOM201]
//   # oomlint: noqa                  (a comment on its own line) the whole file
//   # oomlint: noqa: OOM201          the whole file, listed codes
// A diagnostic is suppressed by a comment on its first or its last line.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "diagnostic.h"
#include "line_index.h"
#include "ts.h"

namespace oomlint::checks {

struct SuppressionComment {
  bool all = false;
  std::vector<std::string> codes;
  bool file_level = false;
};

// Parses one comment's text ("# ..."); nullopt-like: returns false when it is no suppression.
bool parse_suppression(std::string_view comment, SuppressionComment& out);

class Suppressions {
public:
  Suppressions(std::string_view text, const LineIndex& lines,
               const std::vector<ts::Node>& comments);
  bool suppressed(const Diagnostic& d) const;

private:
  bool line_suppresses(uint32_t line, std::string_view code) const;
  const LineIndex& lines_;
  std::unordered_map<uint32_t, SuppressionComment> by_line_;
  SuppressionComment file_;
};

} // namespace oomlint::checks
