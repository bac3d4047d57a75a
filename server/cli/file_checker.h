// Checks one file (Python, notebook or DeepSpeed JSON): reads it, runs the engine, and with
// --fix / --diff applies the fixes and writes the file or produces the diff.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/cache.h"
#include "cli/discovery.h"
#include "cli/findings.h"
#include "engine.h"

namespace oomlint::cli {

inline constexpr uint64_t kMaxFileSize = 256ull * 1024 * 1024;

enum class FixMode { None, Apply, Diff };

struct FixOptions {
  FixMode mode = FixMode::None;
  bool unsafe = false;
  bool no_prefilter = false;
  ResultsCache* cache = nullptr; // plain checks only: reuse results of unchanged files
};

struct FileJob {
  std::filesystem::path path; // what to open
  std::string display;
  std::string absolute;
  FileKind kind = FileKind::Python;
  bool explicit_path = false;
  bool from_stdin = false;
  std::string stdin_text;
  const checks::Engine* engine = nullptr;
  std::string settings_key; // what the engine's settings are, for the results cache
  uint64_t size = 0;        // bytes on disk when discovered (0 for stdin)
};

struct FileOutcome {
  std::vector<Finding> findings; // sorted by position
  std::vector<FileError> errors;
  std::vector<std::string> warnings;
  size_t fixed = 0; // fixes applied (with --diff: that would be applied)
  std::string diff;
  std::optional<std::string> stdin_output; // stdin with --fix: the (fixed) text to print
};

FileOutcome check_file(const FileJob& job, const FixOptions& options);

// Reads a whole file; nullopt with `error` set (e.g. "Permission denied", "file too large").
std::optional<std::string> read_source_file(const std::filesystem::path& path, std::string& error);

} // namespace oomlint::cli
