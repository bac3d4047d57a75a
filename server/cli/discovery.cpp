#include "cli/discovery.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include "cli/libgit2.h"

namespace oomlint::cli {

namespace fs = std::filesystem;

namespace {

// One libgit2 repository per work tree, for ignore lookups.
class GitIgnore {
public:
  // libgit2 is loaded (cli/libgit2.h) and started only when a directory is walked: a file named
  // on the command line (the pre-commit path) needs neither.
  GitIgnore() = default;
  ~GitIgnore() {
    if (!git_) return;
    for (auto& [k, repo] : repos_) {
      if (repo) git_->repository_free(repo);
    }
    git_->libgit2_shutdown();
  }
  GitIgnore(const GitIgnore&) = delete;
  GitIgnore& operator=(const GitIgnore&) = delete;

  // Loads and starts libgit2 on the first call; false (and `error` says why) if it cannot be.
  bool start(std::string& error) {
    if (git_) return true;
    const Libgit2* git = libgit2(error);
    if (!git) return false;
    git->libgit2_init();
    git_ = git;
    return true;
  }

  // The repository whose work tree holds `dir`, or nullptr. Needs start().
  git_repository* repo_for(const fs::path& dir) {
    auto it = by_dir_.find(dir.string());
    if (it != by_dir_.end()) return it->second;
    git_repository* repo = nullptr;
    if (git_->repository_open_ext(&repo, dir.c_str(), 0, nullptr) != 0) repo = nullptr;
    if (repo && git_->repository_is_bare(repo)) {
      git_->repository_free(repo);
      repo = nullptr;
    }
    if (repo) {
      std::string wd = git_->repository_workdir(repo);
      auto existing = repos_.find(wd);
      if (existing != repos_.end()) {
        git_->repository_free(repo);
        repo = existing->second;
      } else {
        repos_[wd] = repo;
      }
    }
    by_dir_[dir.string()] = repo;
    return repo;
  }

  bool ignored(git_repository* repo, const fs::path& absolute) {
    if (!repo) return false;
    fs::path wd = fs::path(git_->repository_workdir(repo)).lexically_normal();
    fs::path rel = absolute.lexically_relative(wd);
    std::string r = rel.generic_string();
    if (r.empty() || r == "." || r.starts_with("..")) return false;
    int ignored = 0;
    if (git_->ignore_path_is_ignored(&ignored, repo, r.c_str()) != 0) return false;
    return ignored == 1;
  }

private:
  const Libgit2* git_ = nullptr;
  std::map<std::string, git_repository*> repos_;
  std::map<std::string, git_repository*> by_dir_;
};

struct DirId {
  dev_t dev;
  ino_t ino;
  bool operator<(const DirId& o) const { return std::tie(dev, ino) < std::tie(o.dev, o.ino); }
};

std::string errno_message(int err) {
  return std::strerror(err);
}

} // namespace

bool is_default_excluded_dir(std::string_view name) {
  static const std::set<std::string_view> kDirs = {".git",           ".hg",
                                                   ".svn",           ".bzr",
                                                   ".venv",          "venv",
                                                   ".env",           "__pycache__",
                                                   ".tox",           ".nox",
                                                   ".mypy_cache",    ".pytest_cache",
                                                   ".ruff_cache",    ".ipynb_checkpoints",
                                                   "node_modules",   "site-packages",
                                                   "__pypackages__", ".eggs",
                                                   "build",          "dist",
                                                   "_build",         "buck-out",
                                                   ".direnv",        ".pytype",
                                                   ".git-rewrite",   ".pants.d",
                                                   ".oomlint_cache"};
  return kDirs.count(name) > 0;
}

FileKind kind_for(const fs::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".ipynb") return FileKind::Notebook;
  if (ext == ".json") return FileKind::DeepSpeedJson;
  return FileKind::Python;
}

bool is_deepspeed_candidate_name(std::string_view filename) {
  std::string lower(filename);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!lower.ends_with(".json")) return false;
  return lower.find("deepspeed") != std::string::npos ||
         lower.find("ds_config") != std::string::npos || lower.find("zero") != std::string::npos;
}

