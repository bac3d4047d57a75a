#include "cli/rule_command.h"
#include "cli/arguments.h"

#include <algorithm>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/config.h"
#include "doc_links.h"
#include "registry.h"
#include "suppression.h"

namespace oomlint::cli {

namespace {

using Json = nlohmann::ordered_json;

std::string_view fix_name(checks::FixAvailability f) {
  switch (f) {
  case checks::FixAvailability::Always:
    return "always";
  case checks::FixAvailability::Sometimes:
    return "sometimes";
  case checks::FixAvailability::None:
    return "none";
  }
  return "none";
}

Json rule_json(const checks::Rule& r, bool with_doc, const std::string& base) {
  const auto& m = r.meta();
  Json guide = Json::array();
  for (const auto& section : checks::split_sections(m.section))
    guide.push_back(Json{{"section", section}, {"url", checks::guide_url(section, base)}});
  Json j{{"code", std::string(m.code)},
         {"slug", std::string(m.slug)},
         {"section", std::string(m.section)},
         {"severity", std::string(checks::to_string(m.severity))},
         {"fix", std::string(fix_name(m.fix))},
         {"summary", std::string(m.summary)},
         {"url", checks::rule_url(m.code, base)},
         {"guide", guide}};
  if (with_doc)
    j["explanation"] = checks::absolute_doc_links(checks::rule_doc(m.code), "rules/", base);
  return j;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

} // namespace

std::string docs_base_for_command(const std::string& flag) {
  if (!flag.empty()) return resolve_docs_base(flag, nullptr);
  // The config of the current directory, as `oomlint check` reads it; a broken one only costs
  // its docs-url here (`oomlint check` reports it).
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (ec) return checks::default_docs_base();
  try {
    ConfigResolver resolver(std::nullopt, false);
    return resolve_docs_base(flag, resolver.for_directory(cwd));
  } catch (const ConfigError& e) {
    std::cerr << "warning: " << e.what() << "\n";
    return checks::default_docs_base();
  }
}

int run_rule(const std::vector<std::string>& args) {
  CLI::App app{"Explain a rule (by code or slug), or list all rules.", "oomlint rule"};
  std::string key;
  bool all = false;
  std::string format = "text";
  app.add_option("rule", key, "Rule code (OOM203) or slug (empty-cache-in-loop)");
  app.add_flag("--all", all, "List every rule");
  app.add_option("--output-format", format, "text (default) or json");
  std::string docs_url;
  add_docs_url_option(app, docs_url);
  if (auto code = parse_arguments(app, args)) return *code;
  if (format != "text" && format != "json") {
    std::cerr << "error: --output-format: expected text or json, got `" << format << "`\n";
    return 2;
  }
  if (all == !key.empty()) {
    std::cerr << "error: give a rule code or slug, or --all\n" << app.help();
    return 2;
  }
  std::string base = docs_base_for_command(docs_url);
  if (all) {
    if (format == "json") {
      Json arr = Json::array();
      for (const checks::Rule* r : checks::all_rules())
        arr.push_back(rule_json(*r, false, base));
      std::cout << arr.dump(2) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows{
        {"CODE", "NAME", "GUIDE", "SEVERITY", "FIX", "SUMMARY"}};
    for (const checks::Rule* r : checks::all_rules()) {
      const auto& m = r->meta();
      rows.push_back({std::string(m.code), std::string(m.slug), std::string(m.section),
                      std::string(checks::to_string(m.severity)), std::string(fix_name(m.fix)),
                      std::string(m.summary)});
    }
    print_table(rows);
    return 0;
  }
  std::string upper = key;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const checks::Rule* rule = checks::find_rule(key);
  if (!rule) rule = checks::find_rule(upper);
  if (!rule && (upper == checks::kUnusedNoqaCode || key == checks::kUnusedNoqaSlug)) {
    // Not a rule of the guide (no page in docs/rules): about suppression comments themselves.
    std::cout << "# " << checks::kUnusedNoqaCode << " `" << checks::kUnusedNoqaSlug
              << "`\n\n"
                 "A code in a `# noqa: ...` or `# oomlint: ignore[...]` comment that suppresses "
                 "nothing on its line: the rule\nno longer fires there (as Ruff's RUF100). Only "
                 "codes of enabled oomlint rules are judged; other\ntools' codes and a bare "
                 "`# noqa` are left alone.\n\n"
                 "Off unless selected by its full code: `--extend-select OOM001`, or "
                 "`extend-select = [\"OOM001\"]`.\n\n"
                 "**Fix:** safe: removes the unused code, or the whole directive when no code "
                 "is left.\n";
    return 0;
  }
  if (!rule) {
    std::cerr << "error: unknown rule `" << key << "` (see `oomlint rule --all`)\n";
    return 2;
  }
  if (format == "json") {
    std::cout << rule_json(*rule, true, base).dump(2) << "\n";
    return 0;
  }
  // The page with its links made absolute, so that the guide section in its header line
  // ([M7](…/guide/M7.md)) and the other pages it names open from the terminal.
  std::string doc = checks::absolute_doc_links(checks::rule_doc(rule->meta().code), "rules/", base);
  if (doc.empty()) {
    const auto& m = rule->meta();
    std::cout << "# " << m.code << " `" << m.slug << "`\n\n" << m.summary << "\n";
  } else {
    std::cout << doc;
    if (!doc.ends_with('\n')) std::cout << "\n";
  }
  return 0;
}

} // namespace oomlint::cli
