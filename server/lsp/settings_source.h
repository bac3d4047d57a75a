// Where the server's checks::Settings come from: the client (initializationOptions and
// workspace/didChangeConfiguration, camelCase) over the folder's config file (pyproject.toml
// `[tool.oomlint]` or oomlint.toml, kebab-case), over the defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "lsp/protocol.h"
#include "settings.h"

namespace oomlint::lsp {

// Each field is set only when the source gave it.
struct SettingsPatch {
  std::optional<std::vector<std::string>> select;
  std::optional<std::vector<std::string>> ignore;
  std::optional<std::vector<std::string>> extend_select;
  std::optional<checks::TargetGpu> target_gpu;
  std::optional<int> eval_accumulation_steps;
  std::optional<uint64_t> gpu_memory_bytes;
  // Where links to the docs point (`docsUrl`, `docs-url`); not an engine setting: the workspace
  // reads it for the links it sends (Workspace::docs_base_for).
  std::optional<std::string> docs_url;

  void apply_to(checks::Settings& s) const;
  // What a config file sets (its select, ignore, extend-select, target GPU, eval accumulation
  // steps and GPU memory).
  static SettingsPatch from_config(const cli::Config& config);
};

// From LSP settings; accepts both {"oomlint": {...}} and the inner object. Throws RpcError
// (kInvalidParams) with a readable message on a wrong value.
SettingsPatch settings_from_lsp(const json& j);

struct ConfigFile {
  std::filesystem::path path;        // empty when the folder has none
  std::optional<cli::Config> config; // nullopt when the folder has none
};
// Loads `oomlint.toml` (top level) or `pyproject.toml` ([tool.oomlint]) from `folder` with the
// CLI's loader (cli/config.h). nullopt with `error` when the file exists but is invalid.
std::optional<ConfigFile> load_config(const std::filesystem::path& folder, std::string& error);

bool is_config_file_name(std::string_view file_name);

} // namespace oomlint::lsp
