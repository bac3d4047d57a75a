#include "lsp/convert.h"

#include <algorithm>

#include "doc_links.h"
#include "registry.h"

namespace oomlint::lsp {

uint32_t to_offset(const checks::LineIndex& lines, Position p, PositionEncoding enc) {
  if (p.line >= lines.line_count()) return static_cast<uint32_t>(lines.text().size());
  return enc == PositionEncoding::Utf8 ? lines.offset_from_utf8(p.line, p.character)
                                       : lines.offset_from_utf16(p.line, p.character);
}

Position to_position(const checks::LineIndex& lines, uint32_t offset, PositionEncoding enc) {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(lines.text().size()));
  uint32_t line = lines.line_of(offset);
  // An offset inside a "\r\n" pair belongs to the end of its line.
  offset = std::min(offset, lines.line_end(line));
  uint32_t character =
      enc == PositionEncoding::Utf8 ? offset - lines.line_start(line) : lines.utf16_column(offset);
  return Position{line, character};
}

Range to_range(const checks::LineIndex& lines, uint32_t start, uint32_t end, PositionEncoding enc) {
  if (end < start) end = start;
  return Range{to_position(lines, start, enc), to_position(lines, end, enc)};
}

json to_text_edits(const checks::LineIndex& lines, const std::vector<checks::Edit>& edits,
                   PositionEncoding enc) {
  json out = json::array();
  for (const auto& e : edits) {
    out.push_back({{"range", to_json(to_range(lines, e.start, e.end, enc))}, {"newText", e.text}});
  }
  return out;
}

int to_lsp_severity(checks::Severity s) {
  switch (s) {
  case checks::Severity::Error:
    return 1;
  case checks::Severity::Warning:
    return 2;
  case checks::Severity::Info:
    return 3;
  }
  return 2;
}

json to_lsp_diagnostic(const checks::Diagnostic& d, const checks::LineIndex& lines,
                       PositionEncoding enc, std::string_view docs_base) {
  std::string message = d.message;
  if (!d.section.empty() && message.find(d.section) == std::string::npos) {
    message += " (" + d.section + ")";
  }
  json out = {
      {"range", to_json(to_range(lines, d.start, d.end, enc))},
      {"severity", to_lsp_severity(d.severity)},
      {"code", d.code},
      {"source", "oomlint"},
      {"message", message},
  };
  // Only a code with a page gets a link (OOM001 `unused-noqa` has none: no dead link).
  if (!checks::rule_doc(d.code).empty()) {
    out["codeDescription"] = {
        {"href",
         checks::rule_url(d.code, docs_base.empty() ? std::string_view(checks::default_docs_base())
                                                    : docs_base)}};
  }
  json data = {{"slug", d.slug}, {"section", d.section}};
  if (d.fix && !d.fix->edits.empty()) {
    data["fix"] = {{"title", d.fix->title},
                   {"applicability", std::string(checks::to_string(d.fix->applicability))},
                   {"edits", to_text_edits(lines, d.fix->edits, enc)}};
  }
  out["data"] = std::move(data);
  return out;
}

json to_lsp_diagnostics(const std::vector<checks::Diagnostic>& diags, std::string_view text,
                        PositionEncoding enc, std::string_view docs_base) {
  checks::LineIndex lines(text);
  json out = json::array();
  for (const auto& d : diags)
    out.push_back(to_lsp_diagnostic(d, lines, enc, docs_base));
  return out;
}

std::vector<checks::Edit> minimal_line_edit(std::string_view before, std::string_view after) {
  if (before == after) return {};
  size_t limit = std::min(before.size(), after.size());
  size_t prefix = 0;
  while (prefix < limit && before[prefix] == after[prefix])
    ++prefix;
  // Start at the beginning of a line (after a '\n'): always a character boundary.
  while (prefix > 0 && before[prefix - 1] != '\n')
    --prefix;
  size_t suffix = 0;
  while (suffix < limit - prefix &&
         before[before.size() - 1 - suffix] == after[after.size() - 1 - suffix]) {
    ++suffix;
  }
  // End at the beginning of a line too (or at the end of the text).
  while (suffix > 0 && suffix < before.size() && before[before.size() - suffix - 1] != '\n') {
    --suffix;
  }
  checks::Edit e;
  e.start = static_cast<uint32_t>(prefix);
  e.end = static_cast<uint32_t>(before.size() - suffix);
  e.text = std::string(after.substr(prefix, after.size() - suffix - prefix));
  return {e};
}

} // namespace oomlint::lsp
