// Multi-file fixture projects: tests/fixtures/projects/<name>/ is a small project (a
// pyproject.toml marks its root) whose Python files declare, line by line, what every rule
// reports:
//   call()  # expect: OOM153                  with the project (as `oomlint check` reads it)
//   call()  # expect: OOM153  # alone: none   ... and nothing when the file is read alone
//   call()  # silent: why  # alone: OOM191    nothing with the project, OOM191 alone
// A line without `# alone:` reports the same alone as with the project. Codes are the OOM
// tokens after the marker, up to the first other word. Every file is checked with every rule,
// with its project, alone, and with the prefilter: the prefilter reads the imported modules'
// facts and must hide nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "fixture_support.h"
#include "model/project.h"
#include "registry.h"

using namespace oomlint;
namespace fs = std::filesystem;

namespace {

using Lines = std::map<uint32_t, std::vector<std::string>>;

std::vector<fs::path> projects() {
  std::vector<fs::path> out;
  fs::path dir = test::source_dir() / "tests" / "fixtures" / "projects";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> python_files(const fs::path& project) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(project)) {
    if (e.is_regular_file() && e.path().extension() == ".py") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_code(const std::string& t) {
  return t.size() == 6 && t.rfind("OOM", 0) == 0 &&
         std::all_of(t.begin() + 3, t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The codes after `marker` on `line` (nullopt when the line has no marker).
std::optional<std::vector<std::string>> codes_after(const std::string& line,
                                                    std::string_view marker) {
  auto pos = line.find(marker);
  if (pos == std::string::npos) return std::nullopt;
  std::istringstream words(line.substr(pos + marker.size()));
  std::vector<std::string> out;
  for (std::string w; words >> w;) {
    w.erase(std::remove(w.begin(), w.end(), ','), w.end());
    if (!is_code(w)) break;
    out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Expectations {
  Lines with_project, alone;
  size_t silent = 0;
};

Expectations expectations(const std::string& text) {
  Expectations e;
  std::istringstream lines(text);
  std::string line;
  for (uint32_t no = 1; std::getline(lines, line); ++no) {
    auto expect = codes_after(line, "# expect:");
    auto alone = codes_after(line, "# alone:");
    if (expect && !expect->empty()) e.with_project[no] = *expect;
    if (alone ? !alone->empty() : expect && !expect->empty())
      e.alone[no] = alone ? *alone : *expect;
    if (line.find("# silent") != std::string::npos) ++e.silent;
  }
  return e;
}

Lines lines_of(const std::vector<checks::Diagnostic>& diags) {
  Lines out;
  for (const auto& d : diags)
    out[d.start_pos.line].push_back(d.code);
  for (auto& [line, codes] : out)
    std::sort(codes.begin(), codes.end());
  return out;
}

using Key = std::tuple<std::string, uint32_t, uint32_t, std::string>;
std::vector<Key> keys(const std::vector<checks::Diagnostic>& ds) {
  std::vector<Key> out;
  for (const auto& d : ds)
    out.emplace_back(d.code, d.start, d.end, d.message);
  return out;
}

std::string describe(const Lines& m) {
  std::string out;
  for (const auto& [line, codes] : m) {
    for (const auto& c : codes)
      out += "  line " + std::to_string(line) + ": " + c + "\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

} // namespace

TEST_CASE("fixture projects report the expected lines with their project and alone",
          "[fixtures][projects]") {
  auto dirs = projects();
  REQUIRE(dirs.size() >= 4);
  checks::Engine engine{checks::Settings{}};
  size_t only_with_project = 0, only_alone = 0, needs_imported_facts = 0;
  for (const fs::path& dir : dirs) {
    INFO("project tests/fixtures/projects/" << dir.filename().string());
    auto files = python_files(dir);
    REQUIRE(files.size() >= 2);
    // One index per project, at the root its marker gives (as ProjectRegistry finds it).
    fs::path root = checks::ProjectIndex::find_root(files.front());
    CHECK(root == dir);
    checks::ProjectIndex index(root);
    size_t expected = 0, silent = 0, differ = 0;
    for (const fs::path& path : files) {
      INFO("file " << path.lexically_relative(dir).string());
      std::string text = test::read_file(path);
      Expectations want = expectations(text);
      silent += want.silent;
      for (const auto& [line, codes] : want.with_project)
        expected += codes.size();
      for (const auto& [line, codes] : want.with_project) {
        auto it = want.alone.find(line);
        if (it == want.alone.end() || it->second != codes) ++only_with_project, ++differ;
      }
      for (const auto& [line, codes] : want.alone) {
        if (!want.with_project.contains(line)) ++only_alone, ++differ;
      }

      checks::FileContext file{path, &index};
      auto full = engine.check(text, /*no_prefilter=*/true, &file);
      Lines actual = lines_of(full);
      {
        INFO("with the project, expected:\n"
             << describe(want.with_project) << "actual:\n"
             << describe(actual));
        CHECK(actual == want.with_project);
      }
      Lines alone = lines_of(engine.check(text, /*no_prefilter=*/true, nullptr));
      {
        INFO("alone, expected:\n" << describe(want.alone) << "actual:\n" << describe(alone));
        CHECK(alone == want.alone);
      }
      // The prefilter, with the imported modules' facts, hides nothing.
      {
        INFO("the prefilter hides or changes a diagnostic");
        CHECK(keys(engine.check(text, /*no_prefilter=*/false, &file)) == keys(full));
      }
      // Rules that report only because the prefilter read the imported modules' facts.
      auto with_facts = engine.active_rules(text, &file);
      auto without = engine.active_rules(text, nullptr);
      for (const auto& d : full) {
        for (size_t i = 0; i < engine.rules().size(); ++i) {
          if (engine.rules()[i]->meta().code != d.code) continue;
          CHECK(with_facts[i]);
          if (!without[i]) ++needs_imported_facts;
        }
      }
    }
    CHECK(expected > 0);
    CHECK(silent > 0);
    // Not vacuous: what the project's other modules say changes some line's result.
    CHECK(differ > 0);
  }
  // Across the projects: findings that exist only because of an imported module, findings that
  // an imported module removes, and a finding whose rule only the imported facts activate.
  CHECK(only_with_project > 0);
  CHECK(only_alone > 0);
  CHECK(needs_imported_facts > 0);
}
