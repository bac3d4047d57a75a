// Inline suppression comments:
//   x = f()  # noqa                 every code on this line
//   x = f()  # noqa: OOM201, OOM203  the listed codes
//   x = f()  # oomlint: ignore[OOM201]
//   # oomlint: noqa                  (a comment on its own line) the whole file
//   # oomlint: noqa: OOM201          the whole file, listed codes
// A diagnostic is suppressed by a comment on its first or its last line.
//
// OOM001 `unused-noqa` (not a rule of the guide: about the comments themselves, as Ruff's RUF100)
// reports a code listed in a line's suppression comment that suppressed nothing on that line, for
// rules that are enabled; its safe fix removes the code, or the whole directive when it was the
// last one. Opt-in: it runs only when selected by its full code (`--extend-select OOM001`).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "diagnostic.h"
#include "line_index.h"
#include "settings.h"
#include "ts.h"

namespace oomlint::checks {

struct SuppressionComment {
  bool all = false;
  std::vector<std::string> codes;
  bool file_level = false;
  // Where the directive's code list lies in the comment text ("OOM201, OOM203" of
  // "# noqa: OOM201, OOM203"), and where the directive starts ('#' or "oomlint:"); set for line
  // directives with codes.
  size_t directive_start = 0;
  size_t codes_start = 0;
  size_t codes_end = 0;
};

inline constexpr std::string_view kUnusedNoqaCode = "OOM001";
inline constexpr std::string_view kUnusedNoqaSlug = "unused-noqa";
// Is OOM001 on: selected by its full code and not ignored?
bool reports_unused_noqa(const Settings& settings);

// Parses one comment's text ("# ..."); nullopt-like: returns false when it is no suppression.
bool parse_suppression(std::string_view comment, SuppressionComment& out);

class Suppressions {
public:
  Suppressions(std::string_view text, const LineIndex& lines,
               const std::vector<ts::Node>& comments);
  // Marks the line codes it used (for unused()).
  bool suppressed(const Diagnostic& d);
  // OOM001 diagnostics: listed codes of enabled rules that suppressed nothing. Call after every
  // diagnostic went through suppressed().
  std::vector<Diagnostic> unused(std::string_view text, const Settings& settings) const;

private:
  bool line_suppresses(uint32_t line, std::string_view code);
  struct LineDirective {
    uint32_t start = 0; // the comment's bytes in the text
    uint32_t end = 0;
    SuppressionComment s;
    std::vector<char> used; // per code
  };
  const LineIndex& lines_;
  std::vector<LineDirective> directives_;
  std::unordered_map<uint32_t, std::vector<size_t>> by_line_; // line -> directives_
  SuppressionComment file_;
};

} // namespace oomlint::checks
