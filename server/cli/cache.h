// The results cache of `oomlint check` (after Ruff's): the findings of each file, keyed on the
// file's content, the engine's settings and rule set, and the oomlint build. A finding is kept
// ready to show (its positions, the source line it starts on, its fix's edits placed), so a
// second run over an unchanged tree parses none of the files, and does not even read those whose
// stat() is unchanged (like git's index: device, inode, size, modification and change times,
// recorded only once the file has been left alone for two seconds).
//
// Layout: <cache dir>/CACHEDIR.TAG, .gitignore (`*`), and one file per oomlint build,
// `v<version>-<build>.bin`, mapping absolute paths to {content hash, settings key, findings},
// sorted by path.
// A missing, unreadable or corrupt cache file is an empty cache; saving replaces the file
// atomically and never fails the run.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cli/findings.h"

namespace oomlint::cli {

// 64-bit hash of a file's bytes, mixed with their length.
uint64_t content_hash(std::string_view bytes);

// What stat() says about a file: enough to tell, without reading it, that it has not changed.
// Any write moves the change time (which no user call can set back), so an equal stamp means the
// same bytes, provided the stamp was taken after the file's last write had settled.
struct FileStamp {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of a regular file as of `now`, or nullopt when it changed less than two seconds
// before `now` (or claims to change in the future): a second write within the file system's
// clock tick can leave both times as they were, so such a stamp vouches for nothing.
std::optional<FileStamp> settled_stamp(const struct stat& st, const struct timespec& now);

class ResultsCache {
public:
  // Loads the cache of this build from `dir` (which need not exist yet).
  static ResultsCache open(const std::filesystem::path& dir);

  // Findings come back without their paths (`display`, `absolute`): the caller knows them.

  // The cached findings of `path` when it was last checked with this exact content and
  // settings, else nullopt. Thread-safe.
  std::optional<std::vector<Finding>> lookup(const std::string& path, uint64_t hash,
                                             const std::string& settings) const;
  // Like lookup(), and when the content matches, remembers `stamp` for the next run.
  std::optional<std::vector<Finding>> lookup(const std::string& path, uint64_t hash,
                                             const std::string& settings,
                                             const std::optional<FileStamp>& stamp);
  // The cached findings of `path` when it was checked with these settings and its stamp then
  // equals `stamp`: the file need not be read. Thread-safe.
  std::optional<std::vector<Finding>> lookup_unchanged(const std::string& path,
                                                       const FileStamp& stamp,
                                                       const std::string& settings) const;
  // Records a result, with the stamp of the file it was read from when there is one. The
  // findings are encoded at once, by the worker that found them. Thread-safe.
  void store(const std::string& path, uint64_t hash, const std::string& settings,
             const std::vector<Finding>& findings,
             const std::optional<FileStamp>& stamp = std::nullopt);

  // Writes the cache back if anything changed. Entries of files that no longer exist are
  // dropped. Returns an empty string or the reason it could not be written.
  std::string save();

  const std::filesystem::path& file() const { return file_; }
  size_t hits() const { return hits_; }
  // Of the hits, those decided by the stamp alone (the file was not read).
  size_t unread_hits() const { return unread_hits_; }
  size_t size() const { return read_.size() + added_.size(); }

  ResultsCache(ResultsCache&& other) noexcept;

private:
  ResultsCache() = default;
  struct Entry {
    uint64_t hash = 0;
    std::optional<FileStamp> stamp;
    std::string_view settings; // in raw_ or owned_
    std::string stored;        // the encoded findings, when stored in this run
    std::string_view encoded;  // else their block in raw_ (the cache file as read)
    std::string_view block() const { return encoded.data() ? encoded : std::string_view(stored); }
  };
  // The entry of `path`, or null. Called with mutex_ held.
  Entry* find(std::string_view path);
  const Entry* find(std::string_view path) const;
  // A copy of `text` that lives as long as the cache (settings of stored entries).
  std::string_view own(std::string_view text);
  // Decodes an entry's findings, nullopt when its block is damaged. Called with `lock` held on
  // mutex_, and returns with it held.
  std::optional<std::vector<Finding>> decode(const Entry& entry,
                                             std::unique_lock<std::mutex>& lock) const;
  std::filesystem::path dir_, file_;
  std::unique_ptr<std::string> raw_; // the cache file as read
  // The file's entries, sorted by path as the file keeps them, their paths and settings in raw_:
  // opening a cache of a thousand files hashes and allocates nothing per file, so a one-file run
  // (a pre-commit hook) pays little for a repo-wide cache. Paths first stored in this run go to
  // added_.
  std::vector<std::pair<std::string_view, Entry>> read_;
  std::unordered_map<std::string, Entry> added_;
  std::deque<std::string> owned_;
  mutable std::mutex mutex_;
  mutable size_t hits_ = 0, unread_hits_ = 0;
  bool dirty_ = false;
};

// The cache directory: `--cache-dir`, else $OOMLINT_CACHE_DIR, else `.oomlint_cache` in `cwd`.
std::filesystem::path default_cache_dir(const std::filesystem::path& cwd);

} // namespace oomlint::cli
