// Edits that several rules' fixes are built from. Each returns nothing when it cannot make an
// edit that certainly leaves valid Python (the rule then reports without a fix).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "ts.h"

namespace oomlint::checks {

// Deletes a simple statement that stands alone on its line(s), with its line. If it is the only
// statement of its block, replaces it with `pass` instead.
std::optional<std::vector<Edit>> delete_statement(std::string_view source, ts::Node stmt);

// Adds `name=value` as the last argument of `call`, following the call's layout (same line, or a
// new line with the last argument's indentation for calls laid out one argument per line).
std::optional<std::vector<Edit>> add_keyword_argument(std::string_view source, ts::Node call,
                                                      std::string_view name,
                                                      std::string_view value);

// Deletes one argument (positional or keyword) of an argument list, with its separating comma.
std::optional<std::vector<Edit>> remove_argument(ts::Node argument);

// Replaces a node's text.
inline Edit replace(ts::Node n, std::string text) {
  return Edit{n.start(), n.end(), std::move(text)};
}

// Leading whitespace of the line that contains byte `offset`.
std::string_view indentation_at(std::string_view source, uint32_t offset);
// Byte offset of the start of the line containing `offset`.
uint32_t line_start_at(std::string_view source, uint32_t offset);

} // namespace oomlint::checks
