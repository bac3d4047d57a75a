// Configuration: `[tool.oomlint]` in pyproject.toml or the top level of oomlint.toml, found
// upwards from each file (the closest wins; oomlint.toml wins over pyproject.toml in one
// directory), and the command line's overrides. Produces the checks::Settings of each file.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "settings.h"

namespace oomlint::cli {

// A bad config file; the message names the file, the line and the key.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Config {
  std::filesystem::path file; // absolute
  std::filesystem::path dir;  // where relative patterns are anchored
  std::optional<std::vector<std::string>> select;
  std::vector<std::string> ignore;
  std::vector<std::string> extend_select;
  std::optional<checks::TargetGpu> target_gpu;
  std::vector<std::string> exclude;
  std::vector<std::pair<std::string, std::vector<std::string>>> per_file_ignores;
  std::optional<int> eval_accumulation_steps;
  std::optional<uint64_t> gpu_memory_bytes;
  // `docs-url`: where links to the rule and guide pages point (checks/doc_links.h); a relative
  // directory is relative to `dir`.
  std::optional<std::string> docs_url;
};

// What the command line sets; it wins over config files.
struct CliOverrides {
  std::optional<std::vector<std::string>> select;
  std::vector<std::string> ignore;
  std::vector<std::string> extend_select;
  std::optional<checks::TargetGpu> target_gpu;
  std::vector<std::string> exclude; // anchored at the current directory
};

// True for "ALL" and for any prefix of a known rule code ("OOM", "OOM2", "OOM203").
bool is_known_selector(std::string_view selector);
// Splits a comma list ("OOM2, OOM203") into trimmed, upper-cased selectors.
std::vector<std::string> split_selectors(std::string_view list);
// "80GB" (10^9), "24GiB" (2^30), "512MiB", "1.5TB", "1024" (bytes); nullopt when malformed.
std::optional<uint64_t> parse_memory_size(std::string_view text);

// Parses a config file's text. `file` decides the flavour (pyproject.toml reads [tool.oomlint]).
// Returns nullopt for a pyproject.toml without [tool.oomlint]. Throws ConfigError.
std::optional<Config> parse_config(std::string_view text, const std::filesystem::path& file);
// Reads and parses a config file; throws ConfigError (also when it cannot be read).
std::optional<Config> load_config(const std::filesystem::path& file);

// Finds the config of each directory, with a cache per directory. Not thread-safe.
class ConfigResolver {
public:
  // `fixed`: --config (used for every file); `isolated`: ignore config files.
  ConfigResolver(std::optional<Config> fixed, bool isolated);
  // The config that applies to files in `dir` (absolute), or nullptr. Throws ConfigError.
  const Config* for_directory(const std::filesystem::path& dir);

private:
  std::optional<Config> fixed_;
  bool isolated_;
  std::deque<Config> configs_;
  std::unordered_map<std::string, const Config*> cache_;
};

// The settings of one file: defaults, then its config, then the command line, then the config's
// per-file-ignores that match the file.
checks::Settings resolve_settings(const Config* config, const CliOverrides& cli,
                                  const std::filesystem::path& absolute_file);

// The config's per-file-ignores that match `absolute_file`, applied to settings already
// resolved: as in Ruff they win over any selection, however specific. Returns whether any
// pattern matched (resolve_settings ends with it; the language server applies it after the
// client's settings).
bool apply_per_file_ignores(const Config& config, const std::filesystem::path& absolute_file,
                            checks::Settings& s);

// The base of documentation links (checks/doc_links.h): --docs-url (`flag`, relative to the
// current directory) if given, else the config's `docs-url`, else the default.
std::string resolve_docs_base(const std::string& flag, const Config* config);

// Is `absolute_path` excluded by the config's or the command line's patterns?
bool is_excluded(const Config* config, const CliOverrides& cli,
                 const std::filesystem::path& absolute_path, const std::filesystem::path& cwd);

} // namespace oomlint::cli
