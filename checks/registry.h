// All rules, sorted by code; their documentation pages.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "engine/rule.h"

namespace oomlint::checks {

// Every rule in the build, sorted by code.
std::span<const Rule* const> all_rules();
// By code ("OOM203") or slug ("empty-cache-in-loop"); nullptr if unknown.
const Rule* find_rule(std::string_view code_or_slug);
// The rule's documentation page (Markdown, from docs/rules/CODE.md); empty if missing.
std::string_view rule_doc(std::string_view code);
// Where the rule's page is published (used for links in diagnostics).
std::string rule_url(std::string_view code);
// The README's rule table (Markdown), generated from the registry.
std::string rules_markdown_table();

} // namespace oomlint::checks
