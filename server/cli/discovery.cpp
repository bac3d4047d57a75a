#include "cli/discovery.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
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

  // Is `absolute` (a lexically normal path) ignored in `repo`'s work tree? Paths outside it
  // never are.
  bool ignored(git_repository* repo, std::string_view absolute) {
    if (!repo) return false;
    const std::string& wd = workdir(repo);
    std::string_view r;
    if (wd == "/") {
      r = absolute.substr(1);
    } else if (absolute.size() > wd.size() && absolute.starts_with(wd) &&
               absolute[wd.size()] == '/') {
      r = absolute.substr(wd.size() + 1);
    } else {
      return false;
    }
    if (r.empty() || r.starts_with("..")) return false;
    int ignored = 0;
    std::string rel(r);
    if (git_->ignore_path_is_ignored(&ignored, repo, rel.c_str()) != 0) return false;
    return ignored == 1;
  }

private:
  // The repository's work tree, lexically normal, without a trailing slash (but "/").
  const std::string& workdir(git_repository* repo) {
    auto [it, added] = workdirs_.try_emplace(repo);
    if (added) {
      it->second = fs::path(git_->repository_workdir(repo)).lexically_normal().string();
      if (it->second.size() > 1 && it->second.back() == '/') it->second.pop_back();
    }
    return it->second;
  }

  const Libgit2* git_ = nullptr;
  std::map<std::string, git_repository*> repos_;
  std::map<std::string, git_repository*> by_dir_;
  std::unordered_map<git_repository*, std::string> workdirs_;
};

struct DirId {
  dev_t dev;
  ino_t ino;
  bool operator<(const DirId& o) const { return std::tie(dev, ino) < std::tie(o.dev, o.ino); }
};

std::string errno_message(int err) {
  return std::strerror(err);
}

// A directory being read. Its entries are stat()ed relative to it: the kernel then resolves one
// name, not the whole path.
class DirStream {
public:
  explicit DirStream(const std::string& path) : dir_(::opendir(path.c_str())) {
    if (!dir_) error_ = errno;
  }
  ~DirStream() {
    if (dir_) ::closedir(dir_);
  }
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;
  explicit operator bool() const { return dir_ != nullptr; }
  int error() const { return error_; } // why it could not be opened, or read
  int fd() const { return ::dirfd(dir_); }
  // The next entry, or nullptr at the end or on an error (error() then says which).
  const struct dirent* next() {
    errno = 0;
    const struct dirent* entry = ::readdir(dir_);
    if (!entry) error_ = errno;
    return entry;
  }

private:
  DIR* dir_;
  int error_ = 0;
};

// The last component of a path (a lexically normal one: no trailing slash).
std::string_view file_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// What std::filesystem::path::extension() is for a file `name`: from its last dot, unless the
// name is "." or ".." or its only dot leads it (".bashrc" has none).
std::string_view name_extension(std::string_view name) {
  if (name == "." || name == "..") return {};
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return name.substr(dot);
}

FileKind kind_for_extension(std::string_view ext) {
  if (ext == ".ipynb") return FileKind::Notebook;
  if (ext == ".json") return FileKind::DeepSpeedJson;
  return FileKind::Python;
}

// Is a file of this name looked at when a directory is walked?
bool is_wanted_file_name(std::string_view name) {
  std::string_view ext = name_extension(name);
  return ext == ".py" || ext == ".ipynb" || (ext == ".json" && is_deepspeed_candidate_name(name));
}

// A directory to walk: its lexically normal absolute path and, when it is the current directory
// or below it, its path relative to that ("." for the current directory itself).
struct WalkDir {
  std::string absolute;
  std::optional<std::string> relative;
};

std::optional<std::string> relative_below(const fs::path& absolute, const fs::path& cwd) {
  std::string rel = absolute.lexically_relative(cwd).string();
  if (rel.empty() || rel == ".." || rel.starts_with("../")) return std::nullopt;
  return rel;
}

// display_path() of a file, given its path relative to the current directory (when below it).
std::string display_of(std::optional<std::string> relative, const std::string& absolute) {
  if (relative && !relative->empty() && *relative != "." && !relative->starts_with("..")) {
    return std::move(*relative);
  }
  return absolute;
}

