#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli/cache.h"
#include "cli_test_support.h"

using oomlint::checks::Applicability;
using oomlint::checks::Diagnostic;
using oomlint::checks::Edit;
using oomlint::checks::Fix;
using oomlint::checks::Severity;
using oomlint::cli::content_hash;
using oomlint::cli::Finding;
using oomlint::cli::FindingEdit;
using oomlint::cli::ResultsCache;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {

Diagnostic sample_diagnostic() {
  Diagnostic d;
  d.code = "OOM203";
  d.slug = "empty-cache-in-loop";
  d.section = "M20";
  d.severity = Severity::Info;
  d.message = "a message with \"quotes\" and é";
  d.start = 10;
  d.end = 34;
  d.start_pos = {2, 5};
  d.end_pos = {2, 29};
  d.fix = Fix{"Remove the call", Applicability::Unsafe, {Edit{3, 40, ""}, Edit{50, 50, "x\n"}}};
  return d;
}

// A finding as the cache keeps it: placed, with its line and its fix's edits, without paths.
Finding sample() {
  Finding f;
  f.diagnostic = sample_diagnostic();
  f.cell = 3;
  f.location = {2, 5};
  f.end_location = {2, 29};
  f.line_text = "    torch.cuda.empty_cache()  # \xff";
  f.edits = {FindingEdit{"", {1, 4}, {3, 1}}, FindingEdit{"x\n", {4, 1}, {4, 1}}};
  return f;
}

} // namespace

TEST_CASE("results cache: a stored result comes back after a save and a reload", "[cli][cache]") {
  TempDir tmp;
  fs::path file = tmp.write("train.py", "import torch\n");
  fs::path dir = tmp.path() / ".oomlint_cache";
  uint64_t h = content_hash("import torch\n");
  {
    ResultsCache cache = ResultsCache::open(dir);
    CHECK_FALSE(cache.lookup(file.string(), h, "settings-a"));
    cache.store(file.string(), h, "settings-a", {sample()});
    CHECK(cache.save().empty());
  }
  CHECK(fs::exists(dir / "CACHEDIR.TAG"));
  CHECK(fs::exists(dir / ".gitignore"));

  ResultsCache again = ResultsCache::open(dir);
  auto hit = again.lookup(file.string(), h, "settings-a");
  REQUIRE(hit);
  REQUIRE(hit->size() == 1);
  const Finding& f = hit->front();
  CHECK(f.display.empty()); // the caller adds the paths
  CHECK(f.absolute.empty());
  CHECK(f.cell == 3u);
  CHECK(f.location.row == 2);
  CHECK(f.location.column == 5);
  CHECK(f.end_location.column == 29);
  CHECK(f.line_text == sample().line_text);
  REQUIRE(f.edits.size() == 2);
  CHECK(f.edits[0].content.empty());
  CHECK(f.edits[0].end_location.row == 3);
  CHECK(f.edits[1].content == "x\n");
  CHECK(f.edits[1].location.row == 4);
  const Diagnostic& d = f.diagnostic;
  Diagnostic want = sample_diagnostic();
  CHECK(d.code == want.code);
  CHECK(d.slug == want.slug);
  CHECK(d.section == want.section);
  CHECK(d.severity == want.severity);
  CHECK(d.message == want.message);
  CHECK(d.start == want.start);
  CHECK(d.end == want.end);
  CHECK(d.start_pos.line == 2);
  CHECK(d.end_pos.column == 29);
  REQUIRE(d.fix);
  CHECK(d.fix->title == want.fix->title);
  CHECK(d.fix->applicability == Applicability::Unsafe);
  CHECK(d.fix->edits == want.fix->edits);
  CHECK(again.hits() == 1);
}

TEST_CASE("results cache: other content or other settings are a miss", "[cli][cache]") {
  TempDir tmp;
  fs::path file = tmp.write("train.py", "a\n");
  ResultsCache cache = ResultsCache::open(tmp.path() / "c");
  cache.store(file.string(), content_hash("a\n"), "s", {});
  CHECK(cache.lookup(file.string(), content_hash("a\n"), "s"));
  CHECK_FALSE(cache.lookup(file.string(), content_hash("b\n"), "s"));
  CHECK_FALSE(cache.lookup(file.string(), content_hash("a\n"), "t"));
  CHECK_FALSE(cache.lookup((tmp.path() / "other.py").string(), content_hash("a\n"), "s"));
  // Same bytes but one longer: the length is part of the hash.
  CHECK(content_hash(std::string("a\0", 2)) != content_hash("a"));
}