std::string display_path(const fs::path& absolute, const fs::path& cwd) {
  fs::path rel = absolute.lexically_relative(cwd);
  std::string r = rel.string();
  if (!r.empty() && r != "." && !r.starts_with("..")) return r;
  return absolute.string();
}

Discovery discover(const std::vector<std::string>& paths, ConfigResolver& configs,
                   const CliOverrides& cli, const fs::path& cwd, bool respect_gitignore) {
  Discovery out;
  GitIgnore git;
  std::set<DirId> visited;
  std::set<std::string> seen_files;

  auto add_file = [&](const fs::path& path, const fs::path& abs, bool is_explicit,
                      const struct stat& info) {
    if (!seen_files.insert(abs.string()).second) return;
    DiscoveredFile f;
    f.path = path;
    f.absolute = abs;
    f.display = display_path(abs, cwd);
    f.kind = kind_for(abs);
    f.explicit_path = is_explicit;
    f.info = info;
    f.config = configs.for_directory(abs.parent_path());
    out.files.push_back(std::move(f));
  };

  for (const std::string& given : paths) {
    fs::path p(given);
    fs::path abs = (p.is_absolute() ? p : cwd / p).lexically_normal();
    if (abs.filename().empty()) abs = abs.parent_path();
    struct stat st {};
    if (::stat(abs.c_str(), &st) != 0) {
      out.errors.push_back({given, errno_message(errno)});
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      add_file(p, abs, true, st);
      continue;
    }
    git_repository* repo = nullptr;
    if (respect_gitignore && may_be_in_git_work_tree(abs)) {
      std::string error;
      if (!git.start(error)) {
        out.errors.push_back(
            {given, "not walked: matching .gitignore needs libgit2, which failed to load: " +
                        error + "; name the files to check instead"});
        continue;
      }
      repo = git.repo_for(abs);
    }
    visited.insert(DirId{st.st_dev, st.st_ino});
    std::vector<fs::path> stack{abs};
    while (!stack.empty()) {
      fs::path dir = stack.back();
      stack.pop_back();
      std::error_code ec;
      fs::directory_iterator it(dir, fs::directory_options::none, ec);
      if (ec) {
        out.errors.push_back({display_path(dir, cwd), ec.message()});
        continue;
      }
      const Config* config = configs.for_directory(dir);
      std::vector<fs::path> subdirs;
      for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) {
          out.errors.push_back({display_path(dir, cwd), ec.message()});
          break;
        }
        fs::path child = it->path();
        std::string name = child.filename().string();
        struct stat cst {};
        if (::stat(child.c_str(), &cst) != 0) continue; // dangling symlink
        if (S_ISDIR(cst.st_mode)) {
          if (is_default_excluded_dir(name)) continue;
          if (is_excluded(config, cli, child, cwd)) continue;
          if (git.ignored(repo, child)) continue;
          // A directory reached twice (symlink loop or two links) is walked once.
          if (!visited.insert(DirId{cst.st_dev, cst.st_ino}).second) continue;
          subdirs.push_back(child);
        } else if (S_ISREG(cst.st_mode)) {
          FileKind kind = kind_for(child);
          bool wanted = child.extension() == ".py" || kind == FileKind::Notebook ||
                        (kind == FileKind::DeepSpeedJson && is_deepspeed_candidate_name(name));
          if (!wanted) continue;
          if (is_excluded(config, cli, child, cwd)) continue;
          if (git.ignored(repo, child)) continue;
          add_file(child, child, false, cst);
        }
      }
      // Depth-first in name order (the final list is sorted anyway).
      std::sort(subdirs.rbegin(), subdirs.rend());
      for (auto& s : subdirs)
        stack.push_back(std::move(s));
    }
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const DiscoveredFile& a, const DiscoveredFile& b) { return a.display < b.display; });
  return out;
}

} // namespace oomlint::cli
