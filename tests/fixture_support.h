// Rule fixtures: tests/fixtures/CODE*.py with inline expectations.
//   bad()   # expect: OOM203          a diagnostic of OOM203 starts on this line
//   ok()                              lines without `# expect:` must stay clean
// A first-line header sets options:  # oomlint-test: target_gpu=volta
// CODE*.fixed.py, when present, is what applying every fix (safe and unsafe) must produce.
// snapshots/NAME.snap pins NAME.py's diagnostics and fixes in full (snapshot.h).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "settings.h"

namespace oomlint::test {

std::string read_file(const std::filesystem::path& p);
std::filesystem::path source_dir();

struct Fixture {
  std::filesystem::path path;
  std::string code; // rule code, from the file name
  std::string text;
  checks::Settings settings;
  // line (1-based) -> expected codes
  std::map<uint32_t, std::vector<std::string>> expected;
};

Fixture load_fixture(const std::filesystem::path& path);
// Applies "key=value key=value" test options (target_gpu, eval_accumulation_steps, gpu_memory_gb).
void apply_test_options(const std::string& options, checks::Settings& settings);
// All fixture files (not the .fixed.py ones), sorted.
std::vector<std::filesystem::path> fixture_files();

} // namespace oomlint::test
