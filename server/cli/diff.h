// Unified diffs of text (line based), for `check --diff`.
#pragma once

#include <string>
#include <string_view>

namespace oomlint::cli {

// A unified diff from `before` to `after` with `context` lines around changes; empty when equal.
std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view from_name, std::string_view to_name, int context = 3);

} // namespace oomlint::cli
