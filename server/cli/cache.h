// The results cache of `oomlint check` (after Ruff's): the diagnostics of each file, keyed on the
// file's content, the engine's settings and rule set, and the oomlint build. A second run over an
// unchanged tree reads and hashes the files but parses none of them.
//
// Layout: <cache dir>/CACHEDIR.TAG, .gitignore (`*`), and one file per oomlint build,
// `v<version>-<build>.bin`, mapping absolute paths to {content hash, settings key, diagnostics}.
// A missing, unreadable or corrupt cache file is an empty cache; saving replaces the file
// atomically and never fails the run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "diagnostic.h"

namespace oomlint::cli {

// 64-bit hash of a file's bytes, mixed with their length.
uint64_t content_hash(std::string_view bytes);

class ResultsCache {
public:
  // Loads the cache of this build from `dir` (which need not exist yet).
  static ResultsCache open(const std::filesystem::path& dir);

  // The cached diagnostics of `path` when it was last checked with this exact content and
  // settings, else nullopt. Thread-safe.
  std::optional<std::vector<checks::Diagnostic>> lookup(const std::string& path, uint64_t hash,
                                                        const std::string& settings) const;
  // Records a result. Thread-safe.
  void store(const std::string& path, uint64_t hash, const std::string& settings,
             std::vector<checks::Diagnostic> diagnostics);

  // Writes the cache back if anything changed. Entries of files that no longer exist are
  // dropped. Returns an empty string or the reason it could not be written.
  std::string save();

  const std::filesystem::path& file() const { return file_; }
  size_t hits() const { return hits_; }
  size_t size() const { return entries_.size(); }

  ResultsCache(ResultsCache&& other) noexcept;

private:
  ResultsCache() = default;
  struct Entry {
    uint64_t hash = 0;
    std::string settings;
    std::vector<checks::Diagnostic> diagnostics; // when stored in this run
    std::string_view encoded; // when read from the file: its block in raw_, decoded on lookup
  };
  std::filesystem::path dir_, file_;
  std::unique_ptr<std::string> raw_; // the cache file as read
  std::unordered_map<std::string, Entry> entries_;
  mutable std::mutex mutex_;
  mutable size_t hits_ = 0;
  bool dirty_ = false;
};

// The cache directory: `--cache-dir`, else $OOMLINT_CACHE_DIR, else `.oomlint_cache` in `cwd`.
std::filesystem::path default_cache_dir(const std::filesystem::path& cwd);

} // namespace oomlint::cli
