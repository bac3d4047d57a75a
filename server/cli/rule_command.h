// `oomlint rule CODE|SLUG` prints a rule's documentation; `oomlint rule --all` lists the rules.
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

int run_rule(const std::vector<std::string>& args);

// The base of the links `oomlint rule` and `oomlint guide` print: --docs-url (`flag`) if given,
// else the `docs-url` of the current directory's config file, else the default
// (checks/doc_links.h).
std::string docs_base_for_command(const std::string& flag);

} // namespace oomlint::cli
