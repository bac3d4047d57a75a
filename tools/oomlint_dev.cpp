// The contributor tools' binary (tools/update-*.sh build and run it). It renders with the code the
// tests compare with, so what it writes is what the tests expect:
//   oomlint_dev rule-table              the README's rule table (registry_test)
//   oomlint_dev snapshots [FIXTURE...]  write tests/fixtures/snapshots/*.snap (snapshot_test)
//   oomlint_dev fixed CODE...           write tests/fixtures/CODE*.fixed.py (fixtures_test)
// A FIXTURE or CODE names every fixture whose name starts with it: `OOM203` is OOM203.py and
// OOM203_*.py, `OOM203_training_args` that one (a path or a `.py` suffix is accepted).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/fixes.h"
#include "fixture_support.h"
#include "registry.h"
#include "snapshot.h"

using namespace oomlint;
namespace fs = std::filesystem;

namespace {

// "tests/fixtures/OOM203.py" or "OOM203.py" -> "OOM203".
std::string fixture_prefix(std::string arg) {
  arg = fs::path(arg).filename().string();
  for (std::string_view suffix : {".fixed.py", ".py", ".snap"}) {
    if (arg.size() > suffix.size() && arg.ends_with(suffix)) {
      arg.resize(arg.size() - suffix.size());
      break;
    }
  }
  return arg;
}

// The fixtures the arguments name (all of them for no argument); false if one names none.
bool select_fixtures(const std::vector<std::string>& args, std::vector<fs::path>& out) {
  auto all = test::fixture_files();
  if (args.empty()) {
    out = all;
    return true;
  }
  bool ok = true;
  for (const auto& arg : args) {
    std::string prefix = fixture_prefix(arg);
    size_t before = out.size();
    for (const auto& f : all) {
      if (f.stem().string().starts_with(prefix)) out.push_back(f);
    }
    if (out.size() == before) {
      std::cerr << "oomlint_dev: no fixture tests/fixtures/" << prefix << "*.py\n";
      ok = false;
    }
  }
  return ok;
}

std::string repo_path(const fs::path& p) {
  return p.lexically_relative(test::source_dir()).generic_string();
}

// Writes `text` to `path` unless it holds it already; says which.
void write_if_changed(const fs::path& path, const std::string& text) {
  if (fs::exists(path) && test::read_file(path) == text) {
    std::cout << "unchanged " << repo_path(path) << "\n";
    return;
  }
  bool existed = fs::exists(path);
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  std::cout << (existed ? "updated   " : "created   ") << repo_path(path) << "\n";
}

int snapshots(const std::vector<std::string>& args) {
  std::vector<fs::path> fixtures;
  if (!select_fixtures(args, fixtures)) return 2;
  for (const auto& f : fixtures)
    write_if_changed(test::snapshot_path(f), test::render_snapshot(test::load_fixture(f)));
  // With no argument, every snapshot is regenerated: one whose fixture is gone goes too.
  if (args.empty()) {
    for (const auto& s : test::snapshot_files()) {
      if (fs::exists(test::fixture_of_snapshot(s))) continue;
      fs::remove(s);
      std::cout << "removed   " << repo_path(s) << " (no fixture "
                << repo_path(test::fixture_of_snapshot(s)) << ")\n";
    }
  }
  return 0;
}

int fixed(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << "usage: oomlint_dev fixed CODE...\n";
    return 2;
  }
  std::vector<fs::path> fixtures;
  if (!select_fixtures(args, fixtures)) return 2;
  int status = 0;
  for (const auto& path : fixtures) {
    auto f = test::load_fixture(path);
    const checks::Rule* rule = checks::find_rule(f.code);
    if (rule == nullptr) {
      std::cerr << "oomlint_dev: " << repo_path(path) << ": no rule " << f.code
                << " is registered (its file must end with OOMLINT_REGISTER_RULE)\n";
      status = 1;
      continue;
    }
    fs::path fixed_path = path;
    fixed_path.replace_extension(".fixed.py");
    checks::Engine engine(f.settings);
    // Every fix, safe and unsafe, round after round until nothing changes: as fixtures_test.
    auto outcome = checks::apply_fixes(engine, f.text, /*unsafe=*/true);
    if (outcome.applied > 0) {
      write_if_changed(fixed_path, outcome.text);
      continue;
    }
    // No fix applies: fixtures_test wants no .fixed.py, and no fixable diagnostic.
    if (fs::exists(fixed_path)) {
      fs::remove(fixed_path);
      std::cout << "removed   " << repo_path(fixed_path) << " (no fix applies)\n";
    } else {
      std::cout << "no fix in " << repo_path(path)
                << (rule->meta().fix == checks::FixAvailability::None ? " (the rule has none)" : "")
                << ": no .fixed.py\n";
    }
    bool fixable = false;
    for (const auto& d : engine.check(f.text, true))
      fixable = fixable || d.fix.has_value();
    if (fixable) {
      std::cerr << "oomlint_dev: " << repo_path(path) << " has fixes, but each of them would "
                << "break the syntax and is dropped: fix the rule's edits\n";
      status = 1;
    }
  }
  return status;
}

} // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
  try {
    if (command == "rule-table") {
      std::cout << checks::rules_markdown_table();
      return 0;
    }
    if (command == "snapshots") return snapshots(args);
    if (command == "fixed") return fixed(args);
  } catch (const std::exception& e) {
    std::cerr << "oomlint_dev: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "usage: oomlint_dev rule-table | snapshots [FIXTURE...] | fixed CODE...\n";
  return 2;
}