// WalkDir::relative of the entry `name` of `dir`, whose absolute path is `child`.
std::optional<std::string> child_relative(const WalkDir& dir, std::string_view name,
                                          const std::string& child, const std::string& cwd) {
  if (!dir.relative) {
    // Walking from above the current directory, the walk can come down into it.
    if (child == cwd) return ".";
    return std::nullopt;
  }
  if (*dir.relative == ".") return std::string(name);
  std::string rel;
  rel.reserve(dir.relative->size() + 1 + name.size());
  rel += *dir.relative;
  rel += '/';
  rel += name;
  return rel;
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
  return kind_for_extension(p.extension().native());
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
  // One walk never meets a path twice (each directory is walked once, under one path): only a
  // second path given can repeat one.
  const bool may_repeat = paths.size() > 1;
  std::unordered_set<std::string> seen_files;
  const bool cli_excludes = !cli.exclude.empty();
  // The current directory as the walk's paths are spelled (no trailing slash), to tell when a
  // walk from above comes down into it.
  std::string cwd_path = cwd.native();
  while (cwd_path.size() > 1 && cwd_path.back() == '/')
    cwd_path.pop_back();

  auto add_file = [&](std::string path, std::string abs, std::string display, bool is_explicit,
                      const struct stat& info, const Config* config) {
    if (may_repeat && !seen_files.insert(abs).second) return;
    DiscoveredFile f;
    f.kind = kind_for_extension(name_extension(file_name(abs)));
    f.path = std::move(path);
    f.absolute = std::move(abs);
    f.display = std::move(display);
    f.explicit_path = is_explicit;
    f.info = info;
    f.config = config;
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
      if (may_repeat && seen_files.count(abs.native())) continue;
      add_file(given, abs.native(), display_path(abs, cwd), true, st,
               configs.for_directory(abs.parent_path()));
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
    std::vector<WalkDir> stack{{abs.string(), relative_below(abs, cwd)}};
    std::vector<WalkDir> subdirs;
    while (!stack.empty()) {
      WalkDir dir = std::move(stack.back());
      stack.pop_back();
      DirStream stream(dir.absolute);
      if (!stream) {
        out.errors.push_back({display_path(dir.absolute, cwd), errno_message(stream.error())});
        continue;
      }
      const Config* config = configs.for_directory(fs::path(dir.absolute));
      const bool excludes = cli_excludes || (config && !config->exclude.empty());
      // Paths of entries: the directory's path and a slash, then the entry's name.
      std::string prefix = dir.absolute;
      if (prefix.back() != '/') prefix += '/';
      subdirs.clear();
      for (;;) {
        const struct dirent* entry = stream.next();
        if (!entry) {
          if (stream.error() != 0)
            out.errors.push_back({display_path(dir.absolute, cwd), errno_message(stream.error())});
          break;
        }
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        // A regular file of no wanted kind needs no stat().
        const bool wanted_name = is_wanted_file_name(name);
        if (entry->d_type == DT_REG && !wanted_name) continue;
        if (entry->d_type == DT_DIR && is_default_excluded_dir(name)) continue;
        struct stat cst {};
        // Relative to the open directory: the kernel resolves one name, not the whole path.
        if (::fstatat(stream.fd(), entry->d_name, &cst, 0) != 0) continue; // dangling symlink
        if (S_ISDIR(cst.st_mode)) {
          if (is_default_excluded_dir(name)) continue;
          std::string child = prefix + std::string(name);
          if (excludes && is_excluded(config, cli, fs::path(child), cwd)) continue;
          if (git.ignored(repo, child)) continue;
          // A directory reached twice (symlink loop or two links) is walked once.
          if (!visited.insert(DirId{cst.st_dev, cst.st_ino}).second) continue;
          auto rel = child_relative(dir, name, child, cwd_path);
          subdirs.push_back({std::move(child), std::move(rel)});
        } else if (S_ISREG(cst.st_mode)) {
          if (!wanted_name) continue;
          std::string child = prefix + std::string(name);
          if (excludes && is_excluded(config, cli, fs::path(child), cwd)) continue;
          if (git.ignored(repo, child)) continue;
          std::string display = display_of(child_relative(dir, name, child, cwd_path), child);
          std::string open_path = child;
          add_file(std::move(open_path), std::move(child), std::move(display), false, cst, config);
        }
      }
      // Depth-first in name order (the final list is sorted anyway).
      std::sort(subdirs.begin(), subdirs.end(),
                [](const WalkDir& x, const WalkDir& y) { return x.absolute > y.absolute; });
      for (auto& s : subdirs)
        stack.push_back(std::move(s));
    }
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const DiscoveredFile& a, const DiscoveredFile& b) { return a.display < b.display; });
  return out;
}

} // namespace oomlint::cli
