// Output formats of `oomlint check`: text (with source line and underline), concise, json,
// sarif (2.1.0, for GitHub code scanning), github (workflow commands), gitlab (Code Quality
// report), and --statistics.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/findings.h"

namespace oomlint::cli {

enum class OutputFormat { Text, Concise, Json, Sarif, Github, Gitlab };

std::optional<OutputFormat> parse_output_format(std::string_view name);

struct RenderOptions {
  OutputFormat format = OutputFormat::Text;
  bool color = false;
  bool unsafe_fixes = false;        // unsafe fixes count as available
  std::filesystem::path sarif_root; // SARIF and GitLab paths are relative to it (git top or cwd)
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

// The SARIF partialFingerprints value ("oomlintLineHash/v1") of a finding: a hash of its code, its
// file's path and its line's text without surrounding blanks, then ":" and the 0-based
// `occurrence` + 1 among findings with the same hash. It survives lines moving up or down; the
// baseline (--baseline) keys on it too.
std::string line_fingerprint(std::string_view code, std::string_view path,
                             std::string_view line_text, int occurrence);
// The finding's path relative to `root` (generic form), or absolute when outside it.
std::string finding_path(const Finding& f, const std::filesystem::path& root);

// Is the finding's fix applicable with these flags?
bool is_fixable(const Finding& f, bool unsafe_fixes);

} // namespace oomlint::cli
