// `oomlint rule CODE|SLUG` prints a rule's documentation; `oomlint rule --all` lists the rules.
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

int run_rule(const std::vector<std::string>& args);

} // namespace oomlint::cli
