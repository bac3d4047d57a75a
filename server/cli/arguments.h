#pragma once
// The command-line parsing every subcommand shares (CLI11).
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace oomlint::cli {

// Parses a subcommand's arguments, given in the order they were typed. nullopt: go on; else the
// exit code, once CLI11 has printed the help (0) or the usage error (2).
inline std::optional<int> parse_arguments(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend()); // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// `--docs-url`, as `oomlint rule` and `oomlint guide` take it.
inline void add_docs_url_option(CLI::App& app, std::string& docs_url) {
  app.add_option("--docs-url", docs_url,
                 "Where the page's links point: a hosted copy of the docs (URL) or a directory");
}

} // namespace oomlint::cli
