// Checks one file (Python, notebook or DeepSpeed JSON): reads it, runs the engine, and with
// --fix / --diff applies the fixes and writes the file or produces the diff.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/cache.h"
#include "cli/discovery.h"
#include "cli/findings.h"
#include "engine/engine.h"
#include "model/project.h"

namespace oomlint::cli {

inline constexpr uint64_t kMaxFileSize = 256ull * 1024 * 1024;

enum class FixMode { None, Apply, Diff };

struct FixOptions {
  FixMode mode = FixMode::None;
  bool unsafe = false;
  bool no_prefilter = false;
  bool show_fixes = false;       // with Apply: count the fixed findings per code (fixed_codes)
  ResultsCache* cache = nullptr; // plain checks only: reuse results of unchanged files
  // The projects the files belong to (what their imports of the project's own modules do).
  checks::ProjectRegistry* projects = nullptr;
};

// An engine built the first time a file needs one (thread-safe). A run whose files all come from
// the results cache builds none: building one (the prefilter's scanner tables) touches about
// 200 fresh pages, a few milliseconds of a cached one-file run.
class LazyEngine {
public:
  explicit LazyEngine(checks::Settings settings) : settings_(std::move(settings)) {}
  const checks::Settings& settings() const { return settings_; }
  const checks::Engine& get() const {
    std::call_once(once_, [this] {
      engine_ = std::make_unique<checks::Engine>(settings_);
      built_ = true;
    });
    return *engine_;
  }
  bool built() const { return built_; }

private:
  checks::Settings settings_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<checks::Engine> engine_;
  mutable std::atomic<bool> built_{false};
};

struct FileJob {
  std::string path; // what to open
  std::string display;
  std::string absolute;
  FileKind kind = FileKind::Python;
  bool explicit_path = false;
  bool from_stdin = false;
  std::string stdin_text;
  // The engine: `engine` if the caller built one, else `lazy_engine` builds it when needed.
  const checks::Engine* engine = nullptr;
  const LazyEngine* lazy_engine = nullptr;
  std::string settings_key; // what the engine's settings are, for the results cache
  struct stat info {};      // stat() when discovered (all zero for stdin)
};

struct FileOutcome {
  std::vector<Finding> findings; // sorted by position
  std::vector<FileError> errors;
  std::vector<std::string> warnings;
  size_t fixed = 0;                          // fixes applied (with --diff: that would be applied)
  std::map<std::string, size_t> fixed_codes; // with show_fixes: findings fixed, per code
  std::string diff;
  std::optional<std::string> stdin_output; // stdin with --fix: the (fixed) text to print
};

FileOutcome check_file(const FileJob& job, const FixOptions& options);

// Reads a whole file; nullopt with `error` set (e.g. "Permission denied", "file too large").
// `info`, when given, receives the fstat() of the file as opened.
std::optional<std::string> read_source_file(const std::string& path, std::string& error,
                                            struct stat* info = nullptr);

} // namespace oomlint::cli
