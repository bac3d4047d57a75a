// Where the links oomlint prints point: the codeDescription of a diagnostic, the hover, SARIF's
// helpUri, `oomlint rule` and `oomlint guide`. All of them lead into one documentation tree with
// rules/CODE.md and guide/Mnn.md below its base, so that they work offline by default:
//   1. the `docs-url` setting (--docs-url, `docs-url` in a config file, `docsUrl` in the editor's
//      settings): a URL of a hosted copy, or a local directory;
//   2. else the installed docs, <prefix>/share/doc/oomlint/ next to <prefix>/bin/oomlint, or
//      those of the Python wheel, <prefix>/lib/python*/site-packages/oomlint/docs/;
//   3. else the source tree's docs/ that the binary was built from;
//   4. else the hosted copy the build names (CMake's OOMLINT_HOSTED_DOCS_URL).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace oomlint::checks {

// A base URL always ends in '/'.
struct DocsLocations {
  std::filesystem::path executable;  // the running binary; empty: unknown
  std::filesystem::path source_docs; // the source tree's docs/; empty: none
  std::string hosted;                // the last resort
};

// The base from steps 2 to 4 for these locations (a file:// URL for a local tree).
std::string docs_base_for(const DocsLocations& where);
// The base from steps 2 to 4 for this binary; computed once.
const std::string& default_docs_base();
// Step 1: the base a `docs-url` setting names. A value with "://" is a URL ("/" is appended if
// missing); anything else is a directory, made absolute against `relative_to` and turned into a
// file:// URL. nullopt for an empty or blank value.
std::optional<std::string> docs_base_from_setting(std::string_view value,
                                                  const std::filesystem::path& relative_to);
// The base for a setting that may be absent or empty: the setting's, else the default.
std::string docs_base(const std::optional<std::string>& setting,
                      const std::filesystem::path& relative_to = {});

// The file:// URL of an absolute local path (percent-encoded).
std::string file_url(const std::filesystem::path& absolute);
// A path with every byte but letters, digits and `/-_.~` percent-encoded (RFC 3986), for a URI.
std::string percent_encode_path(std::string_view path);

std::string rule_url(std::string_view code, std::string_view base);
std::string guide_url(std::string_view section, std::string_view base);
// The guide's table of contents.
std::string guide_index_url(std::string_view base);

// The page's Markdown with each relative link ([M7](../guide/M7.md)) made absolute under `base`.
// `page_dir` is the page's folder in the tree: "rules/" or "guide/". Links with a scheme, to an
// anchor or to an absolute path are left as they are.
std::string absolute_doc_links(std::string_view markdown, std::string_view page_dir,
                               std::string_view base);

} // namespace oomlint::checks
