// All rules, sorted by code; their documentation pages.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rule.h"

namespace oomlint::checks {

// Every rule in the build, sorted by code.
std::span<const Rule* const> all_rules();
// By code ("OOM203") or slug ("empty-cache-in-loop"); nullptr if unknown.
const Rule* find_rule(std::string_view code_or_slug);
// The rule's documentation page (Markdown, from docs/rules/CODE.md); empty if missing.
std::string_view rule_doc(std::string_view code);
// Link to the rule's page under the default documentation base (doc_links.h): the installed
// docs, else the source tree's docs/, else the hosted copy.
std::string rule_url(std::string_view code);

// The memory guide's pages (docs/guide/Mnn.md), embedded like the rule pages.
// Its sections in order: M1, M2, ... M20.
std::vector<std::string_view> guide_sections();
// A section's page ("M7"); empty if there is none.
std::string_view guide_doc(std::string_view section);
// The guide's table of contents (docs/guide/README.md).
std::string_view guide_index();
// "M7", "m7", "7", "M07" -> "M7" when the guide has that section; "" otherwise.
std::string normalize_section(std::string_view key);
// The sections a rule's kMeta.section names: "M9/M10" -> {"M9", "M10"}.
std::vector<std::string> split_sections(std::string_view section);
// The README's rule table (Markdown), generated from the registry.
std::string rules_markdown_table();

} // namespace oomlint::checks
