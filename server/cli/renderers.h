// Output formats of `oomlint check`: text (with source line and underline), concise, json,
// sarif (2.1.0, for GitHub code scanning), github (workflow commands), and --statistics.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/findings.h"

namespace oomlint::cli {

enum class OutputFormat { Text, Concise, Json, Sarif, Github };

std::optional<OutputFormat> parse_output_format(std::string_view name);

struct RenderOptions {
  OutputFormat format = OutputFormat::Text;
  bool color = false;
  bool unsafe_fixes = false;        // unsafe fixes count as available
  std::filesystem::path sarif_root; // SARIF URIs are relative to it (git top level or cwd)
  // Base of the rule and guide links in json and sarif (checks/doc_links.h); empty: the default.
  std::string docs_base;
};

// Writes the findings (already sorted) in the chosen format.
void render_findings(std::ostream& out, const std::vector<Finding>& findings,
                     const RenderOptions& options);
// Counts per rule instead of the findings.
void render_statistics(std::ostream& out, const std::vector<Finding>& findings,
                       const RenderOptions& options);
// The "Found N problems (...)" / "All checks passed!" line of the text formats.
std::string summary_line(const std::vector<Finding>& findings, bool unsafe_fixes);

// A source line made safe for a terminal: invalid UTF-8 and control bytes become U+FFFD, tabs
// become spaces. `columns` receives, per code point of the input, its display column (0-based),
// plus one entry for the end of the line.
std::string printable_line(std::string_view line, std::vector<size_t>* columns = nullptr);

// Is the finding's fix applicable with these flags?
bool is_fixable(const Finding& f, bool unsafe_fixes);

} // namespace oomlint::cli
