#include "lsp/workspace.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <utility>

#include "cli/discovery.h"
#include "doc_links.h"
#include "lsp/uri.h"

namespace oomlint::lsp {

Workspace::Workspace() {
  rebuild_engines();
}

void Workspace::reset() {
  std::lock_guard lock(mutex_);
  folders_.clear();
  client_ = SettingsPatch{};
  generation_ = 1; // as constructed: rebuild_engines() makes it 2
  rebuild_engines();
}

void Workspace::add_folder(const std::string& uri) {
  auto path = uri_to_path(uri);
  if (!path) return;
  std::lock_guard lock(mutex_);
  for (const auto& f : folders_) {
    if (f.uri == uri) return;
  }
  Folder f;
  f.uri = uri;
  f.path = path->lexically_normal();
  load_folder(f);
  folders_.push_back(std::move(f));
  rebuild_engines();
}

void Workspace::remove_folder(const std::string& uri) {
  std::lock_guard lock(mutex_);
  std::erase_if(folders_, [&](const Folder& f) { return f.uri == uri; });
  rebuild_engines();
}

std::vector<std::filesystem::path> Workspace::folder_paths() const {
  std::lock_guard lock(mutex_);
  std::vector<std::filesystem::path> out;
  for (const auto& f : folders_)
    out.push_back(f.path);
  return out;
}

void Workspace::set_client_settings(SettingsPatch patch) {
  std::lock_guard lock(mutex_);
  client_ = std::move(patch);
  rebuild_engines();
}

std::vector<std::string> Workspace::load_folder(Folder& f) {
  std::string error;
  auto config = load_config(f.path, error);
  if (!config) return {error};
  f.config = std::move(config->config);
  return {};
}

std::vector<std::string> Workspace::reload_configs() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> errors;
  for (auto& f : folders_) {
    auto e = load_folder(f);
    errors.insert(errors.end(), e.begin(), e.end());
  }
  rebuild_engines();
  return errors;
}

namespace {
// Engines are immutable, and building one (the rule dispatch, the prefilter's tables) costs
// about as much as checking a small file; the server builds them again on every change of
// settings or folders, mostly with settings it had before (and the fuzzer builds a whole server
// per input). So they are shared by settings, process-wide: the last few used are kept.
std::shared_ptr<const checks::Engine> shared_engine(checks::Settings settings) {
  constexpr size_t kKept = 8;
  static std::mutex mutex;
  static std::deque<std::pair<std::string, std::shared_ptr<const checks::Engine>>> kept;
  std::string key = checks::settings_key(settings);
  std::lock_guard lock(mutex);
  for (auto it = kept.begin(); it != kept.end(); ++it) {
    if (it->first == key) {
      auto engine = it->second;
      kept.erase(it);
      kept.emplace_front(std::move(key), engine);
      return engine;
    }
  }
  auto engine = std::make_shared<const checks::Engine>(std::move(settings));
  kept.emplace_front(std::move(key), engine);
  if (kept.size() > kKept) kept.pop_back();
  return engine;
}
} // namespace

void Workspace::rebuild_engines() {
  checks::Settings base;
  client_.apply_to(base);
  default_engine_ = shared_engine(base);
  if (!no_rules_engine_) {
    checks::Settings none;
    none.select.clear();
    no_rules_engine_ = shared_engine(none);
  }
  for (auto& f : folders_) {
    checks::Settings s;
    if (f.config) SettingsPatch::from_config(*f.config).apply_to(s);
    client_.apply_to(s);
    f.settings = s;
    f.engine = shared_engine(std::move(s));
    f.narrowed.clear();
  }
  ++generation_;
}

const Workspace::Folder* Workspace::folder_for(const std::filesystem::path& path) const {
  const Folder* best = nullptr;
  std::string p = path.lexically_normal().generic_string();
  for (const auto& f : folders_) {
    std::string root = f.path.generic_string();
    if (!root.empty() && root.back() != '/') root += '/';
    if (p.starts_with(root) &&
        (!best || f.path.generic_string().size() > best->path.generic_string().size())) {
      best = &f;
    }
  }
  return best;
}

std::shared_ptr<const checks::Engine> Workspace::engine_for(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  auto path = uri_to_path(uri);
  const Folder* folder = path ? folder_for(*path) : nullptr;
  if (!folder) return default_engine_;
  if (!folder->config) return folder->engine;
  std::filesystem::path file = path->lexically_normal();
  if (excludes(*folder, file)) return no_rules_engine_;
  checks::Settings s = folder->settings;
  if (!cli::apply_per_file_ignores(*folder->config, file, s)) return folder->engine;
  std::string key;
  for (const auto& code : s.select)
    key += code + ",";
  auto& engine = folder->narrowed[key];
  if (!engine) engine = shared_engine(std::move(s));
  return engine;
}

std::string Workspace::docs_base_for(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  if (client_.docs_url) return checks::docs_base(client_.docs_url);
  auto path = uri_to_path(uri);
  const Folder* folder = path ? folder_for(*path) : nullptr;
  if (folder && folder->config && folder->config->docs_url)
    return checks::docs_base(folder->config->docs_url, folder->config->dir);
  return checks::default_docs_base();
}

bool Workspace::excludes(const Folder& folder, const std::filesystem::path& file) {
  return folder.config && cli::is_excluded(&*folder.config, cli::CliOverrides{}, file, folder.path);
}

bool Workspace::is_excluded(const std::filesystem::path& path) const {
  std::lock_guard lock(mutex_);
  const Folder* folder = folder_for(path);
  return folder && excludes(*folder, path.lexically_normal());
}

uint64_t Workspace::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

std::vector<std::filesystem::path> discover_python_files(const std::filesystem::path& root,
                                                         size_t limit) {
  namespace fs = std::filesystem;
  static const std::vector<std::string> kSkip = {".git",          ".hg",
                                                 ".svn",          "venv",
                                                 ".venv",         "__pycache__",
                                                 "node_modules",  ".tox",
                                                 ".nox",          ".mypy_cache",
                                                 ".pytest_cache", ".ruff_cache",
                                                 "site-packages", ".ipynb_checkpoints"};
  std::vector<fs::path> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  fs::recursive_directory_iterator end;
  while (!ec && it != end && out.size() < limit) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    std::error_code e2;
    if (entry.is_directory(e2)) {
      if (entry.is_symlink(e2) || cli::is_default_excluded_dir(name) ||
          std::find(kSkip.begin(), kSkip.end(), name) != kSkip.end()) {
        it.disable_recursion_pending();
      }
    } else if (entry.is_regular_file(e2)) {
      std::string ext = entry.path().extension().string();
      if (ext == ".py" || ext == ".pyi" || ext == ".ipynb") out.push_back(entry.path());
    }
    it.increment(ec);
    if (ec) {
      // Skip what cannot be read and go on.
      ec.clear();
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace oomlint::lsp
