// Which files a `check` run looks at: the paths given, directories walked recursively for .py
// and .ipynb files (and DeepSpeed JSON configs by name), minus what .gitignore (libgit2's
// git_ignore_path_is_ignored, inside a git work tree), the usual tool folders and the exclude
// patterns leave out. Files named explicitly are always checked.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/config.h"

namespace oomlint::cli {

enum class FileKind { Python, Notebook, DeepSpeedJson };

struct DiscoveredFile {
  std::string path;     // how to open it
  std::string absolute; // lexically normal absolute path
  std::string display;  // display_path(absolute, cwd)
  FileKind kind = FileKind::Python;
  bool explicit_path = false;
  const Config* config = nullptr;
  // The walk's stat() of it: its size hands out big files first, and the results cache
  // compares it with the one it recorded before reading the file again.
  struct stat info {};
};

struct PathError {
  std::string path;
  std::string message;
};

struct Discovery {
  std::vector<DiscoveredFile> files; // sorted by display path, no duplicates
  std::vector<PathError> errors;     // missing or unreadable paths; directories not walked
};

// Directory names never descended into (.git, .venv, __pycache__, node_modules, ...).
bool is_default_excluded_dir(std::string_view name);
FileKind kind_for(const std::filesystem::path& p);
// Is a JSON file found while walking worth checking as a DeepSpeed config (by its name)?
bool is_deepspeed_candidate_name(std::string_view filename);
std::string display_path(const std::filesystem::path& absolute, const std::filesystem::path& cwd);

// Throws ConfigError when a config file on the way is bad.
Discovery discover(const std::vector<std::string>& paths, ConfigResolver& configs,
                   const CliOverrides& cli, const std::filesystem::path& cwd,
                   bool respect_gitignore = true);

} // namespace oomlint::cli
