#include "fix_helpers.h"

namespace oomlint::checks {

uint32_t line_start_at(std::string_view source, uint32_t offset) {
  if (offset > source.size()) offset = static_cast<uint32_t>(source.size());
  if (offset == 0) return 0;
  size_t nl = source.find_last_of("\r\n", offset - 1);
  return nl == std::string_view::npos ? 0 : static_cast<uint32_t>(nl + 1);
}

namespace {

// End of the line that contains `offset` (before its terminator).
uint32_t line_end_at(std::string_view source, uint32_t offset) {
  size_t nl = source.find_first_of("\r\n", offset);
  return nl == std::string_view::npos ? static_cast<uint32_t>(source.size())
                                      : static_cast<uint32_t>(nl);
}

// Offset just past the line terminator at `offset` (which must be a line end).
uint32_t past_newline(std::string_view source, uint32_t offset) {
  if (offset < source.size() && source[offset] == '\r') ++offset;
  if (offset < source.size() && source[offset] == '\n') ++offset;
  return offset;
}

bool only_space(std::string_view s) {
  return s.find_first_not_of(" \t") == std::string_view::npos;
}

} // namespace

std::string_view indentation_at(std::string_view source, uint32_t offset) {
  uint32_t start = line_start_at(source, offset);
  size_t end = source.find_first_not_of(" \t", start);
  if (end == std::string_view::npos) end = source.size();
  return source.substr(start, end - start);
}

std::optional<std::vector<Edit>> delete_statement(std::string_view source, ts::Node stmt) {
  if (stmt.null()) return std::nullopt;
  uint32_t ls = line_start_at(source, stmt.start());
  uint32_t le = line_end_at(source, stmt.end());
  std::string_view before = source.substr(ls, stmt.start() - ls);
  std::string_view after = source.substr(stmt.end(), le - stmt.end());
  if (!only_space(before)) return std::nullopt;
  // Allow a trailing comment on the line; it goes with the statement.
  size_t a = after.find_first_not_of(" \t");
  if (a != std::string_view::npos && after[a] != '#') return std::nullopt;
  ts::Node block = stmt.parent();
  if (block.null()) return std::nullopt;
  uint32_t statements = 0;
  block.for_each_named_child([&](ts::Node s) { // stops at the second statement
    return s.is("comment") || ++statements < 2;
  });
  if (statements <= 1 && !block.is("module")) {
    return std::vector<Edit>{Edit{stmt.start(), le, "pass"}};
  }
  return std::vector<Edit>{Edit{ls, past_newline(source, le), ""}};
}

std::optional<std::vector<Edit>> add_keyword_argument(std::string_view source, ts::Node call,
                                                      std::string_view name,
                                                      std::string_view value) {
  ts::Node args = call.field("arguments");
  if (!args.is("argument_list")) return std::nullopt;
  std::string kw = std::string(name) + "=" + std::string(value);
  ts::Node last;
  ts::Node trailing_comma;
  ts::Node close;
  for (uint32_t i = 0, n = args.child_count(); i < n; ++i) {
    ts::Node c = args.child(i);
    if (c.is(")")) {
      close = c;
    } else if (c.is(",")) {
      trailing_comma = c;
    } else if (c.named() && !c.is("comment")) {
      last = c;
      trailing_comma = ts::Node();
    }
  }
  if (close.null() || close.is_missing()) return std::nullopt;
  if (last.null()) {
    return std::vector<Edit>{Edit{args.start() + 1, args.start() + 1, kw}};
  }
  // `**kwargs` must stay last: insert before it is wrong for order-free keywords? Keywords may
  // follow **kwargs in a call, so appending is valid Python.
  bool multiline = line_start_at(source, close.start()) != line_start_at(source, last.start());
  std::string_view indent = indentation_at(source, last.start());
  bool last_starts_line = only_space(source.substr(
      line_start_at(source, last.start()), last.start() - line_start_at(source, last.start())));
  if (multiline && last_starts_line) {
    ts::Node anchor = trailing_comma.null() ? last : trailing_comma;
    uint32_t eol = line_end_at(source, anchor.end());
    if (eol >= close.start()) eol = close.start(); // `a)` on the same line as the anchor
    std::vector<Edit> edits;
    if (trailing_comma.null()) edits.push_back(Edit{last.end(), last.end(), ","});
    // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) on the operator+ chain.
    std::string text = "\n";
    text.append(indent);
    text += kw;
    if (!trailing_comma.null()) text += ',';
    edits.push_back(Edit{eol, eol, text});
    return edits;
  }
  if (!trailing_comma.null()) {
    return std::vector<Edit>{Edit{trailing_comma.end(), trailing_comma.end(), " " + kw + ","}};
  }
  return std::vector<Edit>{Edit{last.end(), last.end(), ", " + kw}};
}

std::optional<std::vector<Edit>> remove_argument(ts::Node argument) {
  ts::Node args = argument.parent();
  if (!args.is("argument_list")) return std::nullopt;
  // Find the argument among the children, then the commas around it.
  uint32_t n = args.child_count();
  uint32_t idx = n;
  for (uint32_t i = 0; i < n; ++i) {
    if (args.child(i) == argument) idx = i;
  }
  if (idx == n) return std::nullopt;
  ts::Node next = idx + 1 < n ? args.child(idx + 1) : ts::Node();
  ts::Node prev = idx > 0 ? args.child(idx - 1) : ts::Node();
  if (next.is(",")) {
    // `f(a, b)` removing a: delete "a, " up to the next argument.
    ts::Node after = idx + 2 < n ? args.child(idx + 2) : ts::Node();
    uint32_t end = (!after.null() && !after.is(")")) ? after.start() : next.end();
    if (!after.null() && after.is(")")) end = next.end();
    return std::vector<Edit>{Edit{argument.start(), end, ""}};
  }
  if (prev.is(",")) {
    // Last argument: delete ", b".
    ts::Node before = idx >= 2 ? args.child(idx - 2) : ts::Node();
    uint32_t start = before.null() ? prev.start() : before.end();
    return std::vector<Edit>{Edit{start, argument.end(), ""}};
  }
  return std::vector<Edit>{Edit{argument.start(), argument.end(), ""}};
}

} // namespace oomlint::checks