TEST_CASE("results cache: a damaged cache file is an empty cache and gets rewritten",
          "[cli][cache]") {
  TempDir tmp;
  fs::path file = tmp.write("train.py", "a\n");
  fs::path dir = tmp.path() / "c";
  {
    ResultsCache cache = ResultsCache::open(dir);
    cache.store(file.string(), 1, "s", {sample()});
    REQUIRE(cache.save().empty());
  }
  fs::path stored = ResultsCache::open(dir).file();
  std::string valid;
  {
    std::ifstream in(stored, std::ios::binary);
    valid.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE(valid.size() > 40);
  std::string huge_count = valid;
  // After the path: hash (8), no stamp (1), settings "s" (4 + 1), then the block's length.
  huge_count[valid.find("train.py") + 8 + 8 + 1 + 4 + 1] = '\x7f';
  for (std::string garbage :
       {std::string("{\"files\": {\"x\": {\"hash\": \"no\"}}}"), std::string("\x00\xff{[", 4),
        std::string("[]"), std::string(), valid.substr(0, valid.size() / 2),
        valid.substr(0, valid.size() - 1), valid + "x", huge_count}) {
    std::ofstream(stored, std::ios::binary | std::ios::trunc) << garbage;
    ResultsCache cache = ResultsCache::open(dir);
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.lookup(file.string(), 1, "s"));
    cache.store(file.string(), 1, "s", {});
    CHECK(cache.save().empty());
    CHECK(ResultsCache::open(dir).lookup(file.string(), 1, "s"));
  }
}

TEST_CASE("results cache: entries of deleted files are dropped on save", "[cli][cache]") {
  TempDir tmp;
  fs::path keep = tmp.write("keep.py", "a\n");
  fs::path gone = tmp.write("gone.py", "b\n");
  fs::path dir = tmp.path() / "c";
  {
    ResultsCache cache = ResultsCache::open(dir);
    cache.store(keep.string(), 1, "s", {});
    cache.store(gone.string(), 2, "s", {});
    fs::remove(gone);
    REQUIRE(cache.save().empty());
  }
  ResultsCache cache = ResultsCache::open(dir);
  CHECK(cache.size() == 1);
  CHECK(cache.lookup(keep.string(), 1, "s"));
}

TEST_CASE("results cache: every file is found again, whatever order it was stored in",
          "[cli][cache]") {
  // The file keeps its entries sorted by path and a lookup searches them; paths stored in a later
  // run (new files) join them at the next save.
  TempDir tmp;
  fs::path dir = tmp.path() / "c";
  std::vector<std::string> paths;
  for (int i = 0; i < 60; ++i) {
    std::string name = "f" + std::to_string((i * 37) % 60) + (i % 2 ? ".py" : "_x.py");
    paths.push_back(tmp.write(name, "x\n").string());
  }
  auto hash_of = [](size_t i, int round) { return static_cast<uint64_t>(i * 10 + round); };
  {
    ResultsCache cache = ResultsCache::open(dir);
    for (size_t i = 0; i < 40; ++i) // in neither order of the paths
      cache.store(paths[i], hash_of(i, 0), "s",
                  i % 3 ? std::vector<Finding>{} : std::vector{sample()});
    REQUIRE(cache.save().empty());
  }
  {
    ResultsCache cache = ResultsCache::open(dir);
    CHECK(cache.size() == 40);
    for (size_t i = 0; i < 40; ++i) {
      auto hit = cache.lookup(paths[i], hash_of(i, 0), "s");
      REQUIRE(hit);
      CHECK(hit->size() == (i % 3 ? 0u : 1u));
      CHECK_FALSE(cache.lookup(paths[i], hash_of(i, 1), "s"));
    }
    for (size_t i = 40; i < 60; ++i)
      CHECK_FALSE(cache.lookup(paths[i], hash_of(i, 0), "s"));
    // A second run: half of the old files change, new ones come.
    for (size_t i = 20; i < 60; ++i)
      cache.store(paths[i], hash_of(i, 1), i < 50 ? "s" : "t", {});
    CHECK(cache.size() == 60);
    REQUIRE(cache.save().empty());
  }
  ResultsCache cache = ResultsCache::open(dir);
  CHECK(cache.size() == 60);
  for (size_t i = 0; i < 60; ++i) {
    int round = i < 20 ? 0 : 1;
    std::string settings = i < 50 ? "s" : "t";
    CHECK(cache.lookup(paths[i], hash_of(i, round), settings));
    CHECK_FALSE(cache.lookup(paths[i], hash_of(i, 1 - round), settings));
  }
  CHECK_FALSE(cache.lookup((tmp.path() / "a.py").string(), 0, "s"));  // before every path
  CHECK_FALSE(cache.lookup((tmp.path() / "zz.py").string(), 0, "s")); // after every path
}

