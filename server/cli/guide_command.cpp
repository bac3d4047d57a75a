#include "cli/guide_command.h"
#include "cli/arguments.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/rule_command.h"
#include "doc_links.h"
#include "registry.h"

namespace oomlint::cli {

int run_guide(const std::vector<std::string>& args) {
  CLI::App app{"Print the memory guide's table of contents, or one of its sections.",
               "oomlint guide"};
  std::string key;
  std::string docs_url;
  app.add_option("section", key, "Section: M7, m7 or 7 (M1 to M20); none: the table of contents");
  add_docs_url_option(app, docs_url);
  if (auto code = parse_arguments(app, args)) return *code;
  std::string_view page;
  if (key.empty()) {
    page = checks::guide_index();
  } else {
    std::string section = checks::normalize_section(key);
    if (section.empty()) {
      auto sections = checks::guide_sections();
      std::cerr << "error: unknown guide section `" << key << "`: the guide has "
                << (sections.empty()
                        ? std::string("no sections")
                        : std::string(sections.front()) + " to " + std::string(sections.back()))
                << " (`oomlint guide` lists them)\n";
      return 2;
    }
    page = checks::guide_doc(section);
  }
  std::string text = checks::absolute_doc_links(page, "guide/", docs_base_for_command(docs_url));
  std::cout << text;
  if (!text.ends_with('\n')) std::cout << "\n";
  return 0;
}

} // namespace oomlint::cli
