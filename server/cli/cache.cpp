#include "cli/cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#ifndef OOMLINT_VERSION
#define OOMLINT_VERSION "0.0.0"
#endif

namespace oomlint::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Bumped when the layout of an entry changes.
constexpr int kFormat = 1;

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

json to_json(const checks::Diagnostic& d) {
  json j = {{"code", d.code},
            {"slug", d.slug},
            {"section", d.section},
            {"severity", static_cast<int>(d.severity)},
            {"message", d.message},
            {"range", {d.start, d.end}},
            {"pos", {d.start_pos.line, d.start_pos.column, d.end_pos.line, d.end_pos.column}}};
  if (d.fix) {
    json edits = json::array();
    for (const auto& e : d.fix->edits)
      edits.push_back({e.start, e.end, e.text});
    j["fix"] = {{"title", d.fix->title},
                {"applicability", static_cast<int>(d.fix->applicability)},
                {"edits", std::move(edits)}};
  }
  return j;
}

checks::Diagnostic from_json(const json& j) {
  checks::Diagnostic d;
  d.code = j.at("code").get<std::string>();
  d.slug = j.at("slug").get<std::string>();
  d.section = j.at("section").get<std::string>();
  int severity = j.at("severity").get<int>();
  if (severity < 0 || severity > static_cast<int>(checks::Severity::Info)) {
    throw std::runtime_error("bad severity");
  }
  d.severity = static_cast<checks::Severity>(severity);
  d.message = j.at("message").get<std::string>();
  d.start = j.at("range").at(0).get<uint32_t>();
  d.end = j.at("range").at(1).get<uint32_t>();
  const json& pos = j.at("pos");
  d.start_pos = {pos.at(0).get<uint32_t>(), pos.at(1).get<uint32_t>()};
  d.end_pos = {pos.at(2).get<uint32_t>(), pos.at(3).get<uint32_t>()};
  if (j.contains("fix")) {
    const json& f = j.at("fix");
    checks::Fix fix;
    fix.title = f.at("title").get<std::string>();
    fix.applicability = f.at("applicability").get<int>() == 0 ? checks::Applicability::Safe
                                                              : checks::Applicability::Unsafe;
    for (const auto& e : f.at("edits")) {
      fix.edits.push_back(
          {e.at(0).get<uint32_t>(), e.at(1).get<uint32_t>(), e.at(2).get<std::string>()});
    }
    d.fix = std::move(fix);
  }
  return d;
}

// Writes `content` to `path` through a temporary file in the same directory and a rename, so a
// reader sees the old cache or the new one, never half of one.
std::string replace_file(const fs::path& path, std::string_view content) {
  std::string tmpl = (path.parent_path() / (".tmp-" + path.filename().string() + "-XXXXXX"));
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return std::strerror(errno);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmpl.c_str());
      return err;
    }
    p += n;
    left -= static_cast<size_t>(n);
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

} // namespace

uint64_t content_hash(std::string_view bytes) {
  uint64_t h = std::hash<std::string_view>{}(bytes);
  return h ^ (static_cast<uint64_t>(bytes.size()) * 0x9E3779B97F4A7C15ull);
}

fs::path default_cache_dir(const fs::path& cwd) {
  if (const char* env = std::getenv("OOMLINT_CACHE_DIR"); env && *env) return fs::path(env);
  return cwd / ".oomlint_cache";
}

ResultsCache::ResultsCache(ResultsCache&& other) noexcept
    : dir_(std::move(other.dir_)), file_(std::move(other.file_)),
      entries_(std::move(other.entries_)), hits_(other.hits_), dirty_(other.dirty_) {}

ResultsCache ResultsCache::open(const fs::path& dir) {
  ResultsCache cache;
  cache.dir_ = dir;
  cache.file_ = dir / (build_id() + ".json");
  std::ifstream in(cache.file_, std::ios::binary);
  if (!in) return cache;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    json j = json::parse(text);
    for (const auto& [path, e] : j.at("files").items()) {
      Entry entry;
      entry.hash = e.at("hash").get<uint64_t>();
      entry.settings = e.at("settings").get<std::string>();
      for (const auto& d : e.at("diagnostics"))
        entry.diagnostics.push_back(from_json(d));
      cache.entries_.emplace(path, std::move(entry));
    }
  } catch (const std::exception&) {
    // A damaged cache is no cache: start over, and overwrite it on save.
    cache.entries_.clear();
    cache.dirty_ = true;
  }
  return cache;
}

std::optional<std::vector<checks::Diagnostic>>
ResultsCache::lookup(const std::string& path, uint64_t hash, const std::string& settings) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(path);
  if (it == entries_.end() || it->second.hash != hash || it->second.settings != settings) {
    return std::nullopt;
  }
  ++hits_;
  return it->second.diagnostics;
}

void ResultsCache::store(const std::string& path, uint64_t hash, const std::string& settings,
                         std::vector<checks::Diagnostic> diagnostics) {
  std::lock_guard lock(mutex_);
  entries_[path] = Entry{hash, settings, std::move(diagnostics)};
  dirty_ = true;
}

std::string ResultsCache::save() {
  std::lock_guard lock(mutex_);
  if (!dirty_) return {};
  std::error_code ec;
  bool fresh = !fs::exists(dir_, ec);
  fs::create_directories(dir_, ec);
  if (ec) return "cannot create " + dir_.string() + ": " + ec.message();
  if (fresh) {
    // Like other tools' caches: invisible to git, and marked for backup tools.
    std::ofstream(dir_ / ".gitignore") << "# Created by oomlint\n*\n";
    std::ofstream(dir_ / "CACHEDIR.TAG")
        << "Signature: 8a477f597d28d172789f06886806bc55\n"
           "# This file is a cache directory tag created by oomlint.\n";
  }
  json files = json::object();
  for (const auto& [path, e] : entries_) {
    if (!fs::exists(path, ec)) continue;
    json diags = json::array();
    for (const auto& d : e.diagnostics)
      diags.push_back(to_json(d));
    files[path] = {{"hash", e.hash}, {"settings", e.settings}, {"diagnostics", std::move(diags)}};
  }
  json j = {{"version", OOMLINT_VERSION}, {"files", std::move(files)}};
  std::string err = replace_file(file_, j.dump());
  if (err.empty()) dirty_ = false;
  return err.empty() ? std::string() : "cannot write " + file_.string() + ": " + err;
}

} // namespace oomlint::cli
