// Workspace folders, their config files, the settings in force for each, and file discovery.
// Engines are built once per settings change and shared (immutable) with the analysis threads.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "lsp/settings_source.h"

namespace oomlint::lsp {

class Workspace {
public:
  Workspace();

  // Back to the state after construction: no folder, no client settings.
  void reset();
  void add_folder(const std::string& uri);
  void remove_folder(const std::string& uri);
  std::vector<std::filesystem::path> folder_paths() const;

  void set_client_settings(SettingsPatch patch);
  // Reloads every folder's config file. Returns one message per file that failed (that folder
  // keeps its last good config).
  std::vector<std::string> reload_configs();

  // The engine for a document: the settings of the folder that contains it, with the folder
  // config's per-file-ignores that match the file applied last (as `oomlint check` does). A file
  // that the config's `exclude` patterns leave out gets an engine with no rules.
  std::shared_ptr<const checks::Engine> engine_for(const std::string& uri) const;
  // The base of the documentation links sent for a document (checks/doc_links.h): the client's
  // `docsUrl`, else the `docs-url` of the folder's config file, else the default.
  std::string docs_base_for(const std::string& uri) const;
  // Whether the config of the folder that contains `path` excludes it.
  bool is_excluded(const std::filesystem::path& path) const;
  // Bumped whenever the settings of any folder may have changed.
  uint64_t generation() const;

private:
  struct Folder {
    std::string uri;
    std::filesystem::path path;
    std::optional<cli::Config> config; // last good config file, if any
    checks::Settings settings;         // defaults, config, client
    std::shared_ptr<const checks::Engine> engine;
    // Engines for files that per-file-ignores narrow, by the rules left enabled.
    mutable std::map<std::string, std::shared_ptr<const checks::Engine>> narrowed;
  };
  std::vector<std::string> load_folder(Folder& f);
  void rebuild_engines();
  const Folder* folder_for(const std::filesystem::path& path) const; // under mutex_
  // Does the folder's config exclude `file` (lexically normal)?
  static bool excludes(const Folder& folder, const std::filesystem::path& file);

  mutable std::mutex mutex_;
  std::vector<Folder> folders_;
  SettingsPatch client_;
  std::shared_ptr<const checks::Engine> default_engine_;
  std::shared_ptr<const checks::Engine> no_rules_engine_; // for excluded files
  uint64_t generation_ = 1;
};

// Every .py, .pyi and .ipynb file below `root`, skipping VCS, virtualenv, cache and node_modules
// directories and symlinked directories; at most `limit` files.
std::vector<std::filesystem::path> discover_python_files(const std::filesystem::path& root,
                                                         size_t limit = 100000);

} // namespace oomlint::lsp
