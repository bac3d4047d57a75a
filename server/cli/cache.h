// The results cache of `oomlint check` (after Ruff's): the findings of each file, keyed on the
// file's content, the engine's settings and rule set, and the oomlint build. A finding is kept
// ready to show (its positions, the source line it starts on, its fix's edits placed), so a
// second run over an unchanged tree parses none of the files, and does not even read those whose
// stat() is unchanged (like git's index: device, inode, size, modification and change times,
// recorded only once the file has been left alone for two seconds).
//
// A file's findings may also depend on other files of its project (a helper it imports from
// utils.py runs under no_grad, or returns a loss): each entry also records what its check read
// of the project (checks::ProjectReads), the files with the fingerprints of the bytes it used and
// the paths whose existence decided where an import resolves or where the root is. An entry holds
// only while every one of those files still has those bytes and every probe gives the same
// answer. What many checks read alike (the scan of a module they all import) is kept once, as a
// group that entries refer to, and is validated once per run.
//
// Layout: <cache dir>/CACHEDIR.TAG, .gitignore (`*`), one file per oomlint build,
// `v<version>-<build>.bin`, holding the dependency groups, then mapping absolute paths to
// {content hash, settings key, dependency groups, findings}, sorted by path; and summaries/, the
// module summaries of the project index (SummaryFolder).
// A missing, unreadable or corrupt cache file is an empty cache; saving replaces the file
// atomically and never fails the run.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cli/findings.h"
#include "model/project.h"

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
  // Records a result, with the stamp of the file it was read from when there is one, and what
  // its check read of the project (none: it depends on its own bytes alone). The findings are
  // encoded at once, by the worker that found them. Thread-safe.
  void store(const std::string& path, uint64_t hash, const std::string& settings,
             const std::vector<Finding>& findings,
             const std::optional<FileStamp>& stamp = std::nullopt,
             const checks::ProjectReads* reads = nullptr);

  // Writes the cache back if anything changed. Entries of files that no longer exist are
  // dropped. Returns an empty string or the reason it could not be written.
  std::string save();

  const std::filesystem::path& file() const { return file_; }
  size_t hits() const { return hits_; }
  // Of the hits, those decided by the stamp alone (the file was not read).
  size_t unread_hits() const { return unread_hits_; }
  size_t size() const { return read_.size() + added_.size(); }
  // Entries whose file was unchanged but a project file or import it depends on was not.
  size_t dependency_misses() const { return dependency_misses_; }

  ResultsCache(ResultsCache&& other) noexcept;

private:
  ResultsCache() = default;
  struct Entry {
    uint64_t hash = 0;
    std::optional<FileStamp> stamp;
    std::string_view settings; // in raw_ or owned_
    // The dependency groups it holds on (u32 count, u32 indices into groups_): in raw_ when read,
    // else in stored_deps.
    std::string_view deps;
    std::string stored_deps;
    std::string_view deps_block() const {
      return deps.data() ? deps : std::string_view(stored_deps);
    }
    std::string stored;       // the encoded findings, when stored in this run
    std::string_view encoded; // else their block in raw_ (the cache file as read)
    std::string_view block() const { return encoded.data() ? encoded : std::string_view(stored); }
  };
  // The entry of `path`, or null. Called with mutex_ held.
  Entry* find(std::string_view path);
  const Entry* find(std::string_view path) const;
  // A copy of `text` that lives as long as the cache (settings of stored entries).
  std::string_view own(std::string_view text);
  // Whether every dependency group of an entry (its `deps` block) still holds: the files have
  // the bytes and the probes the answers recorded. Called without mutex_ held (it reads files).
  // `from_file`: the entry was read from the cache file (its groups are read_groups_).
  bool dependencies_hold(std::string_view deps, bool from_file) const;
  bool group_holds(uint32_t group) const;
  uint64_t fingerprint_now(const std::string& path) const;
  bool probe_now(const std::string& path, bool marker) const;
  // The index of the group `block` (encoded), added when new. Called with mutex_ held.
  uint32_t intern_group(std::string block);
  // The encoded dependency list (the `deps` block) of a check that read `reads` and whose own
  // reads encode to `own` (a group). Called with mutex_ held.
  std::string encode_dependencies(const checks::ProjectReads& reads, std::string own);
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
  // Dependency groups: the file's (in raw_), then those first stored in this run (in
  // owned_groups_). A group is the encoded files and probes of one ProjectReads.
  std::vector<std::string_view> read_groups_; // not changed after open(): read without a lock
  std::deque<std::string> new_groups_;        // numbered after read_groups_
  std::unordered_map<std::string_view, uint32_t> group_ids_; // by block, filled on first store
  // Shared reads (a module's scan, a folder's root) already interned, kept alive so their
  // addresses stay theirs.
  std::unordered_map<const checks::ProjectReads*, uint32_t> shared_ids_;
  std::vector<std::shared_ptr<const checks::ProjectReads>> shared_kept_;
  // What this run found of the project, memoised: many files depend on the same modules.
  mutable std::mutex memo_mutex_;
  mutable std::vector<int8_t> group_state_; // of the file's groups: 0 unknown, 1 holds, -1 not
  mutable std::unordered_map<std::string, uint64_t> fingerprints_;
  mutable std::unordered_map<std::string, bool> probes_; // "<marker 0|1><path>" -> found
  mutable std::mutex mutex_;
  mutable size_t hits_ = 0, unread_hits_ = 0, dependency_misses_ = 0;
  bool dirty_ = false;
};

// The cache directory: `--cache-dir`, else $OOMLINT_CACHE_DIR, else `.oomlint_cache` in `cwd`.
std::filesystem::path default_cache_dir(const std::filesystem::path& cwd);

// The project index's summary store (checks::SummaryStore) in the cache directory: one file per
// summary, <dir>/summaries/<hash of the key>, written atomically (a temporary file and a rename),
// headed by the oomlint build that wrote it and the key (which holds the module's content hash and
// ModuleSummary::kFormat). A file of another build, of another key, or damaged, is no summary.
// Nothing is read until a summary is asked for: a run served by the results cache reads none.
class SummaryFolder : public checks::SummaryStore {
public:
  explicit SummaryFolder(std::filesystem::path cache_dir);
  std::optional<std::string> load(const std::string& key) override;
  void save(const std::string& key, const std::string& value) override;
  size_t saved() const { return saved_; }
  // Keeps the folder bounded: when it holds more than `limit` summaries, removes the oldest (by
  // modification time) of those this store neither loaded nor saved, down to 3/4 of the limit.
  // A removed summary that is wanted again is rebuilt. Returns how many were removed.
  size_t prune(size_t limit);
  // How many distinct summaries this store loaded or saved.
  size_t used() {
    std::lock_guard lock(used_mutex_);
    return used_.size();
  }

private:
  std::filesystem::path cache_dir_, dir_;
  std::mutex used_mutex_;
  std::unordered_set<std::string> used_; // file names loaded or saved by this store
  std::string header_;                   // "oomlint-summaries <build>\n"
  std::once_flag made_dir_;
  bool dir_ok_ = false;
  std::atomic<size_t> saved_{0};
};

} // namespace oomlint::cli
