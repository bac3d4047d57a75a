#include "registry.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace oomlint::checks {

namespace generated {
std::vector<const Rule*> rules();
std::vector<std::pair<std::string_view, std::string_view>> docs();
const char* docs_url();
} // namespace generated

namespace {
const std::vector<const Rule*>& sorted_rules() {
  static const std::vector<const Rule*> rules = [] {
    auto r = generated::rules();
    std::sort(r.begin(), r.end(),
              [](const Rule* a, const Rule* b) { return a->meta().code < b->meta().code; });
    return r;
  }();
  return rules;
}
} // namespace

std::span<const Rule* const> all_rules() {
  return sorted_rules();
}

const Rule* find_rule(std::string_view key) {
  for (const Rule* r : sorted_rules()) {
    if (r->meta().code == key || r->meta().slug == key) return r;
  }
  return nullptr;
}

std::string_view rule_doc(std::string_view code) {
  static const auto docs = generated::docs();
  for (const auto& [c, text] : docs) {
    if (c == code) return text;
  }
  return {};
}

std::string rule_url(std::string_view code) {
  return std::string(generated::docs_url()) + std::string(code) + ".md";
}

std::string rules_markdown_table() {
  std::string out = "| Code | Name | Guide | Severity | Fix | What it finds |\n";
  out += "|---|---|---|---|---|---|\n";
  for (const Rule* r : sorted_rules()) {
    const RuleMeta& m = r->meta();
    std::string_view fix = m.fix == FixAvailability::Always      ? "yes"
                           : m.fix == FixAvailability::Sometimes ? "sometimes"
                                                                 : "no";
    out += "| [" + std::string(m.code) + "](docs/rules/" + std::string(m.code) + ".md) | `" +
           std::string(m.slug) + "` | " + std::string(m.section) + " | " +
           std::string(to_string(m.severity)) + " | " + std::string(fix) + " | " +
           std::string(m.summary) + " |\n";
  }
  return out;
}

} // namespace oomlint::checks