TEST_CASE("results cache: an unwritable cache directory is reported, not fatal", "[cli][cache]") {
  TempDir tmp;
  tmp.write("blocker", "a file where the cache directory should be\n");
  ResultsCache cache = ResultsCache::open(tmp.path() / "blocker" / "cache");
  cache.store((tmp.path() / "blocker").string(), 1, "s", {});
  std::string err = cache.save();
  CHECK_FALSE(err.empty());
}

TEST_CASE("results cache: unread entries survive a save, a damaged entry is a miss alone",
          "[cli][cache]") {
  TempDir tmp;
  fs::path a = tmp.write("a.py", "a\n");
  fs::path b = tmp.write("b.py", "b\n");
  fs::path dir = tmp.path() / "c";
  {
    ResultsCache cache = ResultsCache::open(dir);
    cache.store(a.string(), 1, "s", {sample()});
    cache.store(b.string(), 2, "s", {sample(), sample()});
    REQUIRE(cache.save().empty());
  }
  {
    // A run that changes only b.py: a.py's entry is written back without being read.
    ResultsCache cache = ResultsCache::open(dir);
    cache.store(b.string(), 3, "s", {});
    REQUIRE(cache.save().empty());
  }
  ResultsCache again = ResultsCache::open(dir);
  auto hit_a = again.lookup(a.string(), 1, "s");
  REQUIRE(hit_a);
  REQUIRE(hit_a->size() == 1);
  CHECK(hit_a->front().diagnostic.message == sample_diagnostic().message);
  CHECK(hit_a->front().diagnostic.fix->edits == sample_diagnostic().fix->edits);
  auto hit_b = again.lookup(b.string(), 3, "s");
  REQUIRE(hit_b);
  CHECK(hit_b->empty());

  // Damage a.py's entry in place: its severity byte, which follows the section string. The framing
  // stays intact, so b.py still hits.
  fs::path stored = again.file();
  std::string bytes;
  {
    std::ifstream in(stored, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string section("\x03\0\0\0M20", 7); // the length-prefixed section string
  size_t at = bytes.find(section);
  REQUIRE(at != std::string::npos);
  bytes[at + section.size()] = static_cast<char>(0x7F); // not a severity
  {
    std::ofstream out(stored, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  ResultsCache damaged = ResultsCache::open(dir);
  CHECK_FALSE(damaged.lookup(a.string(), 1, "s"));
  CHECK(damaged.lookup(b.string(), 3, "s"));
  CHECK(damaged.hits() == 1);
}

namespace {

struct stat regular_file_stat(int64_t mtime_s, int64_t ctime_s) {
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  st.st_dev = 7;
  st.st_ino = 42;
  st.st_size = 100;
  st.st_mtim.tv_sec = mtime_s;
  st.st_ctim.tv_sec = ctime_s;
  return st;
}

struct timespec at(int64_t seconds) {
  struct timespec t {};
  t.tv_sec = seconds;
  return t;
}

} // namespace

TEST_CASE("results cache: a stamp counts only once the file has been left alone for 2 s",
          "[cli][cache]") {
  using oomlint::cli::settled_stamp;
  CHECK(settled_stamp(regular_file_stat(1000, 1000), at(1003)));
  CHECK_FALSE(settled_stamp(regular_file_stat(1000, 1000), at(1001))); // just written
  CHECK_FALSE(settled_stamp(regular_file_stat(900, 1002), at(1003)));  // changed (chmod, write)
  CHECK_FALSE(settled_stamp(regular_file_stat(5000, 1000), at(1003))); // mtime in the future
  struct stat dir = regular_file_stat(1000, 1000);
  dir.st_mode = S_IFDIR | 0755;
  CHECK_FALSE(settled_stamp(dir, at(2000)));
  auto stamp = settled_stamp(regular_file_stat(1000, 1001), at(2000));
  REQUIRE(stamp);
  CHECK(stamp->device == 7);
  CHECK(stamp->inode == 42);
  CHECK(stamp->size == 100);
  CHECK(stamp->mtime_ns == 1'000'000'000'000);
  CHECK(stamp->ctime_ns == 1'001'000'000'000);
}

TEST_CASE("results cache: an unchanged stamp vouches for a file's findings with the same settings",
          "[cli][cache]") {
  using oomlint::cli::FileStamp;
  TempDir tmp;
  fs::path clean = tmp.write("clean.py", "x = 1\n");
  fs::path noisy = tmp.write("noisy.py", "y = 2\n");
  fs::path unstamped = tmp.write("unstamped.py", "z = 3\n");
  fs::path dir = tmp.path() / "c";
  FileStamp a{1, 2, 6, 10, 20};
  FileStamp b{1, 3, 6, 10, 20};
  {
    ResultsCache cache = ResultsCache::open(dir);
    cache.store(clean.string(), content_hash("x = 1\n"), "s", {}, a);
    cache.store(noisy.string(), content_hash("y = 2\n"), "s", {sample(), sample()}, b);
    cache.store(unstamped.string(), content_hash("z = 3\n"), "s", {});
    // Within the run that stored them, too.
    auto now = cache.lookup_unchanged(clean.string(), a, "s");
    REQUIRE(now);
    CHECK(now->empty());
    REQUIRE(cache.save().empty());
  }
  ResultsCache again = ResultsCache::open(dir);
  auto hit = again.lookup_unchanged(clean.string(), a, "s");
  REQUIRE(hit);
  CHECK(hit->empty());
  auto noisy_hit = again.lookup_unchanged(noisy.string(), b, "s"); // not read, findings kept
  REQUIRE(noisy_hit);
  REQUIRE(noisy_hit->size() == 2);
  CHECK(noisy_hit->back().line_text == sample().line_text);
  CHECK(noisy_hit->back().diagnostic.code == "OOM203");
  CHECK(again.unread_hits() == 2);
  FileStamp rewritten = a;
  rewritten.ctime_ns += 1; // same size and mtime, written again
  CHECK_FALSE(again.lookup_unchanged(clean.string(), rewritten, "s"));
  FileStamp replaced = a;
  replaced.inode = 99; // replaced by another file (editors' save by rename)
  CHECK_FALSE(again.lookup_unchanged(clean.string(), replaced, "s"));
  CHECK_FALSE(again.lookup_unchanged(clean.string(), a, "other settings"));
  CHECK_FALSE(again.lookup_unchanged(noisy.string(), a, "s")); // another file's stamp
  CHECK_FALSE(again.lookup_unchanged(unstamped.string(), a, "s"));
  CHECK_FALSE(again.lookup_unchanged((tmp.path() / "new.py").string(), a, "s"));
  CHECK(again.unread_hits() == 2);
  CHECK(again.hits() == 2);
}

TEST_CASE("results cache: a content hit records the file's stamp for the next run",
          "[cli][cache]") {
  using oomlint::cli::FileStamp;
  TempDir tmp;
  fs::path file = tmp.write("train.py", "x = 1\n");
  fs::path dir = tmp.path() / "c";
  uint64_t h = content_hash("x = 1\n");
  FileStamp settled{1, 2, 6, 10, 20};
  {
    ResultsCache cache = ResultsCache::open(dir);
    cache.store(file.string(), h, "s", {}); // checked while it was still being written
    REQUIRE(cache.save().empty());
  }
  {
    ResultsCache cache = ResultsCache::open(dir);
    CHECK_FALSE(cache.lookup_unchanged(file.string(), settled, "s"));
    CHECK(cache.lookup(file.string(), h, "s", settled)); // read, hashed: same content
    REQUIRE(cache.save().empty());
  }
  ResultsCache third = ResultsCache::open(dir);
  CHECK(third.lookup_unchanged(file.string(), settled, "s"));
  CHECK_FALSE(third.lookup(file.string(), content_hash("x = 2\n"), "s", settled));
}

namespace {

// What a check of train.py read of its project: utils.py's bytes (its own), the scan of a module
// several checks share, and a module that was not there.
oomlint::checks::ProjectReads project_reads(const TempDir& tmp, uint64_t utils_print) {
  using oomlint::checks::ProjectReads;
  auto shared = std::make_shared<ProjectReads>();
  shared->probes.push_back(ProjectReads::Probe{tmp.path() / "pyproject.toml", true, true});
  ProjectReads reads;
  reads.files.emplace_back(tmp.path() / "utils.py", utils_print);
  reads.files.emplace_back(tmp.path() / "utils.py", utils_print); // read twice: kept once
  reads.probes.push_back(ProjectReads::Probe{tmp.path() / "helpers.py", false, false});
  reads.shared.push_back(shared);
  reads.shared.push_back(shared);
  return reads;
}

} // namespace

TEST_CASE("results cache: an entry holds while the project files and paths it read are unchanged",
          "[cli][cache]") {
  using oomlint::checks::ProjectIndex;
  TempDir tmp;
  tmp.write("pyproject.toml", "");
  fs::path utils = tmp.write("utils.py", "def f():\n    pass\n");
  fs::path train = tmp.write("train.py", "from utils import f\n");
  fs::path other = tmp.write("other.py", "import torch\n");
  fs::path dir = tmp.path() / ".oomlint_cache";
  uint64_t h = content_hash("from utils import f\n"), h2 = content_hash("import torch\n");
  {
    ResultsCache cache = ResultsCache::open(dir);
    auto reads = project_reads(tmp, ProjectIndex::file_fingerprint(utils));
    cache.store(train.string(), h, "s", {sample()}, std::nullopt, &reads);
    cache.store(other.string(), h2, "s", {}, std::nullopt, nullptr); // depends on nothing
    REQUIRE(cache.save().empty());
  }
  {
    ResultsCache cache = ResultsCache::open(dir);
    CHECK(cache.lookup(train.string(), h, "s"));
    CHECK(cache.lookup(other.string(), h2, "s"));
    CHECK(cache.dependency_misses() == 0);
    CHECK(cache.save().empty()); // unchanged: the file stays as it is
  }
  SECTION("an edited module") {
    tmp.write("utils.py", "import torch\n\n\n@torch.no_grad()\ndef f():\n    pass\n");
    ResultsCache cache = ResultsCache::open(dir);
    CHECK_FALSE(cache.lookup(train.string(), h, "s"));
    CHECK(cache.dependency_misses() == 1);
    CHECK(cache.lookup(other.string(), h2, "s"));
  }
  SECTION("a module created where an import looked") {
    tmp.write("helpers.py", "x = 1\n");
    ResultsCache cache = ResultsCache::open(dir);
    CHECK_FALSE(cache.lookup(train.string(), h, "s"));
    CHECK(cache.dependency_misses() == 1);
  }
  SECTION("a root marker removed") {
    fs::remove(tmp.path() / "pyproject.toml");
    ResultsCache cache = ResultsCache::open(dir);
    CHECK_FALSE(cache.lookup(train.string(), h, "s"));
  }
  SECTION("a stamp hit is checked too") {
    struct stat st {};
    REQUIRE(::stat(train.c_str(), &st) == 0);
    struct timespec later = st.st_mtim;
    later.tv_sec += 10;
    auto stamp = oomlint::cli::settled_stamp(st, later);
    REQUIRE(stamp);
    {
      ResultsCache cache = ResultsCache::open(dir);
      auto reads = project_reads(tmp, ProjectIndex::file_fingerprint(utils));
      cache.store(train.string(), h, "s", {sample()}, stamp, &reads);
      REQUIRE(cache.save().empty());
    }
    {
      ResultsCache cache = ResultsCache::open(dir);
      CHECK(cache.lookup_unchanged(train.string(), *stamp, "s"));
    }
    tmp.write("utils.py", "changed = True\n");
    ResultsCache cache = ResultsCache::open(dir);
    CHECK_FALSE(cache.lookup_unchanged(train.string(), *stamp, "s"));
  }
  SECTION("stored again, the groups are rewritten with the entries that use them") {
    {
      ResultsCache cache = ResultsCache::open(dir);
      auto reads = project_reads(tmp, ProjectIndex::file_fingerprint(utils));
      cache.store(other.string(), h2, "s", {}, std::nullopt, &reads);
      REQUIRE(cache.save().empty());
    }
    ResultsCache cache = ResultsCache::open(dir);
    CHECK(cache.lookup(train.string(), h, "s"));
    CHECK(cache.lookup(other.string(), h2, "s"));
    tmp.write("helpers.py", "x = 1\n");
    ResultsCache after = ResultsCache::open(dir);
    CHECK_FALSE(after.lookup(train.string(), h, "s"));
    CHECK_FALSE(after.lookup(other.string(), h2, "s"));
    CHECK(after.dependency_misses() == 2);
  }
}

TEST_CASE("summary folder: summaries persist by key, another build's, another key's or damaged "
          "ones are none",
          "[cli][cache]") {
  using oomlint::cli::SummaryFolder;
  TempDir tmp;
  fs::path dir = tmp.path() / ".oomlint_cache";
  {
    SummaryFolder store(dir);
    CHECK_FALSE(store.load("summary2:1:2"));
    store.save("summary2:1:2", "oomlint-summary 2\nflags\t0\n");
    CHECK(store.saved() == 1);
  }
  CHECK(fs::exists(dir / "CACHEDIR.TAG")); // the folder is tagged as a cache, whoever made it
  CHECK(fs::exists(dir / ".gitignore"));
  SummaryFolder store(dir);
  auto back = store.load("summary2:1:2");
  REQUIRE(back);
  CHECK(*back == "oomlint-summary 2\nflags\t0\n");
  CHECK_FALSE(store.load("summary2:1:3"));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "summaries"))
    files.push_back(e.path());
  REQUIRE(files.size() == 1); // no temporary file left behind
  std::string text;
  {
    std::ifstream in(files[0], std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  SECTION("another build") {
    std::ofstream(files[0], std::ios::binary) << "oomlint-summaries v0-other\n" << text;
    CHECK_FALSE(store.load("summary2:1:2"));
  }
  SECTION("truncated") {
    std::ofstream(files[0], std::ios::binary) << text.substr(0, 10);
    CHECK_FALSE(store.load("summary2:1:2"));
  }
}

TEST_CASE("summary folder: prune removes the oldest summaries this run did not use, down to 3/4 "
          "of the limit",
          "[cli][cache]") {
  using oomlint::cli::SummaryFolder;
  TempDir tmp;
  fs::path dir = tmp.path() / ".oomlint_cache";
  {
    SummaryFolder old_run(dir);
    for (int i = 0; i < 20; ++i)
      old_run.save("summary:old:" + std::to_string(i), "v\n");
  }
  // The old ones, from oldest to newest by modification time.
  std::vector<fs::path> by_age;
  for (const auto& e : fs::directory_iterator(dir / "summaries"))
    by_age.push_back(e.path());
  REQUIRE(by_age.size() == 20);
  auto now = fs::file_time_type::clock::now();
  std::sort(by_age.begin(), by_age.end());
  for (size_t i = 0; i < by_age.size(); ++i)
    fs::last_write_time(by_age[i], now - std::chrono::hours(100 - static_cast<int>(i)));
  SummaryFolder store(dir);
  REQUIRE(store.load("summary:old:0")); // used by this run: kept whatever its age
  store.save("summary:new", "w\n");
  CHECK(store.used() == 2);
  CHECK(store.prune(100) == 0); // under the limit: nothing goes
  size_t removed = store.prune(12);
  CHECK(removed == 21 - 9); // 21 files, down to 12 - 12/4 = 9
  size_t left = 0;
  for (const auto& e : fs::directory_iterator(dir / "summaries")) {
    (void)e;
    ++left;
  }
  CHECK(left == 9);
  CHECK(store.load("summary:old:0"));
  CHECK(store.load("summary:new"));
  // Of the others, the 12 oldest went: every file older than the newest removed one is gone,
  // except at most one, the one this run loaded (by_age[0] is the oldest).
  int last_removed = -1;
  for (size_t i = 0; i < by_age.size(); ++i) {
    if (!fs::exists(by_age[i])) last_removed = static_cast<int>(i);
  }
  CHECK((last_removed == 11 || last_removed == 12));
  int kept_among_old = 0;
  for (int i = 0; i <= last_removed; ++i)
    kept_among_old += fs::exists(by_age[static_cast<size_t>(i)]) ? 1 : 0;
  CHECK(kept_among_old == (last_removed == 12 ? 1 : 0));
}
