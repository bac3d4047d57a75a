#include "cli/cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <tuple>
#include <utility>

#include <stdexcept>

#include "cli/file_checker.h"
#include "cli/fix_writer.h"

#ifndef OOMLINT_VERSION
#define OOMLINT_VERSION "0.0.0"
#endif

namespace oomlint::cli {

namespace fs = std::filesystem;

namespace {

// Bumped when the layout of the file changes (7: what each check read of its project).
constexpr int kFormat = 7;

template <typename T> T byteswap(T v) {
  T out = 0;
  for (size_t i = 0; i < sizeof v; ++i) {
    out = static_cast<T>((out << 8) | (v & 0xFF));
    v = static_cast<T>(v >> 8);
  }
  return out;
}

// Which oomlint build wrote a cache: the version plus the executable's size and modification
// time, so that a rebuilt binary (new or changed rules) never reads results of the old one.
std::string build_id() {
  struct stat st {};
  std::string id = std::string("v") + OOMLINT_VERSION + "-f" + std::to_string(kFormat);
  if (::stat("/proc/self/exe", &st) == 0) {
    id += "-" + std::to_string(static_cast<unsigned long long>(st.st_size)) + "-" +
          std::to_string(static_cast<long long>(st.st_mtim.tv_sec)) + "." +
          std::to_string(static_cast<long long>(st.st_mtim.tv_nsec));
  }
  return id;
}

// The cache file is a flat binary record stream (little-endian u32/u64, strings as length +
// bytes): reading 10,000 findings back must cost far less than finding them did, which a JSON
// document tree does not manage. Each file's findings are one sized block, decoded only when
// that file is looked up and copied through unread when the cache is saved again. Every
// read is bounds-checked; a short or malformed file throws and counts as no cache (a damaged
// block, found at lookup, as a miss for that file).
constexpr std::string_view kMagic = "oomlint-cache\n";

class Writer {
public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void str(std::string_view v) {
    u32(static_cast<uint32_t>(v.size()));
    out_.append(v);
  }
  void diagnostic(const checks::Diagnostic& d) {
    str(d.code);
    str(d.slug);
    str(d.section);
    u8(static_cast<uint8_t>(d.severity));
    str(d.message);
    for (uint32_t v :
         {d.start, d.end, d.start_pos.line, d.start_pos.column, d.end_pos.line, d.end_pos.column})
      u32(v);
    u8(d.fix ? 1 : 0);
    if (!d.fix) return;
    str(d.fix->title);
    u8(d.fix->applicability == checks::Applicability::Safe ? 0 : 1);
    u32(static_cast<uint32_t>(d.fix->edits.size()));
    for (const auto& e : d.fix->edits) {
      u32(e.start);
      u32(e.end);
      str(e.text);
    }
  }
  void location(const Location& l) {
    u32(l.row);
    u32(l.column);
  }
  // A finding without its paths.
  void finding(const Finding& f) {
    diagnostic(f.diagnostic);
    u8(f.cell ? 1 : 0);
    if (f.cell) u32(*f.cell);
    location(f.location);
    location(f.end_location);
    str(f.line_text);
    u32(static_cast<uint32_t>(f.edits.size()));
    for (const auto& e : f.edits) {
      str(e.content);
      location(e.location);
      location(e.end_location);
    }
  }
  std::string& bytes() { return out_; }

private:
  std::string out_;
};

template <typename T> T little_endian(std::string_view b) {
  T v;
  std::memcpy(&v, b.data(), sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = byteswap(v);
  return v;
}

class Reader {
public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  [[gnu::always_inline]] uint32_t u32() { return little_endian<uint32_t>(take(4)); }
  uint64_t u64() { return little_endian<uint64_t>(take(8)); }
  std::string str() { return std::string(take(u32())); }
  std::string_view view() { return take(u32()); } // a string or a block, in place
  checks::Diagnostic diagnostic() {
    checks::Diagnostic d;
    d.code = str();
    d.slug = str();
    d.section = str();
    uint8_t severity = u8();
    if (severity > static_cast<uint8_t>(checks::Severity::Info)) throw std::runtime_error("bad");
    d.severity = static_cast<checks::Severity>(severity);
    d.message = str();
    d.start = u32();
    d.end = u32();
    d.start_pos.line = u32();
    d.start_pos.column = u32();
    d.end_pos.line = u32();
    d.end_pos.column = u32();
    if (u8() == 0) return d;
    checks::Fix fix;
    fix.title = str();
    fix.applicability = u8() == 0 ? checks::Applicability::Safe : checks::Applicability::Unsafe;
    uint32_t edits = u32();
    for (uint32_t i = 0; i < edits; ++i) {
      checks::Edit e;
      e.start = u32();
      e.end = u32();
      e.text = str();
      fix.edits.push_back(std::move(e));
    }
    d.fix = std::move(fix);
    return d;
  }
  Location location() {
    Location l;
    l.row = u32();
    l.column = u32();
    return l;
  }
  Finding finding() {
    Finding f;
    f.diagnostic = diagnostic();
    if (u8() != 0) f.cell = u32();
    f.location = location();
    f.end_location = location();
    f.line_text = str();
    uint32_t edits = u32();
    if (edits > in_.size() - pos_) throw std::runtime_error("corrupt count");
    f.edits.reserve(edits);
    for (uint32_t i = 0; i < edits; ++i) {
      FindingEdit e;
      e.content = str();
      e.location = location();
      e.end_location = location();
      f.edits.push_back(std::move(e));
    }
    return f;
  }

private:
  [[gnu::always_inline]] std::string_view take(size_t n) {
    if (n > in_.size() - pos_) throw std::runtime_error("truncated cache");
    std::string_view out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

// Writes `content` to `path` through a temporary file in the same directory and a rename, so a
// reader sees the old cache or the new one, never half of one.
std::string replace_file(const fs::path& path, std::string_view content) {
  std::string tmpl = (path.parent_path() / (".tmp-" + path.filename().string() + "-XXXXXX"));
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return std::strerror(errno);
  if (!write_all(fd, content)) {
    std::string err = std::strerror(errno);
    ::close(fd);
    ::unlink(tmpl.c_str());
    return err;
  }
  ::fchmod(fd, 0644);
  ::close(fd);
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmpl.c_str());
    return err;
  }
  return {};
}

// Creates the cache directory; a new one gets the tags that keep it out of git and backups.
std::string ensure_cache_dir(const fs::path& dir) {
  std::error_code ec;
  bool fresh = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return "cannot create " + dir.string() + ": " + ec.message();
  if (fresh) {
    // Like other tools' caches: invisible to git, and marked for backup tools.
    std::ofstream(dir / ".gitignore") << "# Created by oomlint\n*\n";
    std::ofstream(dir / "CACHEDIR.TAG")
        << "Signature: 8a477f597d28d172789f06886806bc55\n"
           "# This file is a cache directory tag created by oomlint.\n";
  }
  return {};
}

// A dependency group: the files (path, fingerprint) and probes (path, found | marker << 1) of one
// ProjectReads, each sorted and without repeats:
//   u32 files, {str path, u64 fingerprint}..., u32 probes, {str path, u8 flags}...
// A file read as two texts in one check (it changed meanwhile) is kept twice: no current text
// matches both, so the entry never holds.
void flatten(const checks::ProjectReads& reads, bool nested,
             std::vector<std::pair<std::string, uint64_t>>& files,
             std::vector<std::tuple<std::string, bool, bool>>& probes) {
  for (const auto& [path, print] : reads.files)
    files.emplace_back(path.string(), print);
  for (const auto& p : reads.probes)
    probes.emplace_back(p.path.string(), p.found, p.marker);
  if (!nested) return;
  for (const auto& s : reads.shared) {
    if (s) flatten(*s, true, files, probes);
  }
}

std::string encode_group(const checks::ProjectReads& reads, bool nested) {
  std::vector<std::pair<std::string, uint64_t>> files;
  std::vector<std::tuple<std::string, bool, bool>> probes;
  flatten(reads, nested, files, probes);
  if (files.empty() && probes.empty()) return {};
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  std::sort(probes.begin(), probes.end());
  probes.erase(std::unique(probes.begin(), probes.end()), probes.end());
  Writer w;
  w.u32(static_cast<uint32_t>(files.size()));
  for (const auto& [path, print] : files) {
    w.str(path);
    w.u64(print);
  }
  w.u32(static_cast<uint32_t>(probes.size()));
  for (const auto& [path, found, marker] : probes) {
    w.str(path);
    w.u8(static_cast<uint8_t>((found ? 1 : 0) | (marker ? 2 : 0)));
  }
  return std::move(w.bytes());
}

// The group indices of an entry's `deps` block; throws when it is damaged.
std::vector<uint32_t> decode_dependencies(std::string_view deps) {
  std::vector<uint32_t> out;
  if (deps.empty()) return out;
  Reader r(deps);
  uint32_t n = r.u32();
  if (n > deps.size() / 4) throw std::runtime_error("corrupt count");
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i)
    out.push_back(r.u32());
  if (!r.done()) throw std::runtime_error("trailing bytes");
  return out;
}

std::string encode_dependencies(const std::vector<uint32_t>& ids) {
  Writer w;
  w.u32(static_cast<uint32_t>(ids.size()));
  for (uint32_t id : ids)
    w.u32(id);
  return std::move(w.bytes());
}

} // namespace

uint64_t content_hash(std::string_view bytes) {
  uint64_t h = std::hash<std::string_view>{}(bytes);
  return h ^ (static_cast<uint64_t>(bytes.size()) * 0x9E3779B97F4A7C15ull);
}

fs::path default_cache_dir(const fs::path& cwd) {
  if (const char* env = std::getenv("OOMLINT_CACHE_DIR"); env && *env) return fs::path(env);
  return cwd / ".oomlint_cache";
}

std::optional<FileStamp> settled_stamp(const struct stat& st, const struct timespec& now) {
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  auto ns = [](const struct timespec& t) {
    return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<int64_t>(t.tv_nsec);
  };
  constexpr int64_t kSettle = 2'000'000'000; // FAT's clock tick; most file systems' is far finer
  int64_t latest = std::max(ns(st.st_mtim), ns(st.st_ctim));
  if (latest > ns(now) - kSettle) return std::nullopt;
  return FileStamp{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                   static_cast<uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

ResultsCache::ResultsCache(ResultsCache&& other) noexcept
    : dir_(std::move(other.dir_)), file_(std::move(other.file_)), raw_(std::move(other.raw_)),
      read_(std::move(other.read_)), added_(std::move(other.added_)),
      owned_(std::move(other.owned_)), read_groups_(std::move(other.read_groups_)),
      new_groups_(std::move(other.new_groups_)), group_ids_(std::move(other.group_ids_)),
      shared_ids_(std::move(other.shared_ids_)), shared_kept_(std::move(other.shared_kept_)),
      group_state_(std::move(other.group_state_)), fingerprints_(std::move(other.fingerprints_)),
      probes_(std::move(other.probes_)), hits_(other.hits_), unread_hits_(other.unread_hits_),
      dependency_misses_(other.dependency_misses_), dirty_(other.dirty_) {}

ResultsCache ResultsCache::open(const fs::path& dir) {
  ResultsCache cache;
  cache.dir_ = dir;
  cache.file_ = dir / (build_id() + ".bin");
  // The entries' blocks point into this buffer, which lives (unmoved) as long as the cache.
  std::string error;
  auto bytes = read_source_file(cache.file_, error); // one read() per 64 KB, no stream
  if (!bytes) return cache;
  cache.raw_ = std::make_unique<std::string>(std::move(*bytes));
  const std::string& text = *cache.raw_;
  try {
    Reader r(text);
    if (r.str() != kMagic) throw std::runtime_error("not an oomlint cache");
    uint32_t groups = r.u32();
    if (groups > text.size()) throw std::runtime_error("corrupt count");
    cache.read_groups_.reserve(groups);
    for (uint32_t g = 0; g < groups; ++g)
      cache.read_groups_.push_back(r.view()); // decoded when an entry needs it
    uint32_t files = r.u32();
    // Each entry takes dozens of bytes: a count beyond the file is corrupt.
    if (files > text.size()) throw std::runtime_error("corrupt count");
    cache.read_.reserve(files);
    for (uint32_t f = 0; f < files; ++f) {
      std::string_view path = r.view();
      if (!cache.read_.empty() && !(cache.read_.back().first < path))
        throw std::runtime_error("entries out of order");
      Entry entry;
      entry.hash = r.u64();
      if (r.u8() != 0) {
        FileStamp st;
        st.device = r.u64();
        st.inode = r.u64();
        st.size = r.u64();
        st.mtime_ns = static_cast<int64_t>(r.u64());
        st.ctime_ns = static_cast<int64_t>(r.u64());
        entry.stamp = st;
      }
      entry.settings = r.view();
      entry.deps = r.view();
      entry.encoded = r.view();
      cache.read_.emplace_back(path, std::move(entry));
    }
    if (!r.done()) throw std::runtime_error("trailing bytes");
  } catch (const std::exception&) {
    // A damaged cache is no cache: start over, and overwrite it on save.
    cache.read_.clear();
    cache.read_groups_.clear();
    cache.dirty_ = true;
  }
  cache.group_state_.assign(cache.read_groups_.size(), 0);
  return cache;
}

std::optional<std::vector<Finding>> ResultsCache::lookup(const std::string& path, uint64_t hash,
                                                         const std::string& settings,
                                                         const std::optional<FileStamp>& stamp) {
  auto hit = std::as_const(*this).lookup(path, hash, settings);
  if (hit && stamp) {
    std::lock_guard lock(mutex_);
    Entry* e = find(path);
    if (e && e->stamp != stamp) {
      e->stamp = stamp;
      dirty_ = true;
    }
  }
  return hit;
}

std::optional<std::vector<Finding>>
ResultsCache::lookup_unchanged(const std::string& path, const FileStamp& stamp,
                               const std::string& settings) const {
  std::unique_lock lock(mutex_);
  const Entry* e = find(path);
  if (!e || e->stamp != stamp || e->settings != settings) return std::nullopt;
  // Not counted as a dependency miss here: the file is then read and looked up by its hash.
  std::string deps(e->deps_block());
  bool from_file = e->deps.data() != nullptr;
  lock.unlock();
  bool holds = dependencies_hold(deps, from_file);
  lock.lock();
  if (!holds) return std::nullopt;
  auto out = decode(*e, lock); // damaged: nullopt, and the file is read and checked
  if (out) {
    ++hits_;
    ++unread_hits_;
  }
  return out;
}

std::optional<std::vector<Finding>> ResultsCache::lookup(const std::string& path, uint64_t hash,
                                                         const std::string& settings) const {
  std::unique_lock lock(mutex_);
  const Entry* e = find(path);
  if (!e || e->hash != hash || e->settings != settings) return std::nullopt;
  std::string deps(e->deps_block());
  bool from_file = e->deps.data() != nullptr;
  lock.unlock();
  bool holds = dependencies_hold(deps, from_file);
  lock.lock();
  if (!holds) {
    ++dependency_misses_;
    return std::nullopt;
  }
  auto out = decode(*e, lock); // damaged: checked again, and store() replaces the block
  if (out) ++hits_;
  return out;
}

std::optional<std::vector<Finding>> ResultsCache::decode(const Entry& entry,
                                                         std::unique_lock<std::mutex>& lock) const {
  // A block read from the cache file lies in raw_, which does not change after open(): it is
  // decoded without the lock, in parallel. One stored in this run can be replaced by another
  // store(), so it is decoded under the lock. Either way the lock is held again on return.
  std::string_view block = entry.block();
  if (entry.encoded.data()) lock.unlock();
  struct Relock {
    std::unique_lock<std::mutex>& l;
    ~Relock() {
      if (!l.owns_lock()) l.lock();
    }
  } relock{lock};
  std::vector<Finding> out;
  try {
    Reader r(block);
    uint32_t count = r.u32();
    // Each finding takes dozens of bytes: a count beyond the block is corrupt.
    if (count > block.size()) throw std::runtime_error("corrupt count");
    out.reserve(count);
    for (uint32_t i = 0; i < count; ++i)
      out.push_back(r.finding());
    if (!r.done()) throw std::runtime_error("trailing bytes");
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return out;
}

void ResultsCache::store(const std::string& path, uint64_t hash, const std::string& settings,
                         const std::vector<Finding>& findings,
                         const std::optional<FileStamp>& stamp, const checks::ProjectReads* reads) {
  Writer block;
  block.u32(static_cast<uint32_t>(findings.size()));
  for (const auto& f : findings)
    block.finding(f);
  // The check's own reads, encoded by this worker; the shared ones are encoded once, below.
  std::string own_reads = reads ? encode_group(*reads, false) : std::string();
  std::lock_guard lock(mutex_);
  Entry* found = find(path);
  Entry& e = found ? *found : added_[path];
  if (e.settings != settings) e.settings = own(settings);
  e.hash = hash;
  e.stamp = stamp;
  e.stored_deps = reads ? encode_dependencies(*reads, std::move(own_reads)) : std::string();
  e.deps = {};
  e.stored = std::move(block.bytes());
  e.encoded = {};
  dirty_ = true;
}

const ResultsCache::Entry* ResultsCache::find(std::string_view path) const {
  auto it = std::lower_bound(read_.begin(), read_.end(), path,
                             [](const auto& item, std::string_view p) { return item.first < p; });
  if (it != read_.end() && it->first == path) return &it->second;
  if (added_.empty()) return nullptr;
  auto a = added_.find(std::string(path));
  return a == added_.end() ? nullptr : &a->second;
}

ResultsCache::Entry* ResultsCache::find(std::string_view path) {
  return const_cast<Entry*>(std::as_const(*this).find(path));
}

uint32_t ResultsCache::intern_group(std::string block) {
  if (group_ids_.empty()) {
    for (size_t i = 0; i < read_groups_.size(); ++i)
      group_ids_.emplace(read_groups_[i], static_cast<uint32_t>(i));
  }
  if (auto it = group_ids_.find(block); it != group_ids_.end()) return it->second;
  auto id = static_cast<uint32_t>(read_groups_.size() + new_groups_.size());
  group_ids_.emplace(new_groups_.emplace_back(std::move(block)), id);
  return id;
}

std::string ResultsCache::encode_dependencies(const checks::ProjectReads& reads, std::string own) {
  std::vector<uint32_t> ids;
  if (!own.empty()) ids.push_back(intern_group(std::move(own)));
  for (const auto& s : reads.shared) {
    if (!s) continue;
    auto known = shared_ids_.find(s.get());
    if (known == shared_ids_.end()) {
      std::string block = encode_group(*s, true);
      if (block.empty()) continue; // read nothing (not kept: the next one may be another)
      known = shared_ids_.emplace(s.get(), intern_group(std::move(block))).first;
      shared_kept_.push_back(s);
    }
    ids.push_back(known->second);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids.empty() ? std::string() : cli::encode_dependencies(ids);
}

bool ResultsCache::dependencies_hold(std::string_view deps, bool from_file) const {
  std::vector<uint32_t> ids;
  try {
    ids = decode_dependencies(deps);
  } catch (const std::exception&) {
    return false;
  }
  for (uint32_t id : ids) {
    if (from_file && id >= read_groups_.size()) return false; // damaged
    if (!group_holds(id)) return false;
  }
  return true;
}

bool ResultsCache::group_holds(uint32_t group) const {
  // Groups first stored in this run were read in this run: they hold (dependencies_hold takes
  // them only from entries stored in this run).
  if (group >= read_groups_.size()) return true;
  {
    std::lock_guard memo(memo_mutex_);
    if (group_state_[group] != 0) return group_state_[group] > 0;
  }
  bool holds = true;
  try {
    Reader r(read_groups_[group]);
    uint32_t files = r.u32();
    for (uint32_t i = 0; i < files && holds; ++i) {
      std::string path = r.str();
      holds = fingerprint_now(path) == r.u64();
    }
    if (holds) {
      uint32_t probes = r.u32();
      for (uint32_t i = 0; i < probes && holds; ++i) {
        std::string path = r.str();
        uint8_t flags = r.u8();
        holds = probe_now(path, (flags & 2) != 0) == ((flags & 1) != 0);
      }
      holds = holds && r.done();
    }
  } catch (const std::exception&) {
    holds = false;
  }
  std::lock_guard memo(memo_mutex_);
  group_state_[group] = holds ? 1 : -1;
  return holds;
}

uint64_t ResultsCache::fingerprint_now(const std::string& path) const {
  {
    std::lock_guard memo(memo_mutex_);
    if (auto it = fingerprints_.find(path); it != fingerprints_.end()) return it->second;
  }
  // Read without the lock: two workers may both read a module, and agree.
  uint64_t print = checks::ProjectIndex::file_fingerprint(path);
  std::lock_guard memo(memo_mutex_);
  fingerprints_.emplace(path, print);
  return print;
}

bool ResultsCache::probe_now(const std::string& path, bool marker) const {
  std::string key = (marker ? "1" : "0") + path;
  {
    std::lock_guard memo(memo_mutex_);
    if (auto it = probes_.find(key); it != probes_.end()) return it->second;
  }
  bool found = checks::ProjectReads::probe(path, marker);
  std::lock_guard memo(memo_mutex_);
  probes_.emplace(std::move(key), found);
  return found;
}

std::string_view ResultsCache::own(std::string_view text) {
  // Runs store under one settings key: the last one owned is usually it.
  if (!owned_.empty() && owned_.back() == text) return owned_.back();
  return owned_.emplace_back(text);
}

std::string ResultsCache::save() {
  std::lock_guard lock(mutex_);
  if (!dirty_) return {};
  if (std::string err = ensure_cache_dir(dir_); !err.empty()) return err;
  std::error_code ec;
  // Sorted by path, which open() relies on.
  std::vector<std::pair<std::string_view, const Entry*>> kept;
  kept.reserve(size());
  for (const auto& [path, entry] : read_)
    kept.emplace_back(path, &entry);
  for (const auto& [path, entry] : added_)
    kept.emplace_back(path, &entry);
  if (!added_.empty()) std::sort(kept.begin(), kept.end());
  std::erase_if(kept, [&](const auto& item) { return !fs::exists(fs::path(item.first), ec); });
  // Only the groups that kept entries refer to are written, renumbered in order of first use.
  auto group_block = [&](uint32_t id) {
    return id < read_groups_.size() ? read_groups_[id]
                                    : std::string_view(new_groups_[id - read_groups_.size()]);
  };
  const size_t known_groups = read_groups_.size() + new_groups_.size();
  std::vector<uint32_t> renumbered(known_groups, UINT32_MAX);
  std::vector<std::string_view> groups;
  std::vector<std::string> deps(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    std::vector<uint32_t> ids;
    try {
      ids = decode_dependencies(kept[i].second->deps_block());
    } catch (const std::exception&) {
      ids.assign(1, UINT32_MAX); // damaged: dropped below
    }
    bool damaged = false;
    for (uint32_t& id : ids) {
      if (id >= known_groups) {
        damaged = true;
        break;
      }
      if (renumbered[id] == UINT32_MAX) {
        renumbered[id] = static_cast<uint32_t>(groups.size());
        groups.push_back(group_block(id));
      }
      id = renumbered[id];
    }
    if (damaged) {
      kept[i].second = nullptr;
      continue;
    }
    if (!ids.empty()) deps[i] = cli::encode_dependencies(ids);
  }
  Writer w;
  w.str(kMagic);
  w.u32(static_cast<uint32_t>(groups.size()));
  for (std::string_view g : groups)
    w.str(g);
  size_t entries = 0;
  for (const auto& item : kept)
    entries += item.second != nullptr;
  w.u32(static_cast<uint32_t>(entries));
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto& [path, entry] = kept[i];
    if (!entry) continue;
    w.str(path);
    w.u64(entry->hash);
    w.u8(entry->stamp ? 1 : 0);
    if (const auto& st = entry->stamp) {
      for (uint64_t v : {st->device, st->inode, st->size, static_cast<uint64_t>(st->mtime_ns),
                         static_cast<uint64_t>(st->ctime_ns)})
        w.u64(v);
    }
    w.str(entry->settings);
    w.str(deps[i]);
    w.str(entry->block());
  }
  std::string err = replace_file(file_, w.bytes());
  if (err.empty()) dirty_ = false;
  return err.empty() ? std::string() : "cannot write " + file_.string() + ": " + err;
}

SummaryFolder::SummaryFolder(fs::path cache_dir)
    : cache_dir_(std::move(cache_dir)), dir_(cache_dir_ / "summaries"),
      header_("oomlint-summaries " + build_id() + "\n") {}

namespace {

std::string summary_file_name(const std::string& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t h = content_hash(key);
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4)
    out[static_cast<size_t>(i)] = kHex[h & 0xF];
  return out + ".sum";
}

} // namespace

std::optional<std::string> SummaryFolder::load(const std::string& key) {
  std::string error;
  std::string name = summary_file_name(key);
  auto bytes = read_source_file(dir_ / name, error);
  if (!bytes) return std::nullopt;
  {
    std::lock_guard lock(used_mutex_);
    used_.insert(name);
  }
  // Written by this build, for this key: else another build's (or another key's, by a hash
  // collision), which is no summary of this one.
  std::string_view data(*bytes);
  if (!data.starts_with(header_)) return std::nullopt;
  data.remove_prefix(header_.size());
  if (!data.starts_with(key) || data.substr(key.size(), 1) != "\n") return std::nullopt;
  data.remove_prefix(key.size() + 1);
  return std::string(data);
}

void SummaryFolder::save(const std::string& key, const std::string& value) {
  std::call_once(made_dir_, [&] {
    std::error_code ec;
    dir_ok_ = ensure_cache_dir(cache_dir_).empty() && (fs::create_directories(dir_, ec), !ec);
  });
  if (!dir_ok_) return; // the results cache says why when it cannot save either
  std::string name = summary_file_name(key);
  if (replace_file(dir_ / name, header_ + key + "\n" + value).empty()) {
    ++saved_;
    std::lock_guard lock(used_mutex_);
    used_.insert(std::move(name));
  }
}

size_t SummaryFolder::prune(size_t limit) {
  std::error_code ec;
  struct Old {
    fs::file_time_type time;
    fs::path path;
  };
  std::vector<Old> candidates;
  size_t total = 0;
  {
    std::lock_guard lock(used_mutex_);
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.extension() != ".sum") continue;
      ++total;
      if (used_.count(p.filename().string())) continue;
      std::error_code tec;
      auto t = it->last_write_time(tec);
      if (!tec) candidates.push_back({t, p});
    }
  }
  if (total <= limit) return 0;
  size_t target = limit - limit / 4;
  std::sort(candidates.begin(), candidates.end(),
            [](const Old& a, const Old& b) { return a.time < b.time; });
  size_t removed = 0;
  for (const Old& o : candidates) {
    if (total - removed <= target) break;
    std::error_code rec;
    // Another run may have removed it, or be reading it: a summary that vanishes under a reader
    // is read as missing and rebuilt.
    if (fs::remove(o.path, rec)) ++removed;
  }
  return removed;
}

} // namespace oomlint::cli
