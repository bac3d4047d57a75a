#include "registry.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "doc_links.h"

namespace oomlint::checks {

namespace generated {
std::vector<const Rule*> rules();
std::vector<std::pair<std::string_view, std::string_view>> docs();
std::vector<std::pair<std::string_view, std::string_view>> guide_docs();
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
  return rule_url(code, default_docs_base());
}

namespace {
// The guide's pages by name ("M7", "README"), sections in numeric order.
const std::vector<std::pair<std::string_view, std::string_view>>& guide_pages() {
  static const auto pages = [] {
    auto p = generated::guide_docs();
    auto number = [](std::string_view name) {
      if (name.size() < 2 || name[0] != 'M') return 1000;
      int n = 0;
      for (char c : name.substr(1)) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return 1000;
        n = n * 10 + (c - '0');
      }
      return n;
    };
    std::stable_sort(p.begin(), p.end(), [&](const auto& a, const auto& b) {
      return number(a.first) < number(b.first);
    });
    return p;
  }();
  return pages;
}
} // namespace

std::vector<std::string_view> guide_sections() {
  std::vector<std::string_view> out;
  for (const auto& [name, text] : guide_pages()) {
    if (name != "README") out.push_back(name);
  }
  return out;
}

std::string_view guide_doc(std::string_view section) {
  if (section == "README") return {};
  for (const auto& [name, text] : guide_pages()) {
    if (name == section) return text;
  }
  return {};
}

std::string_view guide_index() {
  for (const auto& [name, text] : guide_pages()) {
    if (name == "README") return text;
  }
  return {};
}

std::string normalize_section(std::string_view key) {
  if (!key.empty() && (key[0] == 'M' || key[0] == 'm')) key.remove_prefix(1);
  if (key.empty() || key.size() > 3) return {};
  int n = 0;
  for (char c : key) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return {};
    n = n * 10 + (c - '0');
  }
  std::string section = "M" + std::to_string(n);
  return guide_doc(section).empty() ? std::string() : section;
}

std::vector<std::string> split_sections(std::string_view section) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= section.size()) {
    size_t slash = section.find('/', pos);
    if (slash == std::string_view::npos) slash = section.size();
    if (slash > pos) out.emplace_back(section.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

namespace {
// "M9/M10" -> "[M9](docs/guide/M9.md)/[M10](docs/guide/M10.md)", for the README.
std::string section_links(std::string_view section) {
  std::string out;
  for (const auto& s : split_sections(section)) {
    if (!out.empty()) out += "/";
    out += "[" + s + "](docs/guide/" + s + ".md)";
  }
  return out;
}
} // namespace

std::string rules_markdown_table() {
  std::string out = "| Code | Name | Guide | Severity | Fix | What it finds |\n";
  out += "|---|---|---|---|---|---|\n";
  for (const Rule* r : sorted_rules()) {
    const RuleMeta& m = r->meta();
    std::string_view fix = m.fix == FixAvailability::Always      ? "yes"
                           : m.fix == FixAvailability::Sometimes ? "sometimes"
                                                                 : "no";
    out += "| [" + std::string(m.code) + "](docs/rules/" + std::string(m.code) + ".md) | `" +
           std::string(m.slug) + "` | " + section_links(m.section) + " | " +
           std::string(to_string(m.severity)) + " | " + std::string(fix) + " | " +
           std::string(m.summary) + " |\n";
  }
  return out;
}

} // namespace oomlint::checks
